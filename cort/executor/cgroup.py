"""A ``pids`` cgroup per interpreter: a cap on its processes, and a way to end every one of them.

Works with cgroup v2 (``/sys/fs/cgroup`` with the ``pids`` controller enabled for this process's group's
children) or the v1 ``pids`` hierarchy when the folder is writable (root, or a delegated subtree); which one
is found by making a capped group once (:func:`pids_root`), so a machine that offers neither runs without.
The interpreter joins its group itself, before it runs model code; a process never leaves it (the sandbox
forbids writes to ``/sys``), so double-forked or re-parented processes are found and killed with the session.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid

logger = logging.getLogger(__name__)
_V2_ROOT = "/sys/fs/cgroup"
_V1_ROOT = "/sys/fs/cgroup/pids"


def _lists_pids(path: str) -> bool:
    """Whether a cgroup v2 controller list (``cgroup.controllers``, ``cgroup.subtree_control``) names ``pids``."""
    try:
        with open(path) as fh:
            return "pids" in fh.read().split()
    except OSError:
        return False


def pids_root() -> str | None:
    """A folder where per-session ``pids`` cgroups can be made and capped, or None.

    On cgroup v2 a child group has ``pids.max`` only when ``pids`` is on in its parent's
    ``cgroup.subtree_control`` (a VM or container may offer the controller at the top without
    enabling it for this process's group: the group can be made, its cap cannot be written); the
    answer is checked by making one capped group and removing it.
    """
    if _lists_pids(os.path.join(_V2_ROOT, "cgroup.controllers")):
        base = _v2_base()  # groups made below it get pids only when its subtree_control says so
        root = base if base and _lists_pids(os.path.join(base, "cgroup.subtree_control")) else None
    else:
        root = _V1_ROOT if os.path.isdir(_V1_ROOT) else None
    return root if root is not None and _can_cap(root) else None


def _can_cap(root: str) -> bool:
    """Make a throwaway group with a process cap under ``root`` and remove it: whether this machine allows it."""
    try:
        PidsGroup(root, 1).destroy()
    except OSError as err:
        logger.debug("no pids cgroups under %s: %s", root, err)
        return False
    return True


def _v2_base() -> str | None:
    """On cgroup v2, this process's own group (a child group can be made below it when delegated)."""
    try:
        with open("/proc/self/cgroup") as fh:
            line = next(ln for ln in fh if ln.startswith("0::"))
    except (OSError, StopIteration):
        return None
    return os.path.join(_V2_ROOT, line.strip()[3:].lstrip("/"))


class PidsGroup:
    """One session's ``pids`` cgroup (made at construction, removed by :meth:`destroy`)."""

    def __init__(self, root: str, max_processes: int):
        self.path = os.path.join(root, f"cort-{os.getpid()}-{uuid.uuid4().hex[:10]}")
        os.mkdir(self.path)
        if max_processes > 0:
            try:
                with open(os.path.join(self.path, "pids.max"), "w") as fh:
                    fh.write(str(max_processes))
            except OSError:  # no cap here: leave no empty group behind
                with contextlib.suppress(OSError):
                    os.rmdir(self.path)
                raise

    @property
    def procs_file(self) -> str:
        """The file a process writes its pid to in order to join."""
        return os.path.join(self.path, "cgroup.procs")

    def pids(self) -> list[int]:
        """Every process in the group now."""
        try:
            with open(self.procs_file) as fh:
                return [int(p) for p in fh.read().split()]
        except OSError:
            return []

    def kill_all(self, timeout: float = 5.0) -> int:
        """SIGKILL every process in the group until none is left; returns how many were killed."""
        killed, deadline = 0, time.monotonic() + timeout
        kill_file = os.path.join(self.path, "cgroup.kill")
        if os.path.exists(kill_file):
            with contextlib.suppress(OSError), open(kill_file, "w") as fh:
                fh.write("1")
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return killed
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
            time.sleep(0.01)
        logger.warning("processes still in %s after %.0f s: %s", self.path, timeout, self.pids())
        return killed

    def destroy(self) -> None:
        """Kill what is left and remove the group."""
        self.kill_all()
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:  # zombies still counted for a moment
                time.sleep(0.01)
        logger.warning("could not remove %s", self.path)


def sweep_stale(root: str) -> int:
    """Remove the groups of runs that died without cleaning up (SIGKILL): their maker is gone.

    Processes still in such a group are killed first. Returns how many groups were removed.
    """
    removed = 0
    try:
        names = [n for n in os.listdir(root) if n.startswith("cort-")]
    except OSError:
        return 0
    for name in names:
        try:
            maker = int(name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if maker == os.getpid() or _alive(maker):
            continue
        group = PidsGroup.__new__(PidsGroup)
        group.path = os.path.join(root, name)
        group.destroy()
        removed += int(not os.path.exists(group.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
