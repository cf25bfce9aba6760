"""The DeepScaleR grader, as the original CoRT metrics use it for ``pass@k_deepscaler`` / ``avg@k_deepscaler``.

Behaviour (re-implemented from the grader's documented rules; DeepScaleR's reward code builds on
the MATH dataset's string normalisation and the PRM800K sympy grader):

- **Answer**: only when the text contains ``\\boxed``: the last ``\\boxed`` (else ``\\fbox``), up to
  the brace that brings the brace count back to zero; it must read ``\\boxed{...}``, else no answer.
  The original grades the text between the first and second ``</think>`` of a response (none: "").
- **Equal** when either rule holds:

  1. *MATH normalisation*: both strings normalised the MATH way are identical (``\\text{...}`` around
     the whole answer dropped; line breaks, ``\\!``, ``\\left``/``\\right``, degrees, ``\\$``, ``\\%``,
     a units suffix after ``\\text{ `` and spaces removed; ``tfrac``/``dfrac`` -> ``frac``; a leading
     ``.`` gets a 0; ``x = `` with a name of at most two characters dropped; ``\\sqrt3`` ->
     ``\\sqrt{3}``, ``\\frac12`` -> ``\\frac{1}{2}``; ``0.5`` and ``a/b`` of integers -> ``\\frac``);
     a step that fails leaves the answer as it was.
  2. *sympy*: both normalised the PRM800K way (units, ``$``, ``%``, words million/billion/trillion,
     an outer brace pair, LaTeX turned to text, lower case, integers canonical) are identical, or,
     element by element for tuples and intervals (same brackets), unreduced fractions must match
     as written, an integer must meet an integer, and otherwise ``simplify(a - b) == 0`` when the
     difference has at most two unknown letters and no risky powers.
"""

from __future__ import annotations

import re

# -- answer extraction ------------------------------------------------------------------------


