"""Engine throughput: tokens/s of each available engine on the same prompts (bundled model by default).

    python bench/engine_bench.py --engines hf            # main environment
    VLLM_CPU_KVCACHE_SPACE=1 VLLM_CPU_OMP_THREADS_BIND=0-1 VLLM_CPU_NUM_OF_RESERVED_CPU=0 \
      <vllm-env>/bin/python bench/engine_bench.py --engines vllm

``--busy_cpu N`` adds a row per engine with a busy loop pinned to CPU N (a cell computing on a
core the engine may use). In process, ``VLLMEngine`` applies ``VLLM_CPU_OMP_THREADS_BIND``; with
``=0`` and ``--busy_cpu 1`` the engine keeps its speed, with ``=0-1`` it stalls.

``--cell_traffic K --cell_cpus LIST`` adds a row per engine while K threads of this process run short
cells through a real executor placed on LIST (kernels and threads, as the tool loop places them; a new
session every 5 cells, 20 ms between cells): what the loop's own cell handling costs an engine that
shares its process (the transformers engine, vLLM-CPU in process, TRL's colocated vLLM).
``--executor_process inline,separate`` gives one such row per placement of the executor's client: in
this process (``inline``) or in a process of its own (``separate``, the commands' default).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cort.args import EngineArguments
from cort.chat import render_prompt
from cort.cpus import bind_compute_threads, parse_cpu_list, pin_thread
from cort.engine import SamplingParams
from cort.executor import EXECUTOR_PROCESS_MODES
from cort.io import Field, read_jsonl
from cort.models import resolve_model
from infer.engines import build_engine


class CellTraffic:
    """``sessions`` threads of this process running short cells through a real executor on ``cpus`` until the
    block ends; ``cells`` counts the cells run."""

    def __init__(self, sessions: int, cpus: str, process: str = "separate"):
        from cort.executor import ExecutorConfig, start_executor

        config = ExecutorConfig(timeout=10, preload="import sympy", cpus=cpus, max_kernels=sessions + 4)
        self.executor = start_executor(config, process)
        self.executor.run_program("pass")  # the kernel template is up
        self.sessions, self.cells = sessions, 0
        self._count = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, k: int) -> None:
        pin_thread(self.executor.config.cpu_set)
        i = 0
        while not self._stop.is_set():
            session = f"t{k}-{i // 5}"
            self.executor.run(session, f"x = {i}\nprint(sum(range(1000)) + x)", 10)
            i += 1
            with self._count:
                self.cells += 1
            if i % 5 == 0:
                self.executor.close(session)
            time.sleep(0.02)
        self.executor.close(f"t{k}-{(i - 1) // 5}")

    def __enter__(self) -> "CellTraffic":
        self._stop.clear()
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(self.sessions)]
        for t in self._threads:
            t.start()
        time.sleep(2.0)  # under way before the engine is timed
        self.cells = 0
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def close(self) -> None:
        """Shut the executor down."""
        self.executor.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="hf")
    ap.add_argument("--model", default="")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max_tokens", type=int, default=128)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                   "test_math500.reason_step.jsonl"))
    ap.add_argument("--busy_cpu", default="", help="also time each engine with a busy loop pinned to this CPU")
    ap.add_argument("--cell_traffic", type=int, default=0,
                    help="also time each engine while this many threads of this process run cells (see above)")
    ap.add_argument("--cell_cpus", default="", help="--cell_traffic: CPUs of the kernels and those threads")
    ap.add_argument("--executor_process", default=None,
                    help="--cell_traffic: where the executor's client runs, a comma list of inline, separate "
                         "(default: separate, as the commands)")
    ap.add_argument("--engine_cpus", default="",
                    help="CPUs of the engine's compute threads (vLLM-CPU: its VLLM_CPU_OMP_THREADS_BIND), e.g. 0")
    args = ap.parse_args()
    if args.cell_traffic < 0:
        ap.error(f"--cell_traffic: must be >= 0, got {args.cell_traffic}")
    if bool(args.cell_traffic) != bool(args.cell_cpus):
        ap.error("--cell_traffic and --cell_cpus go together")
    if args.executor_process is not None and not args.cell_traffic:
        ap.error("--executor_process places the executor of --cell_traffic; it needs --cell_traffic")
    placements = (args.executor_process or "separate").split(",")
    if any(p not in EXECUTOR_PROCESS_MODES for p in placements):
        ap.error(f"--executor_process: a comma list of {', '.join(EXECUTOR_PROCESS_MODES)}, "
                 f"got {args.executor_process!r}")
    cpus = {}
    for flag in ("cell_cpus", "engine_cpus"):
        try:
            cpus[flag] = parse_cpu_list(getattr(args, flag)) if getattr(args, flag) else set()
        except ValueError as err:
            ap.error(f"--{flag}: {err}")
    if cpus["cell_cpus"] & cpus["engine_cpus"]:
        ap.error("--engine_cpus and --cell_cpus must not share a core")
    if args.engine_cpus:
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = args.engine_cpus  # vLLM-CPU pins itself there (VLLMEngine)
        bind_compute_threads(cpus["engine_cpus"])
    busy = None
    if args.busy_cpu:
        try:
            busy = parse_cpu_list(args.busy_cpu)
        except ValueError as err:
            ap.error(f"--busy_cpu: {err}")
        if len(busy) != 1:
            ap.error("--busy_cpu: one CPU")
    model = resolve_model(args.model)
    problems = [row["prompt"] for _, row in read_jsonl(args.data, [Field("prompt")])][:args.prompts]
    print("| engine | beside it | prompts | max tokens | generated tokens | wall s | tokens/s | cells run |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    traffic: dict[str, CellTraffic] = {}
    for name in args.engines.split(","):
        engine = build_engine(EngineArguments(model, name, batch_size=args.prompts), model, max_model_len=2048)
        prompts = [engine.encode(render_prompt(engine.tokenizer, p)) for p in problems]
        params = [SamplingParams(0.6, 0.95, args.max_tokens, [], seed=i) for i in range(len(prompts))]
        engine.generate(prompts[:2], params[:2])  # warm-up
        if args.cell_traffic and not traffic:  # after the engine: vLLM pins this process when it starts
            traffic = {p: CellTraffic(args.cell_traffic, args.cell_cpus, p) for p in placements}
        loads = [("idle", "idle", None)] + ([("busy", f"busy loop on CPU {min(busy)}", None)] if busy else []) + \
            [("cells", f"{args.cell_traffic} cell threads, kernels and threads on CPU {args.cell_cpus}, "
              f"executor {p}", t) for p, t in traffic.items()]
        for kind, load, cell_load in loads:
            spinner, cells = None, ""
            if kind == "busy":
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                           preexec_fn=lambda: os.sched_setaffinity(0, busy))
                time.sleep(1.0)
            try:
                if kind == "cells":
                    with cell_load:
                        wall, gens = _timed_generate(engine, prompts, params)
                        cells = str(cell_load.cells)
                else:
                    wall, gens = _timed_generate(engine, prompts, params)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            n = sum(len(g.token_ids) for g in gens)
            print(f"| {name} | {load} | {len(prompts)} | {args.max_tokens} | {n} | {wall:.2f} | {n / wall:.1f} "
                  f"| {cells} |", flush=True)
    for cell_load in traffic.values():
        cell_load.close()


def _timed_generate(engine, prompts, params):
    """(wall seconds, generations) of one ``generate`` call."""
    start = time.perf_counter()
    gens = engine.generate(prompts, params)
    return time.perf_counter() - start, gens


if __name__ == "__main__":
    main()
