"""Decide whether two bare answers are mathematically equal.

Steps, cheapest first, all but the last in this process:

1. equal after normalisation (:mod:`evaluation.normalize`);
2. readings: a label on the left (``x = 5``, ``(p, q) = (3, 2)``, ``AB = 4``, ``f(x) = 2x``,
   ``S_{ABC}:S = 7:32``, ``x \\in S``) is dropped; of a chain ``a = b = c`` the last part is kept;
   of ``a \\approx b`` the exact part;
3. text answers and multiple-choice letters; base-n numerals as written;
4. structures: lists of solutions (``,`` ``;`` "or" "and"; unordered), tuples (ordered; ``;``
   inside), sets, intervals with their ends, unions, matrices in any environment (a one-row or
   one-column matrix also against a tuple), ``a \\pm b``, groups of assignments
   (``p=5,q=2; p=7,q=2`` reads as the pairs ``(5,2),(7,2)``);
5. numbers, exactly: integers, fractions, terminating decimals, mixed numbers (``918\\frac{1}{2}``),
   repeating decimals (``0.\\overline{3}``, ``0.1\\dot{6}``); a decimal of 4 or more significant
   digits against a value it cannot equal exactly (``1/3``, ``\\pi``) when it is that value rounded or
   cut at its last digit, and decimals of 10 or more digits (float output such as
   ``2.9999999999999996``) within a relative 1e-9; 27648 != 27649, 0.25 != 25, 0.333 != 1/3;
6. symbolic, in a grading worker with a deadline (:mod:`evaluation.symbolic`): expressions,
   equations, inequalities and sets of reals.
"""

from __future__ import annotations

import re
from fractions import Fraction

from evaluation import deadline
from evaluation.deadline import GraderTimeout
from evaluation.normalize import normalize

FLOAT_REL_TOL = Fraction(1, 10 ** 9)
FLOAT_NOISE_DIGITS = 10
MIN_APPROX_DIGITS = 4
DEFAULT_TIMEOUT = 5.0
__all__ = ["DEFAULT_TIMEOUT", "GraderTimeout", "math_equal", "normalize", "split_top", "structure"]


