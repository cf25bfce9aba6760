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


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("loop_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["loop_bench"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_pin_tree_moves_a_process_and_its_children():
    bench = _bench_module()
    cpus = sorted(os.sched_getaffinity(0))
    child_code = ("import subprocess, sys, time; "
                  "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
                  "print('up', flush=True); time.sleep(30)")
    parent = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE, text=True)
    kids: list[int] = []
    try:
        assert parent.stdout.readline().strip() == "up"
        kids += [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == parent.pid]
        assert len(kids) == 1
        assert bench.pin_tree(parent.pid, {cpus[-1]}) == 2
        for pid in (parent.pid, kids[0]):
            assert os.sched_getaffinity(pid) == {cpus[-1]}
        assert bench.pin_tree(2 ** 22 + 7, {cpus[0]}) == 0  # a process that is gone: nothing, no error
    finally:
        for pid in kids:
            os.kill(pid, 9)
        parent.kill()
        parent.wait()


def _ppid(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


def test_recorded_cells_replay_without_running_and_count_misses(executor):
    bench = _bench_module()
    drawn = bench.DrawnCellTimes("quick", 5.0, executor=executor)
    first = drawn.run_program("print(6 * 7)", 5.0)
    assert first.output.strip() == "42" and set(drawn.programs) == {"print(6 * 7)"}
    replay = bench.RecordedCells(drawn.programs, executor)
    assert replay.run_program("print(6 * 7)", 5.0) is first and replay.misses == 0
    assert replay.run_program("print(1 + 1)", 5.0).output.strip() == "2" and replay.misses == 1
