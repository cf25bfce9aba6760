"""Confinement of an interpreter process, applied to itself before it runs any model-written code.

Linux only, no root needed for the main part:

- **Landlock** (kernel ABI >= 1; this machine kind has 7): writes, deletes and new files are allowed
  only beneath the session's scratch folder (plus ``/dev/null`` and ``/dev/shm``, which Python's
  ``multiprocessing`` needs); reading stays allowed. With ABI >= 4 every TCP bind and connect is
  refused; with ABI >= 6 the process cannot signal processes outside its own sandbox (its parent,
  the inference run, other sessions) nor reach abstract Unix sockets outside it.
- **Network namespace** (when the process may create one, e.g. as root): no interface but a
  loopback that is down, so UDP and raw sockets reach nothing either.
- **Resource limits**: address space, file size, CPU seconds, no core files; and, when the user is
  not root (root ignores it), a cap on processes.
- **Process tracking**: the process joins a per-session ``pids`` cgroup when one was made for it
  (a cap on processes that holds for root, and a way to kill every process it ever started, double
  forks included); it also becomes a child subreaper, so orphans of its children stay its descendants.

Everything here is best effort in the sense that a missing kernel feature is reported (see
:func:`capabilities`), never silently skipped: the executor says once at start what is and is not
confined.
"""

from __future__ import annotations

import ctypes
import os
import resource
from dataclasses import dataclass

_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS, _PR_SET_CHILD_SUBREAPER = 38, 36
_CLONE_NEWNET = 0x40000000

# filesystem rights (ABI 1 ... 5)
_WRITE_FILE, _REMOVE_DIR, _REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_MAKE_CHAR, _MAKE_DIR, _MAKE_REG, _MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = (1 << i for i in range(6, 13))
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_ABI1_WRITES = (_WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_CHAR | _MAKE_DIR | _MAKE_REG | _MAKE_SOCK
                | _MAKE_FIFO | _MAKE_BLOCK | _MAKE_SYM)
# network rights (ABI 4) and scopes (ABI 6)
_BIND_TCP, _CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0 when Landlock is unavailable)."""
    try:
        version = _libc().syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    except (AttributeError, OSError):
        return 0
    return max(0, int(version))


def _write_rights(abi: int) -> int:
    rights = _ABI1_WRITES
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    return rights


def apply_landlock(writable: list[str], abi: int | None = None) -> int:
    """Restrict this process (and its future children) to writing beneath ``writable``; returns the ABI used.

    Raises ``OSError`` when a step fails (the caller decides whether that is fatal).
    """
    abi = landlock_abi() if abi is None else abi
    if abi <= 0:
        raise OSError("Landlock is not available on this kernel")
    libc = _libc()
    rights = _write_rights(abi)
    # the struct grows with the ABI: pass only the fields this kernel knows
    attr = _RulesetAttr(rights, (_BIND_TCP | _CONNECT_TCP) if abi >= 4 else 0,
                        (_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in writable:
            if not os.path.exists(path):
                continue
            allowed = rights if os.path.isdir(path) else (_WRITE_FILE | (_TRUNCATE if abi >= 3 else 0))
            path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneathAttr(allowed, path_fd)
                if libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(_RULE_PATH_BENEATH),
                                ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(path_fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)
    return abi


def unshare_network() -> bool:
    """Move this process into a new, empty network namespace; False when not permitted."""
    return _libc().unshare(ctypes.c_int(_CLONE_NEWNET)) == 0


def become_subreaper() -> bool:
    """Orphans of this process's descendants are re-parented to it (so they stay findable)."""
    return _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


@dataclass(frozen=True)
class Limits:
    """Resource limits of one interpreter process (0 leaves a limit unset)."""

    memory_mb: int = 0
    file_mb: int = 0
    cpu_seconds: int = 0
    max_processes: int = 0


def apply_limits(limits: Limits) -> None:
    """Set RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_CPU, RLIMIT_NPROC (not root: root ignores it) and no core files."""
    mib = 1024 * 1024
    if limits.memory_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mib, limits.memory_mb * mib))
    if limits.file_mb > 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mib, limits.file_mb * mib))
    if limits.cpu_seconds > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    if limits.max_processes > 0 and os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
