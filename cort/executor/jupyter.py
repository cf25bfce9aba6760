"""Stateful execution: one kernel session per trajectory (``--func_call_mode jupyter``)."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from dataclasses import replace

from cort.executor.config import ExecutorConfig
from cort.executor.kernel import Kernel
from cort.executor.pool import KernelPool
from cort.executor.result import ExecutionResult


class Session:
    """A trajectory's interpreter: variables and imports persist between its cells.

    The kernel is taken from the pool at the first cell and given back at :meth:`close`;
    the session's scratch directory (its working directory, ``HOME`` and ``TMPDIR``) is
    removed then.
    """

    def __init__(self, pool: KernelPool, session_id: str):
        self.id = session_id
        self._pool = pool
        self._kernel: Kernel | None = None
        self.workdir: str | None = None
        self.cells_run = 0

    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run one cell in this session's kernel."""
        if self._kernel is None:
            self.workdir = tempfile.mkdtemp(prefix="s-", dir=self._pool.home)
            self._kernel = self._pool.acquire()
            self._kernel.prepare(self.workdir, self._pool.config.preload)
        result = self._kernel.run(code, timeout)
        if result.restarted:
            self._kernel.prepare(self.workdir, self._pool.config.preload)
        self.cells_run += 1
        return result

    def close(self) -> None:
        """Give the kernel back and delete the scratch directory."""
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            self._pool.release(kernel)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JupyterExecutor:
    """Sessions over a pool of real Jupyter kernels.

    >>> with JupyterExecutor(timeout=10) as ex:
    ...     s = ex.open("traj-0"); s.run("x = 2"); s.run("print(x ** 10)").output
    '1024\\n'
    """

    def __init__(self, config: ExecutorConfig | None = None, **overrides):
        self.config = replace(config or ExecutorConfig(), **overrides)
        self.pool = KernelPool(self.config)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def open(self, session_id: str | None = None) -> Session:
        """Open (or return the open) session ``session_id``."""
        with self._lock:
            sid = session_id if session_id is not None else f"anon-{next(self._ids)}"
            if sid not in self._sessions:
                self._sessions[sid] = Session(self.pool, sid)
            return self._sessions[sid]

    def run(self, session_id: str, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run ``code`` in session ``session_id`` (opened on first use)."""
        return self.open(session_id).run(code, timeout)

    def close(self, session_id: str) -> None:
        """Close session ``session_id`` if open."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close()

    def run_stateless(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run ``code`` in a fresh namespace (``--func_call_mode python``)."""
        session = Session(self.pool, "stateless")
        try:
            return session.run(code, timeout)
        finally:
            session.close()

    def shutdown(self) -> None:
        """Close every session and stop every kernel."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.close()
        self.pool.close()

    def __enter__(self) -> "JupyterExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
