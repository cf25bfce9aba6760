"""Grader cases: (prediction, reference, expected), hand-written and generated from gold answers.

Used by tests/test_grader.py and bench/grader_bench.py (this grader vs math_verify).
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

# Bare answers: (prediction, reference, expected).
HANDWRITTEN: list[tuple[str, str, bool]] = [
    # integers and decimals
    ("27648", "27649", False), ("27648", "27648", True), ("0.25", "25", False), ("25", "0.25", False),
    ("1/4", "0.25", True), ("\\frac{1}{4}", ".25", True), ("0.5", "\\frac12", True), ("3.0", "3", True),
    ("3.00", "3", True), ("-7", "-7.0", True), ("-7", "7", False), ("1e3", "1000", True),
    ("0.3333333333", "\\frac{1}{3}", True), ("0.333", "\\frac{1}{3}", False), ("0.1", "0.10", True),
    ("100", "1000", False), ("2", "02", True), ("025", "25", True), ("36.0", "36", True),
    ("3.1416", "\\pi", True), ("3.14", "\\pi", False), ("3.1415", "\\pi", True), ("3.1417", "\\pi", False), ("1.25", "\\frac{5}{4}", True), (".0000672", "6.72 \\times 10^{-5}", True),
    # thousands separators and spacing
    ("1,000", "1000", True), ("10,080", "10080", True), ("8\\,000", "8000", True), ("10,\\!080", "10080", True),
    ("11,111,111,100", "11111111100", True), ("1,000,000", "10^6", True), ("2500,7500", "2500, 7500", True),
    # fractions and LaTeX variants
    ("\\dfrac{3}{2}", "\\frac{3}{2}", True), ("\\tfrac{3}{2}", "1.5", True), ("\\frac{3}{2}", "\\frac{2}{3}", False),
    ("\\frac43", "\\frac{4}{3}", True), ("\\left(\\frac{1}{2}\\right)", "\\frac{1}{2}", True),
    ("\\frac{-1}{2}", "-\\frac{1}{2}", True), ("-\\frac{1}{2}", "\\frac{1}{2}", False),
    ("\\frac{270}{7}\\text{ degrees}", "\\frac{270}7", True), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
    # radicals, pi, unicode, python style
    ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}", True), ("sqrt(2)/2", "\\frac{\\sqrt2}{2}", True),
    ("√2", "\\sqrt{2}", True), ("2√3", "2\\sqrt{3}", True), ("π", "\\pi", True), ("2π", "2\\pi", True),
    ("−5", "-5", True), ("2**10", "1024", True), ("2^{10}", "1024", True), ("pi/2", "\\frac{\\pi}{2}", True),
    ("3\\sqrt{13}", "\\sqrt{117}", True), ("3\\sqrt{13}", "\\sqrt{39}", False), ("11\\sqrt2", "11\\sqrt{2}", True),
    ("288\\pi", "288 \\pi", True), ("288\\pi", "288", False), ("\\sqrt[3]{8}", "2", True),
    ("70 \\sqrt{2}", "70\\sqrt{2}", True), ("\\sqrt{51}", "\\sqrt{50}", False),
    # units, degrees, percent, money
    ("90^\\circ", "90", True), ("90°", "90", True), ("90^{\\circ}", "90", True), ("45", "90^\\circ", False),
    ("30\\%", "30", True), ("\\$5.00", "5", True), ("5 \\text{ cm}", "5", True), ("10 meters", "10", True),
    ("12 \\text{ square units}", "12", True), ("50 dollars", "50", True), ("6 \\mbox{ inches}", "6", True),
    # variables on the left
    ("x=5", "5", True), ("x = 5", "6", False), ("k=1", "1", True), ("f(x)=2x", "2x", True),
    ("y = 2x+3", "2x+3", True), ("n = 7", "7", True),
    # complex numbers
    ("6-5i", "6 - 5i", True), ("6+5i", "6-5i", False), ("-2 + 7i", "7i - 2", True), ("1+274i", "274i+1", True),
    # polynomials and expressions
    ("2k+2", "2(k+1)", True), ("2k+2", "2k+1", False), ("x^2+2x+1", "(x+1)^2", True), ("(a+5)(b+2)", "ab+2a+5b+10", True),
    ("x^5 - x^4 + x^3 - x^2 + x - 1", "x^5-x^4+x^3-x^2+x-1", True), ("p - q", "-q+p", True), ("p - q", "q - p", False),
    ("\\cot x", "\\frac{\\cos x}{\\sin x}", True), ("\\binom{6}{2}", "15", True), ("\\frac{n(n+1)}{2}", "\\frac{n^2+n}{2}", True),
    ("n^{2}+1", "n^2 + 1", True), ("2^{k}", "2^k", True), ("2^{k}", "2k", False), ("\\frac{100!}{2^{50}}", "\\frac{100!}{2^{50}}", True),
    # tuples (ordered) and points
    ("(1,2)", "(2,1)", False), ("(1, 2)", "(1,2)", True), ("(6,31,-1)", "(6, 31, -1)", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", True), ("(3, \\pi/2)", "(3,\\frac{\\pi}{2})", True),
    ("(15,-29)", "(15,29)", False), ("(-2,1)", "(-2, 1)", True), ("(1,2,3)", "(1,2)", False),
    # intervals (ends matter)
    ("(3,4]", "(3,4)", False), ("(3,4]", "(3, 4]", True), ("[3,4]", "(3,4)", False), ("(2,\\infty)", "(2, \\infty)", True),
    ("x \\in (2,\\infty)", "(2,\\infty)", True), ("(-\\infty, 0) \\cup (1, \\infty)", "(1,\\infty)\\cup(-\\infty,0)", True),
    ("(-\\infty, 0] \\cup (1, \\infty)", "(-\\infty,0)\\cup(1,\\infty)", False), ("[-2, 7]", "[-2,7]", True),
    # sets and lists of solutions (unordered)
    ("\\{1,2\\}", "\\{2,1\\}", True), ("\\{1,2\\}", "\\{1,3\\}", False), ("1, -2", "-2, 1", True), ("1,-2", "1", False),
    ("3, 5, 7", "7, 5, 3", True), ("3, 5, 7", "3, 5", False), ("1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", True),
    ("\\pm 2", "2, -2", True), ("1,3,5", "1, 3, 5", True), ("-2,0,2", "0, 2, -2", True),
    ("(1,1), (3,2)", "(3,2),(1,1)", True), ("(1,1), (3,2)", "(1,1),(2,3)", False),
    ("2 \\text{ or } 3", "2, 3", True), ("x=1 \\text{ and } x=2", "1, 2", True),
    # matrices and vectors
    ("\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}", "\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\end{pmatrix}", True),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}", False),
    ("\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}", "\\begin{pmatrix} -2 \\\\ -14 \\\\ 7 \\end{pmatrix}", False),
    # equations and inequalities
    ("5x - 7y + 11z + 4 = 0", "-5x + 7y - 11z - 4 = 0", True), ("5x-7y+11z+4=0", "10x-14y+22z+8=0", True),
    ("5x-7y+11z+4=0", "5x-7y+11z-4=0", False), ("y=2x+1", "y-2x=1", True),
    ("k \\geq 2", "2 \\le k", True), ("k \\geqslant 2", "k\\ge 2", True), ("k > 2", "k \\ge 2", False), ("x<3", "3>x", True),
    # text answers
    ("\\text{Evelyn}", "Evelyn", True), ("evelyn", "\\text{Evelyn}", True), ("\\text{east}", "East", True),
    ("\\text{even}", "\\text{odd}", False), ("\\text{(C)}", "C", True), ("(C)", "C", True), ("B", "C", False),
    # base-n subscripts
    ("52_8", "52_{8}", True), ("4210_{5}", "4210_5", True), ("52_8", "42", False), ("2516_8", "2516_{8}", True),
    ("204_5", "204_6", False),
    # odd inputs
    ("", "5", False), ("\\boxed{}", "5", False), ("(((", "5", False), ("\\frac{1}{0}", "1", False),
]

# Whole responses: (response, reference, expected) with the default (strict) extraction.
RESPONSES: list[tuple[str, str, bool]] = [
    ("<think>We compute.\n```python\nprint(204)\n```\n```output\n204\n```\n", "204", False),  # cut mid-thought
    ("<think>We compute.\n```python\nprint(204)\n```\n```output\n204\n```\nSo 204.</think>\nThe answer is \\boxed{204}.", "204", True),
    ("<think>maybe \\boxed{5}</think>\nFinal: \\boxed{7}", "7", True),
    ("<think>maybe \\boxed{5}</think>\nFinal: \\boxed{7}", "5", False),
    ("Therefore the answer is $\\boxed{\\frac{1}{2}}$.", "0.5", True),
    ("So $x = \\boxed{\\dfrac{3}{4}}$.", "\\frac34", True),
    ("Thus \\boxed{2} and \\boxed{3}.", "2, 3", True),
    ("The first part is \\boxed{2}.\n\nThe second part is \\boxed{3}.", "3", True),
    ("The answer is \\fbox{12}.", "12", True),
    ("The answer is $\\boxed{\\{1, 2\\}}$", "\\{1,2\\}", True),
    ("The answer is \\boxed{(3, \\frac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("Hence the final answer is 42.", "42", True),
    ("Final Answer: $\\frac{3}{5}$", "0.6", True),
    ("```python\nprint(17)\n```\n```output\n17\n```\nI am not sure.", "17", False),
    ("The answer is \\boxed{10,080}", "10080", True),
    ("\\boxed{\\text{Evelyn}}", "Evelyn", True),
    ("The value is \\boxed{27649}.", "27648", False),
    ("We find $\\boxed{x=5}$.", "5", True),
    ("The answer: \\boxed 5", "5", True),
    ("The answer is \\boxed{\\frac{\\sqrt{21}}{5}}.", "\\frac{\\sqrt{21}}{5}", True),
    ("12", "12", True),  # a bare answer
    ("\\frac{1}{2}", "0.5", True),
]


def _int_forms(n: int) -> tuple[list[str], list[str]]:
    eq = [f"{n}.0", f"\\boxed{{{n}}}", f"${n}$"]
    if abs(n) >= 1000:
        eq.append(f"{n:,}")
    miss = [str(n + 1), str(n * 10 if n else 1), str(-n) if n else "1"]
    return eq, miss


def _frac_forms(num: int, den: int) -> tuple[list[str], list[str]]:
    value = Fraction(num, den)
    eq = [f"\\dfrac{{{num}}}{{{den}}}", f"{num}/{den}"]
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:
        eq.append(str(float(value)))
    miss = [f"\\frac{{{den}}}{{{num}}}"] if abs(num) != abs(den) else []
    miss.append(f"\\frac{{{num + 1}}}{{{den}}}")
    return eq, miss


_FIRST_INT_RE = re.compile(r"(?<![\\a-zA-Z_^{])(\d+)")


def _bump_first_integer(gold: str) -> str | None:
    """The gold with its first free-standing integer increased by one (a near miss)."""
    m = _FIRST_INT_RE.search(gold)
    return None if not m else gold[:m.start()] + str(int(m.group(1)) + 1) + gold[m.end():]


def _other_forms(gold: str) -> tuple[list[str], list[str]]:
    """Rewrites and near misses of golds that are not plain integers or fractions: tuples, intervals,
    lists, text, degrees, radicals and pi, other expressions."""
    eq, miss = [], []
    m = re.fullmatch(r"\\text\{([A-Za-z ]+)\}", gold)
    if m:
        return [m.group(1), f"\\textbf{{{m.group(1)}}}", m.group(1).upper()], [f"\\text{{{m.group(1)}x}}"]
    m = re.fullmatch(r"\((-?[\w\\{}]+), ?(-?[\w\\{}]+)\)", gold)
    if m and m.group(1) != m.group(2):
        a, b = m.groups()
        return ([f"\\left( {a}, {b} \\right)", f"(x, y) = ({a}, {b})", f"({a},{b})"],
                [f"({b}, {a})", f"[{a}, {b}]"])
    m = re.fullmatch(r"([\[(])(.+),(.+)([\])])", gold)
    if m and "\\infty" in gold:
        flipped = {"(": "[", "[": "("}.get(m.group(1))
        if m.group(2).strip().endswith("\\infty") or flipped is None:
            return [f"\\left{m.group(1)}{m.group(2)}, {m.group(3)}\\right{m.group(4)}"], []
        return [f"\\left{m.group(1)}{m.group(2)}, {m.group(3)}\\right{m.group(4)}"], [f"{flipped}{m.group(2)},{m.group(3)}{m.group(4)}"]
    parts = [p.strip() for p in gold.split(",")]
    thousands = re.fullmatch(r"\d{1,3}(?:,\d{3})+", gold)
    if len(parts) > 1 and not thousands and all(re.fullmatch(r"-?\d+", p) for p in parts) and len(set(parts)) == len(parts):
        return [", ".join(reversed(parts)), " \\text{ and } ".join(parts), f"\\{{{', '.join(parts)}\\}}"], [", ".join(parts[:-1])]
    m = re.fullmatch(r"(\d+)\^\\circ", gold)
    if m:
        return [m.group(1), f"{m.group(1)}^{{\\circ}}", f"{m.group(1)} degrees"], [str(int(m.group(1)) + 1)]
    if "\\sqrt" in gold or "\\pi" in gold:
        eq.append(gold.replace("\\frac", "\\dfrac"))
        if re.fullmatch(r"(\d*)\\sqrt\{(\d+)\}", gold):
            eq.append(gold.replace("\\sqrt{", "√").replace("}", ""))
        if re.fullmatch(r"(\d*)\\pi", gold):
            eq.append(gold.replace("\\pi", "π"))
    if eq or re.search(r"[a-z]", gold.replace("\\frac", "")):
        bumped = _bump_first_integer(gold)
        if bumped and bumped != gold:
            miss.append(bumped)
        eq.append(f"x = {gold}" if "=" not in gold and "x" not in gold else gold)
    return eq, miss


def generated(data_dir: Path, limit_per_file: int | None = None) -> list[tuple[str, str, bool]]:
    """Cases built from gold answers: equivalent rewrites (True) and near misses (False).

    Integers (decimal, boxed, thousands separators; off by one, ten times, negated), fractions
    (``\\dfrac``, ``a/b``, decimals; reciprocal, numerator + 1), and the other kinds in
    :func:`_other_forms`.
    """
    cases: list[tuple[str, str, bool]] = []
    for name in ("test_math500.reason_step.jsonl", "test_aime24.reason_step.jsonl",
                 "test_aime25.reason_step.jsonl", "test_amc23.reason_step.jsonl"):
        path = data_dir / name
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows[:limit_per_file]:
            gold = str(row["gt_answer"]).strip()
            cases.append((f"<think>Work.</think>\nThe answer is $\\boxed{{{gold}}}$.", gold, True))
            m = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", gold)
            if re.fullmatch(r"-?\d+(?:\.0+)?", gold):
                eq, miss = _int_forms(int(float(gold)))
            elif m:
                num = int(m.group(2)) * (-1 if m.group(1) else 1)
                eq, miss = _frac_forms(num, int(m.group(3)))
            else:
                eq, miss = _other_forms(gold)
            cases += [(e, gold, True) for e in eq] + [(x, gold, False) for x in miss]
    return cases


def all_cases(data_dir: Path) -> list[tuple[str, str, bool]]:
    """Every case: hand-written bare answers, whole responses, and generated ones."""
    return HANDWRITTEN + RESPONSES + generated(data_dir)

# Classes where graders disagree with people, written for this project from the kinds of misses
# reported in grader test suites and issue threads (Math-Verify issues 14, 26, 37, 41, 60, 64, 76;
# MATH's is_equiv tests; NeMo-Skills' math_equal tests) and seen in model outputs. In-sample:
# written alongside the grader. (prediction, reference, expected), compared as whole predictions.
CLASSES: list[tuple[str, str, bool]] = [
    # a label or variable name on one side only
    ("x = 3", "3", True), ("3", "x=3", True), ("(a, b) = (1, 2)", "(1,2)", True), ("(1, 2)", "(a,b)=(1,2)", True),
    ("AB = 5", "5", True), ("m\\angle ABC = 30^\\circ", "30", True), ("\\angle A = 45^{\\circ}", "45", True),
    ("f(x) = x^2 - 1", "x^2-1", True), ("P(A) = \\frac{1}{2}", "0.5", True), ("a_n = 2n+1", "2n+1", True),
    ("S_{10} = 55", "55", True), ("k = 1, 2", "1, 2", True), ("x = 1 \\text{ or } x = 2", "1, 2", True),
    ("x_1 = 2, x_2 = 3", "2, 3", True), ("y = 7", "x = 7", True), ("BC:CD = 2:3", "2:3", True),
    ("\\frac{AE}{EC} = \\frac{3}{4}", "\\frac34", True), ("n = 12", "13", False), ("x + y = 5", "5", False),
    ("2x = 6", "6", False), ("x = 3", "x = 4", False), ("a = 2, b = 3", "(2, 3)", True), ("a = 2, b = 3", "(3, 2)", False),
    ("r = 5 \\text{ cm}", "5", True), ("h(t) = -16t^2 + 64t", "-16t^2+64t", True),
    # solution sets: separators, connectives, brackets, several boxes
    ("1; 2; 3", "1, 2, 3", True), ("\\{1, 2\\}", "1 \\text{ and } 2", True), ("1 \\text{ or } 2", "\\{2, 1\\}", True),
    ("x = -1 \\text{ or } x = 4", "4, -1", True), ("(1,2) \\text{ and } (2,1)", "(2,1),(1,2)", True),
    ("\\boxed{1}, \\boxed{2}", "1, 2", True), ("\\boxed{1} \\text{ and } \\boxed{2}", "\\{1,2\\}", True),
    ("The solutions are $\\boxed{3}$ and $\\boxed{-5}$.", "-5, 3", True), ("\\boxed{2}, \\boxed{3}", "2", False),
    ("{1, 2, 3}", "\\{1,2,3\\}", True), ("1, 2, \\text{and } 3", "3, 2, 1", True), ("1, 2", "1, 2, 3", False),
    ("\\{-1, 1\\}", "\\pm 1", True), ("\\pm 1", "1", False), ("(1;2), (3;4)", "(3,4),(1,2)", True),
    ("x=2, y=3 \\text{ or } x=3, y=2", "(2,3),(3,2)", True),
    # intervals, inequalities, set differences
    ("x > 2", "(2, \\infty)", True), ("(2, \\infty)", "x>2", True), ("-1 \\le x < 3", "[-1, 3)", True),
    ("-1 < x < 3", "[-1, 3)", False), ("x \\le -1 \\text{ or } x \\ge 1", "(-\\infty,-1] \\cup [1,\\infty)", True),
    ("\\mathbb{R} \\setminus \\{0\\}", "(-\\infty,0)\\cup(0,\\infty)", True), ("x \\neq 0", "(-\\infty,0)\\cup(0,\\infty)", True),
    ("(-\\infty, \\infty)", "\\mathbb{R}", True), ("x \\geq 3", "[3, \\infty)", True), ("x \\geq 3", "(3, \\infty)", False),
    ("t \\in [0, 5]", "0 \\le t \\le 5", True), ("[0, 5]", "(0, 5)", False), ("x<-2", "(-\\infty, -2)", True),
    ("(-\\infty, 1) \\cup (1, \\infty)", "\\mathbb{R}\\setminus\\{1\\}", True), ("[2,5)", "2 \\le x \\le 5", False),
    # matrices and vectors in other environments
    ("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
    ("\\left[\\begin{array}{cc} 1 & 0 \\\\ 0 & 1 \\end{array}\\right]", "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", True),
    ("\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}", "(2, -1)", True), ("\\langle 2, -1 \\rangle", "\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}", True),
    ("\\frac{1}{2}\\begin{pmatrix} 2 \\\\ 4 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", True),
    ("2\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 6 \\end{pmatrix}", True),
    ("\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}", "\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}", False),
    ("\\begin{bmatrix} 1 & 2 \\\\ 3 & 5 \\end{bmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", False),
    ("\\mathbf{v} = \\begin{pmatrix} 0 \\\\ 1 \\end{pmatrix}", "\\begin{pmatrix}0\\\\1\\end{pmatrix}", True),
    # repeating decimals
    ("0.\\overline{3}", "\\frac13", True), ("0.\\overline{142857}", "\\frac{1}{7}", True), ("1.\\overline{6}", "\\frac53", True),
    ("0.1\\overline{6}", "\\frac{1}{6}", True), ("0.\\overline{3}", "0.33", False), ("0.\\dot{3}", "\\frac{1}{3}", True),
    ("0.333\\ldots", "\\frac13", True), ("0.\\overline{09}", "\\frac{1}{11}", True), ("0.\\overline{12}", "\\frac{4}{33}", True),
    ("0.\\overline{12}", "\\frac{12}{100}", False),
    # units and ordinals in less common LaTeX or words
    ("5\\,\\mathrm{cm}", "5", True), ("5\\ \\text{cm}^2", "5", True), ("12 \\textnormal{ inches}", "12", True),
    ("3 \\mbox{m}", "3", True), ("\\$1.50", "1.5", True), ("1.50 dollars", "1.5", True), ("50\\text{ mph}", "50", True),
    ("4^{\\text{th}}", "4", True), ("4^{th}", "4", True), ("4th", "4", True), ("21^\\text{st}", "21", True),
    ("7 \\text{ people}", "7", True), ("8 \\text{ square units}", "8", True), ("8 \\text{ units}^2", "8", True),
    ("20 \\text{ percent}", "20\\%", True), ("20 \\text{ pct}", "20", True), ("45^{\\circ}", "\\frac{\\pi}{4}", False),
    ("6 \\text{ hours}", "7", False), ("3 \\text{rd}", "3", True), ("15\\text{ yuan}", "15", True),
    # unicode math
    ("√3/2", "\\frac{\\sqrt{3}}{2}", True), ("2√2", "2\\sqrt{2}", True), ("π/4", "\\frac{\\pi}{4}", True),
    ("x² + 1", "x^2+1", True), ("−3", "-3", True), ("½", "0.5", True), ("(−∞, 2]", "(-\\infty, 2]", True),
    ("x ≤ 2", "x \\le 2", True), ("{1} ∪ [2, 3]", "\\{1\\}\\cup[2,3]", True), ("1.5×10³", "1500", True),
    ("2⁻¹", "\\frac12", True), ("√(2)", "\\sqrt{2}", True), ("3√3", "\\sqrt{27}", True), ("√3", "3", False),
    # near misses between very large or very small numbers; exact stays exact
    ("2^{64}", "18446744073709551617", False), ("2^{64}", "18446744073709551616", True),
    ("10^{20}+1", "10^{20}", False), ("\\frac{1}{2004!}", "\\frac{1}{2006!}", False), ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", False),
    ("1e-10", "2e-10", False), ("1.5e-8", "1.5\\times 10^{-8}", True), ("123456789012345678", "123456789012345679", False),
    ("1.0000001", "1", False), ("\\frac{2^{2005}+1}{3 \\cdot 2^{2006}}", "\\frac{1}{3 \\cdot 2^{2006}}", False),
    ("3^{100}", "3^{100}+1", False), ("0.000001", "0.000002", False), ("10^{-12}", "0", False),
    ("2.9999999999999996", "3", True), ("0.30000000000000004", "0.3", True), ("1000000.5", "1000000", False),
    ("\\sqrt{10^{40}+1}", "10^{20}", False),
    # mixed numbers and decimal commas
    ("918\\frac{1}{2}", "918.5", True), ("2\\frac{1}{4}", "\\frac{9}{4}", True), ("2\\frac{1}{4}", "\\frac{1}{2}", False),
    ("1,5", "1.5", True), ("0,111", "0.111", True), ("1,000", "1000", True), ("1 000 000", "10^6", True),
    # code notation, printed outputs
    ("Rational(1, 3)", "\\frac13", True), ("sqrt(3)/3", "\\frac{\\sqrt3}{3}", True), ("[1, 2, 3]", "1,2,3", True),
    ("(1, 2)", "(1,2)", True), ("{1, 2}", "\\{2,1\\}", True), ("3*sqrt(2)", "3\\sqrt{2}", True), ("pi**2/6", "\\frac{\\pi^2}{6}", True),
    ("0.5*pi", "\\frac{\\pi}{2}", True), ("2**100", "1267650600228229401496703205376", True), ("2**100", "2^{100}+1", False),
    # multiple choice
    ("\\text{(B)}", "B", True), ("(B) 12", "B", True), ("B", "C", False), ("\\textbf{(D)}", "D", True),
    # approximations next to the exact answer
    ("\\frac{\\sqrt{3}}{3} \\approx 0.577", "\\frac{\\sqrt3}{3}", True), ("x \\approx 11", "11", True),
    ("\\sqrt{2} \\approx 1.414", "1.414", True), ("\\sqrt{2} \\approx 1.414", "1.415", False),
]

# Whole responses of these classes (strict: the final part after </think>).
CLASS_RESPONSES: list[tuple[str, str, bool]] = [
    ("<think>Try values.</think>\nThe solutions are $x = \\boxed{2}$ and $x = \\boxed{-3}$.", "-3, 2", True),
    ("<think>...</think>\n$y_1 = \\boxed{2x+1}$ and $y_2 = \\boxed{x-3}$", "y_1=2x+1, y_2=x-3", True),
    ("<think>...</think>\nThe answer is $\\boxed{5}$. Wait, actually it is $\\boxed{6}$.", "5", False),
    ("<think>...</think>\nSo $\\boxed{4}$.\n\nChecking again, the final answer is $\\boxed{4}$.", "4", True),
    ("<think>compute</think>\nThe domain is $x \\in \\boxed{(-\\infty, 2) \\cup (2, \\infty)}$.", "x \\neq 2", True),
    ("<think>compute</think>\nTherefore $x \\geq 5$ is the solution.", "[5, \\infty)", True),
    ("<think>compute</think>\nThe remainder is 204.", "204", True),
    ("<think>```python\nprint(27648)\n```\n```output\n27648\n```\n</think>\nThe product is $\\boxed{27649}$.", "27648", False),
    ("<think>```python\nprint(0.1+0.2)\n```\n```output\n0.30000000000000004\n```\n</think>\n$\\boxed{0.30000000000000004}$", "\\frac{3}{10}", True),
    ("```python\nprint(5)\n```\n```output\n5\n```\nSo the count is $\\boxed{5}$.", "5", True),
    ("```python\nprint(5)\n```\n```output\n5\n```\n", "5", False),
    ("<think>...</think>\n**Final Answer**\n\\[\\boxed{\\dfrac{3}{4}}\\]", "0.75", True),
    ("<think>...</think>\nThe final answer is $\\frac{7}{2}$. I hope it is correct.", "3.5", True),
    ("<think>...</think>\nThe area is $\\boxed{12}$ square units. Final answer: 15", "15", True),
    ("<think>...</think>\n\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}", "(3,3),(1,1)", True),
    ("<think>Hmm \\boxed{7}</think>\nNo final answer.", "7", False),
]
