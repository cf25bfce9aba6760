"""bench/order_study.py: the virtual-time model of the loop's admission, on hand-checked cases and a recording."""

import os
import subprocess
import sys

import pytest

from tests.test_loop_bench import _bench_module, _recording

STUDY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "order_study.py")


def _study():
    import importlib.util

    _bench_module()  # order_study imports loop_bench by name
    spec = importlib.util.spec_from_file_location("order_study", STUDY)
    module = importlib.util.module_from_spec(spec)
    sys.modules["order_study"] = module
    spec.loader.exec_module(module)
    return module


def test_a_cell_overlaps_generation_and_the_loop_waits_only_when_nothing_can_generate():
    study = _study()
    R, costs = study.Round, study.Costs(1.0, 0.0, 0.0)
    rounds = [[R(0, 3, None)], [R(0, 2, 10.0), R(0, 1, None)]]
    # t=1, 2: both decode; B's cell runs 2..12 while A ends at 3; idle to 12; B's last token at 13
    assert study.simulate(rounds, costs, capacity=2) == (13.0, 4)
    assert study.simulate(rounds, costs, capacity=2, zero_cells=True) == (3.0, 3)
    # one at a time: A's 3 steps, then B's 2, its cell, its last step
    assert study.simulate(rounds, costs, capacity=1) == (16.0, 6)
    # the per-sequence cost and prefill are paid as modelled
    assert study.simulate([[R(5, 2, None)]], study.Costs(1.0, 0.5, 0.1), capacity=4) == (3.5, 2)


def test_an_order_that_knows_the_remaining_work_runs_the_long_cell_first():
    study = _study()
    R, costs = study.Round, study.Costs(1.0, 0.0, 0.0)
    rounds = [[R(0, 1, 0.0), R(0, 3, None)], [R(0, 1, 0.0), R(0, 1, 10.0), R(0, 1, None)]]
    # both continuations wait at t=2; arrival runs A's 3 tokens before B's slow cell starts
    assert study.simulate(rounds, costs, capacity=1, order="arrival") == (17.0, 7)
    assert study.simulate(rounds, costs, capacity=1, order="oracle_work") == (14.0, 7)
    assert study.simulate(rounds, costs, capacity=1, order="oracle_cells") == (14.0, 7)
    assert study.simulate(rounds, costs, capacity=1, order="most_rounds") == (17.0, 7)  # a tie: arrival
    with pytest.raises(ValueError, match="unknown order"):
        study.simulate(rounds, costs, capacity=1, order="shortest")


def test_sibling_lag_runs_the_sample_behind_its_sibling_first():
    study = _study()
    R, costs = study.Round, study.Costs(1.0, 0.0, 0.0)
    # A1 and A2 sample one prompt (two cells each), B another. At t=4 B, A2 (back from its 2 s cell, one
    # round done) and A1 (two rounds done) wait: A2 is one round behind A1, so its 10 s cell starts at 7
    # and ends at 17 (last token at 18); by arrival B goes first, the cell starts at 10 and the run ends at 21.
    rounds = [[R(0, 1, 0.0), R(0, 1, 0.0), R(0, 1, None)], [R(0, 1, 2.0), R(0, 3, 10.0), R(0, 1, None)],
              [R(0, 1, 0.0), R(0, 3, None)]]
    assert study.simulate(rounds, costs, capacity=1, order="arrival", prompts=["a", "a", "b"]) == (21.0, 12)
    assert study.simulate(rounds, costs, capacity=1, order="sibling_lag", prompts=["a", "a", "b"]) == (18.0, 12)
    # without siblings no trajectory lags: arrival's schedule
    assert study.simulate(rounds, costs, capacity=1, order="sibling_lag") == (21.0, 12)


def test_rounds_of_a_recording_follow_the_real_loop_and_the_draw(tmp_path):
    study = _study()
    from transformers import AutoTokenizer

    from cort.models import default_model_dir

    rec = study.read_recording(str(_recording(tmp_path, sys.modules["loop_bench"])))
    tok = AutoTokenizer.from_pretrained(default_model_dir())
    draw0, draw1 = study.recorded_rounds(rec, tok, 0), study.recorded_rounds(rec, tok, 1)
    assert [len(r) for r in draw0] == [2, 3]  # one and two cells, then the answer
    assert [r.cell is None for r in draw0[1]] == [False, False, True]
    assert all(r.decode > 0 for t in draw0 for r in t) and draw0[0][0].prefill > draw0[0][1].prefill > 0
    assert [[r.decode for r in t] for t in draw0] == [[r.decode for r in t] for t in draw1]  # same text
    assert [r.cell for t in draw0 for r in t] != [r.cell for t in draw1 for r in t]  # another cell-time draw


def test_the_report_and_its_bad_input(tmp_path):
    path = _recording(tmp_path, _bench_module())
    out = subprocess.run([sys.executable, STUDY, str(path), "--draws", "2"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in out.stdout.splitlines() if line.startswith("| ")}
    assert {"arrival", "most_rounds", "oracle_work", str(path)} <= set(rows)
    assert rows["oracle_work"].split("|")[2].strip() == "yes" and rows["arrival"].split("|")[2].strip() == "no"
    for args, says in (([str(path), "--draws", "0"], "--draws: must be at least 1"),
                       ([str(tmp_path / "missing.json")], "missing.json"),
                       (["--sim_seeds", "0,x"], "--sim_seeds: must be comma-separated integers"),
                       ([], "give recordings"),
                       ([str(_recording(tmp_path / "free", _bench_module(),
                                        costs=dict(step_ms=0, seq_ms=0, prefill_ms=0.01)))],
                        "field 'costs': step_ms and seq_ms are both 0")):
        out = subprocess.run([sys.executable, STUDY, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and says in out.stderr.strip().splitlines()[-1] and "Traceback" not in out.stderr


def test_the_simulator_column_is_its_heavy_workload():
    study = _study()
    rec = study.sim_recording(1)
    bench = sys.modules["loop_bench"]
    assert [t["model_text"] for t in rec["trajectories"]] == list(bench.sim_scripts(256, 1).values())
    assert rec["max_running"] == 64 and rec["config"]["func_call_timeout"] == 1.0 and rec["measured"] == {}
    out = subprocess.run([sys.executable, STUDY, "--sim_seeds", "1", "--draws", "1"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "simulator, heavy, seeds 1: mean" in out.stdout and "virtual s" not in out.stdout  # nothing measured
    arrival = next(line for line in out.stdout.splitlines() if line.startswith("| arrival |"))
    assert 0.5 < float(arrival.split("|")[3]) <= 1.1  # the loop near its floor, as the real-time simulator finds
