"""Normalise a bare answer string (MATH conventions, plus unicode and Python-style answers)."""

from __future__ import annotations

import re

_UNICODE = {
    "√": "\\sqrt", "π": "\\pi", "−": "-", "–": "-", "×": "\\times", "·": "\\cdot", "÷": "/",
    "≤": "\\le", "≥": "\\ge", "≠": "\\ne", "∞": "\\infty", "°": "^\\circ", "½": "\\frac{1}{2}",
    "∪": "\\cup", "∩": "\\cap", "′": "'", "\u2009": " ", "\u00a0": " ",
}
_UNIT_WORDS = (
    "degrees?", "radians?", "cm", "centimeters?", "meters?", "m", "km", "kilometers?", "inches", "inch",
    "feet", "foot", "ft", "units?", "square units?", "sq units?", "miles?", "mph", "hours?", "hrs?",
    "minutes?", "mins?", "seconds?", "secs?", "days?", "weeks?", "years?", "dollars?", "cents?",
    "points?", "people", "students?", "ways", "pounds?", "lbs?", "grams?", "kg", "liters?", "gallons?",
    "cubic units?", "percent",
)
_UNIT_RE = re.compile(r"(?<=[\d}\s])\s*(?:\\text\{|\\mbox\{|\\mathrm\{)?\s*(?:" + "|".join(_UNIT_WORDS)
                      + r")(?:\^[23])?\s*\}?\s*$", re.I)
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf|mathit|operatorname|rm)\s*\{([^{}]*)\}")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LHS_RE = re.compile(r"^(?:[a-zA-Z](?:_\{?\w+\}?)?|[a-zA-Z]\([a-zA-Z,]*\)|\\[a-zA-Z]+)\s*=\s*(?!.*=)")


def _fix_fracs(s: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac1{x}`` -> ``\\frac{1}{x}``."""
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*(\d)\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d)", r"\\frac{\1}{\2}", s)
    return s


def _fix_sqrt(s: str) -> str:
    """``\\sqrt2`` -> ``\\sqrt{2}``."""
    return re.sub(r"\\sqrt\s*([0-9a-zA-Z])", r"\\sqrt{\1}", s)


def strip_lhs(s: str) -> str:
    """``x=5`` -> ``5``, ``f(x)=2x`` -> ``2x`` (a single variable or function on the left)."""
    m = _LHS_RE.match(s)
    if m and not re.search(r"[<>]|\\le|\\ge", s):
        return s[m.end():]
    return s


def strip_dollars(s: str) -> str:
    """Remove math delimiters around an answer."""
    s = s.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left):len(s) - len(right)].strip()
    return s


def normalize(answer: str) -> str:
    """A canonical string for comparing answers (idempotent)."""
    s = str(answer).strip()
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = s.replace("\n", " ").replace("~", " ").replace("\\displaystyle", "")
    s = re.sub(r"(?<!\\)\\[!,;: ]", " ", s)  # LaTeX spacing commands, not the row break \\\\
    s = re.sub(r"\\boxed\s*\{(.*)\}", r"\1", s)
    s = s.replace("\\$", "")
    s = strip_dollars(s).replace("$", "")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\big", "").replace("\\Big", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}").replace("\\leqslant", "\\le")
    s = s.replace("\\geqslant", "\\ge").replace("\\leq", "\\le").replace("\\geq", "\\ge")
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ", "", s)
    s = s.replace("\\%", "").replace("%", "")
    s = _UNIT_RE.sub("", s)
    s = _UNIT_RE.sub("", s)
    for _ in range(3):
        s = _TEXT_CMD_RE.sub(r"\1", s)
    s = re.sub(r"\s+(?:or|and)\s+", ",", s.strip())  # "2 or 3" -> "2,3"
    s = s.strip().rstrip(".").rstrip("\\").strip()
    s = re.sub(r"^(?:[a-zA-Z]\s*\\in\s*)", "", s)
    s = _fix_sqrt(_fix_fracs(s))
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"_\{(\w+)\}", r"_\1", s)  # base-n subscripts: 4210_{5} -> 4210_5
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = re.sub(r"(?<![\d.])\.(\d)", r"0.\1", s)  # .5 -> 0.5
    s = re.sub(r"^(-?\d+)\.0+$", r"\1", s)  # 27.0 -> 27
    s = re.sub(r"^(-?\d+\.\d*?[1-9])0+$", r"\1", s)  # 1.250 -> 1.25
    s = re.sub(r"^\(([A-E])\)$", r"\1", s)  # multiple choice (C) -> C
    if re.fullmatch(r"[A-Za-z ]+", s.replace("\\", "")) and not re.fullmatch(r"[A-Za-z]", s):
        s = s.lower()
    return s
