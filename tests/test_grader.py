"""The grader on a broad table of equivalent forms and near misses."""

import pytest

from evaluation.grader import extract_answer, grade, grade_detailed, grade_lenient, majority_answer, math_equal
from tests.grader_cases import CLASS_RESPONSES, CLASSES, HANDWRITTEN, RESPONSES, generated


@pytest.mark.parametrize("pred, ref, expected", HANDWRITTEN)
def test_bare_answers(pred, ref, expected):
    assert math_equal(pred, ref) is expected


@pytest.mark.parametrize("pred, ref, expected", RESPONSES)
def test_whole_responses(pred, ref, expected):
    assert grade(pred, ref) is expected


def test_generated_from_benchmark_gold_answers(shared_data):
    cases = generated(shared_data)
    assert len(cases) > 1500
    wrong = [(p, r, e) for p, r, e in cases if grade(p, r) is not e]
    assert wrong == []


def test_symmetry_on_handwritten_cases():
    asym = [(p, r) for p, r, _ in HANDWRITTEN if math_equal(p, r) != math_equal(r, p)]
    assert asym == []


def test_extract_answer_cases():
    assert extract_answer("\\boxed{\\frac{1}{\\sqrt{2}}} done") == "\\frac{1}{\\sqrt{2}}"
    assert extract_answer("nested \\boxed{a_{b_{c}}}") == "a_{b_{c}}"
    assert extract_answer("<think>no end") is None
    assert extract_answer("<think>The answer is 5", strict=False) == "5"
    assert extract_answer("no answer here at all") is None
    assert extract_answer("") is None


def test_lenient_mode_reproduces_original_counting():
    cut = "<think>Let me code.\n```python\nprint(204)\n```\n```output\n204\n```\n"
    assert grade(cut, "204") is False and grade_lenient(cut, "204") is True


def test_pathological_input_times_out_quickly():
    import time

    start = time.monotonic()
    result = grade_detailed("\\boxed{x^{2^{2^{2^{2^{2^{9}}}}}} - 7}", "x", timeout=1.0)
    assert result.correct is False and time.monotonic() - start < 10


def test_majority_answer_groups_equal_answers():
    gens = ["\\boxed{0.5}", "\\boxed{\\frac{1}{2}}", "\\boxed{3}", "no answer", "\\boxed{1/2}"]
    assert math_equal(majority_answer(gens), "1/2")
    assert majority_answer(["nothing"]) is None


def test_importing_the_parsers_prints_nothing():
    import subprocess
    import sys

    code = "import evaluation.grader, latex2sympy2; from latex2sympy2 import latex2sympy; latex2sympy('x^2')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ANTLR" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("pred, ref, expected", CLASSES + CLASS_RESPONSES)
def test_classes_of_misses(pred, ref, expected):
    assert grade(pred, ref) is expected
