"""The kernel template (zygote): a warm interpreter that forks one fresh, confined ipykernel per session.

Started once per pool by :mod:`cort.executor.zygote` with a scrubbed environment. It imports
everything a kernel needs (ipykernel, IPython, the pool's preload imports such as numpy and sympy)
and loads the kernel application's command line and IPython profile (in the pool's folder, which a
confined kernel can read but not write), then waits for requests, one JSON line each on stdin::

    {"workdir": "...", "connection_file": "...", "env": {...}}

and answers each with one line on stdout: ``{"pid": N}`` or ``{"error": "..."}``. Each request
forks a child that starts a new session, takes the request's environment and folder, joins its
cgroup, confines and limits itself (:func:`_confine`) and only then becomes an ipykernel. The child
shares no state with any other session: it is a new process whose memory is a copy of the
template, which never runs model code. Its random generators (``random``, ``numpy.random``) are
reseeded; the string-hash seed stays the template's (set iteration order is the same in every kernel).

The template is a child subreaper that ignores SIGCHLD (children are reaped by the kernel): a
process orphaned by a dead kernel is adopted by it and killed within a second. When stdin closes
(the inference run ended, or was killed), it kills every kernel and everything they started, then exits.

Started as a file: this package's folder is dropped from ``sys.path`` so its module names
(config, result, pool ...) cannot shadow the standard library or packages model code imports.
"""

import gc
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]


def _load_confine():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_cort_confine", os.path.join(_HERE, "confine.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


confine = _load_confine()


# -- in the kernel (after fork) ---------------------------------------------------------------
def _end_the_group(procs_file: str) -> None:
    """On exit: end every other process of this session's cgroup."""
    try:
        with open(procs_file) as fh:
            pids = [int(p) for p in fh.read().split()]
    except OSError:
        return
    for pid in pids:
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _confine() -> None:
    """Join the session's cgroup, limit and confine this process, as the environment says."""
    import atexit

    env = os.environ
    procs_file = env.pop("CORT_KERNEL_CGROUP", "")
    if procs_file:
        with open(procs_file, "w") as fh:
            fh.write(str(os.getpid()))
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


