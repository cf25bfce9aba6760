"""The grader's symbolic steps: parse an answer into sympy and compare two parsed answers.

Runs inside the grading worker (:mod:`evaluation.deadline`), never in the caller, because sympy
and LaTeX parsing can take unbounded time. Parsing: Python-style answers (``sqrt(2)/2``,
``2**10``) through sympy's parser; LaTeX through math_verify's parser (latex2sympy2_extended with
its normalisation: matrices in any environment, sets, intervals, inequalities, ``\\pm``), then
latex2sympy2 as a last resort.

Comparison keeps exact arithmetic exact:

- two exact expressions (no decimal in either): rationals exactly, others computed to 100 digits
  beyond their magnitude must agree to 80 of them, else ``simplify(a - b) == 0`` (``2^{64}`` is not
  18446744073709551617, ``\\sqrt{10^{40}+1}`` is not ``10^{20}``, ``1/2004!`` is not ``1/2006!``:
  a float comparison accepts all three);
- decimals of fewer than 4 significant digits are read as exact fractions (0.5 is 1/2); longer ones
  are approximations, good to a unit in their last place (relative to their value; the least
  precise one counts), computed at high precision (no float underflow or overflow);
- sets, intervals, inequalities and ``x \\in S`` in one variable compare as sets of reals;
  matrices elementwise (a one-row or one-column matrix also against a tuple); tuples in order;
  equations up to a non-zero factor.
"""

from __future__ import annotations

import random
import re

import sympy
from sympy.core.relational import Relational

MIN_APPROX_DIGITS = 4
_DECIMAL_RE = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")
MAX_DIGITS = 20_000


def _python_style(s: str) -> bool:
    return bool(re.search(r"\*\*|sqrt\(|\bpi\b|[a-z]{2,}\(", s)) and "\\" not in s


def _parse_python(s: str):
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    return parse_expr(s.replace("^", "**"), evaluate=True,
                      transformations=standard_transformations + (implicit_multiplication_application, convert_xor))


