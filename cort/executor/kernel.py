"""One Jupyter kernel for one session: forked fresh from the template, confined, limited, ended with all it started.

A kernel is never reused: each session gets a kernel of its own (forked ahead by the pool from the
warm template, :mod:`cort.executor._kernel_main`), so nothing one trajectory does to its interpreter
(patched builtins, threads, signal handlers, closed streams, a lowered recursion limit ...) can
reach another. Its folder is the session's scratch folder (working directory, ``HOME``,
``TMPDIR``, the kernel's IPC sockets), the only place it may write when confined
(:mod:`cort.executor.confine`). The client speaks the Jupyter protocol through ``jupyter_client``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import shutil
import signal
import sys
import tempfile
import time
import uuid

import psutil
import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from cort.executor import confine
from cort.executor.cgroup import PidsGroup
from cort.executor.config import ExecutorConfig
from cort.executor.result import TIMEOUT_REPORT, ExecutionResult, format_error
from cort.executor.zygote import Zygote
from cort.fds import wait_readable

logger = logging.getLogger(__name__)
KERNEL_ARGV = ["--colors=NoColor", "--HistoryManager.enabled=False"]
_PASSED_ENV = ("LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def kernel_env(config: ExecutorConfig, workdir: str, cgroup_procs: str = "") -> dict[str, str]:
    """The whole environment of a kernel: built from scratch, so no credential of the parent leaks in."""
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.update({
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": workdir, "TMPDIR": workdir, "IPYTHONDIR": os.path.join(workdir, ".ipython"),
        "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "CORT_KERNEL_MEMORY_MB": str(config.memory_mb), "CORT_KERNEL_FILE_MB": str(config.file_mb),
        "CORT_KERNEL_CPU_SECONDS": str(config.cpu_seconds), "CORT_KERNEL_MAX_PROCESSES": str(config.max_processes),
        "CORT_KERNEL_SANDBOX": config.sandbox, "CORT_KERNEL_WORKDIR": workdir, "CORT_KERNEL_CGROUP": cgroup_procs,
    })
    return env


#: The process whose run the kernels serve (the executor process sets its parent's); None: this one.
RUN_PID: int | None = None


def template_env(config: ExecutorConfig, home: str) -> dict[str, str]:
    """The environment of the kernel template: a kernel's, without the per-session settings."""
    env = {k: v for k, v in kernel_env(config, home).items() if not k.startswith("CORT_KERNEL_")}
    env["CORT_KERNEL_PRELOAD"] = config.preload
    env["CORT_KERNEL_ARGV"] = json.dumps(KERNEL_ARGV)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # ipykernel imports debugpy, which warns about frozen modules
    env["CORT_RUN_PID"] = str(RUN_PID or os.getpid())  # names the run in /proc/PID/environ of the template and kernels
    if config.cpus:
        env["CORT_KERNEL_CPUS"] = ",".join(map(str, sorted(config.cpu_set)))  # the kernels fork from there
    return env


@functools.cache
def _client_context(cpus: tuple[int, ...] = ()) -> zmq.Context:
    """One ZeroMQ context for our clients per CPU placement (its I/O thread runs on ``cpus``, else anywhere);
    they connect before the kernel binds, so retry every 5 ms (not 100)."""
    context = zmq.Context()
    # 5 sockets per kernel client: the default cap (1023 per context) stopped new kernels at ~204
    context.set(zmq.MAX_SOCKETS, context.get(zmq.SOCKET_LIMIT))
    for cpu in cpus:  # before the first socket, which starts the I/O thread
        context.set(zmq.THREAD_AFFINITY_CPU_ADD, cpu)
    context.setsockopt(zmq.RECONNECT_IVL, 5)
    context.setsockopt(zmq.LINGER, 0)
    return context


@functools.cache
def _landlock_confines() -> bool:
    """Whether sandboxed kernels get Landlock (their writes kept to their folder), as ``_kernel_main`` decides."""
    return confine.landlock_abi() > 0


