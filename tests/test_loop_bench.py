"""bench/loop_bench.py: its flags are checked before anything runs, and a small sim run prints its rows."""

import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "loop_bench.py")


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, BENCH, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--engine_cpus", "0"], "go together"),
    (["--engine_cpus", "x", "--cell_cpus", "1", "--engine", "vllm"], "is not a CPU list"),
    (["--engine_cpus", "0", "--cell_cpus", "4096", "--engine", "vllm"], "is not available here"),
    (["--engine_cpus", "0", "--cell_cpus", "0", "--engine", "vllm"], "must not share a core"),
    (["--engine_cpus", "0", "--cell_cpus", "1"], "need --engine vllm"),
    (["--workloads", "quick,slowest"], "unknown ['slowest']"),
    (["--timeout_s", "0"], "--timeout_s must be > 0"),
    (["--trajectories", "0"], "--trajectories: must be at least 1"),
    (["--record", "rec.json"], "needs --engine vllm"),
    (["--block_size", "32", "--engine", "hf"], "needs --engine vllm"),
    (["--executor_process", "inline"], "needs --engine vllm or hf"),
    (["--executor_process", "remote", "--engine", "hf"], "invalid choice: 'remote'"),
    (["--draws", "3"], "go with --replay"),
    (["--record", os.path.dirname(BENCH), "--engine", "vllm"], "is a folder"),
])
def test_bad_flags_exit_2_with_one_line(args, message):
    out = _run(*args, timeout=120)
    assert out.returncode == 2
    assert message in out.stderr.strip().splitlines()[-1]
    assert "Traceback" not in out.stderr and "|" not in out.stdout


