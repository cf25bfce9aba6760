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
    ("3.1416", "\\pi", False), ("1.25", "\\frac{5}{4}", True), (".0000672", "6.72 \\times 10^{-5}", True),
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


def generated(data_dir: Path, limit_per_file: int | None = None) -> list[tuple[str, str, bool]]:
    """Cases built from gold answers: equivalent rewrites (True) and near misses (False)."""
    cases: list[tuple[str, str, bool]] = []
    for name in ("test_math500.reason_step.jsonl", "test_aime24.reason_step.jsonl",
                 "test_aime25.reason_step.jsonl", "test_amc23.reason_step.jsonl"):
        path = data_dir / name
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows[:limit_per_file]:
            gold = str(row["gt_answer"]).strip()
            cases.append((f"<think>Work.</think>\nThe answer is $\\boxed{{{gold}}}$.", gold, True))
            if re.fullmatch(r"-?\d+(?:\.0+)?", gold):
                eq, miss = _int_forms(int(float(gold)))
            else:
                m = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", gold)
                if not m:
                    continue
                num = int(m.group(2)) * (-1 if m.group(1) else 1)
                eq, miss = _frac_forms(num, int(m.group(3)))
            cases += [(e, gold, True) for e in eq] + [(x, gold, False) for x in miss]
    return cases


def all_cases(data_dir: Path) -> list[tuple[str, str, bool]]:
    """Every case: hand-written bare answers, whole responses, and generated ones."""
    return HANDWRITTEN + RESPONSES + generated(data_dir)
