"""Entry point of an interpreter kernel: apply resource limits, then start ipykernel.

Limits come from environment variables set by :mod:`cort.executor.kernel` so they apply
to the kernel process and every child it starts (they are inherited), before any
model-written code runs.
"""

import os
import resource
import sys

# Started as a file: drop this package's folder from the path so its module names
# (config, result, pool, ...) cannot shadow the standard library or model-imported packages.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]


def _apply_limits() -> None:
    mib = 1024 * 1024
    memory_mb = int(os.environ.get("CORT_KERNEL_MEMORY_MB", "0") or 0)
    if memory_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mib, memory_mb * mib))
    file_mb = int(os.environ.get("CORT_KERNEL_FILE_MB", "0") or 0)
    if file_mb > 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mib, file_mb * mib))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


if __name__ == "__main__":
    _apply_limits()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
