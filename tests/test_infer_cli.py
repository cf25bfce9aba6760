"""The inference CLI end to end: real model, real kernels, crash-safe output."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from infer.inference_vllm_dp_mj import parse_args, shard_bounds
from infer.io import JsonlAppender, cached_prompts, read_jsonl_tolerant

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--engine", "hf", "--n_sampling", "2", "--max_func_call", "3", "--max_tokens_per_call", "128",
         "--temperature", "0.6", "--no_progress"]


def _cli(args, **kw):
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "infer.inference_vllm_dp_mj", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, **kw)


def _rows(out_dir: Path) -> list[dict]:
    return [r for p in sorted(out_dir.glob("dp_rank*.jsonl")) for r in read_jsonl_tolerant(str(p))]


def _orphan_kernels(parent_pid: int) -> list[int]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any("_kernel_main.py" in c for c in p.info["cmdline"] or []) and \
                    p.environ().get("JPY_PARENT_PID") == str(parent_pid) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except psutil.Error:
            continue
    return found


def _subset(shared_data: Path, tmp_path: Path, k: int) -> Path:
    lines = (shared_data / "test_aime24.reason_step.jsonl").read_text().splitlines()[:k]
    path = tmp_path / "input.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_original_flags_and_quirks():
    args = parse_args(["--temperature", "0", "--top_p", "0.95", "--stop_tokens_mode", "old_normal_code_block_end"])
    assert args.top_p == 1 and args.stop[0] == "```\n" and len(args.stop) == 9
    d = parse_args([])
    assert (d.engine, d.n_sampling, d.max_func_call, d.func_call_timeout, d.end, d.max_model_len,
            d.max_tokens_per_call, d.temperature, d.top_p, d.func_call_mode, d.hint_mode) == (
        "vllm", 8, 10, 30, -1, 130000, 32768, 0.6, 0.95, "jupyter", "none")


def test_data_parallel_split_matches_original():
    bounds = [shard_bounds(10, 4, r) for r in range(4)]
    assert bounds == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert shard_bounds(1, 3, 2) == (1, 1)


@pytest.mark.parametrize("content, message", [
    (None, "input file not found"),
    ("", "input file has no examples"),
    ('{"prompt": "a"}\nnot json\n', ":2: not valid JSON"),
    ('{"prompt": "a"}\n{"problem": "b"}\n', ":2: missing field 'prompt'"),
    ('{"prompt": ""}\n', ":1: field 'prompt' must be a non-empty string"),
])
def test_bad_input_is_one_line_exit_2_no_output(tmp_path, content, message):
    path = tmp_path / "in.jsonl"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "out"
    proc = _cli(["--input_file", str(path), "--output_dir", str(out), *SMALL])
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and str(path) in errors[0]
    assert not out.exists()


def test_torn_line_is_skipped_and_trimmed(tmp_path):
    path = tmp_path / "dp_rank_0.jsonl"
    path.write_text('{"prompt": "a", "gen": []}\n{"prompt": "b", "ge')
    assert [r["prompt"] for r in read_jsonl_tolerant(str(path))] == ["a"]
    assert cached_prompts(str(tmp_path)) == {"a"}
    writer = JsonlAppender(str(path))
    writer.write({"prompt": "c"})
    writer.close()
    assert path.read_text() == '{"prompt": "a", "gen": []}\n{"prompt": "c"}\n'


@pytest.mark.slow
def test_cli_end_to_end_fields(shared_data, tmp_path):
    src = _subset(shared_data, tmp_path, 2)
    out = tmp_path / "out"
    proc = _cli(["--input_file", str(src), "--output_dir", str(out), "--hint_mode", "prompt",
                 "--extract_majority_answer", *SMALL], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(out)
    inputs = [json.loads(ln) for ln in src.read_text().splitlines()]
    assert sorted(r["prompt"] for r in rows) == sorted(e["prompt"] for e in inputs)
    for row in rows:
        assert {"problem", "gt_answer", "source"} <= row.keys()
        for field in ("gen", "gen_cumulative_logprob", "gen_cumulative_seq_len", "gen_num_tokens",
                      "gen_code_calls", "gen_code_errors", "gen_finish_reason"):
            assert len(row[field]) == 2, field
        assert all(0 < n <= 3 * 128 for n in row["gen_cumulative_seq_len"])
        assert all(lp < 0 for lp in row["gen_cumulative_logprob"])
        assert all(0 <= e <= c <= 2 for c, e in zip(row["gen_code_calls"], row["gen_code_errors"]))
        assert row["time_use"] > 0
        assert "majority_answer" in row  # None when no generation gave a final answer
        assert row["chat_prompt"].endswith("<think>\nOkay, let's try to solve this problem step by step using "
                                           "multiple python code calls.")


@pytest.mark.slow
def test_kill_and_resume_gives_each_example_once(shared_data, tmp_path):
    src = _subset(shared_data, tmp_path, 6)
    out = tmp_path / "out"
    args = ["--input_file", str(src), "--output_dir", str(out), "--batch_size", "2", *SMALL]
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "infer.inference_vllm_dp_mj", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and len(_rows(out)) < 1:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_rows(out))
    deadline = time.monotonic() + 10  # orphaned kernels notice their parent died and exit
    while _orphan_kernels(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _orphan_kernels(proc.pid) == []
    assert 1 <= done_before < 6
    with open(out / "dp_rank_0.jsonl", "a") as fh:  # what a kill in the middle of a write leaves
        fh.write('{"prompt": "torn')
    resumed = _cli([*args, "--enable_cache"], timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"({done_before} already in" in resumed.stderr
    prompts = [r["prompt"] for r in _rows(out)]
    inputs = [json.loads(ln)["prompt"] for ln in src.read_text().splitlines()]
    assert sorted(prompts) == sorted(inputs)  # every example exactly once
    assert all(ln.endswith("}") for ln in (out / "dp_rank_0.jsonl").read_text().splitlines())


@pytest.mark.slow
def test_data_parallel_two_ranks(shared_data, tmp_path):
    src = _subset(shared_data, tmp_path, 3)
    out = tmp_path / "out"
    proc = _cli(["--input_file", str(src), "--output_dir", str(out), "--data_parallel_size", "2",
                 *SMALL, "--max_tokens_per_call", "32"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = read_jsonl_tolerant(str(out / "dp_rank_0.jsonl"))
    r1 = read_jsonl_tolerant(str(out / "dp_rank_1.jsonl"))
    inputs = [json.loads(ln)["prompt"] for ln in src.read_text().splitlines()]
    assert sorted(r["prompt"] for r in r0) == sorted(inputs[:2])  # the first rank takes the extra one
    assert [r["prompt"] for r in r1] == inputs[2:]


def test_failing_rank_fails_the_command(shared_data, tmp_path):
    src = _subset(shared_data, tmp_path, 2)
    proc = _cli(["--input_file", str(src), "--output_dir", str(tmp_path / "out"), "--data_parallel_size", "2",
                 "--model_name_or_path", str(tmp_path / "no-such-model"), *SMALL], timeout=300)
    assert proc.returncode == 1
    assert "data-parallel rank" in proc.stderr and "failed" in proc.stderr
