"""The executor in a process of its own: same results as in this process, and no process outlives its parent."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from cort.executor import ExecutorConfig, ExecutorProcess, JupyterExecutor, start_executor
from tests.processes import run_processes

REPO = Path(__file__).resolve().parents[1]
CELLS = [
    "x = 6 * 7",
    "print(x)",
    "import sys\nprint('err', file=sys.stderr)\nx + 1",
    "1 / 0",
    "def f(:\n  pass",
    "print('z' * 200_000)",
    "import time\ntime.sleep(5)",  # times out (timeout 1 s), the session goes on
    "print(x * 2)",
]


@pytest.fixture(scope="module")
def remote():
    with ExecutorProcess(timeout=10, warm_kernels=2, max_kernels=6) as ex:
        yield ex


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_until(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _summary(result) -> tuple:
    return (result.output, result.stdout, result.stderr, result.value, result.error, result.error_name,
            result.timed_out, result.output_truncated, result.infrastructure)


def test_results_are_those_of_the_executor_in_this_process(remote):
    with JupyterExecutor(timeout=10, warm_kernels=1, max_kernels=3) as inline:
        for ex in (inline, remote):
            ex.close("same")
        mine = [_summary(remote.run("same", cell, 1 if "sleep" in cell else None)) for cell in CELLS]
        theirs = [_summary(inline.run("same", cell, 1 if "sleep" in cell else None)) for cell in CELLS]
        assert mine == theirs
        assert mine[1][0] == "42\n" and mine[3][5] == "ZeroDivisionError" and mine[6][6] and mine[7][0] == "84\n"
        program = "a = 3\nprint(a ** 3)\nraise ValueError('no')"
        assert _summary(remote.run_program(program)) == _summary(inline.run_program(program))
        assert _summary(remote.run_stateless("print(x)")) == _summary(inline.run_stateless("print(x)"))
        assert remote.run_stateless("print(x)").error_name == "NameError"  # a fresh kernel each time
    remote.close("same")


def test_sessions_are_separate_and_run_concurrently(remote):
    for i in range(4):
        remote.run(f"c{i}", f"import time\nv = {i}")
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: remote.run(f"c{i}", "time.sleep(1); print(v)"), range(4)))
    assert [r.output for r in results] == [f"{i}\n" for i in range(4)]
    assert time.monotonic() - start < 2.5  # four 1 s cells overlapped
    with remote.open("c0") as session:
        assert session.run("print(v + 10)").output == "10\n"
    for i in range(1, 4):
        remote.close(f"c{i}")
    assert remote.run("c1", "print(v)").error_name == "NameError"  # closed: a new kernel


def test_server_log_records_reach_this_process(caplog):
    caplog.set_level(logging.DEBUG, logger="cort")
    with ExecutorProcess(timeout=10, warm_kernels=0, max_kernels=2) as ex:
        assert ex.run("s", "print(1)").output == "1\n"
    records = [r for r in caplog.records if r.name == "cort.executor.zygote"]
    assert records and "kernel template" in records[0].getMessage()
    assert records[0].process != os.getpid()  # made in the executor process, emitted here


def test_a_killed_server_fails_its_cells_and_a_new_one_serves_new_sessions():
    with ExecutorProcess(timeout=30, warm_kernels=1, max_kernels=3) as ex:
        assert ex.run("old", "y = 5").ok
        first = ex.pid
        kernels = [first] + [p.pid for p in psutil.Process(first).children(recursive=True)]
        assert len(kernels) >= 3 and set(kernels) <= set(run_processes(os.getpid()))  # server, template, kernels
        box = {}
        waiting = threading.Thread(target=lambda: box.update(r=ex.run("old", "import time\ntime.sleep(20)")))
        waiting.start()
        time.sleep(1.0)
        os.kill(first, signal.SIGKILL)
        waiting.join(timeout=10)
        assert not waiting.is_alive()  # no hang: the waiting cell got an answer
        assert box["r"].infrastructure and "exited" in box["r"].error
        lost = ex.run("old", "print(y)")  # its variables are gone: never a silent fresh kernel
        assert lost.infrastructure and "lost" in lost.error
        assert ex.run("new", "print(7)").output == "7\n"  # a new server for new sessions
        assert ex.pid not in (None, first)
        # the dead server's kernels notice their template's end and go
        assert _wait_until(lambda: not any(_alive(p) for p in kernels), 15)
        second = [ex.pid] + [p.pid for p in psutil.Process(ex.pid).children(recursive=True)]
    assert _wait_until(lambda: not any(_alive(p) for p in second), 15)


SCRIPT = textwrap.dedent("""
    import sys, time
    from cort.executor import ExecutorProcess
    ex = ExecutorProcess(timeout=60, warm_kernels=1, max_kernels=3)
    ex.run("s", "import subprocess\\np = subprocess.Popen(['sleep', '300'])")
    print(ex.pid, ex.run("s", "print(p.pid)").output.strip(), flush=True)
    if sys.argv[1] == "interrupt":
        try:
            ex.run("s", "import time\\ntime.sleep(30)")
        except KeyboardInterrupt:
            print("interrupted", ex.run("t", "print(6 * 7)").output.strip(), ex.pid, flush=True)
            ex.shutdown()
            sys.exit(0)
    ex.run("s", "import time\\ntime.sleep(60)")
""")


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_nothing_outlives_a_killed_or_interrupted_parent(tmp_path, how):
    """kill -9 of the whole process group: the server (its own session) sees its parent gone and ends every
    kernel and what they started. Ctrl-C (SIGINT to the group): the server is untouched, the parent goes on."""
    script = tmp_path / "parent.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    server, child = (int(v) for v in proc.stdout.readline().split())
    assert _alive(server) and _alive(child) and server in run_processes(proc.pid)
    time.sleep(1.0)  # the long cell is running
    if how == "kill":
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    else:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.stdout.readline().split() == ["interrupted", "42", str(server)]  # the same server
        assert proc.wait(timeout=60) == 0
    assert _wait_until(lambda: not _alive(server) and not _alive(child) and run_processes(proc.pid) == [], 15)


def test_start_executor_and_its_flag():
    with pytest.raises(ValueError, match="process must be one of"):
        start_executor(ExecutorConfig(), "elsewhere")
    from cort.args import ToolArguments, build_executor
    from cort.errors import UsageError

    with pytest.raises(UsageError, match="executor_process"):
        ToolArguments(executor_process="remote")
    with build_executor(ToolArguments(func_call_timeout=7, executor_process="inline")) as ex:
        assert isinstance(ex, JupyterExecutor) and ex.config.timeout == 7
    with build_executor(ToolArguments(func_call_timeout=7)) as ex:
        assert isinstance(ex, ExecutorProcess) and ex.config.timeout == 7 and ex.pid
        assert ex.run("s", "print(2 ** 5)").output == "32\n"
    with pytest.raises(RuntimeError, match="shut down"):
        ex.run("s", "print(1)")
