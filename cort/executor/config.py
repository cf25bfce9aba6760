"""Settings of the code executor."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: Imports a warm kernel can load ahead of time (``ExecutorConfig.preload``).
DEFAULT_PRELOAD = "import math\nimport numpy\nimport sympy"


@dataclass
class ExecutorConfig:
    """How kernels are started, limited and pooled.

    ``max_kernels`` bounds the number of live kernels (a session holds one kernel from its
    first cell to its close; further sessions wait for one). ``warm_kernels`` are started
    ahead and kept idle. ``memory_mb`` caps each kernel's address space (RLIMIT_AS, children
    included); ``file_mb`` caps any file it writes (RLIMIT_FSIZE). ``max_output_chars`` caps
    what is collected from one cell before it reaches the protocol's 800-character cut.
    """

    timeout: float = 30.0
    max_kernels: int = field(default_factory=lambda: max(8, 4 * (os.cpu_count() or 1)))
    warm_kernels: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    preload: str = ""
    memory_mb: int = 4096
    file_mb: int = 64
    interrupt_grace: float = 2.0
    max_output_chars: int = 100_000
    max_uses_per_kernel: int = 64
    scratch_root: str | None = None
    startup_timeout: float = 60.0
