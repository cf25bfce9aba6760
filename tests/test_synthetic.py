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