def last_boxed(text: str) -> str | None:
    """The last ``\\boxed``/``\\fbox`` group of ``text`` with its command, braces counted; None if unclosed."""
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for pos in range(start, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return text[start:pos + 1]
    return None


def extract_answer(text: str | None) -> str | None:
    """The content of the last ``\\boxed{...}``; None when the text has no ``\\boxed`` or it is malformed."""
    if text is None or "\\boxed" not in text:
        return None
    group = last_boxed(text)
    if group is None or not group.startswith("\\boxed{") or not group.endswith("}"):
        return None
    return group[len("\\boxed{"):-1]


def solution_after_thinking(response: str) -> str:
    """What the original grades: the text between the first and the second ``</think>`` ("" without one)."""
    return response.split("</think>")[1] if "</think>" in response else ""


# -- rule 1: MATH normalisation -----------------------------------------------------------------

_TEXT_WRAPPED = re.compile(r"^\\text\{(?P<inner>.+?)\}$")


class _Unchanged(Exception):
    """A normalisation step could not apply: the answer stays as it was."""


def _sqrt_arguments(s: str) -> str:
    if "\\sqrt" not in s:
        return s
    head, *rest = s.split("\\sqrt")
    out = [head]
    for piece in rest:
        if not piece:
            raise _Unchanged
        out.append("\\sqrt" + piece if piece[0] == "{" else "\\sqrt{" + piece[0] + "}" + piece[1:])
    return "".join(out)


def _frac_arguments(s: str) -> str:
    head, *rest = s.split("\\frac")
    out = [head]
    for piece in rest:
        out.append("\\frac")
        if not piece:
            raise _Unchanged
        if piece[0] == "{":
            out.append(piece)
            continue
        if len(piece) < 2:
            return s  # a lone character after \frac: the whole string is left alone
        first, second, tail = piece[0], piece[1], piece[2:]
        out.append("{" + first + "}" + ("{" + second + "}" if second != "{" else second) + tail)
    return "".join(out)


def _integer_slash(s: str) -> str:
    parts = s.split("/")
    if len(parts) != 2:
        return s
    try:
        num, den = int(parts[0]), int(parts[1])
    except ValueError:
        return s
    return f"\\frac{{{num}}}{{{den}}}" if s == f"{num}/{den}" else s


def _math_steps(s: str) -> str:
    for old, new in (("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"),
                     ("\\left", ""), ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", "")):
        s = s.replace(old, new)
    if "\\text{ " in s:  # a unit after the number
        pieces = s.split("\\text{ ")
        if len(pieces) != 2:
            raise _Unchanged
        s = pieces[0]
    s = s.replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = _sqrt_arguments(s).replace(" ", "")
    s = _frac_arguments(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _integer_slash(s)


def math_normalize(answer: str | None) -> str | None:
    """The MATH dataset's normalisation of an answer string (None stays None)."""
    if answer is None:
        return None
    answer = answer.strip()
    try:
        wrapped = _TEXT_WRAPPED.search(answer)
        if wrapped is not None:
            answer = wrapped.group("inner").strip()
        return _math_steps(answer)
    except (_Unchanged, IndexError, ValueError):
        return answer


def grade_mathd(given: str | None, truth: str | None) -> bool:
    """Rule 1: identical after MATH normalisation."""
    return math_normalize(truth) == math_normalize(given)


# -- rule 2: PRM800K normalisation and sympy ----------------------------------------------------

_UNITS = ("degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week", "month",
          "year", "foot", "feet", "inch", "yard")
_THOUSANDS = re.compile(r"(\d)(,)(\d\d\d)($|\D)")
_BRACKETS = "()[]"


def _float_or_none(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _near_integer(x: float) -> bool:
    try:
        return abs(x - int(round(x))) <= 1e-7
    except (OverflowError, ValueError):
        return False


def _drop_thousands_commas(s: str) -> str:
    while True:
        changed = _THOUSANDS.sub(r"\1\3\4", s)
        if changed == s:
            return s
        s = changed


def _integer_string(s: str) -> bool:
    value = _float_or_none(_drop_thousands_commas(s))
    return value is not None and _near_integer(value)


def _latex_to_text(s: str) -> str:
    import logging

    from pylatexenc import latex2text

    logging.getLogger("pylatexenc").setLevel(logging.ERROR)  # "macro failed its substitution" on every bad \frac

    s = s.replace("\\tfrac", "\\frac").replace("\\dfrac", "\\frac").replace("\\frac", " \\frac")
    s = latex2text.LatexNodes2Text().latex_to_text(s)
    for symbol, word in (("√", "sqrt"), ("π", "pi"), ("∞", "inf"), ("∪", "U"), ("·", "*"), ("×", "*")):
        s = s.replace(symbol, word)
    return s.strip()


def prm_normalize(answer: str | None) -> str | None:
    """The PRM800K grader's normalisation (None stays None)."""
    if answer is None:
        return None
    s = answer
    wrapped = _TEXT_WRAPPED.search(s)
    if wrapped is not None:
        s = wrapped.group("inner")
    for old, new in (("\\%", "%"), ("\\$", "$"), ("$", ""), ("%", ""), (" or ", " , "), (" and ", " , "),
                     ("million", "*10^6"), ("billion", "*10^9"), ("trillion", "*10^12")):
        s = s.replace(old, new)
    for unit in _UNITS:
        s = re.sub(unit + r"(es)?(s)? *(\^[0-9]+)?", "", s)
    s = re.sub(r"\^ *\\circ", "", s)
    if s and s[0] == "{" and s[-1] == "}":
        s = s[1:-1]
    s = re.sub(r",\\! *", "", s)
    value = _float_or_none(s)
    if value is not None and _near_integer(value):
        s = str(int(round(value)))
    if "\\" in s:
        try:
            s = _latex_to_text(s)
        except Exception:  # noqa: BLE001 - the text stays LaTeX, as in the grader
            pass
    s = re.sub("- *", "-", s)
    s = re.sub("([0-9]) +([0-9])", r"\1+\2", s)  # a mixed number 7 3/4 -> 7+3/4
    s = s.replace(" ", "").replace("{", "").replace("}", "").lower()
    if _integer_string(s):
        s = str(int(float(s.replace(",", ""))))
    return s


def _elements(s: str) -> list[str]:
    s = _drop_thousands_commas(s)
    if not s:
        return []
    if len(s) > 2 and s[0] in _BRACKETS and s[-1] in _BRACKETS and not any(c in s[1:-1] for c in _BRACKETS):
        return [e.strip() for e in s[1:-1].split(",")]
    return [s]


def _safe_for_sympy(expr: str) -> bool:
    letters = {c for c in expr.replace("sqrt", "").replace("frac", "") if c.isalpha()}
    if len(letters) > 2 or "^{" in expr or "^(" in expr:
        return False
    return re.search(r"\^[0-9]+\^", expr) is None and re.search(r"\^[0-9][0-9]+", expr) is None


def _sympy_equal(truth: str, given: str) -> bool:
    import sympy
    from sympy.parsing import sympy_parser

    difference = f"({truth})-({given})"
    if not _safe_for_sympy(difference):
        return False
    try:
        parsed = sympy_parser.parse_expr(
            difference.replace("^", "**"),
            transformations=sympy_parser.standard_transformations + (sympy_parser.implicit_multiplication_application,))
        return sympy.simplify(parsed) == 0
    except Exception:  # noqa: BLE001 - anything sympy cannot read is not equal
        return False


_FRACTION = re.compile(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$")


def grade_sympy(given: str | None, truth: str | None) -> bool:
    """Rule 2: PRM800K normalisation, then element-wise comparison with sympy."""
    truth_n, given_n = prm_normalize(truth), prm_normalize(given)
    if truth_n is None:
        return False
    if truth_n == given_n:
        return True
    if not given_n:
        return False
    truth_elems, given_elems = _elements(truth_n), _elements(given_n)
    if len(truth_elems) > 1 and (truth_n[0] != given_n[0] or truth_n[-1] != given_n[-1]):
        return False
    if len(truth_elems) != len(given_elems):
        return False
    for t, g in zip(truth_elems, given_elems):
        if _FRACTION.search(t) and _FRACTION.search(g):
            same = t == g  # an unreduced fraction must be written the same way
        elif _integer_string(t) != _integer_string(g):
            same = False  # an integer answer needs an integer
        else:
            same = _sympy_equal(t, g)
        if not same:
            return False
    return True


def reference_answer(reference: str) -> str | None:
    """The reference as DeepScaleR grades it: a boxed reference's content, else the reference itself."""
    truth = str(reference)
    return extract_answer(truth) if "\\boxed" in truth else truth


def grade_answer(answer: str | None, truth: str | None, timeout: float | None = None) -> bool:
    """Equal by either rule. With ``timeout`` the sympy rule runs in a grading worker under that
    limit (:mod:`evaluation.deadline`, which holds off the main thread too); a timeout is not equal."""
    if grade_mathd(answer, truth):
        return True
    if timeout is None:
        return grade_sympy(answer, truth)
    from evaluation import deadline

    try:
        return bool(deadline.call("deepscaler_sympy", answer, truth, timeout=timeout))
    except (deadline.GraderTimeout, deadline.WorkerError):
        return False


def grade_response(response: str, reference: str) -> bool:
    """The original metrics' DeepScaleR decision for one response against the reference answer."""
    answer = extract_answer(solution_after_thinking(response)) or ""
    return grade_answer(answer, reference_answer(reference))
