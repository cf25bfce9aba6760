"""The executor in a process of its own: cells cost the caller's process one message each way.

Each cell handled in-process costs the calling process ~1.4 ms of CPU (a new session ~7 ms) of
jupyter_client work: message signing, an asyncio loop run per wait, date parsing. It all holds
Python's GIL, so an engine computing in the same process (hf, vLLM in process, TRL's colocated
vLLM) waits for it: ~20% fewer tokens/s at ~50 cells/s, measured by ``bench/engine_bench.py
--cell_traffic``. :class:`ExecutorProcess` keeps the same surface as
:class:`~cort.executor.jupyter.JupyterExecutor` but runs it in a child process (the server, on
the executor's CPUs), and talks to it over a socket pair: one pickled request and one reply per
cell, read by one thread.

Failure handling: when the server dies, the cells waiting on it come back as infrastructure
failures, a session that lived there stays failed (its variables are gone), and the next new
session starts a new server. The server ends with its parent: on the socket's end of file, or
when its parent process is gone (checked every second; a forked child of the parent may keep the
socket open). Ctrl-C is the parent's to handle: the server runs in its own session.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection

from cort.cpus import pin_thread, usable_cpus
from cort.executor.config import ExecutorConfig
from cort.executor.jupyter import JupyterExecutor
from cort.executor.result import ExecutionResult

logger = logging.getLogger(__name__)
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MAX_RESTARTS = 3  # servers that may fail to start in a row before every call fails at once
EXECUTOR_PROCESS_MODES = ("separate", "inline")


def _emit(fields: dict) -> None:
    """Emit a log record of the server with this process's handlers."""
    record = logging.makeLogRecord(fields)
    target = logging.getLogger(record.name)
    if target.isEnabledFor(record.levelno):
        target.handle(record)


class _Reply:
    """One request's slot: the reader thread fills it and wakes the caller."""

    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: ExecutionResult | None = None


