"""The Jupyter executor against real kernels."""

import os
import time

import psutil
import pytest

from cort.executor import TIMEOUT_REPORT, ExecutorConfig, JupyterExecutor, PythonExecutor


def _descendants() -> set[int]:
    alive = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.add(p.pid)
        except psutil.NoSuchProcess:  # ended between listing and asking: not alive
            pass
    return alive


def test_state_persists_within_a_session_and_not_across(executor):
    a, b = executor.open("persist-a"), executor.open("persist-b")
    a.run("import sympy\nx = sympy.Rational(1, 3)")
    assert a.run("print(x * 3)").output == "1\n"
    res = b.run("print(x)")
    assert res.error_name == "NameError" and "x" in res.error
    executor.close("persist-a")
    executor.close("persist-b")


def test_captures_stdout_stderr_and_last_value(executor):
    with executor.open("capture") as s:
        res = s.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7")
    assert res.stdout == "out\n" and res.stderr == "err\n" and res.value == "42\n"
    assert res.output == "out\nerr\n42\n"
    assert res.ok and res.model_text() == "out\nerr\n42"


def test_error_report_has_no_ansi_and_is_short(executor):
    with executor.open("error") as s:
        res = s.run("def f(n):\n    return 1 / n\n\nf(0)")
    assert not res.ok and "\x1b[" not in res.error
    assert res.error.splitlines()[-1] == "ZeroDivisionError: division by zero"
    assert "Cell In[" in res.error and len(res.error.splitlines()) <= 16
    assert res.as_pair() == ("", res.error)
    assert res.model_text() == res.error


def test_syntax_error_report(executor):
    with executor.open("syntax") as s:
        res = s.run("print((1+2)")
    assert res.error_name == "SyntaxError" and res.error.splitlines()[-1].startswith("SyntaxError")


def test_timeout_interrupts_and_keeps_state():
    with JupyterExecutor(timeout=1.5, warm_kernels=1, max_kernels=2) as ex:
        s = ex.open("t")
        s.run("kept = 123")
        start = time.monotonic()
        res = s.run("import time\ntime.sleep(30)")
        assert time.monotonic() - start < 5
        assert res.timed_out and not res.restarted and res.error == TIMEOUT_REPORT
        assert s.run("print(kept)").output == "123\n"


def test_c_level_loop_is_killed_by_restart_and_pool_stays_usable():
    with JupyterExecutor(timeout=1.0, interrupt_grace=1.0, warm_kernels=1, max_kernels=2) as ex:
        s = ex.open("c-loop")
        s.run("kept = 1")
        start = time.monotonic()
        res = s.run("sum(range(10**13))")
        assert res.timed_out and res.restarted and time.monotonic() - start < 10
        assert s.run("print(kept)").error_name == "NameError"  # state lost after the restart
        assert s.run("import os; print(os.getcwd())").output.strip() == s.workdir  # back in its folder
        assert ex.run_stateless("print(2 + 2)").output == "4\n"


def test_huge_output_is_capped_before_the_model(executor):
    with executor.open("huge") as s:
        res = s.run("for i in range(200000):\n    print(i)")
    assert res.output_truncated and len(res.output) <= executor.config.max_output_chars
    text = res.model_text()
    assert len(text) == 803 and text.startswith("0\n1\n2\n") and "..." in text


def test_input_fails_fast(executor):
    start = time.monotonic()
    with executor.open("stdin") as s:
        res = s.run("input('x? ')")
    assert time.monotonic() - start < 5 and res.error_name == "StdinNotImplementedError"


def test_scratch_directory_is_cwd_and_removed(executor):
    s = executor.open("scratch")
    res = s.run("import os\nopen('note.txt', 'w').write('hi')\nprint(os.getcwd())\nprint(os.environ['HOME'])")
    workdir = s.workdir
    assert res.output.split() == [workdir, workdir] and os.path.isfile(os.path.join(workdir, "note.txt"))
    executor.close("scratch")
    deadline = time.monotonic() + 10  # the kernel and its folder are removed in the background
    while os.path.exists(workdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(workdir)
    with executor.open("scratch-2") as s2:  # the next session's fresh kernel starts clean, in a new folder
        out = s2.run("import os\nprint(os.path.exists('note.txt'), 'res' in dir())").output
    assert out == "False False\n"


def test_memory_bomb_is_contained():
    with JupyterExecutor(memory_mb=1024, warm_kernels=1, max_kernels=2, timeout=20) as ex:
        with ex.open("bomb") as s:
            s.run("survivor = 'alive'")
            res = s.run("x = bytearray(4 * 1024**3)")
            assert res.error_name in ("MemoryError", "KernelDied")
            if res.error_name == "MemoryError":
                assert s.run("print(survivor)").output == "alive\n"
        assert ex.run_stateless("print('other kernels fine')").output == "other kernels fine\n"


def test_file_size_limit(executor):
    with executor.open("fsize") as s:
        res = s.run("with open('big.bin', 'wb') as f:\n    f.write(b'0' * (200 * 1024**2))")
    assert res.error_name == "OSError" and "File too large" in res.error


def test_no_process_survives_the_executor():
    before = _descendants()
    ex = JupyterExecutor(timeout=5, warm_kernels=2, max_kernels=3)
    with ex.open("procs") as s:
        s.run("import subprocess\np = subprocess.Popen(['sleep', '300'])\nprint(p.pid)")
        child_pid = int(s.run("print(p.pid)").output)
        assert psutil.pid_exists(child_pid)
    ex.run_stateless("print(1)")
    assert len(_descendants() - before) >= 2
    ex.shutdown()
    deadline = time.monotonic() + 5
    while _descendants() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _descendants() - before == set()
    assert not psutil.pid_exists(child_pid) or psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE


def test_sessions_run_concurrently():
    with JupyterExecutor(timeout=10, warm_kernels=4, max_kernels=4) as ex:
        for i in range(4):
            ex.run(f"c{i}", "import time")
        from concurrent.futures import ThreadPoolExecutor

        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: ex.run(f"c{i}", "time.sleep(1); print('done')"), range(4)))
        assert all(r.output == "done\n" for r in results)
        assert time.monotonic() - start < 2.5  # four 1 s cells overlapped


