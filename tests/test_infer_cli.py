"""The inference CLI end to end: real model, real kernels, crash-safe output."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cort.io import JsonlAppender, read_jsonl_tolerant
from infer.inference_vllm_dp_mj import answered_prompts, cli, make_parser, shard_bounds
from tests.processes import run_processes

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--engine", "hf", "--n_sampling", "2", "--max_func_call", "3", "--max_tokens_per_call", "128",
         "--temperature", "0.6", "--no_progress"]


def _cli(args, **kw):
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "infer.inference_vllm_dp_mj", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, **kw)


def _rows(out_dir: Path) -> list[dict]:
    return [r for p in sorted(out_dir.glob("dp_rank*.jsonl")) for _, r in read_jsonl_tolerant(str(p))]


def _parse(argv: list[str]):
    return make_parser().parse_args_into_dataclasses(args=argv)


def _subset(shared_data: Path, tmp_path: Path, k: int) -> Path:
    lines = (shared_data / "test_aime24.reason_step.jsonl").read_text().splitlines()[:k]
    path = tmp_path / "input.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_original_flags_and_quirks():
    _, _, tool, sampling = _parse(["--temperature", "0", "--top_p", "0.95",
                                   "--stop_tokens_mode", "old_normal_code_block_end"])
    assert sampling.top_p == 1 and tool.stop_tokens_mode == "old_normal_code_block_end"
    run, engine, tool, sampling = _parse([])
    assert (engine.engine, run.n_sampling, tool.max_func_call, tool.func_call_timeout, run.end, tool.max_model_len,
            tool.max_tokens_per_call, sampling.temperature, sampling.top_p, tool.func_call_mode, run.hint_mode,
            run.input_file, run.output_dir, run.num_test_sample, sampling.seed, engine.tensor_parallel_size) == (
        "vllm", 8, 10, 30, -1, 130000, 32768, 0.6, 0.95, "jupyter", "none", "gsm8k.jsonl", "./output", -1, 0, 1)


def test_data_parallel_split_matches_original():
    bounds = [shard_bounds(10, 4, r) for r in range(4)]
    assert bounds == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert shard_bounds(1, 3, 2) == (1, 1)


@pytest.mark.parametrize("content, message", [
    (None, "input file not found"),
    ("", "input file has no examples"),
    ('{"prompt": "a"}\nnot json\n', ":2: not valid JSON"),
    ('{"prompt": "a"}\n{"problem": "b"}\n', ":2: field 'prompt': missing"),
    ('{"prompt": ""}\n', ":1: field 'prompt': must not be empty"),
    ('{"prompt": 5}\n', ":1: field 'prompt': must be a string, got a number"),
    ('[{"prompt": "a"}]\n', ":1: expected a JSON object, got a list"),
    (b'{"prompt": "caf\xe9"}\n', ":1: not UTF-8 text"),
])
def test_bad_input_is_one_line_exit_2_no_output(tmp_path, content, message):
    path = tmp_path / "in.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
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
    assert [r["prompt"] for _, r in read_jsonl_tolerant(str(path))] == ["a"]
    assert answered_prompts(str(tmp_path)) == {"a"}
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
        # at most max_func_call - 1 cells, plus one when the last round (no stop strings) happens to end at a
        # closed cell: the original runs that one too
        assert all(0 <= e <= c <= 3 for c, e in zip(row["gen_code_calls"], row["gen_code_errors"]))
        assert row["time_use"] > 0
        assert {"majority_answer", "majority_answer_strict"} <= row.keys()  # None when no answer was found
        assert row["chat_prompt"].endswith("<think>\nOkay, let's try to solve this problem step by step using "
                                           "multiple python code calls.")
    info = json.loads((out / "run_info.json").read_text())  # metrics count tokens with the run's own model
    assert os.path.isdir(info["model_name_or_path"]) and info["interpreter_mode"] == "original"
    assert info["n_sampling"] == 2 and info["engine"] == "hf"


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
    assert run_processes(proc.pid) != []  # the executor process and the kernels are outside the process group
    deadline = time.monotonic() + 10  # they notice their parent died and exit
    while run_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run_processes(proc.pid) == []
    assert 1 <= done_before < 6
    with open(out / "dp_rank_0.jsonl", "a") as fh:  # what a kill in the middle of a write leaves
        fh.write('{"prompt": "torn')
    resumed = _cli([*args, "--enable_cache"], timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{done_before} of 6 selected problems already in" in resumed.stderr
    prompts = [r["prompt"] for r in _rows(out)]
    inputs = [json.loads(ln)["prompt"] for ln in src.read_text().splitlines()]
    assert sorted(prompts) == sorted(inputs)  # every example exactly once
    assert all(ln.endswith("}") for ln in (out / "dp_rank_0.jsonl").read_text().splitlines())


@pytest.mark.slow
def test_ctrl_c_exits_130_and_leaves_no_process(shared_data, tmp_path):
    """Ctrl-C (SIGINT to the foreground process group) mid-run: rows written so far stay, exit 130, and the
    executor process (its own session, so not interrupted itself) is shut down with every kernel."""
    src = _subset(shared_data, tmp_path, 6)
    out = tmp_path / "out"
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "infer.inference_vllm_dp_mj", "--input_file", str(src),
                             "--output_dir", str(out), "--batch_size", "2", *SMALL], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and len(_rows(out)) < 1:
        time.sleep(0.2)
    assert run_processes(proc.pid) != []  # the executor process is up
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert 1 <= len(_rows(out)) < 6
    assert run_processes(proc.pid) == []  # shut down before the command returned, not by the watchdog


@pytest.mark.slow
def test_data_parallel_two_ranks(shared_data, tmp_path):
    src = _subset(shared_data, tmp_path, 3)
    out = tmp_path / "out"
    proc = _cli(["--input_file", str(src), "--output_dir", str(out), "--data_parallel_size", "2",
                 *SMALL, "--max_tokens_per_call", "32"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = [r for _, r in read_jsonl_tolerant(str(out / "dp_rank_0.jsonl"))]
    r1 = [r for _, r in read_jsonl_tolerant(str(out / "dp_rank_1.jsonl"))]
    inputs = [json.loads(ln)["prompt"] for ln in src.read_text().splitlines()]
    assert sorted(r["prompt"] for r in r0) == sorted(inputs[:2])  # the first rank takes the extra one
    assert [r["prompt"] for r in r1] == inputs[2:]


def test_failing_rank_fails_the_command(shared_data, tmp_path, model_dir):
    src = _subset(shared_data, tmp_path, 2)
    broken = tmp_path / "weightless-model"  # tokenizer and config pass the up-front checks; the weights are missing
    broken.mkdir()
    for f in Path(model_dir).iterdir():
        if not f.name.endswith(".safetensors"):
            (broken / f.name).write_bytes(f.read_bytes())
    proc = _cli(["--input_file", str(src), "--output_dir", str(tmp_path / "out"), "--data_parallel_size", "2",
                 "--model_name_or_path", str(broken), *SMALL], timeout=300)
    assert proc.returncode == 1
    assert "data-parallel rank" in proc.stderr and "failed" in proc.stderr


@pytest.mark.parametrize("flags, message", [
    (["--n_sampling", "0"], "--n_sampling: must be greater than 0"),
    (["--start", "5", "--end", "2"], "--end: must be -1 (to the end) or greater than --start 5"),
    (["--start", "-1"], "--start: must be 0 or more"),
    (["--temperature", "-1"], "--temperature: must be 0 (greedy) or more"),
    (["--top_p", "1.5"], "--top_p: must be in (0, 1]"),
    (["--max_func_call", "-1"], "--max_func_call: must be greater than 0"),
    (["--max_tokens_per_call", "0"], "--max_tokens_per_call: must be greater than 0"),
    (["--max_model_len", "0"], "--max_model_len: must be greater than 0"),
    (["--func_call_timeout", "0"], "--func_call_timeout: must be greater than 0"),
    (["--data_parallel_size", "0"], "--data_parallel_size: must be greater than 0"),
    (["--tensor_parallel_size", "0"], "--tensor_parallel_size: must be greater than 0"),
    (["--batch_size", "0"], "--batch_size: must be greater than 0"),
    (["--num_test_sample", "0"], "--num_test_sample: must be -1 (all) or greater than 0"),
    (["--enable_cache", "--overwrite"], "--enable_cache: cannot be combined with --overwrite"),
    (["--start", "40"], "selects no problem of the 2"),
    (["--preload_imports", "import sympy as"], "--preload_imports: not valid Python"),
    (["--interpreter_mode", "live"], "--interpreter_mode"),
])
def test_bad_flags_are_one_line_exit_2(shared_data, tmp_path, capsys, flags, message):
    src = _subset(shared_data, tmp_path, 2)
    out = tmp_path / "out"
    assert cli(["--input_file", str(src), "--output_dir", str(out), "--engine", "hf", *flags]) == 2
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert not out.exists()


def test_output_dir_under_a_file_and_missing_vllm(shared_data, tmp_path, capsys):
    src = _subset(shared_data, tmp_path, 1)
    (tmp_path / "a_file").write_text("x")
    assert cli(["--input_file", str(src), "--output_dir", str(tmp_path / "a_file" / "out"), "--engine", "hf"]) == 2
    assert "cannot be a folder" in capsys.readouterr().err
    if importlib.util.find_spec("vllm") is None:
        assert cli(["--input_file", str(src), "--output_dir", str(tmp_path / "out")]) == 2
        assert "--engine: vllm is not installed" in capsys.readouterr().err


def test_earlier_results_are_never_deleted_by_a_bad_run(shared_data, tmp_path, capsys):
    src = _subset(shared_data, tmp_path, 2)
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "dp_rank_0.jsonl"
    earlier.write_text('{"prompt": "kept", "gen": ["x"]}\n')
    base = ["--input_file", str(src), "--output_dir", str(out), "--engine", "hf"]
    assert cli(base) == 2  # neither --enable_cache nor --overwrite
    assert "pass --enable_cache to resume or --overwrite" in capsys.readouterr().err
    assert cli([*base, "--overwrite", "--model_name_or_path", str(tmp_path / "no-such-model")]) == 2
    assert "--model_name_or_path: cannot load a tokenizer" in capsys.readouterr().err
    assert cli([*base, "--overwrite", "--max_model_len", "20"]) == 2  # a prompt that cannot fit
    assert ":1: field 'prompt':" in capsys.readouterr().err
    assert earlier.read_text() == '{"prompt": "kept", "gen": ["x"]}\n'


@pytest.mark.slow
def test_resume_finishes_exactly_the_selected_problems(shared_data, tmp_path):
    src = _subset(shared_data, tmp_path, 4)
    out = tmp_path / "out"
    base = ["--input_file", str(src), "--output_dir", str(out), *SMALL, "--max_tokens_per_call", "24"]
    assert _cli([*base, "--end", "1"], timeout=600).returncode == 0
    resumed = _cli([*base, "--end", "2", "--enable_cache"], timeout=600)  # eval.sh re-runs look like this
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    inputs = [json.loads(ln)["prompt"] for ln in src.read_text().splitlines()]
    assert sorted(r["prompt"] for r in _rows(out)) == sorted(inputs[:2])  # nothing beyond --end
    again = _cli([*base, "--end", "2", "--enable_cache"], timeout=600)
    assert again.returncode == 0 and "0 problems to run" in again.stderr
    assert len(_rows(out)) == 2


@pytest.mark.slow
def test_sigterm_stops_data_parallel_workers(shared_data, tmp_path):
    src = _subset(shared_data, tmp_path, 4)
    out = tmp_path / "out"
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "infer.inference_vllm_dp_mj", "--input_file", str(src),
                             "--output_dir", str(out), "--data_parallel_size", "2", *SMALL,
                             "--max_tokens_per_call", "512", "--max_func_call", "8"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(parent.children()) < 2:
        time.sleep(0.2)
    workers = parent.children(recursive=True)
    assert len(workers) >= 2
    time.sleep(3)  # let the workers load their engines
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []  # no orphan keeps writing