# -- splitting ----------------------------------------------------------------------------
def split_top(s: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets and braces (``\\{`` ``\\}`` count as braces)."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        if s.startswith("\\{", i) or s.startswith("\\}", i):
            depth += 1 if s[i + 1] == "{" else -1
            cur.append(s[i:i + 2])
            i += 2
            continue
        if s.startswith("\\langle", i) or s.startswith("\\rangle", i):
            depth += 1 if s[i + 1] == "l" else -1
            cur.append(s[i:i + 7])
            i += 7
            continue
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if depth == 0 and s.startswith(sep, i):
            parts.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _closes_at_end(s: str) -> bool:
    """True when the bracket opening at s[0] closes at s[-1] (one group, not "(a)+(b)")."""
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return False
    return depth == 0


_MATRIX_RE = re.compile(r"^[(\[]?\\begin\{(?:[pbBvV]?matrix|smallmatrix|array)\}(?:\{[lcr|]*\})?(.*)"
                        r"\\end\{(?:[pbBvV]?matrix|smallmatrix|array)\}[)\]]?$")


def structure(s: str) -> tuple[str, str, list[str]]:
    """(kind, brackets, items) of a normalised answer.

    Kinds: ``matrix`` (items are rows joined by ``;``, or entries for a vector), ``union``,
    ``set``, ``tuple`` (brackets ``()`` ``[]`` ``(]`` ...), ``groups`` (``;``-separated lists),
    ``list``, ``scalar``.
    """
    m = _MATRIX_RE.match(s)
    if m and "\\end{" not in m.group(1):
        rows = [r for r in m.group(1).split("\\\\") if r.strip() != ""]
        cells = [r.split("&") for r in rows]
        if len(cells) == 1 or all(len(c) == 1 for c in cells):
            return "matrix", "vector", [x for c in cells for x in c]
        return "matrix", f"{len(cells)}x{len(cells[0])}", [";".join(c) for c in cells]
    if len(split_top(s, "\\cup")) > 1:
        return "union", "", split_top(s, "\\cup")
    if s.startswith("\\langle") and s.endswith("\\rangle"):
        return "tuple", "()", split_top(s[7:-7])
    if s.startswith("\\{") and s.endswith("\\}") and _closes_at_end(s.replace("\\{", "{").replace("\\}", "}")):
        inner = s[2:-2]
        return "set", "{}", [] if inner == "" else _items(inner)
    if len(s) >= 2 and s[0] == "{" and s[-1] == "}" and _closes_at_end(s):
        return "set", "{}", _items(s[1:-1])
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _closes_at_end(s):
        inner = split_top(s[1:-1])
        if len(inner) == 1 and ";" in s[1:-1]:
            inner = split_top(s[1:-1], ";")
        if len(inner) > 1:
            return "tuple", s[0] + s[-1], inner
    groups = split_top(s, ";")
    if len(groups) > 1 and all(g != "" for g in groups):
        if any(len(split_top(g)) > 1 for g in groups):
            return "groups", "", groups
        return "list", "", groups
    items = split_top(s)
    if len(items) > 1:
        return "list", "", items
    if s.count("\\pm") == 1 and s.count("\\mp") == 0:
        a, b = s.split("\\pm")
        return "list", "", [f"{a}+{b}" if a else b, f"{a}-{b}" if a else f"-{b}"]
    return "scalar", "", [s]


def _items(s: str) -> list[str]:
    items = split_top(s)
    return split_top(s, ";") if len(items) == 1 and ";" in s else items


# -- labels and readings ------------------------------------------------------------------
_GREEK = (r"\\(?:alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|"
          r"rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega)")
_SUB = r"(?:_\{?[\w,+-]+\}?|'+)?"
_NAME = (rf"(?:[a-zA-Z]{_SUB}|{_GREEK}{_SUB}|[A-Z]{{2,4}}{_SUB}|\\angle[A-Z]{{1,3}}|m\\angle[A-Z]{{1,3}}|"
         rf"\\(?:overline|vec|mathbf|bar)\{{[A-Za-z]{{1,4}}\}})")
_LABEL_RE = re.compile(rf"^(?:{_NAME}(?:\([a-zA-Z0-9,]*\))?|\({_NAME}(?:,{_NAME})+\)|{_NAME}(?::{_NAME})+|"
                       rf"\\frac\{{{_NAME}\}}\{{{_NAME}\}}|[A-Z]{{1,4}}\([A-Z]{{1,4}}\)|P\([^()=]*\)|\|{_NAME}\||"
                       rf"\\\|{_NAME}\\\|)$")
_REL = re.compile(r"\\le|\\ge|\\ne|<|>|\\in(?![a-z])|\\subset")


def is_label(s: str) -> bool:
    """A name on the left of an answer: a variable, a function of variables, a tuple or ratio of names."""
    return bool(_LABEL_RE.match(s)) and s not in ("\\pi", "\\infty", "e")


def has_unknowns(s: str) -> bool:
    """Whether a normalised answer has letters other than LaTeX commands and constants."""
    return bool(re.search(r"[a-zA-Z]", re.sub(r"\\[a-zA-Z]+", "", s)))


def readings(s: str) -> list[str]:
    """The ways to read an answer: itself, and without a label, chain or approximation."""
    if s.endswith("\\%") and len(s) > 2:  # 30\% reads as 30 and as 0.3
        base = s[:-2]
        number = parse_number(base)
        hundredth = f"\\frac{{{base}}}{{100}}"
        if number is not None:
            value = number.value / 100
            hundredth = str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
        return [base, hundredth]
    out = [s]
    if "\\approx" in s and len(split_top(s, "\\approx")) == 2:
        left, right = split_top(s, "\\approx")
        left_rhs = split_top(left, "=")[-1]
        s = right if is_label(left) or not left else left_rhs  # the exact part, not the approximation
        out = [s]
    parts = split_top(s, "=")
    if len(parts) >= 3 and all(parts):
        out.append(parts[-1])
    elif len(parts) == 2 and parts[1] and not _REL.search(s) and (
            is_label(parts[0]) or not (has_unknowns(parts[0]) or has_unknowns(parts[1]))):
        out.append(parts[1])  # "x = 5", or a computation "3 + 4 = 7"
    m = re.match(rf"^({_NAME}(?:\([a-zA-Z,]*\))?)\\in(.+)$", s)
    if m:
        out.append(m.group(2))
    interval = _inequality_interval(s)
    if interval:
        out.append(interval)
    return list(dict.fromkeys(out))


_BOUND = r"(-?(?:\d+(?:\.\d+)?|\\frac\{-?\d+\}\{\d+\}|\\sqrt\{\d+\}|\d*\\pi|-?\\infty))"
_CHAIN_RE = re.compile(rf"^{_BOUND}(<|\\le)(.+?)(<|\\le){_BOUND}$")
_ONE_SIDED_RE = re.compile(rf"^(.+?)(<|>|\\le|\\ge){_BOUND}$")


def _inequality_interval(s: str) -> str | None:
    """``a < x \\le b`` -> ``(a,b]``, ``x \\ge a`` -> ``[a,\\infty)`` (x a single name or function of names)."""
    m = _CHAIN_RE.match(s)
    if m and is_label(m.group(3)):
        left, right = ("(" if m.group(2) == "<" else "["), ("]" if m.group(4) == "\\le" else ")")
        return f"{left}{m.group(1)},{m.group(5)}{right}"
    m = _ONE_SIDED_RE.match(s)
    if m and is_label(m.group(1)):
        op, bound = m.group(2), m.group(3)
        if op in (">", "\\ge"):
            return ("(" if op == ">" else "[") + f"{bound},\\infty)"
        return f"(-\\infty,{bound}" + (")" if op == "<" else "]")
    return None


# -- numbers ------------------------------------------------------------------------------
class Num:
    """A parsed number: its exact value; for a decimal, its significant digits and last-place unit."""

    __slots__ = ("approx", "digits", "ulp", "value")

    def __init__(self, value: Fraction, approx: bool = False, digits: int = 0, ulp: Fraction = Fraction(0)):
        self.value, self.approx, self.digits, self.ulp = value, approx, digits, ulp


_FRAC_RE = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$")
_MIXED_RE = re.compile(r"^(-?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")
_REPEAT_RE = re.compile(r"^(-?)(\d*)\.(\d*)(?:\\overline\{(\d+)\}|\\dot\{(\d)\}|\((\d+)\))$")
_DOTS_RE = re.compile(r"^(-?)(\d*)\.(\d+?)(\d+?)\4+(?:\\[lc]?dots|\.\.\.|…)$")
_SCI_RE = re.compile(r"^(-?\d+(?:\.\d+)?)(?:e|\\times10\^|\\cdot10\^|\*10\^|\*10\*\*)\{?([-+]?\d+)\}?$", re.I)


def _decimal(text: str) -> Num | None:
    if not re.fullmatch(r"-?\d+(?:\.\d*)?", text) or len(text) > 4000:
        return None
    digits = len(text.lstrip("-").replace(".", "").lstrip("0"))
    places = len(text.split(".")[1]) if "." in text else 0
    return Num(Fraction(text.rstrip(".")), approx="." in text, digits=digits, ulp=Fraction(1, 10 ** places))


def parse_number(s: str) -> Num | None:
    """A plain number: integer, decimal, a/b, \\frac{a}{b}, mixed number, repeating decimal,
    scientific notation; else None."""
    if re.fullmatch(r"-?\d+", s):
        return None if len(s) > 4000 else Num(Fraction(int(s)))
    found = _decimal(s)
    if found:
        return found
    m = _SCI_RE.match(s)
    if m and len(m.group(2)) <= 4 and abs(int(m.group(2))) <= 400:
        base = _decimal(m.group(1))
        if base:
            scale = Fraction(10) ** int(m.group(2))
            return Num(base.value * scale, base.approx, base.digits, base.ulp * scale)
    m = re.fullmatch(r"(-?\d+)/(-?\d+)", s)
    if m and int(m.group(2)) != 0:
        return Num(Fraction(int(m.group(1)), int(m.group(2))))
    m = _FRAC_RE.match(s)
    if m and int(m.group(3)) != 0:
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return Num(-value if m.group(1) else value)
    m = _MIXED_RE.match(s)
    if m and 0 < int(m.group(3)) < int(m.group(4)):
        value = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
        return Num(-value if m.group(1) else value)
    m = _REPEAT_RE.match(s)
    if m:
        sign, whole, fixed, period = m.group(1), m.group(2) or "0", m.group(3), m.group(4) or m.group(5) or m.group(6)
        value = Fraction(int(whole + fixed), 10 ** len(fixed)) + Fraction(int(period), (10 ** len(period) - 1)
                                                                           * 10 ** len(fixed))
        return Num(-value if sign else value)
    m = _DOTS_RE.match(s)
    if m:
        sign, whole, fixed, period = m.group(1), m.group(2) or "0", m.group(3), m.group(4)
        if len(m.group(0)) >= len(fixed) + 2 * len(period):
            value = Fraction(int(whole + fixed), 10 ** len(fixed)) + Fraction(int(period), (10 ** len(period) - 1)
                                                                               * 10 ** len(fixed))
            return Num(-value if sign else value)
    return None


def _terminates(value: Fraction) -> bool:
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def rounds_to(decimal: Fraction, ulp: Fraction, value) -> bool:
    """Whether ``decimal`` (last place ``ulp``) is ``value`` rounded or cut at that place."""
    diff = value - decimal
    return abs(diff) * 2 <= ulp or (0 <= diff * (1 if decimal >= 0 else -1) < ulp)


def numbers_equal(a: Num, b: Num) -> bool:
    """Exact, except where a decimal stands for a value it cannot equal exactly.

    A decimal of at least 4 significant digits against a value with no finite decimal expansion
    (1/3) is right when it is that value rounded or cut at its last digit (0.3333, 0.3334; not
    0.333); float output (10 or more digits) is right within a relative 1e-9 (2.9999999999999996).
    """
    if a.value == b.value:
        return True
    for x, y in ((a, b), (b, a)):
        if not x.approx:
            continue
        if x.digits >= FLOAT_NOISE_DIGITS and abs(x.value - y.value) <= FLOAT_REL_TOL * abs(y.value):
            return True
        if x.digits >= MIN_APPROX_DIGITS and not _terminates(y.value) and rounds_to(x.value, x.ulp, y.value):
            return True
    return False


# -- comparison ---------------------------------------------------------------------------
def _is_text(s: str) -> bool:
    return bool(re.fullmatch(r"[a-z][a-z' ]+", s))


_BASE_N_RE = re.compile(r"[0-9A-Za-z]+_\d+")
_CHOICE_RE = re.compile(r"^\(?([A-Ea-e])\)?(?:[.:)]|$)")


def _choice(s: str) -> str | None:
    m = _CHOICE_RE.match(s)
    return m.group(1).upper() if m else None


def _assignment_values(group: str) -> str | None:
    """``p=5,q=2`` -> ``(5,2)`` when every item assigns a different name."""
    items = split_top(group)
    pairs = [split_top(item, "=") for item in items]
    if len(items) < 2 or any(len(p) != 2 or not is_label(p[0]) for p in pairs):
        return None
    if len({p[0] for p in pairs}) != len(pairs):
        return None
    return "(" + ",".join(p[1] for p in pairs) + ")"


def equal_normalised(a: str, b: str, timeout: float) -> bool:
    """Equality of two normalised answers (raises :class:`GraderTimeout` when a symbolic step runs out)."""
    return _equal(a, b, timeout, 0) is True


def _equal(a: str, b: str, timeout: float, depth: int) -> bool | None:
    """True, False, or None when neither parser understands one side."""
    if a == b:
        return True
    if not a or not b or depth > 8:
        return False
    ra, rb = readings(a), readings(b)
    if ra == [a] and rb == [b]:
        return _equal_single(a, b, timeout, depth)
    unknown = timed_out = False
    pairs = [(x, y) for x in ra[1:] + ra[:1] for y in rb[1:] + rb[:1]]  # the reduced readings first
    for x, y in pairs:
        try:
            verdict = _equal_single(x, y, timeout, depth) if (x, y) == (a, b) else _equal(x, y, timeout, depth + 1)
        except GraderTimeout:
            timed_out = True
            continue
        if verdict:
            return True
        unknown |= verdict is None
    if timed_out:
        raise GraderTimeout()
    return None if unknown else False


_HHMM_RE = re.compile(r"^\d{1,2}:\d{2}$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(am|pm|a\.m\.?|p\.m\.?)?$", re.I)


def _time_of_day(s: str) -> int | None:
    """Seconds after midnight of ``20:34``, ``20:34:00``, ``08:34pm`` (None for anything else)."""
    m = _TIME_RE.match(s)
    if not m or not (m.group(3) or m.group(4)):
        return None
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if m.group(4):
        hours = hours % 12 + (12 if m.group(4).lower().startswith("p") else 0)
    return hours * 3600 + minutes * 60 + seconds


def _equal_single(a: str, b: str, timeout: float, depth: int) -> bool | None:
    if a == b:
        return True
    if _HHMM_RE.match(a) and _HHMM_RE.match(b):
        return False  # two clock readings (or ratios) that differ as written
    ta, tb = _time_of_day(a), _time_of_day(b)
    if ta is not None or tb is not None:
        ta = ta if ta is not None else _time_of_day(a + ":00")
        tb = tb if tb is not None else _time_of_day(b + ":00")
        if ta is not None and tb is not None:
            return ta == tb
    ca, cb = _choice(a), _choice(b)
    if ca and cb and (len(a) <= 3 or len(b) <= 3):
        return ca == cb
    if _BASE_N_RE.fullmatch(a) or _BASE_N_RE.fullmatch(b):
        return False  # base-n numerals compare as written (52_8 is not 42)
    if _is_text(a) or _is_text(b):
        return a.replace(" ", "") == b.replace(" ", "")
    sa, sb = structure(a), structure(b)
    if sa[0] != "scalar" or sb[0] != "scalar":
        verdict = _structures_equal(sa, sb, timeout, depth)
        if verdict is not None:
            return verdict
    else:
        na, nb = parse_number(a), parse_number(b)
        if na is not None and nb is not None:
            return numbers_equal(na, nb)
    return deadline.call("equal", a, b, timeout=timeout)


def _structures_equal(sa, sb, timeout: float, depth: int) -> bool | None:
    """Equality of two structured answers; None to let the symbolic step decide (interval against
    inequality, a union against a set difference, a matrix with a factor outside...)."""
    (ka, ba, ia), (kb, bb, ib) = sa, sb
    kinds = {ka, kb}

    def eq(x, y):
        return _equal(normalize(x), normalize(y), timeout, depth + 1)

    if "groups" in kinds:
        ga = [_assignment_values(g) or g for g in ia] if ka == "groups" else ia
        gb = [_assignment_values(g) or g for g in ib] if kb == "groups" else ib
        return _unordered(ga, gb, eq)
    if ka == "scalar" and kb in ("list", "set") and len(ib) == 1:
        return eq(ia[0], ib[0])
    if kb == "scalar" and ka in ("list", "set") and len(ia) == 1:
        return eq(ia[0], ib[0])
    if "scalar" in kinds:
        scalar, other = (sa, sb) if ka == "scalar" else (sb, sa)
        if other[0] == "list" and len(other[2]) == 2 and parse_number(scalar[2][0]) is not None:
            joined = ".".join(other[2])  # a decimal comma: 1,22 is 1.22
            if re.fullmatch(r"-?\d+\.(?:\d{1,2}|\d{4,})|-?0\.\d+", joined):
                return eq(joined, scalar[2][0])
        if other[0] == "list" and len(other[2]) > 1:
            assigned = _assignment_values(",".join(other[2]))
            if assigned:
                return None
            return False
        return None
    if kinds == {"matrix"}:
        if ba != bb or len(ia) != len(ib):
            return False
        return _all(ia, ib, eq)
    if "matrix" in kinds:
        mat, other = (sa, sb) if ka == "matrix" else (sb, sa)
        if mat[1] == "vector" and other[0] == "tuple" and other[1] in ("()", "[]") and len(mat[2]) == len(other[2]):
            return _all(mat[2], other[2], eq)
        return None
    if kinds == {"tuple"}:
        if len(ia) != len(ib):
            return False
        verdict = _all(ia, ib, eq)
        if ba != bb:  # [a, b] against (a, b): the same ends, open against closed
            return False if verdict is not False else None
        return verdict
    if kinds <= {"list", "set"} or kinds == {"union"}:
        if len(ia) != len(ib):
            fa, fb = [_assignment_values(x) for x in (",".join(ia), ",".join(ib))]
            if fa or fb:
                return eq(fa or ",".join(ia), fb or ",".join(ib))
            if kinds == {"union"}:
                return None
        return _unordered(ia, ib, eq)
    if kinds == {"tuple", "list"}:  # "1, 2" written as "(1, 2)"
        ta, tb = (ia, ib)
        if len(ta) != len(tb):
            return False
        return _all(ta, tb, eq)
    if kinds == {"tuple", "set"}:  # (1,3) against {1,3}: in the order written, as Math-Verify reads it
        tup, st = (sa, sb) if ka == "tuple" else (sb, sa)
        if tup[1] == "()" and len(tup[2]) == len(st[2]):
            return True if _all(tup[2], st[2], eq) else None
        return None
    return None


def _all(ia, ib, eq) -> bool | None:
    unknown = False
    for x, y in zip(ia, ib):
        verdict = eq(x, y)
        if verdict is False:
            return False
        unknown |= verdict is None
    return None if unknown else True


def _unordered(ia, ib, eq) -> bool | None:
    """Equal as sets of solutions: every item of each side equals an item of the other (repeats count once)."""
    matched_b = set()
    for x in ia:
        hit = next((j for j, y in enumerate(ib) if eq(x, y)), None)
        if hit is None:
            return False
        matched_b.add(hit)
    return all(j in matched_b or any(eq(x, y) for x in ia) for j, y in enumerate(ib))


def math_equal(a: str, b: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when two bare answers are mathematically equal (False on a timeout)."""
    if a is None or b is None:
        return False
    try:
        return equal_normalised(normalize(a), normalize(b), timeout)
    except (GraderTimeout, deadline.WorkerError):
        return False
