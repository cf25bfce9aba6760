"""The project's math-answer grader: the ground truth of every accuracy number and RL reward.

Public API:

- :func:`grade` ``(prediction, reference) -> bool``: prediction is a whole response or a bare answer.
- :func:`extract_answer` ``(text) -> str | None``: the final answer of a response.
- :func:`math_equal` ``(a, b) -> bool``: equality of two bare answers.
- :func:`grade_lenient`: the original CoRT scoring (math_verify over the whole response,
  code outputs included), to reproduce its published numbers.
- :func:`majority_answer`: the most frequent answer of several responses, grouping equal answers.

Strict mode (default) grades only the final answer: after ``</think>`` when the model wrote
one; a response that opened ``<think>`` and never closed it (cut off mid-thought) is wrong
even if some number in it matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.equivalence import DEFAULT_TIMEOUT, GraderTimeout, _equal_normalised, math_equal
from evaluation.extract import extract_answer, last_boxed
from evaluation.normalize import normalize

__all__ = ["Grade", "extract_answer", "grade", "grade_detailed", "grade_lenient", "majority_answer",
           "majority_index", "math_equal", "normalize"]


@dataclass
class Grade:
    """A grading decision with what was compared and whether a step timed out."""

    correct: bool
    answer: str | None
    reference: str
    timed_out: bool = False


def _looks_bare(text: str) -> bool:
    return "\n" not in text.strip() and len(text) <= 200 and "<think>" not in text


def reference_answer(reference: str) -> str:
    """The gold answer (a boxed gold solution is reduced to its box)."""
    reference = str(reference)
    return last_boxed(reference) or reference if "\\boxed" in reference else reference


def grade_detailed(prediction: str, reference: str, strict: bool = True,
                   timeout: float = DEFAULT_TIMEOUT) -> Grade:
    """Grade with details: the extracted answer and whether a comparison timed out."""
    ref = reference_answer(reference)
    answer = extract_answer(prediction, strict=strict)
    if answer is None and isinstance(prediction, str) and _looks_bare(prediction) and prediction.strip():
        answer = prediction.strip()
    if answer is None:
        return Grade(False, None, ref)
    try:
        return Grade(_equal_normalised(normalize(answer), normalize(ref), timeout), answer, ref)
    except GraderTimeout:
        return Grade(False, answer, ref, timed_out=True)


def grade(prediction: str, reference: str, strict: bool = True, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when the prediction's final answer equals the reference."""
    return grade_detailed(prediction, reference, strict, timeout).correct


def grade_lenient(prediction: str, reference: str) -> bool:
    """The original CoRT metric: math_verify parses the whole response (code outputs included)."""
    from evaluation import original_grading

    return original_grading.verify(original_grading.parse_reference(reference),
                                   original_grading.parse_response(prediction))


def majority_index(answers: list[str | None], timeout: float = DEFAULT_TIMEOUT) -> int | None:
    """Index of a member of the largest group of equal answers (None answers ignored), or None."""
    groups: list[list[int]] = []
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        for group in groups:
            if math_equal(answers[group[0]], answer, timeout):
                group.append(i)
                break
        else:
            groups.append([i])
    return max(groups, key=len)[0] if groups else None


def majority_answer(generations: list[str], strict: bool = True, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """The answer given by most generations (equal answers grouped with :func:`math_equal`)."""
    answers = [extract_answer(gen, strict=strict) for gen in generations]
    best = majority_index(answers, timeout)
    return None if best is None else answers[best]
