"""The driver's side of the kernel template (:mod:`cort.executor._kernel_main`): ask it for fresh kernels.

Forking a warm template instead of starting a new interpreter turns a kernel's start from a
fresh process that imports ipykernel, IPython, numpy and sympy (~0.6 s of CPU) into a fork and
the kernel's own set-up (tens of ms). The template is started lazily, restarted when it dies, and
ended (with every kernel it forked) by :meth:`Zygote.close` or when this process dies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from typing import IO

from cort.fds import wait_readable

logger = logging.getLogger(__name__)
_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_kernel_main.py")


class Zygote:
    """One template process; :meth:`spawn` forks a kernel from it and returns the kernel's pid."""

    def __init__(self, env: dict[str, str], home: str, log: IO[bytes], startup_timeout: float = 60.0):
        self.env = env
        self.home = home
        self.log = log
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """Process id of the running template (None before the first kernel or after close)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        """Start the template (imports done, ready to fork); a running one is replaced."""
        self._stop()
        self._buffer = b""
        self._proc = subprocess.Popen(
            [sys.executable, _TEMPLATE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            cwd=self.home, env=self.env, start_new_session=True,  # a Ctrl-C meant for the run is not its own
        )
        reply = self._read_reply(self.startup_timeout)
        if "ready" not in reply:
            raise RuntimeError(f"the kernel template did not start: {reply}")
        logger.debug("kernel template %d ready", self._proc.pid)

    def _read_reply(self, timeout: float) -> dict:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop()
                return {"error": f"no answer from the kernel template in {timeout:.0f} s"}
            if not wait_readable(fd, remaining):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = self._proc.wait()
                self._proc = None
                return {"error": f"the kernel template exited (code {code})"}
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def spawn(self, workdir: str, connection_file: str, env: dict[str, str]) -> int:
        """Fork a kernel for one session; raises ``RuntimeError`` when none can be made (after one restart)."""
        request = (json.dumps({"workdir": workdir, "connection_file": connection_file, "env": env}) + "\n").encode()
        with self._lock:
            last = ""
            for _attempt in range(2):
                if self._closed:
                    raise RuntimeError("the kernel template is closed")
                if self._proc is None or self._proc.poll() is not None:
                    self.start()
                assert self._proc is not None and self._proc.stdin is not None
                try:
                    self._proc.stdin.write(request)
                    self._proc.stdin.flush()
                except (BrokenPipeError, ValueError) as err:
                    last = f"the kernel template is gone ({err})"
                    self._stop()
                    continue
                reply = self._read_reply(self.startup_timeout)
                if "pid" in reply:
                    return int(reply["pid"])
                last = reply.get("error", str(reply))
            raise RuntimeError(last)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(Exception):
            proc.stdin.close()  # the template kills its kernels and exits
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(Exception):
            proc.stdout.close()

    def close(self) -> None:
        """End the template and every kernel it forked."""
        with self._lock:
            self._closed = True
            self._stop()
