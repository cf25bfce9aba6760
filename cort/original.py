"""The original CoRT interpreter's rules: which program runs when a trajectory stops at a cell.

CoRT models were trained and evaluated with an interpreter that is not a live kernel: at each
stop, the original CLI rebuilds a whole program from the trajectory text (prompt included) and
runs it in a fresh namespace. These functions reproduce its rules (``interpreter_mode="original"``):

- :func:`jupyter_like_program` (``--func_call_mode jupyter``): every complete, non-blank
  ```` ```python ```` block is paired with the first complete ```` ```output ```` block after it
  (prose may sit between; the search stops at the next code block). Each block is dedented by its
  smallest indentation. Earlier blocks whose output mentions "error", "exception" or "traceback"
  (any case) are left out; from the others, blank lines and lines that *start* with ``print``,
  ``pprint``, ``rprint``, ``sp.pprint`` or ``sympy.pprint`` are removed, and a block that still
  contains ``print`` anywhere is left out whole. The last complete block is appended as it is.
- :func:`last_program` (``--func_call_mode python``): the last block that opens with a line
  starting ```` ```python ````, up to the next line starting ```` ``` ````.

:func:`all_outputs_look_like_errors` is the original RL reward's rule for its code-execution penalty.

The kernel mode (``interpreter_mode="kernel"``) runs only the new cell in the trajectory's live
kernel instead; see :mod:`cort.rollout`.
"""

from __future__ import annotations

_PRINT_STARTS = ("print", "sp.pprint", "sympy.pprint", "pprint", "rprint")
_ERROR_WORDS = ("error", "exception", "traceback")


def _dedent(code: str) -> str:
    """Remove the smallest indentation of the non-blank lines (blank lines kept; no final newline)."""
    lines = code.splitlines()
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    if not indents:
        return code
    cut = min(indents)
    return "\n".join(ln[cut:] if ln.strip() else ln for ln in lines)


def _block(lines: list[str], start: int) -> tuple[str, int, bool]:
    """Body of a fenced block whose first body line is ``start``: (body, the line after it, closed)."""
    body, i = "", start
    while i < len(lines):
        if lines[i].strip() == "```":
            return body, i + 1, True
        body += lines[i] + "\n"
        i += 1
    return body, i, False


def programs_and_outputs(text: str) -> list[tuple[str, str]]:
    """Complete, non-blank code blocks of ``text`` (dedented) with the output block that answers each ("" if none)."""
    lines = text.split("\n")
    pairs: list[tuple[str, str]] = []
    i = 0
    while True:
        while i < len(lines) and lines[i].strip() != "```python":
            i += 1
        if i >= len(lines):
            return pairs
        code, i, closed = _block(lines, i + 1)
        if not closed or not code.strip():
            continue
        output, j = "", i
        while j < len(lines):
            if lines[j].strip() == "```output":
                body, after, done = _block(lines, j + 1)
                if done:
                    output, i = body, after
                    break
                j = after
            elif lines[j].strip() == "```python":
                break
            j += 1
        pairs.append((_dedent(code), output))


def _looks_like_error(output: str) -> bool:
    lowered = output.lower()
    return any(word in lowered for word in _ERROR_WORDS)


_REWARD_ERROR_OUTPUTS = ("", "Done", "[]")


def all_outputs_look_like_errors(text: str) -> bool:
    """The original RL reward's code rule: every code block's output is empty, ``Done`` or ``[]``,
    or mentions error, exception or traceback (any case). Also True for a text with no complete
    code block at all: the original takes ``all()`` of an empty list."""
    return all(out.strip() in _REWARD_ERROR_OUTPUTS or _looks_like_error(out) for _, out in programs_and_outputs(text))


def _without_prints(code: str) -> str:
    kept = [ln for ln in code.split("\n") if ln.strip() and not ln.startswith(_PRINT_STARTS)]
    return "\n".join(kept) + "\n" if kept else ""


def jupyter_like_program(text: str) -> str:
    """The program the original runs at a stop in ``--func_call_mode jupyter`` ("" when there is no block)."""
    pairs = programs_and_outputs(text)
    if not pairs:
        return ""
    program = ""
    for code, output in pairs[:-1]:
        if "```python" in code or not code.strip() or _looks_like_error(output):
            continue
        cleaned = _without_prints(code)
        if "print" not in cleaned:
            program += cleaned
    last = pairs[-1][0]
    if "```python" in last:
        last = last[last.rfind("```python") + len("```python"):]
    return program + last


def last_program(text: str) -> str:
    """The program the original runs at a stop in ``--func_call_mode python``: the last block only."""
    program, inside = "", False
    for line in text.split("\n"):
        if line.startswith("```python"):
            program, inside = "", True
        elif line.startswith("```"):
            inside = False
        elif inside:
            program += line + "\n"
    return program
