"""Synthetic computation problems and the three trajectory styles (issue: CPU reproduction)."""

import pytest

from cort import hints, protocol
from data.synthetic import KINDS, generate, trajectory
from evaluation.grader import grade


def test_splits_are_disjoint_seeded_and_cover_every_kind():
    a, b = generate(30, 10, 10, seed=3), generate(30, 10, 10, seed=3)
    assert a == b and generate(30, 10, 10, seed=4) != a
    texts = {k: {p["problem"] for p in v} for k, v in a.items()}
    assert not (texts["train"] & texts["test"]) and not (texts["train"] & texts["val"]) and not (texts["val"] & texts["test"])
    assert {p["kind"] for p in a["train"] + a["val"] + a["test"]} == set(KINDS)


def test_programs_print_the_answers(executor):
    problems = generate(14, 0, 0, seed=1)["train"]
    for p in problems:
        out = executor.run_stateless(p["code"]).output.strip()
        assert grade(out if p["kind"] != "base" else f"{out}_{p['answer'].split('_')[1]}", p["answer"]), p


def test_three_styles(executor):
    problems = generate(14, 0, 0, seed=2)["train"]
    for p in problems:
        cot, ph, he = (trajectory(p, style, executor) for style in ("cot", "prompt_hint", "hint_engineering"))
        assert all(grade(t["response"], p["answer"]) for t in (cot, ph, he))
        assert protocol.find_cells(cot["response"]) == []
        assert hints.detect_delayed_computation(ph["response"]) and hints.detect_code_distrust(ph["response"])
        assert ph["response"].startswith(hints.PROMPT_HINT) and he["response"].startswith(hints.PROMPT_HINT)
        assert hints.HINT_DELAYED_COMPUTATION in he["response"] and hints.HINT_CODE_DISTRUST in he["response"]
        assert not hints.detect_delayed_computation(he["response"]) and not hints.detect_code_distrust(he["response"])
        assert protocol.find_outputs(he["response"])[0].text == protocol.find_outputs(ph["response"])[0].text