class RemoteSession:
    """A trajectory's interpreter in the executor process (same surface as :class:`~cort.executor.Session`)."""

    def __init__(self, executor: ExecutorProcess, session_id: str):
        self.id = session_id
        self._executor = executor

    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run one cell in this session's kernel."""
        return self._executor.run(self.id, code, timeout)

    def close(self) -> None:
        """End the kernel (and what it started) and delete the scratch folder."""
        self._executor.close(self.id)

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ExecutorProcess:
    """:class:`~cort.executor.jupyter.JupyterExecutor` run in a child process.

    >>> with ExecutorProcess(timeout=10) as ex:
    ...     ex.run("t", "x = 2"); ex.run("t", "print(x ** 10)").output
    '1024\\n'
    """

    def __init__(self, config: ExecutorConfig | None = None, **overrides):
        self.config = replace(config or ExecutorConfig(), **overrides)
        self._send_lock = threading.Lock()
        self._state = threading.Lock()
        self._ids = itertools.count()
        self._anon = itertools.count()
        self._pending: dict[int, _Reply] = {}
        self._sessions: dict[str, int] = {}  # session id -> the server generation it lives in
        self._generation = 0
        self._failed_starts = 0
        self._closed = False
        self._conn: Connection | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._start()

    # -- the server's life -------------------------------------------------------------------------
    def _start(self) -> None:
        """Start a server and wait for it to be ready; RuntimeError when it cannot start."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        env["CORT_RUN_PID"] = str(os.getpid())  # names the run in /proc/PID/environ, as for its kernels
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from cort.executor.remote import serve; serve(int(sys.argv[1]))",
                 str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C meant for the run is the parent's to handle
            )
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        try:
            # this process may have pinned itself (an engine's cores): the server may use what it could use before
            placement = (sorted(usable_cpus()), sorted(os.sched_getaffinity(0)))
            conn.send((self.config, logging.getLogger("cort").getEffectiveLevel(), os.getpid(), placement))
            deadline = time.monotonic() + self.config.startup_timeout + 30
            while True:
                if not conn.poll(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("no answer from the executor process in "
                                       f"{self.config.startup_timeout + 30:.0f} s")
                hello = conn.recv()
                if hello[0] != "log":
                    break
                _emit(hello[1])
            if hello != ("ready",):
                raise RuntimeError(f"unexpected answer {hello!r}")
        except (EOFError, OSError, RuntimeError) as err:
            conn.close()
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            message = str(err) if isinstance(err, RuntimeError) else f"it exited (code {proc.returncode})"
            raise RuntimeError(f"the executor process did not start: {message}") from err
        self._conn, self._proc = conn, proc
        self._generation += 1
        self._reader = threading.Thread(target=self._read, args=(conn, proc), name="cort-executor-reader",
                                        daemon=True)
        self._reader.start()
        logger.debug("executor process %d ready", proc.pid)

    def _read(self, conn: Connection, proc: subprocess.Popen) -> None:
        """Hand each reply to its caller and re-emit the server's log records here."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "result":
                with self._state:
                    slot = self._pending.pop(message[1], None)
                if slot is not None:
                    slot.value = message[2]
                    slot.done.set()
            elif message[0] == "log":
                _emit(message[1])
        code = proc.wait()
        with self._state:
            lost = self._conn is conn
            if lost:
                self._conn = None
            pending, self._pending = self._pending, {}
        if lost and not self._closed:
            logger.error("the executor process %d exited (code %s); its sessions are lost", proc.pid, code)
        failure = ExecutionResult.infrastructure_failure(f"the executor process exited (code {code})")
        for slot in pending.values():
            slot.value = failure
            slot.done.set()

    def _call(self, op: str, *args, session: str | None = None) -> ExecutionResult:
        """Send one request and wait for its reply (an infrastructure failure when the server is gone)."""
        slot = _Reply()
        with self._state:
            if self._closed:
                raise RuntimeError("the executor is shut down")
            if self._conn is None:
                if session is not None and session in self._sessions:
                    return ExecutionResult.infrastructure_failure("its interpreter was lost with the executor process")
                if self._failed_starts >= _MAX_RESTARTS:
                    return ExecutionResult.infrastructure_failure("the executor process cannot be started")
                try:
                    self._start()
                    self._failed_starts = 0
                except RuntimeError as err:
                    self._failed_starts += 1
                    return ExecutionResult.infrastructure_failure(str(err))
            if session is not None and self._sessions.setdefault(session, self._generation) != self._generation:
                return ExecutionResult.infrastructure_failure("its interpreter was lost with the executor process")
            request = next(self._ids)
            self._pending[request] = slot
            conn = self._conn
        try:
            with self._send_lock:
                conn.send((request, op, args))
        except (OSError, ValueError) as err:
            with self._state:
                self._pending.pop(request, None)
            return ExecutionResult.infrastructure_failure(f"the executor process is gone ({err})")
        slot.done.wait()
        assert slot.value is not None
        return slot.value

    # -- the executor's surface ----------------------------------------------------------------------
    def open(self, session_id: str | None = None) -> RemoteSession:
        """A handle on session ``session_id`` (started at its first cell)."""
        return RemoteSession(self, session_id if session_id is not None else f"anon-{next(self._anon)}")

    def run(self, session_id: str, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run ``code`` in session ``session_id`` (opened on first use)."""
        return self._call("run", session_id, code, timeout, session=session_id)

    def close(self, session_id: str) -> None:
        """Close session ``session_id`` if open (returns at once; the server shuts the kernel down)."""
        with self._state:
            generation = self._sessions.pop(session_id, None)
            conn = self._conn if generation == self._generation else None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError), self._send_lock:
                conn.send((None, "close", (session_id,)))

    def run_stateless(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run ``code`` as a cell of a fresh kernel (kernel mode, ``--func_call_mode python``)."""
        return self._call("stateless", code, timeout)

    def run_program(self, program: str, timeout: float | None = None) -> ExecutionResult:
        """Run a whole program the original's way in a fresh kernel (see ``JupyterExecutor.run_program``)."""
        return self._call("program", program, timeout)

    @property
    def pid(self) -> int | None:
        """Process id of the running server (None when there is none)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def shutdown(self) -> None:
        """Close every session, stop every kernel and end the server."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            conn, proc = self._conn, self._proc
        if conn is not None:
            with contextlib.suppress(OSError, ValueError), self._send_lock:
                conn.send((None, "shutdown", ()))
        if proc is not None:
            try:
                proc.wait(timeout=self.config.startup_timeout + 60)
            except subprocess.TimeoutExpired:
                logger.warning("the executor process %d did not exit; killing it", proc.pid)
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
        if conn is not None:
            conn.close()

    def __enter__(self) -> ExecutorProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def start_executor(config: ExecutorConfig, process: str = "separate") -> ExecutorProcess | JupyterExecutor:
    """An executor for ``config``: in a process of its own (``separate``) or in this one (``inline``)."""
    if process not in EXECUTOR_PROCESS_MODES:
        raise ValueError(f"process must be one of {EXECUTOR_PROCESS_MODES}, got {process!r}")
    return ExecutorProcess(config) if process == "separate" else JupyterExecutor(config)


# -- the server side --------------------------------------------------------------------------------
class _Forward(logging.Handler):
    """Sends this process's log records to the parent, which emits them with its own handlers."""

    def __init__(self, conn: Connection, lock: threading.Lock):
        super().__init__()
        self.conn, self.send_lock = conn, lock  # not ``self.lock``: logging holds that one around emit

    def emit(self, record: logging.LogRecord) -> None:
        fields = dict(record.__dict__, msg=record.getMessage(), args=None, exc_info=None, exc_text=None)
        if record.exc_info:
            fields["msg"] += "\n" + logging.Formatter().formatException(record.exc_info)
        with contextlib.suppress(Exception), self.send_lock:
            self.conn.send(("log", fields))


def _watch_parent(parent: int) -> None:
    """End this process when its parent is gone (a forked child of the parent may hold the socket open)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def serve(fd: int) -> None:
    """The server: one :class:`JupyterExecutor`, requests on socket ``fd`` until shutdown or end of file."""
    from cort.executor import kernel

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conn = Connection(fd)
    config, level, parent, (usable, current) = conn.recv()
    with contextlib.suppress(OSError):  # the parent's choice of CPUs, not the pin it passed on
        os.sched_setaffinity(0, usable)
    lock = threading.Lock()
    root = logging.getLogger()
    root.handlers[:] = [_Forward(conn, lock)]
    root.setLevel(level)
    kernel.RUN_PID = parent
    threading.Thread(target=_watch_parent, args=(parent,), name="cort-parent-watch", daemon=True).start()
    pin_thread(config.cpu_set or set(current))  # the server's threads start from here: kernels' clients, ZeroMQ's
    executor = JupyterExecutor(config)
    calls = {"run": executor.run, "stateless": executor.run_stateless, "program": executor.run_program}

    def answer(request: int, op: str, args: tuple) -> None:
        try:
            result = calls[op](*args)
        except Exception as err:  # noqa: BLE001 - the caller records it; the server goes on
            result = ExecutionResult.infrastructure_failure(f"{type(err).__name__}: {err}")
        with lock:
            try:
                conn.send(("result", request, result))
            except (OSError, ValueError):  # the parent is gone
                pass
            except Exception as err:  # noqa: BLE001 - a reply that cannot be sent must not leave its caller waiting
                conn.send(("result", request, ExecutionResult.infrastructure_failure(f"reply not sent: {err}")))

    with lock:
        conn.send(("ready",))
    try:
        while True:
            try:
                request, op, args = conn.recv()
            except (EOFError, OSError):
                break
            if op == "shutdown":
                break
            if op == "close":
                executor.close(*args)
            else:  # a thread per request, as the callers' own threads would be with the executor in their process
                threading.Thread(target=answer, args=(request, op, args), name="cort-cell", daemon=True).start()
    finally:
        executor.shutdown()
        conn.close()
        os._exit(0)  # cells cut short by the shutdown need not be waited for: their kernels are gone
