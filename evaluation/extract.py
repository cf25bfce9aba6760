"""Find the final answer in a model response.

Order: the final part of a reasoning response (after ``</think>``); the last ``\\boxed{}`` /
``\\fbox{}`` (nested braces), joined with the boxes right before it when only a few words without
digits separate them ("\\boxed{2} and \\boxed{3}", "\\boxed{(3,3)} for part (a) and \\boxed{(1,1)}";
a correction such as "wait" or "actually" breaks the group, and repeated boxes count once); then
"the answer is ..." / "final answer: ..."; then the last math span or a short last line. Code
cells and interpreter outputs never count as the answer: a number printed by code is not the
model's answer.
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
# display math may span lines, inline math may not; an escaped dollar (\$) is no delimiter
_MATH_SPAN_RE = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$([^\n]+?)(?<!\\)\$|\\\(([^\n]+?)\\\)|"
                           r"\\\[(.+?)\\\]", re.S)
_GAP_NOISE_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}|\\[a-zA-Z]+|[$,;.:()\[\]\\{}]")
_CORRECTION_WORDS = {"wait", "actually", "but", "however", "no", "instead", "correction", "sorry", "mistake",
                     "oops", "rather", "not", "wrong", "incorrect", "recheck", "check", "again", "hmm"}
MAX_GAP_WORDS = 6


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
    """(start, end, content) of every complete ``\\boxed{...}`` / ``\\fbox{...}``, outermost only."""
    spans = []
    for m in _BOX_RE.finditer(text):
        got = _braced(text, m.end() - 1)
        if got is not None:
            spans.append((m.start(), got[1], got[0]))
    for m in _BOX_SPACE_RE.finditer(text):
        spans.append((m.start(), m.end(), m.group(1)))
    spans.sort()
    outer = []
    for span in spans:
        if outer and span[0] < outer[-1][1]:
            continue  # a box inside a box
        outer.append(span)
    return outer


def _joins(gap: str) -> bool:
    """Whether the text between two boxes joins them into one answer."""
    if "\n\n" in gap.strip("\n") or len(gap) > 120 or re.search(r"\d", gap):
        return False
    words = _GAP_NOISE_RE.sub(lambda m: f" {m.group(1) or ''} ", gap).split()
    return len(words) <= MAX_GAP_WORDS and not _CORRECTION_WORDS & {w.lower() for w in words}


def last_boxed(text: str) -> str | None:
    """The last boxed answer, joined with the boxes just before it that answer the same question."""
    spans = boxed_spans(text)
    if not spans:
        return None
    group = [spans[-1]]
    for prev in reversed(spans[:-1]):
        if _joins(text[prev[1]:group[0][0]]):
            group.insert(0, prev)
        else:
            break
    contents = list(dict.fromkeys(content.strip() for _, _, content in group))
    return ", ".join(contents)


def strip_code(text: str) -> str:
    """``text`` without code cells and interpreter output blocks."""
    return _CODE_BLOCK_RE.sub("\n", text)


def _math_spans(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None).strip() for m in _MATH_SPAN_RE.finditer(text)]


def _phrase_answer(prose: str) -> str | None:
    """The answer after "the answer is" / "final answer:" (the last such phrase)."""
    matches = list(_ANSWER_IS_RE.finditer(prose))
    if not matches:
        return None
    found = matches[-1].group(1).strip().rstrip(".")
    if re.search(r"\s(?:is|are|was|equals)\s", found):
        found = re.split(r"\s(?:is|are|was|equals)\s", found)[-1].strip()
    spans = _math_spans(found)
    if spans:
        return spans[-1]
    return found.strip("$ ").strip() or None


def _last_line_answer(prose: str) -> str | None:
    lines = [ln.strip() for ln in prose.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    spans = _math_spans(last)
    if spans:
        return spans[-1]
    last = last.strip("$ ").rstrip(".")
    if 0 < len(last) <= 40 and re.search(r"[\d\\]", last) and not re.search(r"[a-z]{5,}", last):
        return last
    return None


def answer_candidates(region: str) -> list[tuple[str, str]]:
    """``(kind, answer)`` readings of a final part, most reliable first: ``boxed``, ``phrase``, ``line``."""
    boxed = last_boxed(region)
    if boxed is not None:
        phrases = list(_ANSWER_IS_RE.finditer(region))
        if not phrases or phrases[-1].start() < boxed_spans(region)[-1][1]:
            return [("boxed", boxed)]
        region = region[boxed_spans(region)[-1][1]:]  # "final answer is ..." after the last box wins
    prose = strip_code(region)
    found = []
    phrase = _phrase_answer(prose)
    if phrase:
        found.append(("phrase", phrase))
    line = _last_line_answer(prose)
    if line and line not in {a for _, a in found}:
        found.append(("line", line))
    return found


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
    found = answer_candidates(region)
    return found[0][1] if found else None
