"""Entry point of an interpreter kernel: join its cgroup, confine and limit itself, then start ipykernel.

Settings come from environment variables set by :mod:`cort.executor.kernel`. Everything is applied
before any model-written code runs, and is inherited by every process the kernel starts. A step
that fails when the sandbox is on stops the kernel (exit 3, reason on stderr): the executor records
that as an infrastructure error, never runs model code unconfined by accident.
"""

import atexit
import os
import sys

# Started as a file: drop this package's folder from the path so its module names
# (config, result, pool, ...) cannot shadow the standard library or model-imported packages.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]


def _load_confine():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_cort_confine", os.path.join(_HERE, "confine.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _join_cgroup(procs_file: str) -> None:
    with open(procs_file, "w") as fh:
        fh.write(str(os.getpid()))


def _end_the_group(procs_file: str) -> None:
    """On exit (also when the parent died): end every other process of this session's group."""
    try:
        with open(procs_file) as fh:
            pids = [int(p) for p in fh.read().split()]
    except OSError:
        return
    for pid in pids:
        if pid != os.getpid():
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def _confine() -> None:
    env = os.environ
    confine = _load_confine()
    procs_file = env.pop("CORT_KERNEL_CGROUP", "")
    if procs_file:
        _join_cgroup(procs_file)
        atexit.register(_end_the_group, procs_file)
    confine.become_subreaper()
    def number(name: str) -> int:
        return int(env.pop(name, "0") or 0)

    confine.apply_limits(confine.Limits(
        memory_mb=number("CORT_KERNEL_MEMORY_MB"), file_mb=number("CORT_KERNEL_FILE_MB"),
        cpu_seconds=number("CORT_KERNEL_CPU_SECONDS"), max_processes=number("CORT_KERNEL_MAX_PROCESSES")))
    workdir = env.pop("CORT_KERNEL_WORKDIR", "")
    if env.pop("CORT_KERNEL_SANDBOX", "on") == "off":
        return
    confine.unshare_network()  # allowed for root (or with user namespaces); else TCP is still refused below
    if confine.landlock_abi() > 0:
        confine.apply_landlock([workdir, "/dev/null", "/dev/shm"])


if __name__ == "__main__":
    try:
        _confine()
    except Exception as err:  # noqa: BLE001 - reported, and the kernel does not start
        print(f"cort kernel: confinement failed: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(3)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
