"""An adversarial battery against the executor: nothing one trajectory does reaches another or the run.

Each hostile cell runs in session A; then a fresh session B (the next trajectory) checks that it sees
a clean interpreter, and the executor must still be alive. Processes and scratch folders are counted
before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from cort.executor import JupyterExecutor, cgroup, confine

REPO = Path(__file__).resolve().parents[1]
LANDLOCK = confine.landlock_abi()
needs_landlock = pytest.mark.skipif(LANDLOCK < 6, reason="kernel without Landlock ABI 6 (fs, TCP and signal rules)")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # gone, also between a check and the lookup
        return False


def _wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if _running(p)}
        time.sleep(0.05)
    return alive


def _start_double_forked_sleeper(session) -> int:
    """Run a cell that leaves a ``setsid sleep 300`` behind; its pid."""
    out = session.run("import subprocess\n"
                      "subprocess.run('setsid sleep 300 > /dev/null 2>&1 & echo $!', shell=True, "
                      "capture_output=True, text=True).stdout.strip()").value
    return int(out.strip().strip("'"))


@pytest.fixture(scope="module")
def ex():
    with JupyterExecutor(timeout=5, warm_kernels=2, max_kernels=4, interrupt_grace=1.0) as executor:
        yield executor


HOSTILE = {
    "patch builtins and math": ("import builtins, math\nbuiltins.abs = lambda x: 42\nmath.pi = 3\n"
                                "print(abs(-1), math.pi)"),
    "recursion limit": "import sys\nsys.setrecursionlimit(60)\nprint(sys.getrecursionlimit())",
    "closed stdout": "import sys\nsys.stdout.close()",
    "printing thread": ("import threading, time\n"
                        "def spam():\n    while True:\n        print('LEAK', flush=True); time.sleep(0.01)\n"
                        "threading.Thread(target=spam, daemon=True).start()\ntime.sleep(0.2)"),
    "alarm": "import signal\nsignal.alarm(1)\nprint('armed')",
    "ignore SIGINT": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('deaf')",
    "chdir": "import os\nos.chdir('/')\nprint(os.getcwd())",
    "open multiprocessing pool": "import multiprocessing as mp\npool = mp.Pool(2)\nprint(pool.map(abs, [-1, -2]))",
}
CLEAN_CHECK = ("import builtins, math, sys, os, time\ntime.sleep(1.5)\n"
               "print(abs(-1), math.pi == 3.141592653589793, sys.getrecursionlimit() >= 1000, "
               "os.getcwd() == os.environ['HOME'])")


@pytest.mark.parametrize("name", list(HOSTILE))
def test_nothing_leaks_to_the_next_trajectory(ex, name):
    a = ex.open(f"a-{name}")
    a.run(HOSTILE[name])
    ex.close(f"a-{name}")
    b = ex.open(f"b-{name}")
    res = b.run(CLEAN_CHECK)
    ex.close(f"b-{name}")
    assert not res.infrastructure and res.ok, res.error
    assert res.output == "1 True True True\n"  # no LEAK lines, no alarm, builtins intact, own folder


def test_state_still_carries_between_cells_of_one_trajectory(ex):
    s = ex.open("carry")
    s.run("import sympy as sp\nx = sp.symbols('x')\ny = 41")
    assert s.run("print(y + 1, sp.factor(x**2 - 1))").output == "42 (x - 1)*(x + 1)\n"
    ex.close("carry")


def test_huge_output_is_capped_in_this_process_too(ex):
    before = psutil.Process().memory_info().rss
    s = ex.open("flood")
    res = s.run("import sys\nfor _ in range(400):\n    sys.stdout.write('x' * 100000 + '\\n')\n"
                "for _ in range(200):\n    sys.stderr.write('y' * 100000 + '\\n')", timeout=20)
    ex.close("flood")
    cap = ex.config.max_output_chars
    assert len(res.stdout) <= cap and len(res.stderr) <= cap and len(res.output) <= cap
    assert res.output_truncated
    assert psutil.Process().memory_info().rss - before < 200 * 1024 * 1024  # 60 MB went through, not kept


def test_double_forked_children_end_with_the_session(ex):
    s = ex.open("fork")
    pid = _start_double_forked_sleeper(s)
    assert psutil.pid_exists(pid)
    ex.close("fork")
    assert _wait_gone({pid}) == set()


def test_environment_is_scrubbed(ex, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    with JupyterExecutor(timeout=5, warm_kernels=0, max_kernels=1) as fresh:
        s = fresh.open("env")
        res = s.run("import os\nprint(sorted(k for k in os.environ if 'TOKEN' in k or 'SECRET' in k), "
                    "'hf_secret_value' in str(os.environ))")
    assert res.output == "[] False\n"


@needs_landlock
def test_writes_outside_scratch_are_refused(ex, tmp_path):
    target = tmp_path / "evil.txt"
    home_target = Path(os.path.expanduser("~")) / f"cort-evil-{os.getpid()}.txt"
    s = ex.open("write")
    res = s.run(textwrap.dedent(f"""
        import os
        open('inside.txt', 'w').write('ok')
        for path in [{str(target)!r}, {str(home_target)!r}, '/tmp/cort-evil.txt']:
            try:
                open(path, 'w').write('x'); print('WROTE', path)
            except OSError as err:
                print('refused', err.errno)
        print(os.path.exists('inside.txt'))
    """))
    ex.close("write")
    assert res.output.count("refused 13") == 3 and res.output.endswith("True\n"), res.output
    assert not target.exists() and not home_target.exists() and not Path("/tmp/cort-evil.txt").exists()


@needs_landlock
def test_no_network(ex):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    s = ex.open("net")
    res = s.run(textwrap.dedent(f"""
        import socket
        try:
            socket.create_connection(('127.0.0.1', {port}), timeout=2); print('CONNECTED')
        except OSError as err:
            print('tcp refused')
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'x', ('8.8.8.8', 53)); print('UDP SENT')
        except OSError as err:
            print('udp refused')
    """))
    ex.close("net")
    server.close()
    assert "CONNECTED" not in res.output and "tcp refused" in res.output
    if os.geteuid() == 0:  # a network namespace of its own: UDP reaches nothing either
        assert "udp refused" in res.output


@needs_landlock
def test_cannot_signal_the_run(ex):
    s = ex.open("kill")
    res = s.run("import os, signal\n"
                f"for pid in {{os.getppid(), {os.getpid()}}}:\n"  # the kernel template, and this run
                "    try:\n        os.kill(pid, signal.SIGTERM); print('SENT')\n"
                "    except OSError as err:\n        print('refused', err.errno)")
    ex.close("kill")
    assert "SENT" not in res.output and "refused 1" in res.output
    assert ex.open("after-kill").run("print('alive')").output == "alive\n"
    ex.close("after-kill")


@pytest.mark.skipif(cgroup.pids_root() is None and os.geteuid() == 0, reason="no process cap: root without cgroups")
def test_fork_bomb_is_capped_and_cleaned_up():
    with JupyterExecutor(timeout=20, warm_kernels=0, max_kernels=1, max_processes=24) as small:
        s = small.open("bomb")
        res = s.run(textwrap.dedent("""
            import os, time
            made = 0
            for _ in range(200):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(120)
                    os._exit(0)
                made += 1
            print(made)
        """))
        made = int(res.output.strip())
        assert 0 < made < 24
        kernel = psutil.Process(s._kernel.pid)
        session_procs = {kernel.pid} | {p.pid for p in kernel.children(recursive=True)}
        assert len(session_procs) > made  # the sleepers are there until the session ends
        small.close("bomb")
        assert _wait_gone(session_procs) == set()
        assert small.open("after").run("print(1)").output == "1\n"


def test_kernel_that_cannot_start_is_an_infrastructure_error(tmp_path):
    with JupyterExecutor(timeout=5, warm_kernels=0, max_kernels=1, startup_timeout=5) as broken:
        broken.pool._start_kernel = lambda: (_ for _ in ()).throw(RuntimeError("sandbox could not be set up"))
        res = broken.open("x").run("print(1)")
    assert res.infrastructure and not res.ok and "sandbox could not be set up" in res.error


def test_nothing_left_behind_after_shutdown():
    """This executor's template, kernels and what a cell started are gone (other pools' kernels aside: a
    module's shared executor may start a warm kernel meanwhile, seen where no cgroups exist)."""
    ex = JupyterExecutor(timeout=5, warm_kernels=2, max_kernels=3)
    s = ex.open("x")
    out = s.run("import subprocess\nprint(subprocess.Popen(['sleep', '300']).pid)\nopen('f.txt', 'w').write('x')")
    sleeper = int(out.output.split()[0])
    template = ex.pool.zygote.pid
    ours = {template, sleeper} | {p.pid for p in psutil.Process(template).children(recursive=True)}
    home = ex.pool.home
    ex.shutdown()
    assert not os.path.exists(home)
    assert _wait_gone(ours) == set()


