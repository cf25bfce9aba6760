"""Normalise a bare answer string (MATH conventions, plus unicode, words and Python-style answers).

What goes: math delimiters, ``\\boxed``, ``\\left``/``\\right``, spacing commands, text-style
commands around words, degrees, percent signs and words, currency, units (in ``\\text``, ``\\mbox``,
``\\textnormal``, ``\\mathrm`` or plain words, with ``^2``/``^3``), ordinal suffixes (``5^{th}``),
thousands separators (``1,000``, ``1\\,000``, ``1{,}000``, ``1 000``), trailing ``.0``.
What is rewritten: unicode math (``√ π − × ≤ ∞ ∪ ∈ ℝ ²``), ``\\dfrac``/``\\tfrac`` to ``\\frac``,
``>=``/``\\geq``/``\\geqslant`` to ``\\ge`` (and the like), ``\\lbrace`` to ``\\{``, "or"/"and" and
``\\quad`` between items to commas. The result has no spaces; normalising twice changes nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

_UNICODE = {
    "√": "\\sqrt", "∛": "\\sqrt[3]", "π": "\\pi", "−": "-", "–": "-", "—": "-", "×": "\\times", "·": "\\cdot",
    "⋅": "\\cdot", "∗": "*", "÷": "/", "⁄": "/", "≤": "\\le", "≥": "\\ge", "≠": "\\ne", "≈": "\\approx",
    "∞": "\\infty", "°": "^\\circ", "½": "\\frac{1}{2}", "⅓": "\\frac{1}{3}", "⅔": "\\frac{2}{3}",
    "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}", "⅕": "\\frac{1}{5}", "⅛": "\\frac{1}{8}", "∪": "\\cup",
    "∩": "\\cap", "∈": "\\in", "∉": "\\notin", "∖": "\\setminus", "ℝ": "\\mathbb{R}", "ℤ": "\\mathbb{Z}",
    "ℕ": "\\mathbb{N}", "ℚ": "\\mathbb{Q}", "∅": "\\emptyset", "′": "'", "″": "''", "⟨": "\\langle",
    "⟩": "\\rangle", "〈": "\\langle", "〉": "\\rangle", "：": ":", "，": ",", "；": ";", "（": "(", "）": ")",
    "\u2009": " ", "\u00a0": " ", "\u202f": " ", "\u200b": "", "€": "", "£": "", "¥": "",
}
_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8",
                 "⁹": "9", "⁻": "-", "⁺": "+"}
_SUPERSCRIPT_RE = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")

_UNIT_WORDS = (
    "degrees?", "radians?", "centimeters?", "centimetres?", "millimeters?", "meters?",
    "metres?", "kilometers?", "inches", "inch", "feet", "foot", "yards?",
    "units?", "square units?", "sq units?", "square feet", "square inches", "square meters?",
    "square centimeters?", "cubic units?", "cubic feet", "cubic inches", "cubic meters?", "cubic centimeters?",
    "miles?", "mph", "km/h", "kmh", "m/s", "hours?", "hrs?", "minutes?", "mins?", "seconds?",
    "secs?", "days?", "weeks?", "months?", "years?", "dollars?", "cents?", "yuan", "euros?", "pounds?",
    "lbs?", "ounces?", "grams?", "kilograms?", "liters?", "litres?", "milliliters?",
    "gallons?", "points?", "people", "persons?", "students?", "ways", "times",
    "items?", "pieces?", "coins?", "apples?", "books?", "boxes?", "balls?", "children", "men", "women",
)
# abbreviations read as units only after a space or inside a text command ("10cm" may be 10c*m)
_SHORT_UNITS = ("m", "s", "h", "g", "l", "in", "mi", "rad", "cm", "mm", "km", "ft", "yd", "kg", "ml", "oz")
_UNIT = "(?:" + "|".join(_UNIT_WORDS) + ")"
_ANY_UNIT = "(?:" + "|".join(_UNIT_WORDS + _SHORT_UNITS) + ")"
_TEXT_WRAP = r"\\(?:text|textnormal|textrm|textup|textsf|mbox|mathrm|rm)\s*\{"
# a unit after a number or closing brace: in a text command, or a plain word, with an optional power
_UNIT_RE = re.compile(r"(?<=[\d}\s)])\s*(?:" + _TEXT_WRAP + r"\s*" + _ANY_UNIT + r"\s*\}|" + _UNIT + r"(?![a-zA-Z])|"
                      r"(?<=\s)" + _ANY_UNIT + r"(?![a-zA-Z]))(?:\s*\^\s*\{?\s*[23]\s*\}?)?\s*$", re.I)
# any words in a text command after a number ("17\text{ any text}", "10\text{ units}")
_TRAILING_TEXT_RE = re.compile(r"(?<=[\d}])\s*" + _TEXT_WRAP + r"\s*[A-Za-z][A-Za-z .'/-]*\}\s*(?:\^\s*\{?[23]\}?)?$")
_ORDINAL_RE = re.compile(r"(?<=\d)\s*(?:\^\s*\{?\s*(?:\\text\s*\{)?\s*(?:st|nd|rd|th)\s*\}?\s*\}?|"
                         + _TEXT_WRAP + r"\s*(?:st|nd|rd|th)\s*\}|(?:st|nd|rd|th)\b)", re.I)
_TEXT_CMD_RE = re.compile(r"\\(?:text|textnormal|textrm|textup|textsf|texttt|textbf|textit|mbox|mathrm|mathbf|"
                          r"mathit|mathsf|mathtt|boldsymbol|bm|operatorname|rm|bf)\s*\{([^{}]*)\}")
_PERCENT_WORD_RE = re.compile(r"(?<=[\d}\s])\s*(?:" + _TEXT_WRAP + r"\s*)?(?:percent|pct|percentage)(?:\s*\})?\s*$",
                              re.I)
_THOUSANDS_RE = re.compile(r"^-?(?!0,)\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SPACE_THOUSANDS_RE = re.compile(r"(?<![\d.,])(\d{1,3}(?: \d{3})+)(?![\d.,]| ?\d)")


def _superscripts(s: str) -> str:
    return _SUPERSCRIPT_RE.sub(lambda m: "^{" + "".join(_SUPERSCRIPTS[c] for c in m.group(0)) + "}", s)


def _fix_fracs(s: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac1{x}`` -> ``\\frac{1}{x}``, ``\\frac{x}2`` -> ``\\frac{x}{2}``."""
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*(\d)\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac\s*(\{[^{}]*\})\s*(\d)", r"\\frac\1{\2}", s)
    return s


