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

import logging
import re
from dataclasses import dataclass

from evaluation import deadline
from evaluation.equivalence import DEFAULT_TIMEOUT, GraderTimeout, equal_normalised, math_equal
from evaluation.extract import answer_candidates, extract_answer, final_part, last_boxed, strip_code
from evaluation.normalize import normalize

__all__ = ["Grade", "extract_answer", "grade", "grade_detailed", "grade_lenient", "majority_answer",
           "majority_index", "math_equal", "normalize"]
logger = logging.getLogger(__name__)


@dataclass
class Grade:
    """A grading decision: what was compared, how the answer was found, whether a step timed out."""

    correct: bool
    answer: str | None
    reference: str
    timed_out: bool = False
    method: str = ""  #: boxed | phrase | line | bare | math_verify (how the answer was found), "" for none


def _looks_bare(text: str) -> bool:
    return "\n" not in text.strip() and len(text) <= 200 and "<think>" not in text


def reference_answer(reference: str) -> str:
    """The gold answer: a boxed gold solution is reduced to its box, a gold written as prose to its answer."""
    reference = str(reference)
    if "\\boxed" in reference or "\\fbox" in reference:
        return last_boxed(reference) or reference
    if _looks_bare(reference):
        return reference
    found = answer_candidates(reference)
    return found[0][1] if found else reference


def _is_sentence(text: str) -> bool:
    """Words around the answer ("the number is 10 which is 12"), not a bare answer."""
    words = re.findall(r"[a-zA-Z]{3,}", re.sub(r"\\[a-zA-Z]+", " ", text))
    return len(words) >= 2 or any(len(w) >= 5 for w in words)


def _part_of(found: str, candidate: str) -> bool:
    """Whether math_verify's reading is only the tail of one of our candidates (the right side of
    ``x + y = 5``, the number of ``\\pm 1``): then it adds nothing but a looser reading."""
    if found == candidate:
        return True
    head = candidate[:-len(found)] if found and candidate.endswith(found) else None
    return head is not None and head.endswith(("=", "\\pm", "\\mp", "\\approx", "<", ">", "\\le", "\\ge"))


def _mv_answer(region: str, timeout: float) -> str | None:
    """math_verify's reading of free text (no box, no answer phrase we could use)."""
    try:
        return deadline.call("extract", strip_code(region)[-4000:], timeout=timeout)
    except (GraderTimeout, deadline.WorkerError):
        return None


def grade_detailed(prediction: str, reference: str, strict: bool = True,
                   timeout: float = DEFAULT_TIMEOUT) -> Grade:
    """Grade with details: the extracted answer, how it was found, whether a comparison timed out.

    Candidates, most reliable first: the final box group (decisive when present), an answer
    phrase, the last math span or short line, the prediction itself when it is a bare answer, and
    last math_verify's reading of the free text.
    """
    ref = reference_answer(reference)
    if not isinstance(prediction, str):
        return Grade(False, None, ref)
    region = final_part(prediction) if strict else prediction
    if region is None or not region.strip():
        return Grade(False, None, ref)
    candidates = answer_candidates(region)
    if not candidates and _looks_bare(prediction):
        candidates = [("bare", prediction.strip())]
    normal_ref = normalize(ref)
    timed_out = False

    def matches(answer: str) -> bool:
        nonlocal timed_out
        try:
            return equal_normalised(normalize(answer), normal_ref, timeout)
        except GraderTimeout:
            timed_out = True
        except deadline.WorkerError as exc:
            logger.warning("grading worker failed on %r: %s", answer[:80], exc)
        return False

    for method, answer in candidates:
        if matches(answer):
            return Grade(True, answer, ref, method=method)
    prose = strip_code(region).strip()
    if not candidates or (candidates[0][0] != "boxed" and (len(prose) > len(candidates[0][1]) + 12
                                                           or _is_sentence(candidates[0][1]))):
        mv = _mv_answer(region, timeout)  # math_verify's reading of the free text, when ours did not match
        if mv and not any(_part_of(normalize(mv), normalize(c)) for _, c in candidates):
            if matches(mv):
                return Grade(True, mv, ref, method="math_verify")
            candidates = candidates or [("math_verify", mv)]
    if not candidates:
        return Grade(False, None, ref, timed_out=timed_out)
    return Grade(False, candidates[0][1], ref, timed_out=timed_out, method=candidates[0][0])


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
