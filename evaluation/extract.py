"""Find the final answer in a model response.

Order: the final part of a reasoning response (after ``</think>``); the last ``\\boxed{}`` /
``\\fbox{}`` (nested braces), joined with the boxes right before it when they answer one
question together ("\\boxed{2} and \\boxed{3}"); then "the answer is ...", "final answer: ...";
then the last line, when it is short and looks like an answer. Code cells and interpreter
outputs never count as the answer: a number printed by code is not the model's answer.
"""

from __future__ import annotations

import re

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_SPACE_RE = re.compile(r"\\boxed +([^\s$]+)")
_CODE_BLOCK_RE = re.compile(r"```(?:python|output)?\n.*?(?:\n```|\Z)", re.S)
_ANSWER_IS_RE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*(?:\$+|\\\(|\\\[)?\s*(.+?)\s*"
    r"(?:\$+|\\\)|\\\])?\s*(?:\.\s|\.$|$|\n)",
    re.I)
_JOINERS_RE = re.compile(r"^(?:\s|\$|,|;|and|or|\\text\{\s*(?:and|or)\s*\}|\\quad|\\,|\\;)*$", re.I)


def final_part(text: str) -> str | None:
    """The part to grade: after the last ``</think>``; None when thinking was never closed."""
    if THINK_CLOSE in text:
        return text.rsplit(THINK_CLOSE, 1)[1]
    if THINK_OPEN in text:
        return None  # cut off mid-thought: no final answer was given
    return text


def _braced(text: str, open_brace: int) -> tuple[str, int] | None:
    """Content of the brace group opening at ``open_brace`` and the index after it."""
    depth = 0
    for i in range(open_brace, len(text)):
        ch = text[i]
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[open_brace + 1:i], i + 1
    return None


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every complete ``\\boxed{...}`` / ``\\fbox{...}``."""
    spans = []
    for m in _BOX_RE.finditer(text):
        got = _braced(text, m.end() - 1)
        if got is not None:
            spans.append((m.start(), got[1], got[0]))
    for m in _BOX_SPACE_RE.finditer(text):
        spans.append((m.start(), m.end(), m.group(1)))
    return sorted(spans)


def last_boxed(text: str) -> str | None:
    """The last boxed answer, joined with the boxes just before it when only joiners separate them."""
    spans = boxed_spans(text)
    if not spans:
        return None
    group = [spans[-1]]
    for prev in reversed(spans[:-1]):
        between = text[prev[1]:group[0][0]]
        if _JOINERS_RE.match(between) and "\n\n" not in between:
            group.insert(0, prev)
        else:
            break
    return ", ".join(content.strip() for _, _, content in group)


def strip_code(text: str) -> str:
    """``text`` without code cells and interpreter output blocks."""
    return _CODE_BLOCK_RE.sub("\n", text)


def extract_answer(text: str, strict: bool = True) -> str | None:
    """The final answer of a response, or None.

    ``strict`` (default): a response that opened ``<think>`` and never closed it has no answer,
    and only the part after ``</think>`` is read. Non-strict reads the whole text.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    region = final_part(text) if strict else text
    if region is None:
        return None
    boxed = last_boxed(region)
    if boxed is not None:
        return boxed
    prose = strip_code(region)
    matches = list(_ANSWER_IS_RE.finditer(prose))
    if matches:
        return matches[-1].group(1).strip().rstrip(".")
    lines = [ln.strip() for ln in prose.strip().splitlines() if ln.strip()]
    if lines:
        last = lines[-1].strip("$ ").rstrip(".")
        if 0 < len(last) <= 40 and re.search(r"[\d\\]", last) and not re.search(r"[a-z]{5,}", last):
            return last
    return None
