"""A bounded pool of fresh kernels forked from one template, some ahead of need (warm); none is handed out twice."""

from __future__ import annotations

import atexit
import logging
import os
import queue
import shutil
import tempfile
import threading
import weakref

from cort.cpus import pin_thread
from cort.executor import cgroup, confine
from cort.executor.config import ExecutorConfig
from cort.executor.kernel import Kernel, template_env
from cort.executor.zygote import Zygote
from cort.fds import raise_open_file_limit

logger = logging.getLogger(__name__)
_LIVE_POOLS: weakref.WeakSet[KernelPool] = weakref.WeakSet()
_REPORTED: set[str] = set()
FILES_PER_KERNEL = 12  # measured ~8 per live kernel (its client's sockets and mailboxes, the pidfd), with room


@atexit.register
def _shutdown_all_pools() -> None:
    for pool in list(_LIVE_POOLS):
        pool.close()


def describe_sandbox(config: ExecutorConfig, cgroup_root: str | None) -> str:
    """One line saying what confines the kernels on this machine."""
    if config.sandbox == "off":
        return "sandbox off (--sandbox off): cells may write anywhere the user can and use the network"
    abi = confine.landlock_abi()
    scoped = ", signals and abstract sockets scoped" if abi >= 6 else ""
    parts = [f"writes only in the session folder, TCP refused{scoped} (Landlock ABI {abi})" if abi >= 4 else
             f"writes only in the session folder (Landlock ABI {abi}; TCP NOT refused)" if abi > 0 else
             "NO filesystem confinement (Landlock unavailable)"]
    parts.append("own network namespace" if os.geteuid() == 0 else "no network namespace (not root)")
    parts.append(f"process cap {config.max_processes} via cgroup" if cgroup_root else
                 "process cap via RLIMIT_NPROC" if os.geteuid() != 0 else "NO process cap (root without cgroups)")
    return "sandbox: " + "; ".join(parts) + "; environment scrubbed"


class KernelPool:
    """Hands out fresh kernels (at most ``max_kernels`` alive) and keeps ``warm_kernels`` ready.

    Kernels are forked from the pool's template (:class:`~cort.executor.zygote.Zygote`, started
    at the first kernel), ~50 ms each. A background thread keeps warm kernels ready (with
    ``config.preload`` run), so a session's first cell pays neither. Released kernels are shut down
    by another background thread, so closing a session returns at once.
    """

    def __init__(self, config: ExecutorConfig):
        self.config = config
        limit = raise_open_file_limit(FILES_PER_KERNEL * config.max_kernels + 512)
        if limit < FILES_PER_KERNEL * config.max_kernels:
            logger.warning("open-file limit %d: about %d kernels can be live at once, not max_kernels=%d; "
                           "raise it with ulimit -n", limit, limit // FILES_PER_KERNEL, config.max_kernels)
        self.home = tempfile.mkdtemp(prefix="cort-exec-", dir=config.scratch_root)
        self.cgroup_root = cgroup.pids_root() if config.sandbox != "off" else None
        if self.cgroup_root:
            cgroup.sweep_stale(self.cgroup_root)
        line = describe_sandbox(config, self.cgroup_root)
        if line not in _REPORTED:
            _REPORTED.add(line)
            logger.info(line)
        self._log = open(os.path.join(self.home, "kernels.log"), "ab")  # noqa: SIM115 - the kernels' stderr
        self.zygote = Zygote(template_env(config, self.home), self.home, self._log, config.startup_timeout)
        self._idle: list[Kernel] = []
        self._all: set[Kernel] = set()
        self._starting = 0
        self._closed = False
        self._failures = 0
        self._cond = threading.Condition()
        self._to_reap: queue.Queue[Kernel | None] = queue.Queue()
        _LIVE_POOLS.add(self)
        self._warmer = threading.Thread(target=self._keep_warm, name="cort-kernel-warmer", daemon=True)
        self._reaper = threading.Thread(target=self._reap, name="cort-kernel-reaper", daemon=True)
        self._warmer.start()
        self._reaper.start()

    @property
    def live(self) -> int:
        """Kernels alive or being started."""
        return len(self._all) + self._starting

    def _start_kernel(self) -> Kernel:
        return Kernel(self.config, self.home, self.zygote, self.cgroup_root)

    def _keep_warm(self) -> None:
        pin_thread(self.config.cpu_set)
        while True:
            with self._cond:
                while not self._closed and (
                    len(self._idle) + self._starting >= self.config.warm_kernels
                    or self.live >= self.config.max_kernels or self._failures >= 3
                ):
                    self._cond.wait()
                if self._closed:
                    return
                self._starting += 1
            kernel = None
            try:
                kernel = self._start_kernel()
            except Exception as err:  # noqa: BLE001 - retried by acquire, which reports it
                logger.warning("a warm kernel failed to start: %s", err)
            with self._cond:
                self._starting -= 1
                self._failures = 0 if kernel is not None else self._failures + 1
                if kernel is not None:
                    if self._closed:
                        self._to_reap.put(kernel)
                    else:
                        self._all.add(kernel)
                        self._idle.append(kernel)
                self._cond.notify_all()

    def acquire(self) -> Kernel:
        """Take a fresh idle kernel, start one if under the cap, or wait for a release.

        Raises ``RuntimeError`` when a kernel cannot be started (the caller records an
        infrastructure error).
        """
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("kernel pool is closed")
                if self._idle:
                    kernel = self._idle.pop()
                    self._cond.notify_all()
                    return kernel
                if self.live < self.config.max_kernels:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            kernel = self._start_kernel()
        except Exception as err:
            raise RuntimeError(f"a kernel failed to start: {type(err).__name__}: {err}") from err
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
        with self._cond:
            self._all.add(kernel)
            self._failures = 0
        return kernel

    def release(self, kernel: Kernel) -> None:
        """A session is done with ``kernel``: it is shut down (in the background), never reused."""
        with self._cond:
            self._all.discard(kernel)
            self._cond.notify_all()
        self._to_reap.put(kernel)

    def _reap(self) -> None:
        pin_thread(self.config.cpu_set)
        while True:
            kernel = self._to_reap.get()
            if kernel is None:
                return
            try:
                kernel.shutdown()
            except Exception as err:  # noqa: BLE001 - best effort; logged
                logger.warning("kernel shutdown failed: %s", err)

    def close(self) -> None:
        """Shut every kernel down (and what they started) and remove the scratch root."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            kernels = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for kernel in kernels:
            self._to_reap.put(kernel)
        self._to_reap.put(None)
        self._reaper.join(timeout=60)
        self._warmer.join(timeout=self.config.startup_timeout)
        while not self._to_reap.empty():  # a warm kernel that finished starting during close
            kernel = self._to_reap.get_nowait()
            if kernel is not None:
                kernel.shutdown()
        self.zygote.close()
        self._log.close()
        shutil.rmtree(self.home, ignore_errors=True)