def _parse_latex(s: str):
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import parse
    from math_verify.parser import LatexExtractionConfig

    # units are the normaliser's business (math_verify would read 10m as 10)
    config = LatexExtractionConfig(boxed_match_priority=0, normalization_config=NormalizationConfig(
        basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all", equations=False))
    found = parse(f"${s}$", extraction_config=[config], parsing_timeout=None)
    if found:
        return found[0]
    from latex2sympy2 import latex2sympy as latex2sympy_original

    return latex2sympy_original(s)


def to_sympy(s: str):
    """A sympy object for a normalised answer, or None when no parser understands it."""
    s = re.sub(r"(?<![a-zA-Z\\])i\(", "i*(", s)  # i(2-i): the imaginary unit times, not a function i
    expr = None
    for parser in ((_parse_python, _parse_latex) if _python_style(s) else (_parse_latex, _parse_python)):
        try:
            expr = parser(s)
        except Exception:  # noqa: BLE001 - try the next parser
            expr = None
        if expr is not None and not isinstance(expr, str):
            break
        expr = None
    if expr is None:
        return None
    try:
        unit = [v for v in getattr(expr, "free_symbols", ()) if getattr(v, "name", "") == "i"]
        if unit:
            expr = expr.subs(unit[0], sympy.I)
    except Exception:  # noqa: BLE001
        pass
    if isinstance(expr, sympy.MatrixExpr):
        expr = expr.as_explicit()
    if isinstance(expr, sympy.Basic) and expr.has(sympy.zoo, sympy.nan):
        return None  # 1:00 read as 1/0: not a value
    return expr


# -- numbers and expressions ---------------------------------------------------------------
def _points(symbols: list, n: int = 4, integers: bool = False):
    rng = random.Random(0)
    if integers:  # sums and factorials with symbolic bounds: whole numbers only
        return [{v: sympy.Integer(rng.randint(2, 9)) for v in symbols} for _ in range(n)]
    return [{v: sympy.Rational(rng.randint(2, 97), rng.randint(3, 29)) for v in symbols} for _ in range(n)]


def _close(x, y, tol) -> bool | None:
    """Whether two constant expressions agree; None when a value is not a finite number.

    With ``tol`` None (exact expressions) the values are computed to 100 digits beyond their
    magnitude and must agree to 80 of them, so 3^100 and 3^100 + 1 differ; otherwise within
    the relative ``tol``.
    """
    x, y = sympy.sympify(x), sympy.sympify(y)
    if x.is_Rational and y.is_Rational:
        return bool(x == y) if tol is None else bool(abs(x - y) <= sympy.Rational(str(tol)) * max(abs(x), abs(y)))
    vx, vy = sympy.N(x, 30), sympy.N(y, 30)
    if not (vx.is_number and vy.is_number) or vx.has(sympy.zoo, sympy.nan) or vy.has(sympy.zoo, sympy.nan):
        return None
    if vx.has(sympy.oo, -sympy.oo) or vy.has(sympy.oo, -sympy.oo):
        return bool(vx == vy)
    scale = max(abs(vx), abs(vy))
    if scale == 0:
        return True
    if tol is None:
        magnitude = abs(int(sympy.log(scale, 10).evalf(15))) if scale != 0 else 0
        digits = 100 + magnitude
        if digits > MAX_DIGITS:
            return None
        vx, vy = sympy.N(x, digits), sympy.N(y, digits)
        return bool(abs(vx - vy) <= sympy.Float(10, digits) ** (-(digits - 20)) * scale)
    return bool(abs(vx - vy) <= tol * scale)


def _significant(whole: str, frac: str) -> int:
    return len((whole + frac).lstrip("0"))


def exact_decimals(s: str) -> tuple[str, sympy.Float | None]:
    """Short decimals of ``s`` written as fractions, and the relative tolerance its long decimals allow
    (a unit in the last place of the least precise one, relative to its value)."""
    tols = []

    def exact(m):
        whole, frac = m.group(1), m.group(2)
        if _significant(whole, frac) >= MIN_APPROX_DIGITS:
            tols.append(sympy.Float(10) ** -len(frac) / sympy.Float(m.group(0)))
            return m.group(0)
        num, den = int(whole + frac), 10 ** len(frac)
        return f"({num}/{den})" if _python_style(s) else f"\\frac{{{num}}}{{{den}}}"

    out = _DECIMAL_RE.sub(exact, s)
    return out, (max(max(tols), sympy.Float("1e-12")) if tols else None)


_DECIMAL_ONLY_RE = re.compile(r"-?\d+\.\d+")


def _decimal_matches(text: str, value) -> bool:
    """A written decimal against a constant: equal, or (4+ significant digits) the constant rounded
    or cut at the decimal's last place."""
    from fractions import Fraction

    from evaluation.equivalence import rounds_to

    decimal = Fraction(text)
    places = len(text.split(".")[1])
    v = sympy.N(value, 50 + abs(int(sympy.log(abs(value) + 1, 10).evalf(15))))
    if not v.is_real:
        return False
    exact = Fraction(str(v))
    if exact == decimal:
        return True
    if _significant(*text.lstrip("-").split(".")) < MIN_APPROX_DIGITS:
        return False
    return rounds_to(decimal, Fraction(1, 10 ** places), exact)


_TOLERANCE: list = [None]  # the tolerance of the comparison in progress (the worker runs one at a time)


def expr_equal(x, y, tol=None) -> bool:
    """Equality of two scalar expressions, exact unless a decimal is involved.

    Decided numerically first (at a few rational points when there are unknowns): rationals
    exactly, other exact expressions to 80 digits beyond their magnitude, a decimal within 1e-6.
    Where a value cannot be evaluated, ``simplify(x - y) == 0`` decides.
    """
    if x == y:
        return True
    tol = tol if tol is not None else _TOLERANCE[0]
    if tol is None and (x.has(sympy.Float) or y.has(sympy.Float)):
        tol = sympy.Float("1e-6")
    symbols = sorted(x.free_symbols | y.free_symbols, key=str)
    decided = True
    discrete = any(e.has(sympy.Sum, sympy.Product, sympy.factorial, sympy.binomial) for e in (x, y))
    for point in (_points(symbols, integers=discrete) if symbols else [{}]):
        try:
            ok = _close(x.subs(point), y.subs(point), tol)
        except Exception:  # noqa: BLE001
            ok = None
        if ok is False:
            return False
        if ok is None:
            decided = False
    if decided:
        return True
    try:
        return bool(sympy.simplify(x - y) == 0)
    except Exception:  # noqa: BLE001
        return False


# -- sets, intervals, inequalities ------------------------------------------------------------
def as_real_set(obj):
    """``obj`` as a sympy set of reals, when it is one (a set, interval, union, an inequality or a
    union of inequalities in one variable, ``x \\in S``); None otherwise."""
    if isinstance(obj, sympy.Set) and not isinstance(obj, sympy.FiniteSet):
        return obj
    if isinstance(obj, sympy.FiniteSet):
        if all(isinstance(e, (Relational, sympy.And, sympy.Or)) for e in obj):
            parts = [as_real_set(e) for e in obj]
            return None if any(p is None for p in parts) else sympy.Union(*parts)
        return obj if all(getattr(e, "is_number", False) for e in obj) else None
    if isinstance(obj, sympy.Eq) and isinstance(obj.rhs, sympy.Set) and obj.lhs.is_Symbol:
        return obj.rhs
    if isinstance(obj, (Relational, sympy.And, sympy.Or)) and not isinstance(obj, sympy.Eq):
        free = obj.free_symbols
        if len(free) == 1:
            try:
                return obj.as_set()
            except Exception:  # noqa: BLE001
                return None
    return None


def sets_equal(x, y) -> bool:
    """Equality of two sets of reals."""
    if x == y:
        return True
    try:
        diff = sympy.Union(sympy.Complement(x, y), sympy.Complement(y, x))
        return diff is sympy.S.EmptySet or bool(sympy.simplify(diff) is sympy.S.EmptySet)
    except Exception:  # noqa: BLE001
        return False


def _as_vector(obj):
    if isinstance(obj, sympy.MatrixBase) and 1 in obj.shape:
        return list(obj)
    if isinstance(obj, (sympy.Tuple, tuple)):
        return list(obj)
    return None


def objects_equal(x, y) -> bool:
    """Equality of two parsed answers."""
    if isinstance(x, sympy.MatrixBase) or isinstance(y, sympy.MatrixBase):
        if isinstance(x, sympy.MatrixBase) and isinstance(y, sympy.MatrixBase) and x.shape == y.shape:
            return all(expr_equal(p, q) for p, q in zip(x, y))
        vx, vy = _as_vector(x), _as_vector(y)
        return vx is not None and vy is not None and len(vx) == len(vy) and all(
            expr_equal(sympy.sympify(p), sympy.sympify(q)) for p, q in zip(vx, vy))
    sx, sy = as_real_set(x), as_real_set(y)
    if sx is not None and sy is not None:
        return sets_equal(sx, sy)
    if sx is not None or sy is not None:
        return False
    if isinstance(x, Relational) or isinstance(y, Relational):
        return _relations_equal(x, y)
    if isinstance(x, (sympy.Tuple, tuple)) or isinstance(y, (sympy.Tuple, tuple)):
        return (isinstance(x, (sympy.Tuple, tuple)) and isinstance(y, (sympy.Tuple, tuple)) and len(x) == len(y)
                and all(objects_equal(sympy.sympify(p), sympy.sympify(q)) for p, q in zip(x, y)))
    if isinstance(x, sympy.FiniteSet) and isinstance(y, sympy.FiniteSet):
        if len(x) != len(y):
            return False
        rest = list(y)
        for p in x:
            match = next((j for j, q in enumerate(rest) if objects_equal(p, q)), None)
            if match is None:
                return False
            rest.pop(match)
        return True
    if isinstance(x, sympy.Expr) and isinstance(y, sympy.Expr):
        return expr_equal(x, y)
    return x == y


def _relations_equal(x, y) -> bool:
    """Equations: the sides' differences agree up to a non-zero factor; inequalities: the same
    direction (``a < b`` read as ``b > a``) and differences agreeing up to a positive factor."""
    if not (isinstance(x, Relational) and isinstance(y, Relational)):
        return False
    fx = x.reversed if x.rel_op in ("<", "<=") else x
    fy = y.reversed if y.rel_op in ("<", "<=") else y
    if fx.rel_op != fy.rel_op:
        return False
    dx, dy = fx.lhs - fx.rhs, fy.lhs - fy.rhs
    symmetric = fx.rel_op in ("==", "!=")
    if expr_equal(dx, dy) or (symmetric and expr_equal(dx, -dy)):
        return True
    if dx.free_symbols != dy.free_symbols or not dx.free_symbols:
        return False
    ratio = sympy.simplify(dx / dy)
    if not (ratio.is_number and ratio.is_finite and ratio != 0):
        return False
    return bool(symmetric or ratio.is_positive)


def equal(a: str, b: str) -> bool | None:
    """Symbolic equality of two normalised answers; None when one of them cannot be parsed."""
    raw_a, raw_b = a, b
    (a, tol_a), (b, tol_b) = exact_decimals(a), exact_decimals(b)
    tols = [t for t in (tol_a, tol_b) if t is not None]
    _TOLERANCE[0] = max(tols) if tols else None
    x, y = to_sympy(a), to_sympy(b)
    if x is None or y is None:
        return None
    try:
        for text, value in ((raw_a, y), (raw_b, x)):
            if _DECIMAL_ONLY_RE.fullmatch(text) and isinstance(value, sympy.Expr) and value.is_number:
                return _decimal_matches(text, value)
        return bool(objects_equal(x, y))
    except Exception:  # noqa: BLE001 - a comparison sympy cannot make is not an equality
        return False


def extract(text: str) -> str | None:
    """math_verify's reading of the final answer in free text (LaTeX first, then plain expressions)."""
    from math_verify import parse
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    found = parse(text, extraction_config=(LatexExtractionConfig(), ExprExtractionConfig()), parsing_timeout=None)
    return str(found[-1]) if found else None


def warm_up() -> None:
    """Build the parsers and sympy's caches once (the first comparison otherwise takes ~150 ms)."""
    for a, b in (("x^2+2x+1", "(x+1)^2"), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"), ("(1,2]", "x>1"),
                 ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)"), ("3.1416", "\\pi")):
        equal(a, b)
    extract("So the answer is $x = 2$.")


def deepscaler_sympy(given: str, truth: str) -> bool:
    """The DeepScaleR grader's sympy rule (:func:`evaluation.deepscaler_grading.grade_sympy`)."""
    from evaluation.deepscaler_grading import grade_sympy

    return grade_sympy(given, truth)


FUNCTIONS = {"equal": equal, "extract": extract, "deepscaler_sympy": deepscaler_sympy, "ping": lambda: True}
