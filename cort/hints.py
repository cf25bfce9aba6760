"""The hint library: CoRT's hint texts, where they go, and detectors that propose places.

Hint texts are verbatim from the CoRT paper; nothing else in the project spells them out.

- :data:`PROMPT_HINT` opens the thinking (prompt-hint TIR).
- :data:`HINT_DELAYED_COMPUTATION` (hint-1) replaces a long calculation by hand and opens a cell
  (inserted with the fence on a line of its own, :data:`HINT_TEXTS`).
- :data:`HINT_CODE_DISTRUST` (hint-2) replaces re-checking a code result by hand.

Detection (:func:`detect_delayed_computation`, :func:`detect_code_distrust`) only *proposes*
positions with a confidence; manual positions (markers such as ``[[hint:code_distrust]]`` in
a trajectory, or explicit :class:`HintSite` objects) always win, as in the paper, where hints
were placed by hand.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from cort import protocol

THINK_END = "</think>"
PROMPT_HINT = "Okay, let's try to solve this problem step by step using multiple python code calls."
HINT_DELAYED_COMPUTATION = "It looks tedious, and we can use python code to simplify the reasoning.```python"
HINT_CODE_DISTRUST = "We don't need to doubt the accuracy of python calculations."
PROMPT_SUFFIX = (
    "Please integrate natural language reasoning with python programs to solve the problem above, "
    "and put your final answer within \\boxed{}."
)

DELAYED_COMPUTATION = "delayed_computation"
CODE_DISTRUST = "code_distrust"
# What is inserted: hint-1 with its code fence on a line of its own, since the original interpreter only
# reads ```python at the start of a line (glued to the sentence, the cell would never run).
HINT_TEXTS = {DELAYED_COMPUTATION: HINT_DELAYED_COMPUTATION.replace(protocol.CODE_START, "\n" + protocol.CODE_START),
              CODE_DISTRUST: HINT_CODE_DISTRUST}
THINK_OPEN = "<think>\n"

_MARKER_RE = re.compile(r"\[\[hint:(delayed_computation|code_distrust)\]\]")
SPAN_END = "[[/hint]]"  # closes a marker span whose text the hint replaces: [[hint:KIND]]...[[/hint]]
_SPAN_RE = re.compile(_MARKER_RE.pattern + r"(.*?)" + re.escape(SPAN_END), re.S)
_ANSWER_LINE_RE = re.compile(r"^.*(\\boxed|answer is|final answer).*$", re.M | re.I)


@dataclass(frozen=True)
class HintSite:
    """A place for a hint: character offset in the assistant text, kind, confidence, why."""

    kind: str
    position: int
    confidence: float
    evidence: str = ""
    manual: bool = False


# -- placing ------------------------------------------------------------------------------
def add_prompt_suffix(problem: str) -> str:
    """The benchmark prompt: the problem, a newline and the CoRT instruction."""
    return f"{problem}\n{PROMPT_SUFFIX}"


def add_prompt_hint(chat_prompt: str, think_open: str = THINK_OPEN) -> str:
    """Put the prompt-hint at the start of thinking of a chat-templated prompt.

    If the template already opened the thinking (the prompt ends with ``<think>`` and
    optional newline) the hint follows it; otherwise ``think_open`` is written first,
    the way reasoning models of the DeepSeek-R1/Qwen3 family open their thoughts.
    """
    stripped = chat_prompt.rstrip(" ")
    if stripped.endswith(think_open.strip()):
        return stripped + "\n" + PROMPT_HINT
    if stripped.endswith(think_open):
        return stripped + PROMPT_HINT
    return chat_prompt + think_open + PROMPT_HINT


def insert_hint(text: str, position: int, hint: str) -> str:
    """Insert ``hint`` at character ``position`` of ``text``."""
    if not 0 <= position <= len(text):
        raise ValueError(f"hint position {position} outside text of length {len(text)}")
    return text[:position] + hint + text[position:]


def hint_and_cut(text: str, site: HintSite) -> str:
    """The text up to ``site`` followed by its hint, for generation to continue from the hint."""
    return text[:site.position] + HINT_TEXTS[site.kind]


def remove_hints(text: str) -> str:
    """Remove every CoRT hint (hint-1 keeps its code fence so the cell stays intact)."""
    text = text.replace(PROMPT_HINT, "")
    text = text.replace(HINT_TEXTS[DELAYED_COMPUTATION], protocol.CODE_START)
    text = text.replace(HINT_DELAYED_COMPUTATION, protocol.CODE_START)
    return text.replace(HINT_CODE_DISTRUST, "")


# -- manual markers -----------------------------------------------------------------------
def find_markers(text: str) -> list[HintSite]:
    """Manual hint markers in ``text``, as sites in the marker-free text (confidence 1)."""
    sites, removed = [], 0
    for m in _MARKER_RE.finditer(text):
        sites.append(HintSite(m.group(1), m.start() - removed, 1.0, "manual marker", manual=True))
        removed += m.end() - m.start()
    return sites


def strip_markers(text: str) -> str:
    """``text`` without manual hint markers (span ends included; span contents are kept)."""
    return _MARKER_RE.sub("", text).replace(SPAN_END, "")


def render_markers(text: str) -> str:
    """Replace manual markers by their hint texts."""
    return _MARKER_RE.sub(lambda m: HINT_TEXTS[m.group(1)], text)


# -- detection ----------------------------------------------------------------------------
_NUM = r"\d[\d,]*(?:\.\d+)?"
_OP = r"(?:[-+*/×÷^]|\\times|\\cdot|\\div|\*\*)"
_ARITH_RE = re.compile(rf"{_NUM}\s*\)?\s*{_OP}\s*\(?\s*{_NUM}")
_EQUALS_RE = re.compile(rf"=\s*\$?\s*-?{_NUM}")
_BIG_NUM_RE = re.compile(r"\d{4,}")
_HAND_CUES = re.compile(
    r"\b(let me (?:compute|calculate|work out|multiply|add)|let's (?:compute|calculate|multiply|add)|"
    r"calculating|computing|by hand|manually)\b", re.I)
_DISTRUST_CUES = re.compile(
    r"\b(verify|double[- ]check|let me check|let's check|check (?:this|that|the result|manually)|"
    r"confirm|by hand|manually|recompute|re-?calculate|re-?derive|make sure|sanity check|cross-check|"
    r"is that (?:right|correct)|really)\b", re.I)
_LOGIC_CUES = re.compile(
    r"\b(code|program|script|implementation|logic|loop|function|bug|variable)\b", re.I)
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?\s*|\n")


def _computation_lines(text: str, base: int = 0) -> list[tuple[int, int, str]]:
    """(start, end, line) of lines that do arithmetic by hand (operator between numbers, or a result)."""
    found, pos = [], 0
    for line in text.split("\n"):
        if _ARITH_RE.search(line) and (_EQUALS_RE.search(line) or len(_ARITH_RE.findall(line)) >= 2):
            found.append((base + pos, base + pos + len(line), line))
        pos += len(line) + 1
    return found


def _runs(lines: list[tuple[int, int, str]], text: str, base: int, max_gap: int = 1) -> list[list]:
    """Group computation lines into runs allowing ``max_gap`` other lines between them."""
    runs: list[list] = []
    for item in lines:
        if runs:
            between = text[runs[-1][-1][1] - base:item[0] - base]
            if between.count("\n") - 1 <= max_gap:
                runs[-1].append(item)
                continue
        runs.append([item])
    return runs


def detect_delayed_computation(text: str, min_lines: int = 2) -> list[HintSite]:
    """Long calculations by hand before the first code cell.

    A site is proposed at the start of the first run of ``min_lines`` or more arithmetic
    lines (an operator between numbers and a written result) that comes before any code;
    confidence grows with the run's length, big operands and cue phrases ("let me compute").
    """
    first_cell = text.find(protocol.CODE_START)
    region = text if first_cell < 0 else text[:first_cell]
    sites = []
    for run in _runs(_computation_lines(region), region, 0):
        if len(run) < min_lines:
            continue
        start = run[0][0]
        line_start = region.rfind("\n", 0, start) + 1
        cue_window = region[max(0, line_start - 200):run[-1][1]]
        cue = _HAND_CUES.search(region[max(0, line_start - 200):line_start + 1])
        big = any(_BIG_NUM_RE.search(ln) for _, _, ln in run)
        conf = min(1.0, 0.35 + 0.12 * len(run) + (0.15 if big else 0) + (0.15 if cue else 0))
        position = line_start
        if cue:  # start the hint where the announcement of the calculation begins
            cue_abs = max(0, line_start - 200) + cue.start()
            sent = region.rfind("\n", 0, cue_abs) + 1
            ends = [region.rfind(p, 0, cue_abs) for p in (". ", "! ", "? ")]
            sent = max([sent] + [e + 2 for e in ends if e >= 0])
            position = min(position, sent)
        sites.append(HintSite(DELAYED_COMPUTATION, position, round(conf, 2), cue_window.strip()[:200]))
        break
    return sites


def detect_code_distrust(text: str, window: int = 600) -> list[HintSite]:
    """Re-checking a code result by hand right after an ```` ```output ```` block.

    For each output block, the text that follows (up to the next cell, ``window`` chars)
    is read sentence by sentence: a verification cue ("let me verify", "double-check",
    "manually") that is not about the code's logic, or a re-derivation (arithmetic lines)
    proposes a site at the start of that sentence.
    """
    sites = []
    for block in protocol.find_outputs(text):
        after_end = text.find(protocol.CODE_START, block.end)
        segment_end = min(len(text), block.end + window, after_end if after_end >= 0 else len(text))
        segment = text[block.end:segment_end]
        arith = _computation_lines(segment, block.end)
        pos, found = 0, None
        for sm in _SENTENCE_RE.finditer(segment):
            sentence = sm.group(0)
            if pos > 400:
                break
            cue = _DISTRUST_CUES.search(sentence)
            if cue and not _LOGIC_CUES.search(sentence):
                conf = 0.9 if arith else 0.6
                found = HintSite(CODE_DISTRUST, block.end + sm.start(), conf, sentence.strip()[:200])
                break
            pos = sm.end()
        if found is None and len(arith) >= 2:
            start = arith[0][0]
            found = HintSite(CODE_DISTRUST, text.rfind("\n", 0, start) + 1, 0.5, arith[0][2].strip()[:200])
        if found is not None:
            sites.append(found)
    return sites


def detect_sites(text: str) -> list[HintSite]:
    """All proposed sites (manual markers win: if any marker is present, only markers count)."""
    manual = find_markers(text)
    if manual:
        return manual
    sites = detect_delayed_computation(text) + detect_code_distrust(text)
    return sorted(sites, key=lambda s: s.position)


def insert_hints(text: str, sites: list[HintSite]) -> str:
    """Insert the hint of every site (positions refer to ``text``), without cutting."""
    for site in sorted(sites, key=lambda s: s.position, reverse=True):
        text = insert_hint(text, site.position, HINT_TEXTS[site.kind])
    return text


# -- hint engineering (the SFT styles) ----------------------------------------------------
def prepend_prompt_hint(response: str) -> str:
    """A response with the prompt-hint at the start of its thinking (the prompt-hint SFT style)."""
    if response.startswith(THINK_OPEN):
        return THINK_OPEN + PROMPT_HINT + "\n" + response[len(THINK_OPEN):]
    return PROMPT_HINT + "\n" + response


def _replacement_end(text: str, site: HintSite) -> int | None:
    """Where the span a hint replaces ends: the code it leads into, or the end of a by-hand re-check."""
    if site.kind == DELAYED_COMPUTATION:
        cell = text.find(protocol.CODE_START, site.position)
        return None if cell < 0 else cell + len(protocol.CODE_START)
    candidates = [m.start() for m in _ANSWER_LINE_RE.finditer(text, site.position) if m.start() > site.position]
    for boundary in (protocol.CODE_START, THINK_END):  # a re-check never runs past a cell or the end of thinking
        found = text.find(boundary, site.position)
        if found >= 0:
            candidates.append(found)
    return min(candidates) if candidates else None


def apply_hint_engineering(response: str) -> tuple[str, Counter]:
    """Place hints (the hint-engineering style): manual markers if any, else the detectors' sites.

    Hint-1 replaces the calculation done by hand before a cell and leads into that cell; hint-2
    replaces a by-hand re-check of a code result. Returns the text and the count per hint kind.
    """
    counts: Counter = Counter()
    if _SPAN_RE.search(response) or find_markers(response):
        def span(m: re.Match) -> str:
            counts[m.group(1)] += 1
            return HINT_TEXTS[m.group(1)] + ("\n" if m.group(1) == CODE_DISTRUST else "")

        text = _SPAN_RE.sub(span, response)
        for site in find_markers(text):
            counts[site.kind] += 1
        return render_markers(text), counts
    text = response
    for site in sorted(detect_sites(response), key=lambda s: s.position, reverse=True):
        end = _replacement_end(text, site)
        if end is None:
            continue
        tail = "\n" if site.kind == CODE_DISTRUST else ""
        text = text[:site.position] + HINT_TEXTS[site.kind] + tail + text[end:]
        counts[site.kind] += 1
    return text, counts