def _fix_sqrt(s: str) -> str:
    """``\\sqrt2`` -> ``\\sqrt{2}``, ``\\sqrt(2)`` -> ``\\sqrt{2}``."""
    s = re.sub(r"\\sqrt\s*\(([^()]*)\)", r"\\sqrt{\1}", s)
    return re.sub(r"\\sqrt\s*([0-9a-zA-Z])", r"\\sqrt{\1}", s)


def strip_dollars(s: str) -> str:
    """Remove math delimiters around an answer."""
    s = s.strip()
    changed = True
    while changed:
        changed = False
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
                s, changed = s[len(left):len(s) - len(right)].strip(), True
    return s


def _unwrap_boxed(s: str) -> str:
    """``\\boxed{x}`` -> ``x`` (nested braces respected), every occurrence."""
    out, i = [], 0
    while True:
        m = re.compile(r"\\(?:boxed|fbox)\s*\{").search(s, i)
        if not m:
            out.append(s[i:])
            return "".join(out)
        depth, j = 0, m.end() - 1
        while j < len(s):
            if s[j] == "{":
                depth += 1
            elif s[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(s):
            out.append(s[i:])
            return "".join(out)
        out.append(s[i:m.start()] + s[m.end():j])
        i = j + 1


def _drop_unclosed_box(s: str) -> str:
    """``\\boxed{x`` (the closing brace lost) -> ``x``."""
    m = re.match(r"\\(?:boxed|fbox)\s*\{", s)
    if not m:
        return s
    depth = 0
    for ch in s[m.end() - 1:]:
        depth += (ch == "{") - (ch == "}")
        if depth == 0:
            return s
    return s[m.end():]


def _relations(s: str) -> str:
    s = s.replace("\\leqslant", "\\le").replace("\\geqslant", "\\ge").replace("\\leqq", "\\le")
    s = s.replace("\\geqq", "\\ge").replace("\\leq", "\\le").replace("\\geq", "\\ge").replace("\\neq", "\\ne")
    s = re.sub(r"\\lt(?![a-zA-Z])", "<", s)
    s = re.sub(r"\\gt(?![a-zA-Z])", ">", s)
    s = s.replace(">=", "\\ge ").replace("<=", "\\le ").replace("=>", "\\ge ").replace("=<", "\\le ")
    return s.replace("!=", "\\ne ")


def _words(s: str) -> str:
    """Units, ordinals, percent and currency words that follow a number."""
    for _ in range(3):
        before = s
        s = _UNIT_RE.sub("", s).rstrip()
        s = _ORDINAL_RE.sub("", s).rstrip()
        s = _TRAILING_TEXT_RE.sub("", s).rstrip()
        if s == before:
            break
    return s


_CONNECTIVE_RE = re.compile(r"(?:^|(?<=[\s,)\]}])|(?<=\d)(?=(?:or|and)[A-Z(]))(?:or|and)(?=[\s,(\[{A-Z]|$)")


def _top_comma(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            return True
    return False


def _connectives(s: str) -> str:
    """"2 or 3", "1, 2, and 3" -> comma lists; "x=2, y=3 or x=3, y=2" -> groups separated by ";"."""
    parts = [p.strip().strip(",").strip() for p in _CONNECTIVE_RE.split(s)]
    if len(parts) == 1:
        return s
    parts = [p for p in parts if p]
    return (";" if len(parts) > 1 and all(_top_comma(p) for p in parts) else ",").join(parts)


_DOUBLED_RE = re.compile(r"\\\\(?:begin|frac|dfrac|tfrac|sqrt|cdot|times|pi|left|right|text|le|ge)(?![a-zA-Z])")


_PLAIN_INT_RE = re.compile(r"-?[1-9]\d*|0")
_UNICODE_TABLE = str.maketrans(_UNICODE)
_ROOT_DIGITS_RE = re.compile(r"√\s*(\d+(?:\.\d+)?)")
_SPACING_RE = re.compile(r"(?<!\\)\\[,;: ]")
_QUAD_RE = re.compile(r"\\q?quad(?![a-zA-Z])")
_JOIN_COMMA_RE = re.compile(r",\s*\\!\s*")
_SIZING_RE = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])\s*\.?")
_TRIG_RE = re.compile(r"\\(?:sin|cos|tan|sec|csc|cot)")
_TRIG_DEGREES_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\degree)")
_DEGREES_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree")
_AMPM_RE = re.compile(r"(\d{1,2}:\d{2})\s*(?:\\text\s*\{\s*)?([aApP])\.?\s*[mM]\.?\s*\}?\s*$")
_MIXED_SPACE_RE = re.compile(r"^(-?\d+)\s+(\d+)/(\d+)$")
_COMMAS_RE = re.compile(r"\s*,(?:\s*,)+")
_POWER_PRODUCT_RE = re.compile(r"(\^\s*(?:\{[^{}]*\}|\d+))\s+(?=[\d(])")
_SPACED_COMMA_RE = re.compile(r"\d,\s+\d")
_ONE_CHAR_SUB_RE = re.compile(r"_([A-Za-z0-9])(?![A-Za-z0-9{])")
_SPACE_RE = re.compile(r"\s+")
_ONE_CHAR_POWER_RE = re.compile(r"\^\{([A-Za-z0-9])\}")
_BASE_N_NUMERAL_RE = re.compile(r"^([0-9A-Za-z]+)_\{(\d+)\}$")
_LEADING_POINT_RE = re.compile(r"(?<![\d.])\.(\d)")
_WHOLE_DECIMAL_RE = re.compile(r"^(-?\d+)\.0+$")
_TRAILING_ZEROS_RE = re.compile(r"^(-?\d+\.\d*?[1-9])0+$")
_CHOICE_PARENS_RE = re.compile(r"^\(([A-Ea-e])\)$")
_WORDS_ONLY_RE = re.compile(r"[A-Za-z ]+")


