"""Engine throughput: tokens/s of each available engine on the same prompts (bundled model by default).

    python bench/engine_bench.py --engines hf            # main environment
    VLLM_CPU_KVCACHE_SPACE=1 VLLM_CPU_OMP_THREADS_BIND=0-1 VLLM_CPU_NUM_OF_RESERVED_CPU=0 \
      <vllm-env>/bin/python bench/engine_bench.py --engines vllm
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cort.args import EngineArguments
from cort.chat import render_prompt
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
    args = ap.parse_args()
    model = resolve_model(args.model)
    problems = [row["prompt"] for _, row in read_jsonl(args.data, [Field("prompt")])][:args.prompts]
    print("| engine | prompts | max tokens | generated tokens | wall s | tokens/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.engines.split(","):
        engine = build_engine(EngineArguments(model, name, batch_size=args.prompts), model, max_model_len=2048)
        prompts = [engine.encode(render_prompt(engine.tokenizer, p)) for p in problems]
        params = [SamplingParams(0.6, 0.95, args.max_tokens, [], seed=i) for i in range(len(prompts))]
        engine.generate(prompts[:2], params[:2])  # warm-up
        start = time.perf_counter()
        gens = engine.generate(prompts, params)
        wall = time.perf_counter() - start
        n = sum(len(g.token_ids) for g in gens)
        print(f"| {name} | {len(prompts)} | {args.max_tokens} | {n} | {wall:.2f} | {n / wall:.1f} |")


if __name__ == "__main__":
    main()
