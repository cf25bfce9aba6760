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


PLACEMENT = """
import os, sys, threading
from cort.cpus import bind_compute_threads
from cort.executor import JupyterExecutor
from cort.replay import ReplayEngine
from cort.rollout import RolloutConfig, run_rollouts
from transformers import AutoTokenizer
from cort.models import default_model_dir

engine_cpu, cell_cpu = int(sys.argv[1]), int(sys.argv[2])
bind_compute_threads({engine_cpu})  # as VLLMEngine does in process: the run is pinned first
callers = []

class Recording:
    def __init__(self, ex):
        self.ex, self.config = ex, ex.config
    def run_program(self, code, timeout):
        callers.append(sorted(os.sched_getaffinity(0)))  # the loop's cell thread
        return self.ex.run_program(code, timeout)
    def close(self, session):
        self.ex.close(session)

with JupyterExecutor(timeout=20, cpus=str(cell_cpu), warm_kernels=1, max_kernels=2) as ex:
    script = "Let me check.\\n```python\\nimport os\\nprint(sorted(os.sched_getaffinity(0)))\\n```\\nDone."
    tok = AutoTokenizer.from_pretrained(default_model_dir())
    trajs = run_rollouts(ReplayEngine(tok, {"Q: ": script}), ["Q: "], RolloutConfig(max_func_call=3, seed=0),
                         executor=Recording(ex))
    names = {t.native_id: t.name for t in threading.enumerate()}
    threads = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        name = names.get(tid) or open(f"/proc/self/task/{tid}/comm").read().strip()
        threads[name] = sorted(os.sched_getaffinity(tid))
    print(repr(dict(kernel=trajs[0].text.split("```output")[1].split("```")[0].strip(), callers=callers,
                    threads={k: v for k, v in threads.items() if k.startswith(("cort-kernel", "ZMQbg", "MainThread"))},
                    template=sorted(os.sched_getaffinity(ex.pool.zygote.pid)))))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_executor_cpus_place_kernels_and_every_executor_thread_off_the_engine():
    import ast

    first, last = min(os.sched_getaffinity(0)), max(os.sched_getaffinity(0))
    proc = subprocess.run([sys.executable, "-c", PLACEMENT, str(first), str(last)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert seen["kernel"] == f"[{last}]"  # what model code sees from inside its kernel
    assert seen["callers"] == [[last]] and seen["template"] == [last]
    assert seen["threads"]["MainThread"] == [first]  # the engine's thread stays where it was pinned
    placed = {k: v for k, v in seen["threads"].items() if k != "MainThread"}
    assert {"cort-kernel-warmer", "cort-kernel-reaper", "ZMQbg/IO/0"} <= set(placed)
    assert all(v == [last] for v in placed.values()), placed


def test_executor_cpus_are_refused_before_anything_starts(tmp_path):
    from cort.executor import ExecutorConfig

    with pytest.raises(ValueError, match="is not a CPU list"):
        ExecutorConfig(cpus="1-x")
    with pytest.raises(ValueError, match="CPU 4096 is not available here"):
        ExecutorConfig(cpus="4096")
    data = tmp_path / "in.jsonl"
    data.write_text('{"question": "1+1?", "answer": "2"}\n')
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "infer.inference_vllm_dp_mj", "--input_file", str(data),
                           "--output_dir", str(out), "--engine", "hf", "--executor_cpus", "4096"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert errors == ["error: --executor_cpus: CPU 4096 is not available here "
                      f"(usable: {sorted(os.sched_getaffinity(0))})"]
    assert not out.exists()
