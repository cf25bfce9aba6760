"""CPU lists and binding torch compute to them (what VLLMEngine does in process for VLLM_CPU_OMP_THREADS_BIND)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cort.cpus import parse_cpu_list

REPO = Path(__file__).resolve().parents[1]


def test_parse_cpu_list_ranges_and_singles():
    usable = sorted(os.sched_getaffinity(0))
    assert parse_cpu_list(str(usable[0])) == {usable[0]}
    assert parse_cpu_list(f"{usable[0]}-{usable[-1]}") == set(range(usable[0], usable[-1] + 1))
    assert parse_cpu_list(",".join(map(str, usable))) == set(usable)


@pytest.mark.parametrize("spec, message", [("x", "is not a CPU list"), ("3-1", "is not a CPU list"),
                                           ("", "is not a CPU list"), ("0-", "is not a CPU list"),
                                           ("4096", "CPU 4096 is not available here")])
def test_parse_cpu_list_says_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_cpu_list(spec)


def test_bind_compute_threads_pins_the_process_and_sets_torch_threads():
    last = max(os.sched_getaffinity(0))
    code = ("import os, torch, threading; from cort.cpus import bind_compute_threads; "
            f"bind_compute_threads({{{last}}}); t = threading.Thread(target=lambda: None); t.start(); t.join(); "
            "print(sorted(os.sched_getaffinity(0)), torch.get_num_threads())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [f"[{last}]", "1"]


def test_a_bad_bind_in_the_environment_is_a_usage_error(monkeypatch):
    from cort.errors import UsageError
    from infer.engines.vllm_engine import _bind_in_process

    before = os.sched_getaffinity(0)
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", str(min(before)))
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    _bind_in_process()  # vLLM's own worker processes apply the variable: nothing to pin here
    assert os.sched_getaffinity(0) == before
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0-x")
    for multiprocessing in ("0", "1"):  # malformed is refused whoever would apply it
        monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", multiprocessing)
        with pytest.raises(UsageError, match=r"^VLLM_CPU_OMP_THREADS_BIND: '0-x' is not a CPU list"):
            _bind_in_process()
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    for spec in ("auto", "nobind", "0|1"):  # vLLM's own settings: left to it
        monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", spec)
        _bind_in_process()
    assert os.sched_getaffinity(0) == before