class Kernel:
    """A live, confined ipykernel forked from the template, with a blocking client; one session uses it.

    The process is watched through a pidfd (it is the template's child, not ours), interrupted
    with SIGINT, and ended with everything it started by :meth:`shutdown`.
    """

    def __init__(self, config: ExecutorConfig, root: str, zygote: Zygote, cgroup_root: str | None = None):
        self.config = config
        self.root = root
        self.zygote = zygote
        self.workdir = tempfile.mkdtemp(prefix="s-", dir=root)
        self.group: PidsGroup | None = None
        self.pid: int | None = None
        self._pidfd: int | None = None
        self.client: BlockingKernelClient | None = None
        self._starts = 0
        try:
            self.group = PidsGroup(cgroup_root, config.max_processes) if cgroup_root else None
            self._start()
            self._preload()
        except BaseException:
            self.shutdown()
            raise

    # -- lifecycle -----------------------------------------------------------------------
    def _start(self) -> None:
        self._starts += 1
        tag = f"{os.path.basename(self.workdir)}-{self._starts}"
        self.connection_file = os.path.join(self.root, f"{tag}.json")
        _, info = write_connection_file(self.connection_file, transport="ipc", key=uuid.uuid4().hex.encode(),
                                        ip=os.path.join(self.workdir, f".ipc{self._starts}"))
        env = kernel_env(self.config, self.workdir, self.group.procs_file if self.group else "")
        self.pid = self.zygote.spawn(self.workdir, self.connection_file, env)
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError as err:
            raise RuntimeError("the kernel died as it started (see kernels.log)") from err
        self.client = BlockingKernelClient(context=_client_context(tuple(sorted(self.config.cpu_set or ()))))
        self.client.load_connection_info(info)
        self.client.start_channels(stdin=False, hb=False)
        self._wait_ready(self.config.startup_timeout)

    def _wait_ready(self, timeout: float) -> None:
        """Kernel-info handshake, then one IOPub message: the kernel answers and we hear its broadcasts."""
        assert self.client is not None
        deadline = time.monotonic() + timeout
        self.client.kernel_info()
        replied = False
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise RuntimeError("the kernel died as it started (see kernels.log)")
            if not replied:
                with contextlib.suppress(queue.Empty):
                    replied = self.client.get_shell_msg(timeout=0.05)["msg_type"] == "kernel_info_reply"
                continue
            try:
                self.client.get_iopub_msg(timeout=0.05)
                return
            except queue.Empty:
                self.client.kernel_info()  # its status messages went out before we subscribed
        raise RuntimeError(f"the kernel did not answer in {timeout:.0f} s")

    def is_alive(self) -> bool:
        """True while the kernel process runs."""
        if self._pidfd is None:
            return False
        return not wait_readable(self._pidfd, 0)

    def _signal(self, sig: int) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._pidfd, sig)

    def kill_children(self) -> None:
        """Kill every process the kernel started (subprocesses of model code, double forks included)."""
        pid = self.pid
        if self.group is not None:
            for other in self.group.pids():
                if other != pid:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(other, signal.SIGKILL)
            if self.config.sandbox != "off" and _landlock_confines():
                # every descendant is in the group (inherited; Landlock keeps the kernel from writing cgroup
                # files to leave it), double forks included: no scan of the process table (~2 ms of this
                # process's CPU per session, taken from an engine sharing the process)
                return
        if pid is None or not self.is_alive():
            return
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(children, timeout=2)

    def _stop_process(self) -> None:
        """Kill the kernel and what it started; wait for it to be gone."""
        self.kill_children()
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.stop_channels()
            self.client = None
        self._signal(signal.SIGKILL)
        if self._pidfd is not None:
            wait_readable(self._pidfd, 5.0)
            os.close(self._pidfd)
            self._pidfd = None
        with contextlib.suppress(OSError):
            os.unlink(self.connection_file)

    def restart(self) -> None:
        """Hard restart (state is lost): a new kernel from the template in the same folder."""
        self._stop_process()
        self._start()
        self._preload()

    def _preload(self) -> None:
        """Run ``config.preload``; a preload that fails is a broken kernel, never a silent one."""
        if not self.config.preload:
            return
        result = self.run(self.config.preload, timeout=self.config.startup_timeout, store_history=False)
        if not result.ok:
            raise RuntimeError(f"the preload code failed: {result.error.splitlines()[-1] if result.error else ''}")

    def shutdown(self) -> None:
        """Stop the kernel and everything it started; remove its scratch folder."""
        with contextlib.suppress(Exception):
            self._stop_process()
        if self.group is not None:
            self.group.destroy()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- execution -----------------------------------------------------------------------
    def run(self, code: str, timeout: float | None = None, store_history: bool = True) -> ExecutionResult:
        """Run ``code``; on timeout interrupt, then restart if the kernel does not return."""
        timeout = self.config.timeout if timeout is None else timeout
        start = time.monotonic()
        res = ExecutionResult()
        msg_id = self.client.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=True)
        deadline = start + timeout
        finished = self._collect(msg_id, res, deadline)
        if not finished and self.is_alive():
            res.timed_out = True
            self._signal(signal.SIGINT)
            grace = time.monotonic() + self.config.interrupt_grace
            if not self._collect(msg_id, ExecutionResult(), grace):
                self.restart()
                res.restarted = True
            res.error, res.error_name = TIMEOUT_REPORT, "TimeoutError"
        elif not finished:
            self.restart()
            res.restarted = True
            res.error_name = "KernelDied"
            res.error = ("KernelDied: the interpreter process died (memory or CPU limit, or exit); it was restarted "
                         "and earlier variables are lost")
        self._drain_shell(msg_id)
        res.elapsed = time.monotonic() - start
        return res

    def _collect(self, msg_id: str, res: ExecutionResult, deadline: float) -> bool:
        """Read iopub messages of ``msg_id`` into ``res`` until idle (True) or deadline (False).

        Every text kept is capped at ``max_output_chars`` (what a flood beyond it sends is read and
        dropped), so a cell printing in a loop cannot grow this process's memory.
        """
        cap = self.config.max_output_chars
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                msg = self.client.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.is_alive():
                    return False
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                return True
            text = ""
            if kind == "stream":
                text = content.get("text", "")
                if content.get("name") == "stderr":
                    res.stderr = _capped(res.stderr, text, cap)
                else:
                    res.stdout = _capped(res.stdout, text, cap)
            elif kind in ("execute_result", "display_data"):
                text = content.get("data", {}).get("text/plain", "")
                if text:
                    text += "\n"
                    res.value = _capped(res.value, text, cap)
            elif kind == "error":
                res.error_name = content.get("ename", "Error")
                res.error = format_error(res.error_name, content.get("evalue", ""), content.get("traceback", []))
            if text and not res.output_truncated:
                res.output += text
                if len(res.output) > cap:
                    res.output = res.output[:cap]
                    res.output_truncated = True

    def _drain_shell(self, msg_id: str) -> None:
        """Consume the shell reply of ``msg_id`` so replies do not pile up."""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                reply = self.client.get_shell_msg(timeout=0.2)
            except queue.Empty:
                return
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return


def _capped(kept: str, text: str, cap: int) -> str:
    return kept if len(kept) >= cap else (kept + text)[:cap]
