"""The result of running one cell, and how an error report is trimmed for the model."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cort import protocol

TIMEOUT_REPORT = "Timeout Error"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_REPORT_LINES = 12


@dataclass
class ExecutionResult:
    """What one cell produced.

    ``output`` holds stdout, stderr and displayed values in arrival order (capped);
    ``error`` is the trimmed traceback, empty on success.
    """

    output: str = ""
    stdout: str = ""
    stderr: str = ""
    value: str = ""
    error: str = ""
    error_name: str = ""
    timed_out: bool = False
    restarted: bool = False
    output_truncated: bool = False
    elapsed: float = 0.0
    infrastructure: bool = False

    @classmethod
    def infrastructure_failure(cls, reason: str) -> ExecutionResult:
        """A cell that could not run through no fault of its code (a kernel that failed to start, a
        sandbox that could not be set up, a lost connection). Trajectories that meet one are ended,
        counted apart and kept out of training."""
        return cls(error=f"InfrastructureError: {reason}", error_name="InfrastructureError", infrastructure=True)

    @property
    def ok(self) -> bool:
        """True when the cell ran to completion without an exception."""
        return not self.error

    def as_pair(self) -> tuple[str, str]:
        """``(result, report)`` as the original ``PythonExecutor`` returns them (unprocessed).

        As in the original, the result is empty when the cell raised.
        """
        return ("" if self.error else self.output), self.error

    def model_text(self) -> str:
        """The text placed in the ```` ```output ```` block (original post-processing)."""
        return protocol.postprocess(*self.as_pair())


_ERROR_LINE_RE = re.compile(rf"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Interrupt)\b.*|KernelDied\b.*|{TIMEOUT_REPORT})$")


def is_error_text(model_text: str) -> bool:
    """True when interpreter text shown to the model is an error report (its last line names the error)."""
    lines = model_text.strip().splitlines()
    return bool(lines) and bool(_ERROR_LINE_RE.match(lines[-1].strip()))


def strip_ansi(text: str) -> str:
    """Remove ANSI colour codes."""
    return _ANSI_RE.sub("", text)


def format_error(ename: str, evalue: str, traceback_lines: list[str]) -> str:
    """A short traceback: the last frame of the user's cell and the exception line.

    Library frames between them are dropped; short tracebacks (syntax errors) are kept whole.
    """
    text = strip_ansi("\n".join(traceback_lines))
    lines = [ln for ln in text.splitlines() if not re.fullmatch(r"-{20,}", ln.strip())]
    lines = [ln for ln in lines if "Traceback (most recent call last)" not in ln]
    final = f"{ename}: {evalue}" if evalue else ename
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[-1].startswith(ename):
        final = lines.pop().rstrip().rstrip(":")
    frame_starts = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("Cell In[")]
    if frame_starts:
        start = frame_starts[-1]
        nxt = [i for i, ln in enumerate(lines) if i > start and ln.startswith("File ")]
        frame = lines[start:nxt[0]] if nxt else lines[start:]
    else:
        frame = lines[-_MAX_REPORT_LINES:]
    frame = [ln for ln in frame if ln.strip()][:_MAX_REPORT_LINES]
    header = [] if ename == "SyntaxError" or ename.endswith("IndentationError") else [
        "Traceback (most recent call last):"
    ]
    return "\n".join(header + frame + [final])
