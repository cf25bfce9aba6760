"""Tool-loop benchmark: cort's overlapped loop vs the original's epoch-synchronous rounds.

Both sides are ``cort.rollout.run_rollouts`` on the same inputs, engine and executor; the
baseline sets ``RolloutConfig(overlap=False)``: every round all trajectories generate, then
all cells run and the round waits for the slowest (the original CLI's structure).

1. ``replay``: recorded code-heavy trajectories (4 cells each; most cells quick, some a
   sympy computation, 8% slow: ``--slow_seconds``, e.g. a cell running into its timeout) replayed by :class:`cort.replay.ReplayEngine` with the
   step cost of a batched GPU engine (``--seconds_per_token``, default 0.02 s per decoding
   step, ``--seconds_per_call`` 0.05 s); every cell runs in a real kernel.
2. ``hf``: the real transformers engine with the bundled model on benchmark problems (the
   small model seldom writes code, so this row shows the loop's cost when there is little
   to overlap).

    python bench/loop_bench.py
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cort.chat import render_prompt
from cort.executor import JupyterExecutor
from cort.io import Field, read_jsonl
from cort.replay import ReplayEngine
from cort.rollout import RolloutConfig, run_rollouts

QUICK = ["print({i} * 37 % 11)", "x{k} = sum(range({i} * 100))\nprint(x{k} % 7)"]
MEDIUM = ["import sympy as sp\ny = sp.symbols('y')\nprint(len(sp.expand((y + {i}) ** 40).args))"]
SLOW = ["import time\ntime.sleep({slow})\nprint('slow {i}')"]


def replay_scripts(n: int, cells: int, seed: int, slow_seconds: float) -> dict[str, str]:
    """Code-heavy model texts: reasoning prose then a cell, ``cells`` times, then an answer."""
    rng = random.Random(seed)
    scripts = {}
    for i in range(n):
        parts = []
        for k in range(cells):
            roll = rng.random()
            pool = SLOW if roll < 0.08 else MEDIUM if roll < 0.35 else QUICK
            code = rng.choice(pool).format(i=i + 2, k=k, slow=slow_seconds)
            prose = " ".join(rng.choice(["we", "now", "compute", "the", "value", "next", "so", "check"])
                             for _ in range(rng.randint(30, 120)))
            parts.append(f"{prose}.\n```python\n{code}\n```\n")
        parts.append("Therefore the answer is \\boxed{42}.")
        scripts[f"<problem {i}>\n"] = "".join(parts)
    return scripts


def run(engine_factory, prompts, cfg: RolloutConfig) -> tuple[float, int, int]:
    """Wall seconds, model tokens and code calls of one loop run."""
    engine = engine_factory()
    with JupyterExecutor(timeout=cfg.func_call_timeout, preload="import sympy") as ex:
        time.sleep(2.0)  # let warm kernels start, so both modes begin equal
        start = time.perf_counter()
        trajs = run_rollouts(engine, prompts, cfg, executor=ex)
        wall = time.perf_counter() - start
    return wall, sum(t.model_tokens for t in trajs), sum(t.code_calls for t in trajs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trajectories", type=int, default=32)
    ap.add_argument("--cells", type=int, default=4)
    ap.add_argument("--seconds_per_token", type=float, default=0.02)
    ap.add_argument("--seconds_per_call", type=float, default=0.05)
    ap.add_argument("--slow_seconds", default="1.5,10", help="durations of the slow cells, one row each")
    ap.add_argument("--hf_problems", type=int, default=4)
    ap.add_argument("--hf_n", type=int, default=4)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                   "test_aime24.reason_step.jsonl"))
    ap.add_argument("--skip_hf", action="store_true")
    ap.add_argument("--interpreter_mode", default="kernel", choices=["original", "kernel"],
                    help="the README's table was measured with kernel (one live kernel per trajectory)")
    args = ap.parse_args()

    from transformers import AutoTokenizer

    from cort.models import default_model_dir

    model_dir = default_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = []
    cfg = dict(max_func_call=args.cells + 2, max_tokens_per_call=1024, max_model_len=8192, temperature=0.0,
               interpreter_mode=args.interpreter_mode)
    for slow in [float(x) for x in args.slow_seconds.split(",")]:
        scripts = replay_scripts(args.trajectories, args.cells, seed=0, slow_seconds=slow)
        results = {}
        for overlap in (False, True):
            factory = lambda s=scripts: ReplayEngine(tokenizer, s, args.seconds_per_call, args.seconds_per_token)  # noqa: E731
            results[overlap] = run(factory, list(scripts), RolloutConfig(overlap=overlap, **cfg))
        rows.append((f"replay, 8% of cells take {slow:g} s", results))

    if not args.skip_hf:
        from infer.engines.hf import HFEngine

        engine = HFEngine(model_dir)
        problems = [row["prompt"] for _, row in read_jsonl(args.data, [Field("prompt")])][:args.hf_problems]
        prompts = [render_prompt(tokenizer, p) for p in problems for _ in range(args.hf_n)]
        hf_cfg = dict(max_func_call=3, max_tokens_per_call=96, max_model_len=8192, temperature=0.6, seed=0,
                      interpreter_mode=args.interpreter_mode)
        results = {ov: run(lambda: engine, prompts, RolloutConfig(overlap=ov, **hf_cfg)) for ov in (False, True)}
        rows.append((f"hf engine, SmolLM2-135M, {args.hf_problems} AIME problems x {args.hf_n}", results))

    print("\n| workload | mode | wall s | model tokens | tokens/s | code calls | speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, res in rows:
        base_wall, base_tok, _ = res[False]
        for overlap in (False, True):
            wall, tok, calls = res[overlap]
            mode = "cort overlapped loop" if overlap else "epoch-synchronous (original)"
            speed = (tok / wall) / (base_tok / base_wall)
            print(f"| {name} | {mode} | {wall:.2f} | {tok} | {tok / wall:.1f} | {calls} | {speed:.2f}x |")
    print("\n(speed-up compares tokens/s, since sampled runs differ in length)")


if __name__ == "__main__":
    main()
