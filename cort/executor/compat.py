"""The original CoRT/ToRA ``PythonExecutor`` surface, served by the kernel pool.

Each ``apply`` runs the program the original's way (:mod:`cort.executor.program`: an empty
namespace, stdout only, the full traceback as the report) in a fresh kernel; results are stripped
and truncated to 800 characters. A blank program runs too and gives ``("", "")``: the original's
``"empty code"`` answer needs an empty list of lines, which a string never splits into.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cort import protocol
from cort.executor.config import ExecutorConfig
from cort.executor.jupyter import JupyterExecutor


class PythonExecutor:
    """Drop-in for the original ``PythonExecutor(get_answer_from_stdout=True, timeout_length=...)``.

    Answer modes as in the original: ``get_answer_from_stdout`` (what the program printed),
    ``get_answer_symbol`` (``str`` of a global after the run), ``get_answer_expr`` (``str`` of
    an expression after the run), or, with none of them, ``str`` of the last line evaluated.
    ``runtime`` is accepted for signature compatibility; every run gets a fresh kernel namespace.
    """

    def __init__(
        self,
        runtime: Any | None = None,
        get_answer_symbol: str | None = None,
        get_answer_expr: str | None = None,
        get_answer_from_stdout: bool = False,
        timeout_length: int = 5,
        executor: JupyterExecutor | None = None,
        config: ExecutorConfig | None = None,
    ):
        self.runtime = runtime
        self.answer_symbol = get_answer_symbol
        self.answer_expr = get_answer_expr
        self.get_answer_from_stdout = get_answer_from_stdout
        self.timeout_length = timeout_length
        self._own = executor is None
        self.executor = executor or JupyterExecutor(config, timeout=float(timeout_length))

    truncate = staticmethod(protocol.truncate)

    def _program(self, code: str) -> str:
        if self.get_answer_from_stdout:
            return code
        if self.answer_symbol:
            return f"{code}\nprint({self.answer_symbol})"
        if self.answer_expr:
            return f"{code}\nprint({self.answer_expr})"
        lines = code.rstrip("\n").split("\n")
        return "\n".join(lines[:-1] + [f"print({lines[-1].strip()})"])

    def _execute(self, code: str) -> tuple[str, str]:
        result = self.executor.run_program(self._program(code), timeout=self.timeout_length)
        res, report = result.as_pair()
        return protocol.truncate(res.strip()), protocol.truncate(report.strip())

    def apply(self, code: str) -> tuple[str, str]:
        """Run one program: ``(result, report)``."""
        return self._execute(code)

    def batch_apply(self, batch_code: list[str]) -> list[tuple[str, str]]:
        """Run programs concurrently, each in a fresh namespace; results in input order."""
        if not batch_code:
            return []
        workers = min(len(batch_code), self.executor.config.max_kernels)
        with ThreadPoolExecutor(max_workers=workers) as threads:
            return list(threads.map(self._execute, batch_code))

    def close(self) -> None:
        """Stop the kernels this executor started."""
        if self._own:
            self.executor.shutdown()

    def __enter__(self) -> "PythonExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