def test_small_sim_rows_generate_the_same_tokens_in_every_loop():
    out = _run("--trajectories", "12", "--workloads", "quick")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|") for line in out.stdout.splitlines() if line.startswith("| sim, 12 trajectories")]
    assert [r[2].strip() for r in rows] == ["epoch-synchronous (original)", "batch loop (previous default)",
                                            "continuous loop (default)", "floor: same tokens, no cells, no waiting",
                                            "floor with the tool's requests: cells return at once"]
    tokens = {int(r[4]) for r in rows}
    assert len(tokens) == 1 and tokens.pop() > 0
    calls = int(rows[0][6])
    assert calls > 0 and [int(r[6]) for r in rows] == [calls, calls, calls, 0, calls]
    assert rows[0][7].strip() == "1.00x" and rows[3][8].strip() == "1.00"  # ratios against epoch and floor


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("loop_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["loop_bench"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_engine_clock_times_engine_calls_and_restores_the_engine():
    from transformers import AutoTokenizer

    from cort.models import default_model_dir
    from cort.replay import ReplayEngine
    from cort.rollout import RolloutConfig, run_rollouts

    bench = _bench_module()
    tok = AutoTokenizer.from_pretrained(default_model_dir())
    engine = ReplayEngine(tok, {"Q: ": "one two three"}, seconds_per_token=0.01)
    with bench.EngineClock(engine, None) as clock:
        run_rollouts(engine, ["Q: "], RolloutConfig(loop="continuous", max_func_call=2, seed=0),
                     executor=bench.DrawnCellTimes("quick", 1.0))
    assert clock.calls >= 3 and 0.02 < clock.inside < 1.0  # one step per token, 10 ms each
    assert "generate" not in vars(engine) and "step" not in vars(engine)  # the class's methods again
    assert f"{clock.calls} engine calls" in clock.summary(clock.inside + 0.5)
    assert clock.others >= 0.0


def test_recorded_cells_replay_without_running_and_count_misses(executor):
    bench = _bench_module()
    drawn = bench.DrawnCellTimes("quick", 5.0, executor=executor)
    first = drawn.run_program("print(6 * 7)", 5.0)
    assert first.output.strip() == "42" and set(drawn.programs) == {"print(6 * 7)"}
    assert len(drawn.executed) == 1 and 0 < drawn.executed[0] < 5.0  # the executor's own time, timed
    assert bench.execution_summary(drawn.executed).startswith("cells' own execution after the drawn delay: mean ")
    assert bench.execution_summary([]) == "no cell executed"
    replay = bench.RecordedCells(drawn.programs, executor)
    assert replay.run_program("print(6 * 7)", 5.0) is first and replay.misses == 0
    assert replay.run_program("print(1 + 1)", 5.0).output.strip() == "2" and replay.misses == 1


def test_cell_time_draws_are_independent_and_draw_0_is_the_tables():
    bench = _bench_module()
    keys = [f"print({i})" for i in range(400)]
    first = [bench.cell_seconds(k, "heavy", 30.0) for k in keys]
    assert first == [bench.cell_seconds(k, "heavy", 30.0, draw=0) for k in keys]
    other = [bench.cell_seconds(k, "heavy", 30.0, draw=1) for k in keys]
    assert sum(a != b for a, b in zip(first, other)) > 390
    # both draws follow the distribution: about 4% of the cells in the timeout band
    for draws in (first, other):
        assert 4 <= sum(abs(s - 30.0) < 1e-9 for s in draws) <= 32


def _recording(tmp_path, bench, **changes):
    """A --record file written by the bench's own writer from a replayed run of two short scripts."""
    from transformers import AutoTokenizer

    from cort.models import default_model_dir
    from cort.replay import ReplayEngine
    from cort.rollout import RolloutConfig, run_rollouts

    tok = AutoTokenizer.from_pretrained(default_model_dir())
    scripts = {"Q1\n": "We add.\n```python\nprint(1 + 1)\n```\nSo \\boxed{2}.",
               "Q2\n": "Two cells.\n```python\nprint(2)\n```\nthen\n```python\nprint(3)\n```\n\\boxed{3}."}
    trajs = run_rollouts(ReplayEngine(tok, scripts), list(scripts), RolloutConfig(max_func_call=4),
                         executor=bench.DrawnCellTimes("quick", 1.0, max_cells=2))
    args = type("Args", (), dict(record=str(tmp_path / "rec.json"), workloads="heavy", timeout_s=0.5,
                                 max_running=2, max_func_call=4, max_tokens_per_call=64))()
    costs = dict(step_ms=2.0, seq_ms=0.5, prefill_ms=0.01)
    cfg = dict(max_func_call=4, max_tokens_per_call=64, func_call_timeout=0.5)
    split = {"continuous": "3 engine calls, 0.5 s inside them"}
    bench.write_recording(args, "heavy", cfg, costs, {"epoch": (1.0, 9, 3), "continuous": (0.8, 9, 3)}, trajs, split)
    import json

    rec = json.loads((tmp_path / "rec.json").read_text())
    assert rec["time_split"] == split  # where each row's time went, kept beside its wall time
    if changes:
        rec.update(changes)
        (tmp_path / "rec.json").write_text(json.dumps(rec))
    return tmp_path / "rec.json"


def test_replay_of_a_recording_prints_every_draw_and_the_summary(tmp_path):
    bench = _bench_module()
    path = _recording(tmp_path, bench)
    assert bench.read_recording(str(path))["trajectories"][1]["model_text"].count("```python") == 2
    out = _run("--replay", str(path), "--draws", "2", "--time_scale", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|") for line in out.stdout.splitlines() if line.startswith("| replay of rec.json")]
    assert [r[1].strip() for r in rows[::5]] == ["replay of rec.json, cell-time draw 0",
                                                 "replay of rec.json, cell-time draw 1"]
    assert len(rows) == 10 and {int(r[4]) for r in rows} == {int(rows[0][4])}  # same tokens in every row
    assert [int(r[6]) for r in rows[:5]] == [3, 3, 3, 0, 3]  # code calls; the floor runs none
    assert "| epoch-synchronous (original) | 1.0 |" in out.stdout  # draw 0 beside the measured wall time
    summary = [line for line in out.stdout.splitlines() if line.startswith("| continuous loop (default) |")]
    assert summary and summary[-1].rstrip().endswith("| 2 |")
    settings = out.stdout.strip().splitlines()[-1]  # the replay's own flags and the recorded run's settings
    assert settings.startswith("settings: replay=") and "draws=2" in settings and "'max_running':" in settings
    assert "trajectories" not in settings  # not the synthetic workload's unused defaults


@pytest.mark.parametrize("changes, message", [
    ({"costs": {"step_ms": -1, "seq_ms": 0, "prefill_ms": 0}}, "field 'costs.step_ms'"),
    ({"trajectories": []}, "field 'trajectories'"),
    ({"trajectories": [{"prompt": "x"}]}, "field 'trajectories[0]'"),
    ({"workload": "slowest"}, "field 'workload'"),
    ({"max_running": "8"}, "field 'max_running'"),
    ({"timeout_s": 0}, "field 'timeout_s'"),
    ({"measured": {"epoch": "slow"}}, "field 'measured'"),
    ({"config": {"max_func_calls": 4}}, "field 'config'"),
    ({"config": [4]}, "field 'config'"),
    ({"measured": None, "config": None, "workload": None, "timeout_s": None, "max_running": None,
      "costs": None, "trajectories": None, "extra": 1}, "field 'workload'"),
])
def test_a_bad_recording_is_one_line_naming_the_file_and_field(tmp_path, changes, message):
    path = _recording(tmp_path, _bench_module(), **changes)
    out = _run("--replay", str(path), timeout=120)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert str(path) in last and message in last and "Traceback" not in out.stderr


def test_replay_refuses_what_is_not_a_recording(tmp_path):
    (tmp_path / "other.json").write_text('{"rows": []}')
    out = _run("--replay", str(tmp_path / "other.json"), timeout=120)
    assert out.returncode == 2 and "not a loop_bench --record file" in out.stderr.strip().splitlines()[-1]
    out = _run("--replay", str(tmp_path / "missing.json"), timeout=120)
    assert out.returncode == 2 and "missing.json" in out.stderr.strip().splitlines()[-1]
    out = _run("--replay", str(tmp_path / "other.json"), "--engine", "vllm", timeout=120)
    assert out.returncode == 2 and "leave out --engine vllm" in out.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("env, says", [({"MAIN_PY": "false"}, "lacks the main environment"),
                                       ({"PY": "false"}, "lacks vllm"),
                                       ({"STEPS": "2-8"}, "needs MAX_FUNC_CALL >= 8 (got 6)"),
                                       ({"EXECUTOR_PROCESS": "remote"}, "must be separate or inline")])
def test_vllm_script_refuses_wrong_settings_before_writing(tmp_path, env, says):
    """scripts/loop_bench_vllm.sh with an interpreter that lacks its environment, or chains longer than its call
    budget: one line, exit 2, nothing written."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "out"
    run = subprocess.run(["sh", "scripts/loop_bench_vllm.sh"], cwd=repo, capture_output=True, text=True,
                         env={**os.environ, "MAIN_PY": sys.executable, "OUT": str(out), **env}, timeout=120)
    assert run.returncode == 2, run.stderr
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()
