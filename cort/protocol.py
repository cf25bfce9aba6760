"""The text protocol between a model and the interpreter.

A model opens a code cell with ```` ```python ```` and closes it with a line that is
only ```` ``` ````. The interpreter's answer is appended as ```` ```output\\n<result>\\n```\\n ````.
Stop sequences, output post-processing and the budget warning follow the original CoRT
CLI (``infer/inference_vllm_dp_mj.py``) exactly; where this module is stricter (a
backtick inside a line or a fence inside a string literal does not close a cell), the
docstring of the function says so.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

CODE_START = "```python"
CODE_END = "```"
OUTPUT_START = "```output"

#: Appended to the interpreter output at the second-to-last allowed call (verbatim from CoRT).
BUDGET_WARNING = (
    "[SYSTEM]\nYou have exceeded the allowed number of code executions. You can no longer "
    "write or run code. Please continue solving the problem using your reasoning and "
    "analytical skills."
)

#: Maximum characters of interpreter output shown to the model (first and last half kept).
MAX_OUTPUT_CHARS = 800

STOP_TOKENS_MODES = ("normal_code_block_end", "old_normal_code_block_end")


def stop_sequences(stop_tokens_mode: str) -> list[str]:
    """Stop strings for ``--stop_tokens_mode``, exactly as the original CLI defines them."""
    if stop_tokens_mode == "normal_code_block_end":
        return ["`\n"]
    if stop_tokens_mode == "old_normal_code_block_end":
        return ["```" + " " * k + "\n" for k in range(9)]
    return ["/python"]


def truncate(text: str, max_length: int = MAX_OUTPUT_CHARS) -> str:
    """Keep the first and last ``max_length // 2`` characters with ``...`` between (original)."""
    half = max_length // 2
    if len(text) > max_length:
        return text[:half] + "..." + text[-half:]
    return text


def postprocess(result: str, report: str) -> str:
    """The text the model sees: the stripped, truncated result if non-empty, else the report."""
    result = truncate(str(result).strip())
    report = truncate(str(report).strip())
    return result if result else report


def format_output(exec_text: str, warn_budget: bool = False) -> str:
    """Wrap interpreter text as an output block; add the budget warning when asked."""
    if warn_budget:
        exec_text += "\n\n" + BUDGET_WARNING
    return f"{OUTPUT_START}\n{exec_text}\n{CODE_END}\n"


@dataclass(frozen=True)
class Cell:
    """A code cell found in model text: its code and the character span of the whole cell."""

    code: str
    start: int  # offset of the opening fence
    end: int  # offset just after the closing fence line


_OPEN_RE = re.compile(r"```python[^\S\n]*\n")
_FENCE_LINE_RE = re.compile(r"^[^\S\n]*```[^\S\n]*$", re.M)
_UNTERMINATED = ("unterminated triple-quoted string", "EOF while scanning triple-quoted")


def _inside_string_literal(code: str) -> bool:
    """True when ``code`` ends inside a triple-quoted string (so a fence there is data)."""
    try:
        ast.parse(code)
    except SyntaxError as err:
        return any(marker in str(err.msg) for marker in _UNTERMINATED)
    except (ValueError, MemoryError, RecursionError):
        return False
    return False


def find_cells(text: str) -> list[Cell]:
    """All complete code cells in ``text``, in order.

    A cell closes at the first line that is only ```` ``` ```` and is not inside a
    triple-quoted string literal of the cell's code. Output blocks are skipped.
    """
    cells: list[Cell] = []
    pos = 0
    while True:
        m = _OPEN_RE.search(text, pos)
        if m is None:
            return cells
        body_start = m.end()
        search = body_start
        closed = False
        while True:
            f = _FENCE_LINE_RE.search(text, search)
            if f is None:
                break
            code = text[body_start:f.start()]
            if not _inside_string_literal(code):
                end = f.end() + (1 if text[f.end():f.end() + 1] == "\n" else 0)
                cells.append(Cell(code=code.rstrip("\n"), start=m.start(), end=end))
                pos = end
                closed = True
                break
            search = f.end()
        if not closed:
            return cells


def closing_cell(text: str) -> Cell | None:
    """The cell that ``text`` ends with (only whitespace after its closing fence), else None."""
    cells = find_cells(text)
    if cells and text[cells[-1].end:].strip() == "":
        return cells[-1]
    return None


@dataclass(frozen=True)
class OutputBlock:
    """An interpreter output block in a trajectory text."""

    text: str
    start: int
    end: int


_OUTPUT_RE = re.compile(r"```output\n(.*?)\n```\n?", re.S)


def find_outputs(text: str) -> list[OutputBlock]:
    """All ```` ```output ```` blocks in ``text`` with their spans."""
    return [OutputBlock(m.group(1), m.start(), m.end()) for m in _OUTPUT_RE.finditer(text)]
