"""Stateful execution: one kernel session per trajectory (``--func_call_mode jupyter``)."""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import replace

from cort.executor.config import ExecutorConfig
from cort.executor.kernel import Kernel
from cort.executor.pool import KernelPool
from cort.executor.program import run_program
from cort.executor.result import ExecutionResult

logger = logging.getLogger(__name__)


class Session:
    """A trajectory's interpreter: variables and imports persist between its cells.

    A fresh kernel (its own process, folder and sandbox) is taken from the pool at the first cell
    and shut down at :meth:`close`, together with everything it started and its scratch folder
    (its working directory, ``HOME`` and ``TMPDIR``). A failure of the machinery rather than of the
    code (no kernel could be started, the connection was lost) comes back as a result with
    ``infrastructure=True``; it never raises.
    """

    def __init__(self, pool: KernelPool, session_id: str):
        self.id = session_id
        self._pool = pool
        self._kernel: Kernel | None = None
        self.workdir: str | None = None
        self.cells_run = 0

    def _acquire(self) -> Kernel:
        try:
            return self._pool.acquire()
        except RuntimeError as first:
            if "closed" in str(first):
                raise
            logger.warning("session %s: %s; trying a new kernel", self.id, first)
            return self._pool.acquire()

    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run one cell in this session's kernel."""
        try:
            if self._kernel is None:
                self._kernel = self._acquire()
                self.workdir = self._kernel.workdir
            result = self._kernel.run(code, timeout)
        except Exception as err:  # noqa: BLE001 - infrastructure, not the cell's fault
            logger.warning("session %s: infrastructure failure: %s: %s", self.id, type(err).__name__, err)
            self.close()
            return ExecutionResult.infrastructure_failure(f"{type(err).__name__}: {err}")
        self.cells_run += 1
        return result

    def close(self) -> None:
        """End the kernel (and what it started) and delete the scratch folder."""
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            self._pool.release(kernel)
        self.workdir = None

    def __enter__(self) -> Session:
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
        """Run ``code`` as a cell of a fresh kernel (kernel mode, ``--func_call_mode python``)."""
        session = Session(self.pool, "stateless")
        try:
            return session.run(code, timeout)
        finally:
            session.close()

    def run_program(self, program: str, timeout: float | None = None) -> ExecutionResult:
        """Run a whole program the original's way (fresh namespace, stdout only, full traceback) in a fresh kernel."""
        session = Session(self.pool, "program")
        try:
            return run_program(session, program, timeout, self.config.max_output_chars)
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
