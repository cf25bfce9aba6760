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
    assert metrics_main(["--input_dir", str(tmp_path), "--output_file", str(out), "--workers", "1",
                         "--tokenizer_name_or_path", "smollm2"]) == 0
    m = json.loads(out.read_text())
    A, B = m["benchA"], m["benchB"]
    assert A["sample_size"] == 2 and B["sample_size"] == 1
    assert A["avg@4_strict"] == pytest.approx((2 / 4 + 1 / 4) / 2) and A["pass@4_strict"] == 1.0
    assert A["mj@4_strict"] == pytest.approx(0.5)  # p1 majority 4 (right), p2 majority 3 (wrong)
    assert A["pass@1_unbiased_strict"] == pytest.approx(A["avg@4_strict"])
    assert A["pass@2_unbiased_strict"] == pytest.approx(
        (unbiased_pass_at_k(4, 2, 2) + unbiased_pass_at_k(4, 1, 2)) / 2)
    assert A["avg@4"] > A["avg@4_strict"]  # the cut-off response counts under math_verify-on-everything
    assert A["code_calls_per_response"] == pytest.approx(4 / 8)
    assert A["share_responses_using_code"] == pytest.approx(4 / 8)
    assert A["code_error_rate"] == pytest.approx(1 / 4)
    assert A["share_code_distrust"] == pytest.approx(1 / 8)
    import numpy as np

    e_a = [-np.exp(lp / n) * lp / n for lp, n in zip(a["gen_cumulative_logprob"], a["gen_cumulative_seq_len"])]
    assert A["time_use_mean"] == pytest.approx(3.0)
    assert A["avg_entropy_mean"] == pytest.approx((np.mean(e_a) - 1) / 2)  # b has no log-probs: -1, as the original
    assert B["avg@4"] == 1.0 and B["mj@4"] == 1.0 and B["avg@4_strict"] == 1.0
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
    env = dict(os.environ, ENGINE="hf", LIMIT="1", N="2", N_LARGE="1", MAX_FUNC_CALL="2", MAX_TOKENS_PER_CALL="64",
               DATA_DIR=str(shared_data), TESTS="aime24,math500", OUT_ROOT=str(tmp_path / "eval"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["sh", str(REPO / "evaluation" / "eval.sh")], cwd=tmp_path, env=env,  # from any folder
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary) == {"aime24", "math500"}
    assert summary["aime24"]["sample_size"] == 1 and "avg@2" in summary["aime24"]
    assert "| aime24 |" in proc.stdout and (tmp_path / "eval" / "summary.png").exists()
    settings = ("evaluation_outputs_dp_mj.temp_0.6.n_sampling_{}.max_model_len_32768.max_func_call_2"
                ".max_tokens_per_call_64")
    for name, n in (("aime24", 2), ("math500", 1)):  # the original's folders, each benchmark with its own n
        folder = tmp_path / "eval" / settings.format(n) / f"infer_on_test_{name}.reason_step.start_0.end_1"
        assert (folder / "metrics.json").exists() and f"avg@{n}" in summary[name]


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


def test_original_metric_keys_follow_the_originals_rules(tmp_path, tokenizer, caplog):
    """Expected values worked out by hand from the original compute_metrics_dp.py's rules."""
    import numpy as np

    p1 = {"prompt": "p1", "source": "A", "gt_answer": "4", "time_use": 2.0,
          "gen": ["\\boxed{4}", "The answer is \\boxed{5}.", "So \\boxed{4.0}", "no answer"],
          "gen_cumulative_logprob": [-10.0, -12.0, -3.0, -30.0], "gen_cumulative_seq_len": [20, 25, 5, 40]}
    p2 = {"prompt": "p2", "source": "A", "gt_answer": "\\frac{1}{2}", "time_use": 4.0,
          "gen": ["\\boxed{3}", "It is \\boxed{3}", "\\boxed{0.5}", "nothing"]}
    p3 = {"prompt": "p3", "source": "B", "gt_answer": "7", "gen": ["\\boxed{7}"] * 4, "majority_answer": "8"}
    p4 = {"prompt": "p4", "source": "B", "gt_answer": "7", "gen": ["no", "nothing", "\\boxed{7}", "none"]}
    p5 = {"prompt": "p5", "source": "C", "gt_answer": "4",
          "gen": ["<think>so \\boxed{4}", "<think>a</think>\\boxed{4}"]}
    _write(tmp_path / "dp_rank_0.jsonl", [p1, p2, p3, p4, p5])
    (tmp_path / "run_info.json").write_text(json.dumps({"model_name_or_path": "smollm2"}))  # as inference records
    out = tmp_path / "m.json"
    assert metrics_main(["--input_dir", str(tmp_path), "--output_file", str(out), "--workers", "1", "--no_plot"]) == 0
    m = json.loads(out.read_text())
    A, B, C = m["A"], m["B"], m["C"]
    # math_verify on whole responses: p1 right at 0 and 2, p2 at 2; p3 all, p4 at 2
    assert (A["pass@4"], A["avg@4"]) == (1.0, pytest.approx((2 / 4 + 1 / 4) / 2))
    # p1: groups {4, 4.0}, {5}, {unparsed} -> 4, right; p2: groups {3, 3}, {0.5}, {unparsed} -> 3, wrong
    assert A["mj@4"] == pytest.approx(0.5)
    # p3: the row's majority_answer 8 decides (wrong though every generation is right); p4: the first
    # group is the unparsed "no" (all groups have one member), where the original stops: a wrong majority
    assert (B["pass@4"], B["avg@4"], B["mj@4"]) == (1.0, pytest.approx((1 + 1 / 4) / 2), 0.0)
    assert B["num_majority_unparsed"] == 1 and "could not parse" in caplog.text
    count = lambda g: len(tokenizer.encode(g, add_special_tokens=False))  # noqa: E731
    right = [count(p1["gen"][0]), count(p1["gen"][2]), count(p2["gen"][2])]
    wrong = [count(p1["gen"][1]), count(p1["gen"][3])] + [count(p2["gen"][i]) for i in (0, 1, 3)]
    assert A["avg_tokens_correct_response"] == pytest.approx(np.mean(right))
    assert A["avg_tokens_incorrect_response"] == pytest.approx(np.mean(wrong))
    assert A["avg_tokens_overall_response"] == pytest.approx(np.mean(right + wrong))
    # entropy: -exp(lp/len) * lp/len per generation; a row without log-probs counts -1 for each
    e1 = [-np.exp(lp / n) * lp / n for lp, n in zip(p1["gen_cumulative_logprob"], p1["gen_cumulative_seq_len"])]
    assert A["avg_entropy_mean"] == pytest.approx((np.mean(e1) + -1) / 2)
    assert A["avg_entropy_cv"] == pytest.approx((np.std(e1) / np.mean(e1) + 0.0) / 2)
    assert (A["time_use_mean"], A["time_use_std"], A["time_use_sum"]) == (3.0, 1.0, 6.0)
    assert (B["time_use_mean"], B["avg_entropy_mean"]) == (-1, -1)
    assert (A["sample_size"], B["sample_size"], A["num_verify_error"]) == (2, 2, 0)
    # the strict grader beside: an unclosed <think> is no final answer
    assert (C["avg@2"], C["avg@2_strict"], C["pass@2_strict"]) == (1.0, 0.5, 1.0)
    # DeepScaleR grades only the text after </think>: none in A and B, one of the two in C
    assert (A["pass@4_deepscaler"], B["avg@4_deepscaler"]) == (0.0, 0.0)
    assert (C["pass@2_deepscaler"], C["avg@2_deepscaler"]) == (1.0, 0.5)
    low, high = A["avg@4_ci95"]
    assert low <= A["avg@4"] <= high and 0 <= low < high <= 1
    assert "avg@n strict" in (tmp_path / "metrics.md").read_text()


def test_metrics_need_the_runs_tokenizer(tmp_path, capsys):
    _write(tmp_path / "dp_rank_0.jsonl", [{"prompt": "p", "gt_answer": "1", "gen": ["\\boxed{1}"]}])
    args = ["--input_dir", str(tmp_path), "--output_file", str(tmp_path / "m.json"), "--no_plot"]
    assert metrics_main(args) == 2
    err = capsys.readouterr().err
    assert "--tokenizer_name_or_path: not given" in err and "run_info.json" in err
    assert not (tmp_path / "m.json").exists()


def test_inference_majority_answer_as_the_original():
    from evaluation.original_grading import majority_answer_text

    assert majority_answer_text(["\\boxed{4}", "\\boxed{5}", "So \\boxed{4.0}"]) == "4"  # groups {4, 4.0}, {5}
    assert majority_answer_text(["no answer", "\\boxed{5}"]) is None  # the first largest group did not parse
    assert majority_answer_text([]) is None
