"""Run one whole program the way the original CoRT executor does, in a fresh kernel of its own.

The original (``PythonExecutor(get_answer_from_stdout=True)``) runs each program with ``exec`` in
an empty global namespace and keeps what it printed to ``sys.stdout``; when it raises, the
printed text is dropped and the report is the whole ``traceback.format_exc()``. A program that
mentions ``input(`` or ``os.system(`` is refused with a bare ``RuntimeError``. A timeout reports
``Timeout Error``. Stderr and the value of a last bare expression are not shown.

Here the program runs inside a fresh, confined kernel (one per program, never reused), through a
small runner compiled under the file name ``<cort-executor>``; the runner's one frame stands where
the original's executor frames stood in a traceback. The runner writes ``(result, report)`` to a
file in the kernel's scratch folder, so nothing the program does to the kernel's streams can
change how its result travels back.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import TYPE_CHECKING

from cort.executor.result import TIMEOUT_REPORT, ExecutionResult

if TYPE_CHECKING:
    from cort.executor.jupyter import Session

_RUNNER = r'''
def run_program(program, result_path, cap):
    import contextlib, io, json, os, re, traceback
    result_path = os.path.abspath(result_path)  # the scratch folder, before the program can chdir
    buffer = io.StringIO()
    try:
        if "input(" in program or re.search(r"os.system\(", program):
            raise RuntimeError()
        with contextlib.redirect_stdout(buffer):
            exec(program, {})
        result, report = buffer.getvalue(), ""
    except:  # noqa: E722 - everything, as the original's bare except (SystemExit included)
        result, report = "", traceback.format_exc()
    def capped(text):
        return text if len(text) <= cap else text[:cap // 2] + text[-(cap // 2):]
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump([capped(result), capped(report)], fh)
'''


def runner_cell(program: str, result_path: str, cap: int) -> str:
    """The cell a kernel runs for ``program``: define the runner, then call it."""
    return (f"exec(compile({_RUNNER!r}, '<cort-executor>', 'exec'))\n"
            f"run_program({program!r}, {result_path!r}, {cap})")


def run_program(session: Session, program: str, timeout: float | None, cap: int) -> ExecutionResult:
    """Run ``program`` in ``session`` (a fresh one), return its result with ``stdout`` / ``error`` as the original.

    ``output`` and ``stdout`` hold what the program printed (empty when it raised); ``error`` holds
    the full traceback (or ``Timeout Error``); ``as_pair()`` and ``model_text()`` then give the
    original's ``(result, report)`` and its output-block text.
    """
    name = f".cort-result-{uuid.uuid4().hex}.json"
    ran = session.run(runner_cell(program, name, cap), timeout)
    if ran.infrastructure:
        return ran
    path = os.path.join(session.workdir, name)
    if ran.timed_out:
        return ExecutionResult(error=TIMEOUT_REPORT, error_name="TimeoutError", timed_out=True, elapsed=ran.elapsed)
    try:
        with open(path, encoding="utf-8") as fh:
            result, report = json.load(fh)
    except (OSError, ValueError):
        # the program ended its interpreter (os._exit, a crash, a memory limit) before the runner could answer
        report = ran.error or "Execution Error: the program ended its interpreter"
        return ExecutionResult(error=report, error_name="ExecutionError", restarted=ran.restarted, elapsed=ran.elapsed)
    error_name = report.strip().splitlines()[-1].split(":")[0] if report.strip() else ""
    return ExecutionResult(output=result, stdout=result, error=report, error_name=error_name, elapsed=ran.elapsed)
