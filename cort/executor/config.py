"""Settings of the code executor."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

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
    ``"off"`` does not.
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

    def __post_init__(self) -> None:
        if self.sandbox not in SANDBOX_MODES:
            raise ValueError(f"sandbox must be one of {SANDBOX_MODES}, got {self.sandbox!r}")
        if self.max_kernels < 1 or self.warm_kernels < 0:
            raise ValueError("max_kernels must be >= 1 and warm_kernels >= 0")
