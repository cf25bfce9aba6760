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
                                            "continuous loop (default)", "floor: same tokens, no cells, no waiting"]
    tokens = {int(r[4]) for r in rows}
    assert len(tokens) == 1 and tokens.pop() > 0
    assert [int(r[6]) for r in rows[:3]] == [int(rows[0][6])] * 3 and int(rows[3][6]) == 0
    assert rows[0][7].strip() == "1.00x" and rows[3][8].strip() == "1.00"  # ratios against epoch and floor
