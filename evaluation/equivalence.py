"""Decide whether two bare answers are mathematically equal.

Steps, cheapest first: equal after normalisation; text answers (case/space-insensitive);
structures (tuples ordered, sets and comma lists of solutions unordered, intervals with their
open/closed ends, unions, matrices, ``a \\pm b``); numbers (integers exactly, decimals with a
relative tolerance of 1e-6, so 27648 != 27649 and 0.25 != 25); equations (same solution
set: sides' difference equal up to a non-zero factor) and inequalities; symbolic through
sympy (``simplify(a - b) == 0``, else agreement at random points). Every sympy step runs
under a time limit, so no answer can hang the grader.
"""

from __future__ import annotations

import cmath
import contextlib
import random
import re
import signal
import threading
from fractions import Fraction
from functools import lru_cache

from evaluation.normalize import normalize, strip_lhs

REL_TOL = 1e-6
DEFAULT_TIMEOUT = 5.0


class GraderTimeout(Exception):
    """A comparison step ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`GraderTimeout` after ``seconds`` (SIGALRM; only in the main thread)."""
    if seconds is None or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise GraderTimeout()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- structure ----------------------------------------------------------------------------
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def split_top(s: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets and braces."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        if s.startswith("\\{", i) or s.startswith("\\}", i):
            depth += 1 if s[i + 1] == "{" else -1
            cur.append(s[i:i + 2])
            i += 2
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
    return [p for p in parts]


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


def structure(s: str) -> tuple[str, str, list[str]]:
    """(kind, brackets, items) of a normalised answer; kind is scalar, tuple, set, list, union, matrix."""
    m = re.fullmatch(r"\\begin\{[pbvB]?matrix\}(.*)\\end\{[pbvB]?matrix\}", s)
    if m:
        rows = [r for r in m.group(1).split("\\\\") if r != ""]
        return "matrix", "", [";".join(r.split("&")) for r in rows] if len(rows) > 1 or "&" in m.group(1) else rows
    if len(split_top(s, "\\cup")) > 1:
        return "union", "", split_top(s, "\\cup")
    if s.startswith("\\{") and s.endswith("\\}"):
        return "set", "{}", split_top(s[2:-2])
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _closes_at_end(s):
        inner = split_top(s[1:-1])
        if len(inner) > 1:
            return "tuple", s[0] + s[-1], inner
    items = split_top(s)
    if len(items) > 1:
        return "list", "", items
    if "\\pm" in s and s.count("\\pm") == 1:
        a, b = s.split("\\pm")
        return "list", "", [f"{a}+{b}" if a else b, f"{a}-{b}" if a else f"-{b}"]
    return "scalar", "", [s]


# -- numbers ------------------------------------------------------------------------------
_FRAC_RE = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$")


def parse_number(s: str) -> Fraction | float | None:
    """A plain number (integer, decimal, a/b, \\frac{a}{b}, scientific), else None."""
    if re.fullmatch(r"-?\d+", s):
        return Fraction(int(s))
    if re.fullmatch(r"-?\d+\.\d+|-?\d+\.", s):
        return Fraction(s.rstrip("."))
    if re.fullmatch(r"-?\d+(?:\.\d+)?e[-+]?\d+", s, re.I):
        return float(s)
    m = re.fullmatch(r"(-?\d+)/(\d+)", s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    m = _FRAC_RE.match(s)
    if m and int(m.group(3)) != 0:
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) else value
    return None


def numbers_equal(a: Fraction | float, b: Fraction | float) -> bool:
    """Exact for two rationals given exactly; relative tolerance when a decimal is involved."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        if a.denominator == 1 and b.denominator == 1:
            return a == b
        if a == b:
            return True
    fa, fb = float(a), float(b)
    return abs(fa - fb) <= REL_TOL * max(abs(fa), abs(fb), 1e-12)


# -- sympy --------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def to_sympy(s: str):
    """A sympy object for a normalised answer (LaTeX or Python style), or None."""
    import sympy

    expr = None
    python_style = bool(re.search(r"\*\*|sqrt\(|\bpi\b|[a-z]+\(", s)) and "\\" not in s
    if not python_style:
        try:
            from latex2sympy2_extended import latex2sympy

            expr = latex2sympy(s)
        except Exception:  # noqa: BLE001 - try the other parsers
            expr = None
        if expr is None:
            try:
                from latex2sympy2 import latex2sympy as latex2sympy_original

                expr = latex2sympy_original(s)
            except Exception:  # noqa: BLE001
                expr = None
    if expr is None:
        try:
            from sympy.parsing.sympy_parser import (
                convert_xor,
                implicit_multiplication_application,
                parse_expr,
                standard_transformations,
            )

            text = s.replace("\\pi", "pi").replace("^", "**")
            expr = parse_expr(text, transformations=standard_transformations
                              + (implicit_multiplication_application, convert_xor), evaluate=True)
        except Exception:  # noqa: BLE001
            return None
    i_sym = sympy.Symbol("i")
    try:
        if getattr(expr, "free_symbols", None) and i_sym in expr.free_symbols:
            expr = expr.subs(i_sym, sympy.I)
    except Exception:  # noqa: BLE001
        pass
    return expr


def _values_equal(x, y) -> bool:
    """Numeric agreement of two sympy expressions (random points for free symbols)."""
    import sympy

    symbols = sorted(x.free_symbols | y.free_symbols, key=str)
    rng = random.Random(0)
    trials = [{}] if not symbols else [{v: sympy.Rational(rng.randint(2, 97), rng.randint(3, 29)) for v in symbols}
                                       for _ in range(4)]
    for point in trials:
        vx, vy = complex(sympy.N(x.subs(point), 30)), complex(sympy.N(y.subs(point), 30))
        if not all(map(cmath.isfinite, (vx, vy))) or abs(vx - vy) > REL_TOL * max(abs(vx), abs(vy), 1e-12):
            return False
    return True


def _expr_equal(x, y) -> bool:
    import sympy

    if x == y:
        return True
    try:
        if sympy.simplify(x - y) == 0:
            return True
    except Exception:  # noqa: BLE001
        pass
    try:
        return _values_equal(x, y)
    except Exception:  # noqa: BLE001
        return False


def sympy_equal(a: str, b: str) -> bool:
    """Symbolic equality of two normalised answers."""
    import sympy
    from sympy.core.relational import Relational

    x, y = to_sympy(a), to_sympy(b)
    if x is None or y is None:
        return False
    if isinstance(x, sympy.MatrixBase) or isinstance(y, sympy.MatrixBase):
        if not (isinstance(x, sympy.MatrixBase) and isinstance(y, sympy.MatrixBase)) or x.shape != y.shape:
            return False
        return all(_expr_equal(p, q) for p, q in zip(x, y))
    if isinstance(x, sympy.Set) or isinstance(y, sympy.Set):
        return isinstance(x, sympy.Set) and isinstance(y, sympy.Set) and x == y
    if isinstance(x, Relational) or isinstance(y, Relational):
        if not (isinstance(x, Relational) and isinstance(y, Relational)):
            return False
        if isinstance(x, sympy.Eq) and isinstance(y, sympy.Eq):
            dx, dy = x.lhs - x.rhs, y.lhs - y.rhs
            if _expr_equal(dx, dy) or _expr_equal(dx, -dy):
                return True
            ratio = sympy.simplify(dx / dy)
            return ratio.is_number and ratio != 0
        fx, fy = x.reversed if x.rel_op in ("<", "<=") else x, y.reversed if y.rel_op in ("<", "<=") else y
        return fx.rel_op == fy.rel_op and _expr_equal(fx.lhs - fx.rhs, fy.lhs - fy.rhs)
    if not isinstance(x, sympy.Expr) or not isinstance(y, sympy.Expr):
        return x == y
    return _expr_equal(x, y)


# -- entry point --------------------------------------------------------------------------
def _is_text(s: str) -> bool:
    return bool(re.fullmatch(r"[a-z][a-z ]+", s))


_BASE_N_RE = re.compile(r"[0-9A-Za-z]+_\d+")


def _equal_normalised(a: str, b: str, timeout: float) -> bool:
    if a == b:
        return True
    if not a or not b:
        return False
    if ("=" in a) != ("=" in b):  # "x = 5" vs "5": compare the right-hand side
        a, b = strip_lhs(a), strip_lhs(b)
        if a == b:
            return True
    if _BASE_N_RE.fullmatch(a) or _BASE_N_RE.fullmatch(b):
        return False  # base-n numerals compare as written (52_8 is not 42)
    if _is_text(a) or _is_text(b):
        return a.replace(" ", "") == b.replace(" ", "")
    ka, ba, ia = structure(a)
    kb, bb, ib = structure(b)
    if ka != "scalar" or kb != "scalar":
        return _structures_equal((ka, ba, ia), (kb, bb, ib), timeout)
    na, nb = parse_number(a), parse_number(b)
    if na is not None and nb is not None:
        return numbers_equal(na, nb)
    try:
        with time_limit(timeout):
            return sympy_equal(a, b)
    except GraderTimeout:
        raise
    except Exception:  # noqa: BLE001 - unparsable answers are simply not equal
        return False


def _structures_equal(sa, sb, timeout: float) -> bool:
    (ka, ba, ia), (kb, bb, ib) = sa, sb
    ia, ib = [normalize(x) for x in ia], [normalize(y) for y in ib]
    one_a = ka == "scalar" and kb in ("list", "set") and len(ib) == 1
    if one_a or kb == "scalar" and ka in ("list", "set") and len(ia) == 1:
        return _equal_normalised(ia[0], ib[0], timeout)
    if len(ia) != len(ib):
        return False
    kinds = {ka, kb}
    if kinds == {"tuple"}:
        if ba != bb:
            return False  # (a, b) vs [a, b]: open and closed ends differ
        return all(_equal_normalised(x, y, timeout) for x, y in zip(ia, ib))
    if kinds == {"matrix"}:
        return all(_equal_normalised(x, y, timeout) for x, y in zip(ia, ib))
    if kinds <= {"list", "set"} or kinds == {"union"}:
        return _unordered_equal(ia, ib, timeout)
    if kinds == {"tuple", "list"}:  # "1, 2" written as "(1, 2)"
        return all(_equal_normalised(x, y, timeout) for x, y in zip(ia, ib))
    return False


def _unordered_equal(ia: list[str], ib: list[str], timeout: float) -> bool:
    remaining = list(ib)
    for x in ia:
        for j, y in enumerate(remaining):
            if _equal_normalised(x, y, timeout):
                del remaining[j]
                break
        else:
            return False
    return True


def math_equal(a: str, b: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when two bare answers are mathematically equal (False on a timeout)."""
    if a is None or b is None:
        return False
    try:
        return _equal_normalised(normalize(a), normalize(b), timeout)
    except GraderTimeout:
        return False
