"""One Jupyter kernel for one session: started fresh, confined, limited, and ended with all it started.

A kernel is never reused: each session gets a kernel of its own (started ahead by the pool), so
nothing one trajectory does to its interpreter (patched builtins, threads, signal handlers, closed
streams, a lowered recursion limit ...) can reach another. Its folder is the session's scratch
folder (working directory, ``HOME``, ``TMPDIR``, IPython's settings, the kernel's IPC sockets), the
only place it may write when confined (:mod:`cort.executor.confine`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time

import psutil
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from cort.executor.cgroup import PidsGroup
from cort.executor.config import ExecutorConfig
from cort.executor.result import TIMEOUT_REPORT, ExecutionResult, format_error

logger = logging.getLogger(__name__)
KERNEL_NAME = "cort-python"
_LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_kernel_main.py")
_PASSED_ENV = ("LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class _SpecManager(KernelSpecManager):
    """Serves one kernel spec: this interpreter, started through the confining launcher."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        argv = [
            sys.executable, _LAUNCHER, "-f", "{connection_file}",
            "--colors=NoColor", "--HistoryManager.enabled=False",
        ]
        return KernelSpec(argv=argv, display_name="CoRT Python", language="python", env={})


def kernel_env(config: ExecutorConfig, workdir: str, cgroup_procs: str = "") -> dict[str, str]:
    """The whole environment of a kernel: built from scratch, so no credential of the parent leaks in."""
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.update({
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": workdir, "TMPDIR": workdir, "IPYTHONDIR": os.path.join(workdir, ".ipython"),
        "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "JPY_PARENT_PID": str(os.getpid()),
        "CORT_KERNEL_MEMORY_MB": str(config.memory_mb), "CORT_KERNEL_FILE_MB": str(config.file_mb),
        "CORT_KERNEL_CPU_SECONDS": str(config.cpu_seconds), "CORT_KERNEL_MAX_PROCESSES": str(config.max_processes),
        "CORT_KERNEL_SANDBOX": config.sandbox, "CORT_KERNEL_WORKDIR": workdir, "CORT_KERNEL_CGROUP": cgroup_procs,
    })
    return env


class Kernel:
    """A live, confined ipykernel process with a blocking client; one session uses it, then it is shut down."""

    def __init__(self, config: ExecutorConfig, root: str, cgroup_root: str | None = None):
        self.config = config
        self.workdir = tempfile.mkdtemp(prefix="s-", dir=root)
        self.group = PidsGroup(cgroup_root, config.max_processes) if cgroup_root else None
        tag = os.path.basename(self.workdir)
        self.km = KernelManager(
            kernel_name=KERNEL_NAME, kernel_spec_manager=_SpecManager(), transport="ipc",
            ip=os.path.join(self.workdir, ".ipc"), connection_file=os.path.join(root, f"{tag}.json"),
        )
        self._log = open(os.path.join(root, "kernels.log"), "ab")  # noqa: SIM115 - kept for restarts
        try:
            env = kernel_env(config, self.workdir, self.group.procs_file if self.group else "")
            self.km.start_kernel(env=env, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=self._log)
            self._connect()
            self._preload()
        except BaseException:
            self.shutdown()
            raise

    # -- lifecycle -----------------------------------------------------------------------
    def _connect(self) -> None:
        self.client = self.km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=self.config.startup_timeout)

    @property
    def pid(self) -> int | None:
        """Process id of the kernel (None when not running)."""
        provisioner = self.km.provisioner
        return getattr(provisioner, "pid", None) if provisioner else None

    def is_alive(self) -> bool:
        """True while the kernel process runs."""
        return self.km.has_kernel and self.km.is_alive()

    def kill_children(self) -> None:
        """Kill every process the kernel started (subprocesses of model code, double forks included)."""
        pid = self.pid
        if self.group is not None:
            for other in self.group.pids():
                if other != pid:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(other, 9)
        if pid is None:
            return
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(children, timeout=2)

    def restart(self) -> None:
        """Hard restart (state is lost); used after a timeout the interrupt did not stop, or a crash."""
        self.kill_children()
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        self.km.restart_kernel(now=True)
        self._connect()
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
        self.kill_children()
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        with contextlib.suppress(Exception):
            self.km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            self.km.cleanup_resources()
        if self.group is not None:
            self.group.destroy()
        self._log.close()
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
            self.km.interrupt_kernel()
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
