"""bench/engine_bench.py: flags checked before anything loads; the cell-traffic row runs real cells beside it."""

import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "engine_bench.py")


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, BENCH, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TOKENIZERS_PARALLELISM="false"))


@pytest.mark.parametrize("args, message", [
    (["--cell_traffic", "4"], "--cell_traffic and --cell_cpus go together"),
    (["--cell_cpus", "1"], "--cell_traffic and --cell_cpus go together"),
    (["--cell_traffic", "-1", "--cell_cpus", "1"], "--cell_traffic: must be >= 0"),
    (["--cell_traffic", "2", "--cell_cpus", "x"], "is not a CPU list"),
    (["--cell_traffic", "2", "--cell_cpus", "0", "--engine_cpus", "0"], "must not share a core"),
    (["--busy_cpu", "0-1"], "--busy_cpu: one CPU"),
    (["--cell_traffic", "2", "--cell_cpus", "1", "--executor_process", "inline,remote"], "--executor_process: a comma"),
    (["--executor_process", "inline"], "it needs --cell_traffic"),
])
def test_bad_flags_exit_2_with_one_line(args, message):
    out = _run(*args, timeout=120)
    assert out.returncode == 2
    assert message in out.stderr.strip().splitlines()[-1]
    assert "Traceback" not in out.stderr and "|" not in out.stdout


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs: one for the engine, one for the cells")
def test_cell_traffic_row_runs_cells_beside_the_same_generation(shared_data):
    engine_cpu, cell_cpu = sorted(os.sched_getaffinity(0))[:2]
    out = _run("--engines", "hf", "--prompts", "2", "--max_tokens", "16", "--engine_cpus", str(engine_cpu),
               "--cell_traffic", "2", "--cell_cpus", str(cell_cpu), "--busy_cpu", str(cell_cpu),
               "--executor_process", "inline,separate", "--data", str(shared_data / "test_math500.reason_step.jsonl"))
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in out.stdout.splitlines() if line.startswith("| hf")]
    cells = f"2 cell threads, kernels and threads on CPU {cell_cpu}, executor"
    assert [r[1] for r in rows] == ["idle", f"busy loop on CPU {cell_cpu}", f"{cells} inline", f"{cells} separate"]
    assert len({r[4] for r in rows}) == 1 and int(rows[0][4]) > 0  # seeded: the same tokens in every row
    # cells ran only in the traffic rows (not beside the busy loop on the same CPU)
    assert rows[0][7] == rows[1][7] == "" and int(rows[2][7]) > 0 and int(rows[3][7]) > 0