def test_sigterm_of_the_run_ends_kernels_children_and_folders(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from cort.cli import run_command
        from cort.executor import JupyterExecutor

        def body():
            with JupyterExecutor(timeout=30, warm_kernels=1, max_kernels=2) as ex:
                out = ex.open('s').run("import subprocess\\n"
                                       "subprocess.run('setsid sleep 300 > /dev/null 2>&1 & echo $!', shell=True, "
                                       "capture_output=True, text=True).stdout.strip()").value
                print(ex.pool.home, out.strip().strip("'"), flush=True)
                time.sleep(300)

        sys.exit(run_command(body))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    home, pid = proc.stdout.readline().split()
    proc.terminate()
    proc.wait(timeout=60)
    assert proc.returncode == 143
    assert _wait_gone({int(pid)}) == set() and not os.path.exists(home)


class _FlakyExecutor:
    """Wraps a real executor; cells that mention ``broken`` fail the way broken machinery does."""

    def __init__(self, real: JupyterExecutor, broken: str):
        self.real, self.broken, self.config = real, broken, real.config

    def _check(self, code: str) -> None:
        if self.broken in code:
            raise ConnectionError("lost the kernel's sockets")

    def run(self, session_id: str, code: str, timeout: float | None = None):
        self._check(code)
        return self.real.run(session_id, code, timeout)

    def run_stateless(self, code: str, timeout: float | None = None):
        self._check(code)
        return self.real.run_stateless(code, timeout)

    def run_program(self, program: str, timeout: float | None = None):
        self._check(program)
        return self.real.run_program(program, timeout)

    def close(self, session_id: str) -> None:
        self.real.close(session_id)
        if session_id.endswith("-1"):  # trajectory 1: closing fails as well; the run must go on
            raise OSError("cannot remove the scratch folder")


@pytest.mark.parametrize("mode", ["original", "kernel"])
def test_infrastructure_failure_ends_one_trajectory_not_the_run(tokenizer, ex, mode):
    from cort.replay import ReplayEngine
    from cort.rollout import RolloutConfig, run_rollouts

    engine = ReplayEngine(tokenizer, {"<a>\n": "```python\nprint(6 * 7)\n```\nSo \\boxed{42}.",
                                      "<b>\n": "```python\nprint(6 * 7 + 0)\n```\nSo \\boxed{42}."})
    cfg = RolloutConfig(max_func_call=4, max_tokens_per_call=256, max_model_len=2048, temperature=0.0,
                        interpreter_mode=mode)
    good, bad = run_rollouts(engine, ["<a>\n", "<b>\n"], cfg, executor=_FlakyExecutor(ex, "+ 0"))
    assert good.finish_reason == "stop" and good.infra_errors == 0 and good.text.endswith("\\boxed{42}.")
    assert bad.finish_reason == "infra_error" and bad.infra_errors == 1 and bad.code_errors == 0
    assert "```output" not in bad.text  # no made-up observation was shown to the model
    from train.grpo import loss_masks  # GRPO: the cut trajectory carries no gradient, the other its model tokens

    good_mask, bad_mask = loss_masks([good, bad], 10_000)
    assert good_mask == good.model_mask and {0, 1} <= set(good_mask)
    assert len(bad_mask) == len(bad.completion_ids) > 0 and set(bad_mask) == {0}
    assert loss_masks([good], 5) == [good.model_mask[:5]]


def test_infrastructure_errors_stay_out_of_training_and_are_counted(tmp_path, capsys):
    import json

    from cort.rollout import Trajectory
    from data.trajectories import load_trajectories
    from evaluation.compute_metrics_dp import cli as metrics
    from train.rft import rejection_reason

    hit = Trajectory(0, "p", [1], infra_errors=1)
    assert rejection_reason(hit, "42") == "infra_error"
    row = {"prompt": "p", "gt_answer": "42", "source": "s", "gen": ["\\boxed{42}", "\\boxed{42}"],
           "gen_infra_errors": [1, 0]}
    (tmp_path / "dp_rank_0.jsonl").write_text(json.dumps(row) + "\n")
    assert [t["response"] for t in load_trajectories(str(tmp_path / "dp_rank_0.jsonl"))] == ["\\boxed{42}"]
    assert metrics(["--input_dir", str(tmp_path), "--output_file", str(tmp_path / "m.json"), "--workers", "1",
                    "--no_plot", "--tokenizer_name_or_path", "smollm2"]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["s"]["num_infra_error_responses"] == 1


@pytest.mark.skipif(cgroup.pids_root() is None, reason="no writable pids cgroup here")
def test_groups_left_by_a_killed_run_are_swept():
    import signal

    root = cgroup.pids_root()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stale = os.path.join(root, f"cort-{proc.pid}-deadbeef00")
    os.mkdir(stale)
    sleeper = subprocess.Popen(["sleep", "300"])
    with open(os.path.join(stale, "cgroup.procs"), "w") as fh:
        fh.write(str(sleeper.pid))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert cgroup.sweep_stale(root) >= 1
    assert not os.path.exists(stale) and sleeper.wait(timeout=10) == -9


def test_a_failing_preload_is_an_infrastructure_error_not_a_silent_kernel():
    with JupyterExecutor(timeout=5, warm_kernels=0, max_kernels=1, preload="import no_such_module_here") as broken:
        res = broken.open("x").run("print(1)")
    assert res.infrastructure and "preload code failed" in res.error and "ModuleNotFoundError" in res.error


def test_sigkill_of_the_run_ends_template_kernels_children_and_folders(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from cort.executor import JupyterExecutor

        ex = JupyterExecutor(timeout=30, warm_kernels=2, max_kernels=3)
        s = ex.open('s')
        out = s.run("import subprocess\\n"
                    "subprocess.run('setsid sleep 300 > /dev/null 2>&1 & echo $!', shell=True, "
                    "capture_output=True, text=True).stdout.strip()").value
        print(ex.pool.home, ex.pool.zygote.pid, s._kernel.pid, out.strip().strip("'"), flush=True)
        time.sleep(300)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    home, *pids = proc.stdout.readline().split()
    proc.kill()
    proc.wait(timeout=60)
    assert _wait_gone({int(p) for p in pids}) == set()  # the template saw its pipe close and ended them all
    deadline = time.monotonic() + 10
    while os.path.exists(home) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(home)


def test_sessions_do_not_share_random_state(ex):
    cell = "import random, numpy\nprint(random.random(), numpy.random.rand())"
    outs = []
    for name in ("rand-a", "rand-b"):
        outs.append(ex.open(name).run(cell).output)
        ex.close(name)
    assert outs[0] != outs[1] and outs[0].count(" ") == 1  # forked from one template, reseeded each


def test_a_killed_template_is_replaced():
    with JupyterExecutor(timeout=10, warm_kernels=0, max_kernels=2) as executor:
        assert executor.open("a").run("print(1)").output == "1\n"
        template = executor.pool.zygote.pid
        os.kill(template, 9)
        assert _wait_gone({template}) == set()
        res = executor.open("b").run("print(2)")
        assert res.output == "2\n" and not res.infrastructure
        assert executor.pool.zygote.pid not in (None, template)


def test_processes_orphaned_by_a_dead_kernel_are_killed(ex):
    s = ex.open("orphan")
    sleeper = _start_double_forked_sleeper(s)
    kernel = s._kernel.pid
    os.kill(kernel, 9)  # the session is still open: nothing on the driver's side ends the orphan yet
    assert _wait_gone({kernel, sleeper}) == set()
    ex.close("orphan")


@needs_landlock
def test_the_shared_ipython_profile_is_read_only(ex):
    s = ex.open("profile")
    res = s.run("import os\nd = get_ipython().profile_dir.startup_dir\nos.makedirs(d, exist_ok=True)\n"
                "try:\n    open(os.path.join(d, '00-evil.py'), 'w').write('EVIL = 1')\n    print('WROTE')\n"
                "except OSError as err:\n    print('refused', err.errno)")
    ex.close("profile")
    assert "refused" in res.output, res
    after = ex.open("profile-after")
    assert "NameError" in after.run("EVIL").error
    ex.close("profile-after")
