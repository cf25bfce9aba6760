"""Run the grader's slow steps (sympy, math_verify) in worker processes with a deadline.

A signal-based limit (``SIGALRM``) does nothing off the main thread and cannot interrupt a long
computation inside C (a huge power, a simplification stuck in a C loop). Here each slow step is
sent to a long-lived worker process (``python -m evaluation._grading_worker``) and the caller
waits for the answer at most ``timeout`` seconds; a worker that misses its deadline is killed with
SIGKILL and replaced on the next call. So the limit holds in any thread, in a thread pool, in a
process pool and in GRPO's reward functions.

- Workers are started lazily (~0.7 s each, they import sympy and math_verify once) and reused; a
  pool holds at most ``CORT_GRADER_WORKERS`` (default 4) per process, a caller that finds none free
  waits for one.
- The worker limits itself: address space (``CORT_GRADER_MEMORY_MB``, default 4096) and, per
  request, CPU time (the timeout plus 2 s), so a request runs out even if this process died. A
  request that runs out of memory or recursion counts as timed out, like one past its deadline
  (the worker is replaced), and so does a worker that dies during a request.
  It exits when its pipe closes (this process ended, even by SIGKILL).
- A process forked from one that had workers starts its own (pipes are never shared).
- Answers are cached per process (LRU), so grading the same pair twice costs one call.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict

from cort.fds import wait_readable

_HEADER = struct.Struct("!I")
MAX_WORKERS = int(os.environ.get("CORT_GRADER_WORKERS", "4"))
CACHE_SIZE = 50_000


class GraderTimeout(Exception):
    """A grading step ran past its time limit (its worker was killed)."""


class WorkerError(Exception):
    """The worker could not be started or died for another reason than the deadline."""


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("PYTHONHASHSEED", "0")
        self.proc = subprocess.Popen([sys.executable, "-m", "evaluation._grading_worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True)
        self.pid = os.getpid()

    def call(self, name: str, args: tuple, timeout: float):
        payload = pickle.dumps((name, args, timeout), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.kill()
            raise WorkerError(f"grading worker gone: {exc}") from exc
        deadline = time.monotonic() + timeout
        header = self._read(_HEADER.size, deadline)
        status, value = pickle.loads(self._read(_HEADER.unpack(header)[0], deadline))
        if status == "limit":
            self.kill()  # its memory may be fragmented or full: start clean
            raise GraderTimeout()
        if status == "error":
            raise WorkerError(value)
        return value

    def _read(self, size: int, deadline: float) -> bytes:
        fd, chunks, got = self.proc.stdout.fileno(), [], 0
        while got < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not wait_readable(fd, remaining):
                self.kill()
                raise GraderTimeout()
            chunk = os.read(fd, size - got)
            if not chunk:  # killed by its own CPU or memory limit (or it crashed): over its limits
                self.kill()
                raise GraderTimeout()
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.send_signal(signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


class _Pool:
    def __init__(self):
        self.cond = threading.Condition()
        self.idle: list[_Worker] = []
        self.count = 0
        self.pid = os.getpid()
        self.cache: OrderedDict = OrderedDict()
        self.cache_lock = threading.Lock()

    def _forked(self) -> None:
        """In a forked child: forget the parent's workers (their pipes belong to the parent)."""
        for worker in self.idle:
            for stream in (worker.proc.stdin, worker.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        self.cond, self.idle, self.count, self.pid = threading.Condition(), [], 0, os.getpid()
        self.cache_lock = threading.Lock()

    def acquire(self) -> _Worker:
        with self.cond:
            while True:
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive():
                        return worker
                    self.count -= 1
                if self.count < MAX_WORKERS:
                    self.count += 1
                    break
                self.cond.wait()
        try:
            return _Worker()
        except OSError as exc:
            with self.cond:
                self.count -= 1
                self.cond.notify()
            raise WorkerError(f"cannot start a grading worker: {exc}") from exc

    def release(self, worker: _Worker) -> None:
        with self.cond:
            if worker.pid == os.getpid() and worker.alive():
                self.idle.append(worker)
            else:
                self.count -= 1
            self.cond.notify()

    def shutdown(self) -> None:
        if os.getpid() != self.pid:
            return
        with self.cond:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.close()


_POOL = _Pool()
atexit.register(_POOL.shutdown)
os.register_at_fork(after_in_child=_POOL._forked)  # a child never writes into its parent's workers' pipes


def call(name: str, *args, timeout: float = 5.0):
    """Run ``evaluation._grading_worker.FUNCTIONS[name](*args)`` in a worker, within ``timeout`` seconds.

    Raises :class:`GraderTimeout` when the deadline passes (the worker is killed) and
    :class:`WorkerError` when the worker fails otherwise; results are cached by ``(name, args)``.
    """
    key = (name, args)
    cache = _POOL.cache
    with _POOL.cache_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    worker = _POOL.acquire()
    try:
        value = worker.call(name, args, timeout)
    finally:
        _POOL.release(worker)
    with _POOL.cache_lock:
        cache[key] = value
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return value


def worker_pids() -> list[int]:
    """Process ids of this process's idle workers (for tests and diagnostics)."""
    with _POOL.cond:
        return [w.proc.pid for w in _POOL.idle if w.alive()]
