"""One Jupyter kernel: start with limits, run a cell under a timeout, reset, shut down."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import time
import uuid

import psutil
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from cort.executor.config import ExecutorConfig
from cort.executor.result import TIMEOUT_REPORT, ExecutionResult, format_error

KERNEL_NAME = "cort-python"
_LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_kernel_main.py")


_RESET_SOURCE = """
import os, tempfile
ns = ip.user_ns
for name in [n for n in ns if n not in ip.user_ns_hidden]:
    del ns[name]
ns.get('_oh', {}).clear()
del ns.get('_ih', [''])[1:]
ns.update(_='', __='', ___='')
ip.execution_count = 1
os.chdir(workdir)
tempfile.tempdir = workdir
os.environ['TMPDIR'] = os.environ['HOME'] = workdir
"""


class _SpecManager(KernelSpecManager):
    """Serves one kernel spec: this interpreter, started through the limiting launcher."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        argv = [
            sys.executable, _LAUNCHER, "-f", "{connection_file}",
            "--colors=NoColor", "--HistoryManager.enabled=False",
        ]
        return KernelSpec(argv=argv, display_name="CoRT Python", language="python", env={})


def kernel_env(config: ExecutorConfig, home: str) -> dict[str, str]:
    """Environment of a kernel process: limits, single-threaded BLAS, no GUI backends."""
    env = dict(os.environ)
    env.update({
        "CORT_KERNEL_MEMORY_MB": str(config.memory_mb),
        "CORT_KERNEL_FILE_MB": str(config.file_mb),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": os.path.join(home, ".ipython"),
        "JPY_PARENT_PID": str(os.getpid()),
    })
    return env


class Kernel:
    """A live ipykernel process with a blocking client; not thread-safe (one user at a time)."""

    def __init__(self, config: ExecutorConfig, home: str):
        self.config = config
        self.home = home
        self.uses = 0
        tag = uuid.uuid4().hex[:12]
        self.km = KernelManager(
            kernel_name=KERNEL_NAME, kernel_spec_manager=_SpecManager(), transport="ipc",
            ip=os.path.join(home, f"k-{tag}"), connection_file=os.path.join(home, f"k-{tag}.json"),
        )
        self._log = open(os.path.join(home, "kernels.log"), "ab")  # noqa: SIM115 - kept for restarts
        self.km.start_kernel(env=kernel_env(config, home), cwd=home, stdout=subprocess.DEVNULL, stderr=self._log)
        self._connect()

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
        """Kill every process the kernel started (subprocesses of model code)."""
        pid = self.pid
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
        """Hard restart (state is lost); used after a timeout the interrupt did not stop."""
        self.kill_children()
        try:
            self.client.stop_channels()
        except Exception:  # noqa: BLE001 - channels may already be closed
            pass
        self.km.restart_kernel(now=True)
        self._connect()

    def shutdown(self) -> None:
        """Stop the kernel and everything it started."""
        self.kill_children()
        try:
            self.client.stop_channels()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - already dead
            pass
        self._log.close()

    def prepare(self, workdir: str, preload: str = "") -> None:
        """Clear the namespace, move into ``workdir`` and run ``preload`` (for a new session).

        The namespace is emptied directly (IPython's ``%reset`` runs a full garbage
        collection, ~20 ms); imported modules stay loaded, so ``preload`` is nearly free.
        """
        self.kill_children()
        code = f"exec({_RESET_SOURCE!r}, {{'ip': get_ipython(), 'workdir': {workdir!r}}})\n{preload}\n"
        result = self.run(code, timeout=self.config.startup_timeout, count_use=False, store_history=False)
        if not result.ok:
            raise RuntimeError(f"kernel preparation failed: {result.error}")

    # -- execution -----------------------------------------------------------------------
    def run(
        self, code: str, timeout: float | None = None, count_use: bool = True, store_history: bool = True
    ) -> ExecutionResult:
        """Run ``code``; on timeout interrupt, then restart if the kernel does not return."""
        if count_use:
            self.uses += 1
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
            res.error = ("KernelDied: the interpreter process died (memory limit or exit); it was restarted and "
                         "earlier variables are lost")
        self._drain_shell(msg_id)
        res.elapsed = time.monotonic() - start
        return res

    def _collect(self, msg_id: str, res: ExecutionResult, deadline: float) -> bool:
        """Read iopub messages of ``msg_id`` into ``res`` until idle (True) or deadline (False)."""
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
                    res.stderr += text
                else:
                    res.stdout += text
            elif kind in ("execute_result", "display_data"):
                text = content.get("data", {}).get("text/plain", "")
                if text:
                    text += "\n"
                    res.value += text
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