def _become_kernel(request: dict) -> None:
    """In the forked child: a new session with the request's world, confined, then ipykernel (never returns)."""
    code = 0
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.closerange(3, 65536)  # the template's pipes and anything else it held
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["workdir"])
        tempfile.tempdir = None
        _reseed()
        _confine()
    except Exception as err:  # noqa: BLE001 - reported, and the kernel does not start
        print(f"cort kernel: confinement failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        os._exit(3)
    try:
        from IPython.core.application import BaseIPythonApplication

        app = _APP[0]
        BaseIPythonApplication.initialize = lambda self, argv=None: None  # done once, in the template
        app.connection_file = request["connection_file"]
        app.parent_handle = os.getppid()
        app.initialize([])
        app.start()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    except BaseException as err:  # noqa: BLE001 - the kernel's end, reported on its log
        print(f"cort kernel: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        code = 1
    finally:
        import atexit

        atexit._run_exitfuncs()
        os._exit(code)


def _reseed() -> None:
    """Fresh random state: a forked child would otherwise repeat the template's random numbers."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


_APP: list = []  # the kernel application, its command line and profile already loaded by the template


# -- in the template ------------------------------------------------------------------------
def _warm_imports(preload: str, home: str) -> None:
    """Import what a kernel will: probe one throwaway kernel's modules, then the preload's."""
    read_end, write_end = os.pipe()
    probe = os.fork()
    if probe == 0:
        code = 0
        try:
            os.close(read_end)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 1)
            from ipykernel.kernelapp import IPKernelApp
            from jupyter_client.connect import write_connection_file

            folder = tempfile.mkdtemp(prefix="probe-", dir=home)
            connection_file = os.path.join(folder, "probe.json")
            write_connection_file(connection_file, transport="ipc", ip=os.path.join(folder, "ipc"))
            IPKernelApp.instance().initialize(["-f", connection_file, "--HistoryManager.enabled=False"])
            os.write(write_end, "\n".join(sorted(sys.modules)).encode())
        except BaseException:  # noqa: BLE001 - the template still imports ipykernel itself
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1 << 16):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(probe, 0)
    import importlib

    import ipykernel.kernelapp  # noqa: F401 - at least this, when the probe failed

    for name in b"".join(chunks).decode().split():
        if name in sys.modules or name.startswith("__") or "__main__" in name:
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a module that only imports in a kernel; it will there
            pass
    if preload:
        try:
            exec(compile(preload, "<preload>", "exec"), {})  # the user's preload, not model code
        except BaseException:  # noqa: BLE001 - each kernel runs (and reports) the preload itself
            pass


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.update(int(p) for p in fh.read().split())
    except OSError:
        pass
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _kill_orphans(kernels: set[int]) -> set[int]:
    """Kill every child of the template that is not a live kernel (processes adopted from dead kernels)."""
    children = _children(os.getpid())
    kernels &= children
    for pid in children - kernels:
        _kill(pid)
    return children - kernels


def _kill_everything(kernels: set[int], groups: dict[int, str]) -> None:
    """Freeze each kernel, kill its cgroup, its descendants and itself; then whatever the template adopts."""
    for pid in kernels:
        try:
            os.kill(pid, signal.SIGSTOP)  # it can start nothing more while its tree is taken down
        except OSError:
            continue
        try:
            with open(groups.get(pid, "")) as fh:
                members = {int(p) for p in fh.read().split()}
        except OSError:
            members = set()
        stack, tree = [pid], set()
        while stack:
            for child in _children(stack.pop()) - tree:
                tree.add(child)
                stack.append(child)
        for other in members | tree:
            _kill(other)
        _kill(pid)
    deadline = time.monotonic() + 5.0
    while _kill_orphans(set()) and time.monotonic() < deadline:
        time.sleep(0.02)


def serve() -> None:
    """Warm up, say ready, then fork a kernel for each request until stdin closes."""
    home = os.getcwd()
    cpus = os.environ.pop("CORT_KERNEL_CPUS", "")
    if cpus:  # before any import starts a thread: every kernel forked later runs there too
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    confine.become_subreaper()
    _warm_imports(os.environ.pop("CORT_KERNEL_PRELOAD", ""), home)
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.application import BaseIPythonApplication

    _APP.append(IPKernelApp.instance())
    BaseIPythonApplication.initialize(_APP[0], json.loads(os.environ.pop("CORT_KERNEL_ARGV", "[]")))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the kernel, never zombies
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:  # a fork copies only the calling thread: a lock another one held would stay held
        print(f"cort kernel template: {threads} threads after the imports; kernels may hang", file=sys.stderr)
    gc.collect()
    gc.freeze()  # shared pages stay shared: the collector in a kernel does not touch them
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    replies.write(json.dumps({"ready": os.getpid()}) + "\n")
    kernels: set[int] = set()
    groups: dict[int, str] = {}  # kernel pid -> its cgroup's procs file
    buffered = b""
    while True:
        ready, _, _ = select.select([0], [], [], 1.0)
        _kill_orphans(kernels)
        if not ready:
            continue
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            try:
                request = json.loads(line)
                pid = os.fork()
            except Exception as err:  # noqa: BLE001 - answered, the template goes on
                replies.write(json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n")
                continue
            if pid == 0:
                _become_kernel(request)
            kernels.add(pid)
            groups = {k: v for k, v in groups.items() if k in kernels}
            groups[pid] = request["env"].get("CORT_KERNEL_CGROUP", "")
            replies.write(json.dumps({"pid": pid}) + "\n")
    _kill_everything(kernels, groups)
    shutil.rmtree(home, ignore_errors=True)  # the run is gone (or closed the pool): nothing of it stays


if __name__ == "__main__":
    serve()
