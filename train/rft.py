"""Rejection-sampling fine-tuning data (CoRT's RFT stage), optionally followed by SFT.

    python -m train.rft --problems ../shared/data/toy_train.reason_step.parquet --output_dir out/rft \\
        --n_samples 8 --keep_per_problem 2 --engine hf [--style prompt_hint] [--train -- <train.sft flags>]

For each problem, n trajectories are sampled with the engine and the real interpreter
(``cort.rollout``), graded, and kept only if: correct, used code, not every cell errored, and
neither bad habit the paper filters (delayed computation, code-result distrust; the ``cort.hints``
detectors). Per problem the k shortest survivors are kept (token efficiency). Writes
``rft_data.jsonl`` (trajectory format) and ``rft_stats.json`` (kept/rejected by reason).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

from cort import hints
from cort.rollout import RolloutConfig, Trajectory, run_rollouts
from evaluation.grader import grade

REASONS = ("incorrect", "no_code", "all_code_errored", "delayed_computation", "code_distrust")


def rejection_reason(traj: Trajectory, gt_answer: str) -> str | None:
    """Why a trajectory is rejected (first failing test), or None to keep it."""
    if not grade(traj.text, gt_answer):
        return "incorrect"
    if traj.code_calls == 0:
        return "no_code"
    if traj.code_errors == traj.code_calls:
        return "all_code_errored"
    if hints.detect_delayed_computation(traj.text):
        return "delayed_computation"
    if hints.detect_code_distrust(traj.text):
        return "code_distrust"
    return None


def select(problems: list[dict], trajs: list[Trajectory], n: int, keep: int) -> tuple[list[dict], Counter]:
    """The k shortest accepted trajectories per problem, and counts by reason."""
    stats: Counter = Counter()
    rows = []
    for i, problem in enumerate(problems):
        accepted = []
        for traj in trajs[i * n:(i + 1) * n]:
            reason = rejection_reason(traj, problem["gt_answer"])
            stats[f"rejected_{reason}" if reason else "accepted"] += 1
            if reason is None:
                accepted.append(traj)
        accepted.sort(key=lambda t: t.model_tokens)
        stats["kept"] += min(keep, len(accepted))
        stats["problems_with_data"] += int(bool(accepted))
        rows += [{"problem": problem["problem"], "prompt": problem["prompt"], "response": t.text,
                  "gt_answer": problem["gt_answer"], "source": problem.get("source", ""),
                  "model_tokens": t.model_tokens} for t in accepted[:keep]]
    return rows, stats


def main(argv: list[str] | None = None) -> int:
    """Sample, filter, write; run train.sft on the result with ``--train``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    sft_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", required=True, help="benchmark-style JSONL or verl parquet")
    ap.add_argument("--output_dir", required=True)
    ap.add_argument("--model_name_or_path", default="")
    ap.add_argument("--engine", default="hf", choices=["hf", "vllm"])
    ap.add_argument("--n_samples", type=int, default=8)
    ap.add_argument("--keep_per_problem", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="first k problems (0: all)")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--top_p", type=float, default=0.95)
    ap.add_argument("--max_func_call", type=int, default=15)
    ap.add_argument("--max_tokens_per_call", type=int, default=4096)
    ap.add_argument("--max_model_len", type=int, default=8192)
    ap.add_argument("--hint_mode", default="none", choices=["none", "prompt"], help="prompt-hint while sampling")
    ap.add_argument("--style", default="none", choices=["none", "prompt_hint", "hint_engineering"],
                    help="hint style applied to the kept trajectories")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", action="store_true", help="run train.sft on the result (flags after --)")
    args = ap.parse_args(argv)

    from cort.models import resolve_model
    from data.build_sft import apply_hint_engineering, apply_prompt_hint
    from data.trajectories import load_problems
    from infer.engines import make_engine
    from infer.inference_vllm_dp_mj import chat_prompt

    problems = load_problems(args.problems)
    if args.limit:
        problems = problems[:args.limit]
    model_path = resolve_model(args.model_name_or_path)
    engine = make_engine(args.engine, model_path, **({"max_model_len": args.max_model_len} if args.engine == "vllm" else {}))
    prompts = [chat_prompt(engine.tokenizer, p["prompt"], args.hint_mode) for p in problems]
    cfg = RolloutConfig(max_func_call=args.max_func_call, max_tokens_per_call=args.max_tokens_per_call,
                        max_model_len=args.max_model_len, temperature=args.temperature, top_p=args.top_p,
                        seed=args.seed)
    trajs = run_rollouts(engine, [p for p in prompts for _ in range(args.n_samples)], cfg, progress=True)
    rows, stats = select(problems, trajs, args.n_samples, args.keep_per_problem)
    for row in rows:
        if args.style == "prompt_hint":
            row["response"] = apply_prompt_hint(row["response"])
        elif args.style == "hint_engineering":
            row["response"] = apply_hint_engineering(row["response"])[0]
    os.makedirs(args.output_dir, exist_ok=True)
    data_path = os.path.join(args.output_dir, "rft_data.jsonl")
    with open(data_path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = {"problems": len(problems), "samples": len(trajs), **{k: stats[k] for k in sorted(stats)}}
    with open(os.path.join(args.output_dir, "rft_stats.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    print(json.dumps(report, indent=2))
    if args.train:
        if not rows:
            print("error: no trajectory survived rejection sampling; nothing to train on", file=sys.stderr)
            return 1
        from train.sft import main as sft_main

        return sft_main(["--data", data_path, "--model_name_or_path", model_path,
                         "--output_dir", os.path.join(args.output_dir, "model"), *sft_args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
