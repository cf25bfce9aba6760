"""Settings of the code executor."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cort.cpus import parse_cpu_list

#: Imports a warm kernel can load ahead of time (``ExecutorConfig.preload``).
DEFAULT_PRELOAD = "import math\nimport numpy\nimport sympy"
SANDBOX_MODES = ("on", "off")


@dataclass
class ExecutorConfig:
    """How kernels are started, limited and pooled.

    ``max_kernels`` bounds the number of live kernels (a session holds one fresh kernel from
    its first cell to its close, then the kernel is shut down; further sessions wait for one).
    ``warm_kernels`` are started ahead and kept idle. ``memory_mb`` caps each process's address
    space (RLIMIT_AS), ``file_mb`` any file it writes (RLIMIT_FSIZE), ``cpu_seconds`` its CPU time
    (RLIMIT_CPU), ``max_processes`` the processes of one session (a ``pids`` cgroup where one can
    be made, else RLIMIT_NPROC for a non-root user). ``max_output_chars`` caps what is collected
    from one cell (in this process too) before the protocol's 800-character cut. ``sandbox``:
    ``"on"`` confines each kernel with what the machine offers (see :mod:`cort.executor.confine`),
    ``"off"`` does not. ``cpus`` (a CPU list such as ``1`` or ``2-7``) places the kernels and the
    executor's own threads (kernel warmer and reaper, ZeroMQ I/O, the tool loop's cell threads) on
    those cores, away from an engine computing on the others (vLLM-CPU); empty: where this process
    runs. It is placement, not a limit: a cell may move itself.
    """

    timeout: float = 30.0
    max_kernels: int = field(default_factory=lambda: max(8, 4 * (os.cpu_count() or 1)))
    warm_kernels: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    preload: str = ""
    memory_mb: int = 4096
    file_mb: int = 64
    interrupt_grace: float = 2.0
    max_output_chars: int = 100_000
    cpu_seconds: int = 900
    max_processes: int = 64
    sandbox: str = "on"
    scratch_root: str | None = None
    startup_timeout: float = 60.0
    cpus: str = ""

    def __post_init__(self) -> None:
        if self.sandbox not in SANDBOX_MODES:
            raise ValueError(f"sandbox must be one of {SANDBOX_MODES}, got {self.sandbox!r}")
        if self.max_kernels < 1 or self.warm_kernels < 0:
            raise ValueError("max_kernels must be >= 1 and warm_kernels >= 0")
        if self.cpus:  # a malformed or unavailable list fails here, before anything starts
            parse_cpu_list(self.cpus)

    @property
    def cpu_set(self) -> set[int] | None:
        """The CPUs of ``cpus``; None when empty. ValueError for a malformed or unavailable list."""
        return parse_cpu_list(self.cpus) if self.cpus else None
