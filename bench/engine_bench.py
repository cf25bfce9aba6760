"""Engine throughput: tokens/s of each available engine on the same prompts (bundled model by default).

    python bench/engine_bench.py --engines hf            # main environment
    VLLM_CPU_KVCACHE_SPACE=1 VLLM_CPU_OMP_THREADS_BIND=0-1 VLLM_CPU_NUM_OF_RESERVED_CPU=0 \
      <vllm-env>/bin/python bench/engine_bench.py --engines vllm

``--busy_cpu N`` adds a row per engine with a busy loop pinned to CPU N (a cell computing on a
core the engine may use). In process, ``VLLMEngine`` applies ``VLLM_CPU_OMP_THREADS_BIND``; with
``=0`` and ``--busy_cpu 1`` the engine keeps its speed, with ``=0-1`` it stalls.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cort.args import EngineArguments
from cort.chat import render_prompt
from cort.cpus import parse_cpu_list
from cort.engine import SamplingParams
from cort.io import Field, read_jsonl
from cort.models import resolve_model
from infer.engines import build_engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="hf")
    ap.add_argument("--model", default="")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max_tokens", type=int, default=128)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                   "test_math500.reason_step.jsonl"))
    ap.add_argument("--busy_cpu", default="", help="also time each engine with a busy loop pinned to this CPU")
    args = ap.parse_args()
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
    print("| engine | other CPU | prompts | max tokens | generated tokens | wall s | tokens/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in args.engines.split(","):
        engine = build_engine(EngineArguments(model, name, batch_size=args.prompts), model, max_model_len=2048)
        prompts = [engine.encode(render_prompt(engine.tokenizer, p)) for p in problems]
        params = [SamplingParams(0.6, 0.95, args.max_tokens, [], seed=i) for i in range(len(prompts))]
        engine.generate(prompts[:2], params[:2])  # warm-up
        for load in ["idle"] + ([f"busy loop on CPU {min(busy)}"] if busy else []):
            spinner = None
            if load != "idle":
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                           preexec_fn=lambda: os.sched_setaffinity(0, busy))
                time.sleep(1.0)
            try:
                start = time.perf_counter()
                gens = engine.generate(prompts, params)
                wall = time.perf_counter() - start
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            n = sum(len(g.token_ids) for g in gens)
            print(f"| {name} | {load} | {len(prompts)} | {args.max_tokens} | {n} | {wall:.2f} | {n / wall:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
