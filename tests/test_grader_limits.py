"""The grader's time limits hold in threads and processes; its workers never outlive their owner;
the public-case collector reads test suites it does not import; the disagreement report."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from evaluation import deadline
from evaluation.grader import grade, grade_detailed

SLOW = ("\\boxed{(10^{7})!}", "5")  # sympy computes the factorial exactly: minutes


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_time_limit_holds_off_the_main_thread():
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: grade_detailed(*SLOW, timeout=1.0), range(4)))
    assert all(r.timed_out and not r.correct for r in results), results
    assert time.monotonic() - start < 15
    assert grade("\\boxed{\\frac{1}{2}}", "0.5")  # the killed workers were replaced


def test_threads_grade_the_same_as_one_thread():
    cases = [("\\boxed{x^2+2x+1}", "(x+1)^2", True), ("\\boxed{2^{64}}", "18446744073709551617", False),
             ("x > 2", "(2, \\infty)", True), ("\\boxed{0.\\overline{3}}", "\\frac13", True)] * 6
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda c: grade(c[0], c[1]), cases))
    assert got == [c[2] for c in cases]


def test_a_killed_worker_is_replaced():
    deadline._POOL.cache.clear()
    assert grade("\\boxed{\\sqrt{8}}", "2\\sqrt{2}")
    for pid in deadline.worker_pids():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    deadline._POOL.cache.clear()
    assert grade("\\boxed{\\sqrt{12}}", "2\\sqrt{3}")


def _grade_in_child(queue):
    deadline._POOL.cache.clear()
    queue.put((grade("\\boxed{\\sqrt{18}}", "3\\sqrt{2}"), os.getpid()))


def test_a_forked_child_starts_its_own_worker():
    assert grade("\\boxed{\\sqrt{50}}", "5\\sqrt{2}")
    parent_workers = set(deadline.worker_pids())
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_grade_in_child, args=(queue,))
    child.start()
    ok, _ = queue.get(timeout=60)
    child.join(30)
    assert ok and child.exitcode == 0
    deadline._POOL.cache.clear()
    assert grade("\\boxed{\\sqrt{27}}", "3\\sqrt{3}")  # the parent's workers still answer
    assert parent_workers & set(deadline.worker_pids())


def test_workers_end_when_their_process_is_killed(tmp_path):
    script = textwrap.dedent("""
        import sys, time
        from evaluation import deadline
        from evaluation.grader import grade
        grade("\\\\boxed{x^2}", "x \\\\cdot x")
        print(" ".join(map(str, deadline.worker_pids())), flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert pids and all(_alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stop = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < stop:
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids)
    finally:
        proc.kill()


def test_the_collector_reads_suites_without_importing_them(tmp_path):
    from bench.public_cases import collect

    suite = tmp_path / "Math-Verify" / "tests"
    suite.mkdir(parents=True)
    (suite / "test_x.py").write_text(textwrap.dedent('''
        import this_module_does_not_exist
        import pytest
        @pytest.mark.parametrize("gold,pred,expected", [("$1$", "1", 1), ("$2$", "3", 0), (f"{1}", "1", 1)])
        def test_a(gold, pred, expected): ...
        @pytest.mark.parametrize("gold,pred,expected,precision", [("$1/3$", "0.33", 1, 2), ("$1/3$", "0.3", 0, 6)])
        def test_b(gold, pred, expected, precision): ...
        @pytest.mark.parametrize("gold,pred,expected", [("$9$", "Answer 9", 1), ("$9$", "x 9 y", 0)])
        def test_c(gold, pred, expected):
            assert compare_strings(gold, pred, match_types=["latex"]) == expected
    '''))
    cases, read = collect(tmp_path)
    got = sorted((c.reference, c.prediction, c.expected) for c in cases)
    # the f-string row is skipped, precision 2 is not the default, a restricted extractor's "not equal" is dropped
    assert got == [("$1$", "1", True), ("$1/3$", "0.3", False), ("$2$", "3", False), ("$9$", "Answer 9", True)]
    assert read["Math-Verify"] == "unknown" and read["NeMo-Skills"] == "missing"
    assert all(c.origin.startswith("Math-Verify@unknown:tests/test_x.py:") for c in cases)


def _write_run(folder, rows):
    folder.mkdir()
    (folder / "dp_rank_0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_disagreement_report(tmp_path, capsys):
    from evaluation.disagreements import cli

    cut = "<think>Let me compute.\n```python\nprint(204)\n```\n```output\n204\n```\n"
    good = "<think>ok</think>\nThe answer is $\\boxed{204}$."
    hedge = "<think>ok</think>\n$\\boxed{0.\\overline{3}}$"
    _write_run(tmp_path / "run", [
        {"prompt": "p1", "gt_answer": "204", "source": "aime", "gen": [cut, good]},
        {"prompt": "p2", "gt_answer": "\\frac{1}{3}", "source": "math", "gen": [hedge]},
    ])
    out = tmp_path / "report.md"
    assert cli(["--input_dir", str(tmp_path / "run"), "--output_file", str(out),
                "--output_jsonl", str(tmp_path / "d.jsonl"), "--no_progress"]) == 0
    report = out.read_text()
    assert "of 3 generations graded differently" in report
    rows = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    reasons = {(r["row"], r["generation"]): (r["reason"], r["strict"]) for r in rows}
    assert reasons[(0, 0)] == ("thinking never closed", False)
    assert (0, 1) not in reasons
    assert capsys.readouterr().out.count("| aime |") == 1


@pytest.mark.parametrize("argv, message", [
    (["--input_dir", "/nonexistent/run"], "--input_dir"),
    (["--limit", "-1"], "--"),
])
def test_disagreement_report_refuses_bad_flags(argv, message, tmp_path, capsys):
    from evaluation.disagreements import cli

    if "--limit" in argv:
        (tmp_path / "r").mkdir()
        argv = ["--input_dir", str(tmp_path / "r")] + argv
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1


def test_grading_worker_answers_and_times_out_when_descriptors_pass_1024(high_fds):
    assert high_fds > 1024
    worker = deadline._Worker()  # its pipes are numbered above 1024
    try:
        assert worker.proc.stdout.fileno() > 1024
        assert worker.call("equal", ("\\frac{1}{2}", "0.5"), 10.0) is True
        with pytest.raises(deadline.GraderTimeout):
            worker.call("equal", ("(10^{7})!", "5"), 1.0)
        assert not worker.alive()
    finally:
        worker.close()
