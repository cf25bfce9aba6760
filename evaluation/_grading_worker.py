"""The grading worker process (started by :mod:`evaluation.deadline`; never imported elsewhere).

Reads length-prefixed pickled requests ``(name, args, timeout)`` on stdin and answers
``("ok", value)``, ``("limit", what)`` (memory or recursion ran out: the caller treats it as a
timeout and replaces the worker) or ``("error", message)`` on its own copy of stdout; whatever the libraries
print goes to stderr (discarded by the parent). Each request may use at most ``timeout + 2``
seconds of CPU (``RLIMIT_CPU``, so a runaway step ends even if the parent is gone); the whole
process at most ``CORT_GRADER_MEMORY_MB`` of address space.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import struct
import sys

_HEADER = struct.Struct("!I")


def _read_exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _limit_memory() -> None:
    limit = int(os.environ.get("CORT_GRADER_MEMORY_MB", "4096")) * 2 ** 20
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def _limit_cpu(seconds: float) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = int(spent + seconds + 2) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError):
        pass


def main() -> None:
    """Serve requests until stdin closes."""
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # library prints must not reach the protocol stream
    sys.stdout = sys.stderr
    logging.disable(logging.CRITICAL)
    _limit_memory()
    from evaluation import symbolic

    symbolic.warm_up()
    stdin = sys.stdin.buffer
    while True:
        header = _read_exact(stdin, _HEADER.size)
        if header is None:
            return
        body = _read_exact(stdin, _HEADER.unpack(header)[0])
        if body is None:
            return
        name, args, timeout = pickle.loads(body)
        _limit_cpu(timeout)
        try:
            reply = ("ok", symbolic.FUNCTIONS[name](*args))
        except (MemoryError, RecursionError) as exc:  # a resource limit, like the deadline
            reply = ("limit", type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            reply = ("error", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        protocol_out.write(_HEADER.pack(len(data)) + data)
        protocol_out.flush()


if __name__ == "__main__":
    main()