def test_warm_pool_preloads_imports():
    cfg = ExecutorConfig(preload="import sympy", warm_kernels=1, max_kernels=2, timeout=10)
    with JupyterExecutor(cfg) as ex:
        deadline = time.monotonic() + 30
        while not ex.pool._idle and time.monotonic() < deadline:
            time.sleep(0.05)
        res = ex.run("warm", "print(sympy.factorint(12))")
        assert res.output == "{2: 2, 3: 1}\n"
        assert res.elapsed < 0.5


def test_original_python_executor_surface():
    with PythonExecutor(get_answer_from_stdout=True, timeout_length=5) as ex:
        assert ex.apply("print('Hello world!')") == ("Hello world!", "")
        results = ex.batch_apply(["x = 5\nprint(x * 2)", "print(x)", "", "1/0"])
    assert results[0] == ("10", "")
    assert results[1][0] == "" and "NameError" in results[1][1]  # each call is independent
    assert results[2] == ("", "")  # the original's "empty code" needs an empty list of lines, never a string
    assert results[3][1].endswith("ZeroDivisionError: division by zero")


def test_original_answer_modes():
    with PythonExecutor(get_answer_symbol="answer") as ex:
        assert ex.apply("answer = 2 ** 10") == ("1024", "")
    with PythonExecutor(get_answer_expr="solution()") as ex:
        assert ex.apply("def solution():\n    return 'ok'") == ("ok", "")
    with PythonExecutor() as ex:
        assert ex.apply("a = 3\na * 4") == ("12", "")


def test_timeout_in_original_surface():
    with PythonExecutor(get_answer_from_stdout=True, timeout_length=1) as ex:
        assert ex.apply("import time\ntime.sleep(10)") == ("", TIMEOUT_REPORT)


def test_error_text_is_recognised(executor):
    from cort.executor import is_error_text

    with executor.open("errtext") as s:
        assert is_error_text(s.run("1/0").model_text())
        assert is_error_text(s.run("import nosuchmodule").model_text())
        assert not is_error_text(s.run("print('No Error here')").model_text())
    assert is_error_text(TIMEOUT_REPORT) and not is_error_text("")


def test_kernels_start_and_stop_when_descriptors_pass_1024(high_fds):
    # A loop driving ~200 kernels holds over 1024 descriptors; select() refused those and every
    # kernel started after that point failed ("filedescriptor out of range in select()").
    assert high_fds > 1024
    before = _descendants()
    with JupyterExecutor(timeout=5, warm_kernels=1, max_kernels=3) as ex:
        s = ex.open("many-fds")
        assert s.run("x = 6 * 7\nprint(x)").output == "42\n"
        assert ex.run_program("print(2 + 2)").output == "4\n"
        res = s.run("import time\ntime.sleep(30)", timeout=1.0)
        assert res.timed_out and s.run("print(x)").output == "42\n"
        ex.close("many-fds")
    assert _descendants() <= before  # its kernels are gone


def test_kernels_start_when_the_client_context_holds_1020_sockets():
    # ~204 live kernels hold 1020 client sockets in the one ZeroMQ context; its default cap
    # (1023) stopped every kernel after that with "Too many open files".
    import zmq

    from cort.executor.kernel import _client_context

    held = [_client_context(()).socket(zmq.DEALER) for _ in range(1020)]
    try:
        with JupyterExecutor(timeout=5, warm_kernels=0, max_kernels=2) as ex:
            assert ex.run("crowded", "print(3 * 3)").output == "9\n"
    finally:
        for sock in held:
            sock.close(0)


def test_pool_raises_a_low_open_file_limit_for_its_kernels():
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4000:
        pytest.skip(f"hard open-file limit {hard} leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        with JupyterExecutor(timeout=5, warm_kernels=0, max_kernels=250) as ex:
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 8 * 250
            assert ex.run_program("print(1)").output == "1\n"
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_pool_warns_when_the_open_file_limit_cannot_be_raised(monkeypatch, caplog):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip(f"hard open-file limit {hard} leaves nothing to raise")
    set_limit = resource.setrlimit
    set_limit(resource.RLIMIT_NOFILE, (1024, hard))

    def refuse(*_):
        raise ValueError("not allowed here")

    try:
        monkeypatch.setattr(resource, "setrlimit", refuse)  # as in a container that forbids raising it
        with caplog.at_level("WARNING", logger="cort.executor.pool"), \
                JupyterExecutor(timeout=5, warm_kernels=0, max_kernels=250) as ex:
            assert ex.run_program("print(5)").output == "5\n"  # the pool still works
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 1024
    finally:
        set_limit(resource.RLIMIT_NOFILE, (soft, hard))
    assert any("open-file limit" in r.getMessage() and "ulimit -n" in r.getMessage() for r in caplog.records)
