"""The original CoRT metrics' grading: math_verify over the whole response, and its majority vote.

The original ``compute_metrics_dp.py`` parses each whole generation (code outputs included) with
math_verify's expression and LaTeX extraction, parses the reference written as ``$...$``, and
calls a generation right when ``verify(reference, parsed)`` holds. Its ``mj@k`` takes the row's
``majority_answer`` when the row has one; otherwise it groups the parsed generations in order
(a generation joins the first group whose first member verifies against it), keeps the largest
group (the first of equal ones) and verifies its first member. When that member parsed to
nothing, the original stops with an ``IndexError``; here that majority counts as wrong and is
reported (``num_majority_unparsed``).
"""

from __future__ import annotations

ABSENT = object()  #: the row has no ``majority_answer``


def _dollars(text: str) -> str:
    return text if text.startswith("$") else f"${text}$"


def parse_reference(reference: str) -> list:
    """The reference as the original parses it (stripped, in ``$...$`` unless it starts with ``$``)."""
    from math_verify import parse

    return parse(_dollars(str(reference).strip()))


def parse_response(response: str) -> list:
    """A whole generation as the original parses it (expressions and LaTeX, code outputs included)."""
    from math_verify import parse
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    return parse(response, extraction_config=(ExprExtractionConfig(), LatexExtractionConfig()))


def verify(gold: list, parsed: list) -> bool:
    """math_verify's ``verify(gold, parsed)`` (False where it raises)."""
    from math_verify import verify as mv_verify

    try:
        return bool(mv_verify(gold, parsed))
    except Exception:  # noqa: BLE001 - math_verify can raise on odd input
        return False


def _majority_member(parsed: list[list]) -> list | None:
    """The original's vote: groups in order (an answer joins the first group whose first member verifies
    against it), the largest group (the first of equal ones); its first member, or None without answers."""
    groups: list[list] = []
    for answer in parsed:
        for group in groups:
            if verify(group[0], answer):
                group.append(answer)
                break
        else:
            groups.append([answer])
    return max(groups, key=len)[0] if groups else None


def majority_correct(gold: list, parsed: list[list], row_majority=ABSENT) -> tuple[bool, bool]:
    """``(correct, unparsed)``: the original's majority decision, and whether its chosen answer did not parse."""
    from math_verify import parse

    if row_majority is not ABSENT:
        return verify(gold, parse(_dollars(str(row_majority)))), False
    chosen = _majority_member(parsed)
    if chosen is None:
        return False, False
    if not chosen:
        return False, True
    return verify(gold, chosen), False


def majority_answer_text(generations: list[str]) -> str | None:
    """The original inference's ``--extract_majority_answer``: the text math_verify gives the majority's
    first member; None when there is none or a step fails (an empty parse included, as the original).
    """
    try:
        chosen = _majority_member([parse_response(gen) for gen in generations])
        return None if chosen is None else str(chosen[-1])
    except Exception:  # noqa: BLE001 - the original returns None on any failure
        return None


def rl_reward(text: str, ground_truth: str, code_penalty: float = 0.1, timeout: float = 5.0) -> tuple[float, bool]:
    """The original CoRT RL reward of one rollout: ``(reward, correct)``.

    ``text`` is the prompt and the response together, as the original decodes them. Correct
    (1) when the text holds both ``<think>`` and ``</think>`` and the last ``\\boxed{}`` after the
    first ``</think>`` (up to a second one) equals the reference by the DeepScaleR rules, else 0;
    minus ``code_penalty`` when every code output looks like an error by the original's keyword
    rule (:func:`cort.original.all_outputs_look_like_errors`, a response without code included).
    The sympy rule runs in a grading worker under ``timeout`` (a timeout counts as not equal).
    """
    from cort.original import all_outputs_look_like_errors
    from evaluation import deepscaler_grading as ds
    from evaluation.extract import THINK_CLOSE, THINK_OPEN

    penalty = -code_penalty if all_outputs_look_like_errors(text) else 0.0
    if THINK_OPEN not in text or THINK_CLOSE not in text:
        return penalty, False
    answer = ds.extract_answer(ds.solution_after_thinking(text))
    truth = ds.reference_answer(ground_truth)
    correct = answer is not None and truth is not None and ds.grade_answer(answer, truth, timeout)
    return (1.0 if correct else 0.0) + penalty, correct
