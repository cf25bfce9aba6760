"""The DeepScaleR grader behind ``*_deepscaler``: cases worked out by hand from its documented rules."""

import pytest

from evaluation import deepscaler_grading as ds


@pytest.mark.parametrize("text, answer", [
    ("so \\boxed{\\frac{1}{2}} then", "\\frac{1}{2}"),
    ("\\boxed{1} and later \\boxed{\\{1,2\\}}", "\\{1,2\\}"),  # the last box, nested braces counted
    ("\\fbox{3}", None),  # no \boxed in the text: no answer
    ("\\boxed 5", None),  # not \boxed{...}
    ("\\boxed{x", None),  # never closed
    ("no box", None),
])
def test_extract_answer(text, answer):
    assert ds.extract_answer(text) == answer


@pytest.mark.parametrize("given, truth, equal", [
    ("\\dfrac12", "\\frac{1}{2}", True),  # dfrac -> frac, \frac12 -> \frac{1}{2}
    ("0.5", "\\frac{1}{2}", True),
    ("x = 5", "5", True),  # a short name before = is dropped
    ("10\\%", "10", True),
    ("5 \\text{ cm}", "5", True),  # a unit after "\text{ " is dropped
    ("\\text{yes}", "yes", True),
    ("3/4", "\\frac{3}{4}", True),
    ("\\sqrt3", "\\sqrt{3}", True),
    ("6", "5", False),
    ("2\\sqrt{2}", "\\sqrt{8}", False),  # equal numbers, different strings: not this rule's business
])
def test_math_normalisation_rule(given, truth, equal):
    assert ds.grade_mathd(given, truth) is equal


@pytest.mark.parametrize("given, truth, equal", [
    ("2\\sqrt{2}", "\\sqrt{8}", True),  # simplify(sqrt(8) - 2 sqrt(2)) == 0
    ("4.0", "4", True),  # an integral float becomes the integer
    ("1,000", "1000", True),  # thousands commas
    ("(1, 2)", "(1,2)", True),
    ("[1,2)", "(1,2)", False),  # brackets must match
    ("(1,2,3)", "(1,2)", False),
    ("3/6", "1/2", False),  # an unreduced fraction must be written the same way
    ("2.5", "5/2", True),
    ("2.0001", "2", False),  # an integer answer needs an integer
    ("\\pi", "3.14159", False),
    ("5 meters", "5", True),  # units go
    ("a^{2}", "a^2", True),  # braces go after LaTeX is read
    ("", "5", False),
    ("5", None, False),
])
def test_sympy_rule(given, truth, equal):
    assert ds.grade_sympy(given, truth) is equal


def test_response_grading_uses_the_text_after_thinking():
    assert ds.grade_response("<think>\\boxed{41}</think>The answer is \\boxed{42}.", "42")
    assert not ds.grade_response("The answer is \\boxed{42}.", "42")  # no </think>: nothing is graded
    assert not ds.grade_response("<think>\\boxed{42} is it</think>", "42")  # nothing boxed after thinking
    assert ds.grade_response("<think>a</think>\\boxed{\\frac{1}{2}}", "The answer is \\boxed{0.5}")
    # the text between the first and the second </think> only, as the original splits it
    assert not ds.grade_response("<think>a</think>x</think>\\boxed{42}", "42")
