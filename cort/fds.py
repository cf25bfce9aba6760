"""File descriptors in a process that drives many kernels: waiting on one of any number, and enough of them.

``select.select`` refuses descriptors at or above ``FD_SETSIZE`` (1024): a process driving a
couple of hundred kernels (each holds a pidfd and several ZeroMQ sockets) passes that, and
every kernel started after it failed with ``filedescriptor out of range in select()``.
``poll`` has no such limit.
"""

from __future__ import annotations

import math
import resource
import select


def wait_readable(fd: int, timeout: float | None) -> bool:
    """True once ``fd`` is readable (or closed / hung up), False after ``timeout`` seconds; None waits."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    wait_ms = None if timeout is None else max(0, math.ceil(timeout * 1000))
    return bool(poller.poll(wait_ms))


def raise_open_file_limit(needed: int) -> int:
    """Raise this process's soft limit on open files to at least ``needed`` (up to the hard limit).

    Returns the soft limit now in force (unchanged where the system refuses the change). Each
    kernel a session holds costs its client ~8 descriptors (ZeroMQ sockets, their mailboxes, the
    pidfd), so a few hundred kernels pass the common default of 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target <= soft:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # a container that forbids it: the caller warns with the old limit
        return soft
    return target
