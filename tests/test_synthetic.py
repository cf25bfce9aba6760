"""Synthetic computation problems and the three trajectory styles (issue: CPU reproduction)."""

import pytest

from cort import hints, original, protocol
from data.synthetic import KINDS, generate, trajectory
from evaluation.grader import grade


def test_splits_are_disjoint_seeded_and_cover_every_kind():
    a, b = generate(30, 10, 10, seed=3), generate(30, 10, 10, seed=3)
    assert a == b and generate(30, 10, 10, seed=4) != a
    texts = {k: {p["problem"] for p in v} for k, v in a.items()}
    assert not (texts["train"] & texts["test"]) and not (texts["train"] & texts["val"])
    assert not (texts["val"] & texts["test"])
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
        assert ph["response"].startswith("<think>\n" + hints.PROMPT_HINT)
        assert he["response"].startswith("<think>\n" + hints.PROMPT_HINT)
        assert all("</think>\nThe answer is \\boxed{" in t["response"] for t in (cot, ph, he))
        assert original.jupyter_like_program(he["response"].split("```output")[0]) == p["code"]  # the cell runs
        assert hints.HINT_TEXTS[hints.DELAYED_COMPUTATION] in he["response"]
        assert hints.HINT_CODE_DISTRUST in he["response"]
        assert not hints.detect_delayed_computation(he["response"]) and not hints.detect_code_distrust(he["response"])
        assert protocol.find_outputs(he["response"])[0].text == protocol.find_outputs(ph["response"])[0].text


@pytest.mark.parametrize("flags, message", [
    (["--n_train", "-5"], "--n_train: must be greater than 0"),
    (["--n_val", "-1"], "--n_val: must be 0 or more"),
    (["--n_test", "0"], "--n_test: must be greater than 0"),
    (["--styles", "cot,fancy"], "--styles: unknown style(s) fancy"),
])
def test_synthetic_bad_flags(tmp_path, capsys, flags, message):
    from data.synthetic import cli

    assert cli(["--out_dir", str(tmp_path / "out"), *flags]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "out").exists()


def test_synthetic_keeps_earlier_files_and_build_sft_bad_input(tmp_path, capsys):
    from data.build_sft import cli as build_sft
    from data.synthetic import cli

    out = tmp_path / "out"
    assert cli(["--out_dir", str(out), "--n_train", "2", "--n_val", "0", "--n_test", "1", "--styles", "cot"]) == 0
    before = (out / "train.jsonl").read_text()
    assert cli(["--out_dir", str(out), "--n_train", "3", "--n_test", "1", "--styles", "cot"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err and (out / "train.jsonl").read_text() == before
    src = str(out / "train_cot.jsonl")
    assert build_sft(["--input", src, "--output", src]) == 2
    assert "--output: must not be one of the input files" in capsys.readouterr().err
    assert build_sft(["--input", str(out / "missing.jsonl"), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "missing.jsonl: input file not found" in capsys.readouterr().err
    assert build_sft(["--input", src, "--output", str(tmp_path / "o.jsonl"), "--reexecute", "off"]) == 0
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2


def test_chains_need_one_cell_per_step(executor):
    from data.synthetic import make_problem, parse_steps

    assert parse_steps("1") == (1, 1) and parse_steps("3") == (3, 3) and parse_steps(" 2-4 ") == (2, 4)
    assert all(parse_steps(s) is None for s in ("0", "1-3", "4-2", "2-9", "x", "2-", ""))
    splits = generate(12, 2, 3, seed=5, steps=(2, 4))
    assert {p["kind"] for p in splits["train"]} == {"chain2", "chain3", "chain4"}
    # the default (single-step) problems do not move when chains exist
    import random
    rng = random.Random(0)
    assert generate(3, 0, 1, seed=0)["train"][0]["problem"] in {make_problem(k, rng)["problem"] for k in KINDS}
    for p in splits["train"][:6]:
        steps = int(p["kind"][-1])
        assert len(p["cells"]) == steps and p["problem"].endswith(f"What is {'abcd'[steps - 1]}?")
        printed = executor.run_stateless(p["code"]).output.split()
        assert printed == p["values"] and printed[-1] == p["answer"] and min(map(int, printed)) >= 2
        ph, he, cot = (trajectory(p, s, executor) for s in ("prompt_hint", "hint_engineering", "cot"))
        for t in (ph, he, cot):
            assert grade(t["response"], p["answer"]), t["response"]
        assert cot["response"].count("```python") == 0
        for t in (ph, he):
            assert t["response"].count("```python") == steps
            # each observation is what the default interpreter printed for that step
            assert [o.text.strip() for o in protocol.find_outputs(t["response"])] == p["values"]
        _, counts = hints.apply_hint_engineering(ph["response"])
        assert counts[hints.DELAYED_COMPUTATION] == 1 and counts[hints.CODE_DISTRUST] == steps
        assert he["response"].count(hints.HINT_CODE_DISTRUST) == steps
        assert not hints.detect_code_distrust(he["response"])
    for p in generate(4, 0, 0, seed=3, steps=(7, 8))["train"]:  # the longest chains: every variable, every value
        steps = int(p["kind"][-1])
        assert len(p["cells"]) == steps and p["problem"].endswith(f"What is {'abcdefgh'[steps - 1]}?")
        assert executor.run_stateless(p["code"]).output.split() == p["values"]


def test_synthetic_bad_steps(tmp_path, capsys):
    from data.synthetic import cli

    for bad in ("0", "1-3", "5-2", "9", "two"):
        assert cli(["--out_dir", str(tmp_path / "out"), "--steps", bad]) == 2
        errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "--steps: must be 1, N or A-B" in errors[0], errors
    assert not (tmp_path / "out").exists()
    out = tmp_path / "ok"
    assert cli(["--out_dir", str(out), "--steps", "2-3", "--n_train", "2", "--n_val", "0", "--n_test", "1",
                "--styles", "hint_engineering"]) == 0
    import json
    rows = [json.loads(ln) for ln in (out / "train_hint_engineering.jsonl").read_text().splitlines()]
    assert sorted(r["response"].count("```python") for r in rows) == [2, 3]
