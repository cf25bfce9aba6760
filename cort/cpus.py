"""CPU lists (``0``, ``1-3,5``) and binding the calling process to them."""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)
# the CPUs this process could use before it pinned itself (an engine pinned here does not shrink the choice)
_USABLE = frozenset(os.sched_getaffinity(0))


def usable_cpus() -> set[int]:
    """The CPUs this process may use: those it could use at start, and any it was moved to since."""
    return set(_USABLE | os.sched_getaffinity(0))


def parse_cpu_list(spec: str) -> set[int]:
    """CPU ids of a list such as ``0`` or ``1-3,5``; ValueError naming what is wrong or unavailable."""
    cpus: set[int] = set()
    for part in spec.split(","):
        lo, dash, hi = part.strip().partition("-")
        hi = hi if dash else lo
        if not lo.isdigit() or not hi.isdigit() or int(hi) < int(lo):
            raise ValueError(f"{spec!r} is not a CPU list such as 0 or 1-3,5")
        cpus.update(range(int(lo), int(hi) + 1))
    usable = usable_cpus()
    if not cpus <= usable:
        raise ValueError(f"CPU {min(cpus - usable)} is not available here (usable: {sorted(usable)})")
    return cpus


def pin_thread(cpus: set[int] | None) -> None:
    """Move the calling thread (only it) onto ``cpus``; None or empty: leave it where it is."""
    if cpus:
        os.sched_setaffinity(0, cpus)


def bind_compute_threads(cpus: set[int]) -> None:
    """Run this process's torch compute on ``cpus``: one intra-op thread per CPU, the process pinned there.

    The pin is inherited by threads and processes started afterwards. Calls torch's own setter
    (``torch._C``), which vLLM's CPU worker leaves alone when it disables ``torch.set_num_threads``.
    """
    import torch

    os.sched_setaffinity(0, cpus)
    torch._C.set_num_threads(len(cpus))
    logger.info("torch compute on CPU %s (%d threads)", ",".join(map(str, sorted(cpus))), len(cpus))