@lru_cache(maxsize=100_000)
def _normalize(s: str) -> str:
    if _PLAIN_INT_RE.fullmatch(s):
        return s
    if _DOUBLED_RE.search(s):  # written with every backslash doubled ("\\\\frac{1}{2}")
        s = s.replace("\\\\", "\\")
    if not s.isascii():
        s = _ROOT_DIGITS_RE.sub(r"\\sqrt{\1}", s)  # √51 is the root of 51
        s = _superscripts(s.translate(_UNICODE_TABLE))
    s = s.replace("\n", " ").replace("\t", " ").replace("~", " ")
    latex = "\\" in s or "$" in s or "{" in s
    if latex:
        s = s.replace("\\displaystyle", "")
        s = _JOIN_COMMA_RE.sub(",", s)  # 11,\! 111: the negative space joins the digit groups
        s = s.replace("{,}", ",").replace("\\!", "")
        s = _QUAD_RE.sub(" , ", s)
        s = _SPACING_RE.sub(" ", s)  # LaTeX spacing commands, not the row break \\\\
        s = _unwrap_boxed(s)
        s = _drop_unclosed_box(s.strip())
        s = s.replace("\\$", "").replace("\\euro", "")
        s = strip_dollars(s).replace("$", "")
        s = _SIZING_RE.sub("", s)
        s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
        s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}").replace("\\lbrack", "[").replace("\\rbrack", "]")
        s = s.replace("\\varnothing", "\\emptyset").replace("\\mathbb R", "\\mathbb{R}").replace("\\R ", "\\mathbb{R}")
    s = _relations(s)
    if latex:
        if _TRIG_RE.search(s):  # degrees inside trigonometry become radians
            s = _TRIG_DEGREES_RE.sub(r"\\frac{\1\\pi}{180}", s)
        s = _DEGREES_RE.sub("", s)
    wordy = any(c.isalpha() for c in s)
    if wordy:
        s = _PERCENT_WORD_RE.sub("%", s)
    s = s.replace("\\%", "%")
    if "%" in s:  # a trailing percent sign is kept as the marker \% (read as x and as x/100); others go
        trailing = s.rstrip().endswith("%")
        s = s.replace("%", "").rstrip() + ("\\%" if trailing else "")
    s = s.strip()
    if wordy:
        s = _AMPM_RE.sub(lambda m: m.group(1) + m.group(2).lower() + "m", s)  # 8:34 P.M. -> 8:34pm
    s = _MIXED_SPACE_RE.sub(r"\1\\frac{\2}{\3}", s)  # 1 1/2 is a mixed number
    if wordy:
        s = _words(s)
        for _ in range(3):
            s = _TEXT_CMD_RE.sub(r"\1", s)
        s = _words(s.strip())
        s = _connectives(s.strip())
    s = _COMMAS_RE.sub(",", s).strip().strip(",").strip()
    s = s.rstrip(".").rstrip("\\").strip().rstrip(".")
    if latex:
        s = _fix_sqrt(_fix_fracs(s))
    s = _SPACE_THOUSANDS_RE.sub(lambda m: m.group(1).replace(" ", ""), s)
    s = _POWER_PRODUCT_RE.sub(r"\1\\cdot ", s)  # 2^6 3^5 is a product
    spaced_comma = bool(_SPACED_COMMA_RE.search(s))  # "32, 349" is a list, "32,349" a number
    s = _ONE_CHAR_SUB_RE.sub(r"_{\1}", s)  # F_k F_n: keep one-character subscripts apart
    s = _SPACE_RE.sub("", s)
    s = _BASE_N_NUMERAL_RE.sub(r"\1_\2", s)  # base-n numerals: 4210_{5} -> 4210_5
    s = _ONE_CHAR_POWER_RE.sub(r"^\1", s)  # n^{2} -> n^2
    if not spaced_comma and _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = _LEADING_POINT_RE.sub(r"0.\1", s)  # .5 -> 0.5
    s = _WHOLE_DECIMAL_RE.sub(r"\1", s)  # 27.0 -> 27
    s = _TRAILING_ZEROS_RE.sub(r"\1", s)  # 1.250 -> 1.25
    if s.startswith("+") and s[1:2].isdigit():
        s = s[1:]
    s = _CHOICE_PARENS_RE.sub(r"\1", s)  # multiple choice (C) -> C
    if wordy and _WORDS_ONLY_RE.fullmatch(s.replace("\\", "")) and not (len(s) == 1 and s.isalpha()):
        s = s.lower()
    return s


def normalize(answer: str) -> str:
    """A canonical string for comparing answers (idempotent; results are cached)."""
    return _normalize(str(answer).strip())
