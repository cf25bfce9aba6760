"""Metrics on an inference output folder, data preparation, and eval.sh end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.compute_metrics_dp import cli as metrics_main
from evaluation.metrics import unbiased_pass_at_k

REPO = Path(__file__).resolve().parents[1]
CODE_OK = "```python\nprint(2 + 2)\n```\n```output\n4\n```\n"
CODE_ERR = "```python\n1/0\n```\n```output\nZeroDivisionError: division by zero\n```\n"
CODE_HALF = "```python\nprint(1/2)\n```\n```output\n0.5\n```\n"
DISTRUST = "Let me verify this by hand: 2 + 2 = 4 and 4 * 1 = 4.\n"


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_unbiased_pass_at_k():
    assert unbiased_pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert unbiased_pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert unbiased_pass_at_k(4, 1, 4) == 1.0
    assert unbiased_pass_at_k(4, 0, 4) == 0.0


def test_metrics_on_output_folder(tmp_path):
    a = {"prompt": "p1", "source": "benchA", "gt_answer": "4", "time_use": 2.0,
         "gen": [CODE_OK + "\\boxed{4}", CODE_ERR + "\\boxed{5}", "\\boxed{4.0}", "no answer"],
         "gen_cumulative_logprob": [-10.0, -12.0, -3.0, -30.0], "gen_cumulative_seq_len": [20, 25, 5, 40]}
    b = {"prompt": "p2", "source": "benchA", "gt_answer": "\\frac{1}{2}", "time_use": 4.0,
         "gen": [CODE_OK + DISTRUST + "\\boxed{3}", "\\boxed{3}", "\\boxed{0.5}", "<think>cut " + CODE_HALF]}
    c = {"prompt": "p3", "source": "benchB", "gt_answer": "7", "gen": ["\\boxed{7}"] * 4}
    _write(tmp_path / "dp_rank_0.jsonl", [a, b])
    _write(tmp_path / "dp_rank_1.jsonl", [c, a])  # a duplicate prompt is counted once
    with open(tmp_path / "dp_rank_1.jsonl", "a") as fh:
        fh.write('{"prompt": "torn')
    out = tmp_path / "metrics.json"
    assert metrics_main(["--input_dir", str(tmp_path), "--output_file", str(out), "--workers", "1"]) == 0
    m = json.loads(out.read_text())
    A, B = m["benchA"], m["benchB"]
    assert A["sample_size"] == 2 and B["sample_size"] == 1
    assert A["avg@4"] == pytest.approx((2 / 4 + 1 / 4) / 2) and A["pass@4"] == 1.0
    assert A["mj@4"] == pytest.approx(0.5)  # p1 majority 4 (right), p2 majority 3 (wrong)
    assert A["pass@1_unbiased"] == pytest.approx(A["avg@4"])
    assert A["pass@2_unbiased"] == pytest.approx((unbiased_pass_at_k(4, 2, 2) + unbiased_pass_at_k(4, 1, 2)) / 2)
    assert A["avg@4_lenient"] > A["avg@4"]  # the cut-off response counts under math_verify-on-everything
    assert A["code_calls_per_response"] == pytest.approx(4 / 8)
    assert A["share_responses_using_code"] == pytest.approx(4 / 8)
    assert A["code_error_rate"] == pytest.approx(1 / 4)
    assert A["share_code_distrust"] == pytest.approx(1 / 8)
    assert A["time_use_mean"] == pytest.approx(3.0) and A["avg_entropy_mean"] > 0
    assert B["avg@4"] == 1.0 and B["mj@4"] == 1.0
    assert (tmp_path / "metrics.md").read_text().count("| bench") == 2  # two benchmark rows
    assert (tmp_path / "metrics.png").stat().st_size > 1000


def test_prepare_copies_and_checks(shared_data, tmp_path):
    from data.prepare import cli as prepare

    assert prepare(["--out_dir", str(tmp_path / "d"), "--from_dir", str(shared_data),
                    "--benchmarks", "aime24,amc23"]) == 0
    assert (tmp_path / "d" / "test_aime24.reason_step.jsonl").read_text() == \
        (shared_data / "test_aime24.reason_step.jsonl").read_text()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "test_aime24.reason_step.jsonl").write_text('{"problem": "x", "prompt": "x", "source": "s"}\n')
    assert prepare(["--out_dir", str(tmp_path / "e"), "--from_dir", str(bad), "--benchmarks", "aime24"]) == 2
    assert not (tmp_path / "e" / "test_aime24.reason_step.jsonl").exists()
    # existing files are kept unless --overwrite; a folder cannot be copied onto itself
    assert prepare(["--out_dir", str(tmp_path / "d"), "--from_dir", str(shared_data), "--benchmarks", "aime24"]) == 2
    assert prepare(["--out_dir", str(tmp_path / "d"), "--from_dir", str(tmp_path / "d"), "--benchmarks", "amc23",
                    "--overwrite"]) == 2
    assert prepare(["--out_dir", str(tmp_path / "d"), "--benchmarks", "aime24,nope"]) == 2


def test_prepare_offline_hub_is_one_line(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "data.prepare", "--out_dir", str(tmp_path / "d"),
                           "--benchmarks", "aime24"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "cannot download aime24" in errors[0] and "--from_dir" in errors[0]


GOOD = {"prompt": "p1", "source": "s", "gt_answer": "4", "gen": ["\\boxed{4}", "\\boxed{5}"]}


@pytest.mark.parametrize("rows, flags, message", [
    ([GOOD, {**GOOD, "prompt": "p2", "gen": ["\\boxed{4}"]}], [], ":2: field 'gen': has 1 generations, but"),
    ([{k: v for k, v in GOOD.items() if k != "gt_answer"}], [], ":1: field 'gt_answer': missing"),
    ([{k: v for k, v in GOOD.items() if k != "prompt"}], [], ":1: field 'prompt': missing"),
    ([{**GOOD, "gen": "\\boxed{4}"}], [], ":1: field 'gen': must be a list, got a string"),
    ([{**GOOD, "gen": [4, 5]}], [], ":1: field 'gen': item 0 must be a string"),
    ([{**GOOD, "gen_code_calls": [1]}], [], ":1: field 'gen_code_calls': has 1 entries for 2 generations"),
    ([GOOD], ["--timeout", "0"], "--timeout: must be greater than 0"),
    ([GOOD], ["--workers", "0"], "--workers: must be greater than 0"),
    ([GOOD], ["--tokenizer_name_or_path", "/no/such/tokenizer"], "--tokenizer_name_or_path: cannot load"),
    ([], [], "no dp_rank*.jsonl results found"),
])
def test_metrics_refuse_rows_they_cannot_score(tmp_path, capsys, rows, flags, message):
    if rows:
        _write(tmp_path / "dp_rank_0.jsonl", rows)
    out = tmp_path / "m" / "metrics.json"
    assert metrics_main(["--input_dir", str(tmp_path), "--output_file", str(out), "--workers", "1", *flags]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], errors
    assert not out.exists()


def test_metrics_refuse_a_damaged_middle_line(tmp_path, capsys):
    path = tmp_path / "dp_rank_0.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json}\n" + json.dumps({**GOOD, "prompt": "p2"}) + "\n")
    assert metrics_main(["--input_dir", str(tmp_path), "--output_file", str(tmp_path / "m.json")]) == 2
    assert "dp_rank_0.jsonl:2: not valid JSON" in capsys.readouterr().err
    with pytest.raises(ValueError):
        unbiased_pass_at_k(2, 1, 4)  # k beyond n is an error, never 1.0


def test_summarize_bad_runs(tmp_path, capsys):
    from evaluation.summarize import cli as summarize

    assert summarize(["--output_root", str(tmp_path), "--runs", "no-equals-sign"]) == 2
    assert "--runs: expected name=folder" in capsys.readouterr().err
    assert summarize(["--output_root", str(tmp_path), "--runs", f"a={tmp_path / 'missing'}"]) == 2
    assert "metrics.json: input file not found" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_sh_end_to_end(shared_data, tmp_path):
    env = dict(os.environ, ENGINE="hf", LIMIT="1", N="2", N_LARGE="2", MAX_FUNC_CALL="2", MAX_TOKENS_PER_CALL="64",
               DATA_DIR=str(shared_data), TESTS="aime24,math500", OUT_ROOT=str(tmp_path / "eval"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["sh", str(REPO / "evaluation" / "eval.sh")], cwd=tmp_path, env=env,  # from any folder
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary) == {"aime24", "math500"}
    assert summary["aime24"]["sample_size"] == 1 and "avg@2" in summary["aime24"]
    assert "| aime24 |" in proc.stdout and (tmp_path / "eval" / "summary.png").exists()


@pytest.mark.parametrize("env, message", [
    ({"LIMIT": "two"}, "LIMIT must be a whole number, got 'two'"),
    ({"N": "0"}, "N must be at least 1, got 0"),
    ({"TESTS": "aime24,gsm9k"}, "TESTS: unknown benchmark 'gsm9k'"),
    ({"ENGINE": "tgi"}, "ENGINE must be vllm or hf"),
    ({"DATA_DIR": "/no/such/folder"}, "benchmark file /no/such/folder/test_aime24.reason_step.jsonl not found"),
])
def test_eval_sh_refuses_bad_settings(shared_data, tmp_path, env, message):
    base = dict(os.environ, ENGINE="hf", DATA_DIR=str(shared_data), TESTS="aime24", OUT_ROOT=str(tmp_path / "eval"))
    proc = subprocess.run(["sh", str(REPO / "evaluation" / "eval.sh")], cwd=tmp_path, env={**base, **env},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {message}" or message in proc.stderr, proc.stderr
    assert proc.returncode == 2 and not (tmp_path / "eval").exists()
