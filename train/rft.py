"""Rejection-sampling fine-tuning data (CoRT's RFT stage), optionally followed by SFT.

    python -m train.rft --problems ../shared/data/toy_train.reason_step.parquet --output_dir out/rft \\
        --n_samples 8 --keep_per_problem 2 --engine hf [--style prompt_hint] [--train -- <train.sft flags>]

For each problem, n trajectories are sampled with the engine and the real interpreter
(``cort.rollout``), graded, and kept only if: correct, used code, not every cell errored, and
neither bad habit the paper filters (delayed computation, code-result distrust; the ``cort.hints``
detectors; ``--filter_habits false`` keeps them, for a prompt-hint model). Per problem the k
shortest survivors are kept (token efficiency). Writes
``rft_data.jsonl`` (trajectory format; with ``--style none`` each row also carries the tool
loop's token ids, so SFT trains on exactly what was sampled) and ``rft_stats.json``.

The tool-loop, sampling and engine flags are the shared ones of the inference CLI, same names and
defaults (``--engine vllm``, ``--max_func_call 10`` rounds, ``--max_tokens_per_call 32768``,
``--max_model_len 130000``, cut to the model's context with ``--engine hf``). With ``--train``,
the flags after ``--`` are ``train.sft``'s; they are checked before sampling starts, and SFT
runs in this process on the kept trajectories (default output ``<output_dir>/model``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field

from cort import hints
from cort.args import EngineArguments, SamplingArguments, ToolArguments, build_executor, require, rollout_config
from cort.chat import HINT_MODES, render_prompt
from cort.cli import parse_flags, run_command
from cort.io import check_output_dir, write_json_atomic, write_jsonl_atomic
from cort.rollout import Trajectory, run_rollouts
from evaluation.grader import grade
from train.common import check_training_args, cpu_precision

logger = logging.getLogger(__name__)
REASONS = ("infra_error", "incorrect", "no_code", "all_code_errored", "delayed_computation", "code_distrust")
STYLES = ("none", "prompt_hint", "hint_engineering")
OUTPUT_FILES = ("rft_data.jsonl", "rft_stats.json")


@dataclass
class RFTArguments:
    """Problems, sampling counts, filters and what to do with the kept trajectories."""

    problems: str = field(metadata={"help": "benchmark-style JSONL or verl parquet"})
    output_dir: str = field(metadata={"help": "rft_data.jsonl, rft_stats.json (and model/ with --train)"})
    n_samples: int = field(default=8, metadata={"help": "trajectories sampled per problem"})
    keep_per_problem: int = field(default=2, metadata={"help": "shortest accepted trajectories kept per problem"})
    limit: int = field(default=0, metadata={"help": "first k problems (0: all)"})
    hint_mode: str = field(default="none", metadata={"choices": list(HINT_MODES), "help": "prompt-hint while sampling"})
    style: str = field(default="none", metadata={"choices": list(STYLES),
                                                 "help": "hint style applied to the kept trajectories"})
    filter_habits: bool = field(default=True, metadata={
        "help": "reject trajectories that show delayed computation or code distrust (off for a prompt-hint model, "
                "whose every sample shows both)"})
    train: bool = field(default=False, metadata={"help": "run train.sft on the result (its flags after --)"})
    overwrite: bool = field(default=False, metadata={"help": "replace the results of an earlier run"})

    def __post_init__(self) -> None:
        require("n_samples", self.n_samples > 0, f"must be greater than 0, got {self.n_samples}")
        require("keep_per_problem", self.keep_per_problem > 0, f"must be greater than 0, got {self.keep_per_problem}")
        require("limit", self.limit >= 0, f"must be 0 (all) or more, got {self.limit}")
        check_output_dir(self.output_dir, "output_dir")
        existing = [f for f in OUTPUT_FILES if os.path.exists(os.path.join(self.output_dir, f))]
        require("output_dir", self.overwrite or not existing,
                f"{self.output_dir} already holds {', '.join(existing)}; pass --overwrite to replace them")


def rejection_reason(traj: Trajectory, gt_answer: str, filter_habits: bool = True) -> str | None:
    """Why a trajectory is rejected (first failing test), or None to keep it."""
    if traj.infra_errors:
        return "infra_error"
    if not grade(traj.text, gt_answer):
        return "incorrect"
    if traj.code_calls == 0:
        return "no_code"
    if traj.code_errors == traj.code_calls:
        return "all_code_errored"
    if not filter_habits:
        return None
    if hints.detect_delayed_computation(traj.text):
        return "delayed_computation"
    if hints.detect_code_distrust(traj.text):
        return "code_distrust"
    return None


def select(problems: list[dict], trajs: list[Trajectory], n: int, keep: int,
           filter_habits: bool = True) -> tuple[list[tuple[dict, Trajectory]], Counter]:
    """The k shortest accepted trajectories per problem (with their problem), and counts by reason."""
    stats: Counter = Counter()
    kept = []
    for i, problem in enumerate(problems):
        accepted = []
        for traj in trajs[i * n:(i + 1) * n]:
            reason = rejection_reason(traj, problem["gt_answer"], filter_habits)
            stats[f"rejected_{reason}" if reason else "accepted"] += 1
            if reason is None:
                accepted.append(traj)
        accepted.sort(key=lambda t: t.model_tokens)
        stats["kept"] += min(keep, len(accepted))
        stats["problems_with_data"] += int(bool(accepted))
        kept += [(problem, t) for t in accepted[:keep]]
    return kept, stats


def trajectory_row(problem: dict, traj: Trajectory, style: str, model_path: str) -> dict:
    """A kept trajectory in the trajectory format; token-exact fields when its text is unchanged."""
    row = {"problem": problem["problem"], "prompt": problem["prompt"], "response": traj.text,
           "gt_answer": problem["gt_answer"], "source": problem.get("source", ""), "model_tokens": traj.model_tokens}
    if style == "prompt_hint":
        row["response"] = hints.prepend_prompt_hint(traj.text)
    elif style == "hint_engineering":
        row["response"] = hints.apply_hint_engineering(traj.text)[0]
    else:
        row.update(prompt_ids=traj.prompt_ids, completion_ids=traj.completion_ids, model_mask=traj.model_mask,
                   tokenizer=model_path)
    return row


def make_parser():
    """RFT's flags and the shared engine, tool-loop and sampling flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser((RFTArguments, EngineArguments, ToolArguments, SamplingArguments), description=__doc__)


def parse_sft_flags(args: RFTArguments, sft_argv: list[str], model_path: str) -> tuple:
    """``train.sft``'s dataclasses from the flags after ``--``, defaulting the model and the output folder."""
    from train import sft

    script_args, training_args, model_args = parse_flags(sft.make_parser(), cpu_precision(sft_argv))
    if "--output_dir" not in sft_argv:
        training_args.output_dir = os.path.join(args.output_dir, "model")
    if "--model_name_or_path" not in sft_argv:
        model_args.model_name_or_path = model_path
    check_training_args(training_args, script_args.overwrite)
    return script_args, training_args, model_args


def main(args: RFTArguments, engine_args: EngineArguments, tool: ToolArguments, sampling: SamplingArguments,
         sft_argv: list[str] | None = None) -> int:
    """Sample, filter, write; with ``--train`` run ``train.sft.main`` on the kept trajectories in-process."""
    from cort.models import context_limit, load_tokenizer, resolve_model
    from data.trajectories import load_problems
    from infer.engines import build_engine, check_engine_available

    check_engine_available(engine_args.engine)
    require("train", args.train or not sft_argv, "flags after -- are train.sft's; they need --train")
    problems = load_problems(args.problems)
    if args.limit:
        problems = problems[:args.limit]
    model_path = resolve_model(engine_args.model_name_or_path)
    load_tokenizer(model_path)
    sft_args = parse_sft_flags(args, sft_argv or [], model_path) if args.train else None
    max_model_len = tool.max_model_len
    limit = context_limit(model_path) if engine_args.engine == "hf" else None
    if limit and max_model_len > limit:
        max_model_len = limit
    engine = build_engine(engine_args, model_path, max_model_len, sampling.seed)
    prompts = [render_prompt(engine.tokenizer, p["prompt"], args.hint_mode) for p in problems]
    cfg = rollout_config(tool, sampling, max_model_len=max_model_len,
                         max_batch=engine_args.batch_size if engine_args.engine == "hf" else 0)
    with build_executor(tool) as executor:
        trajs = run_rollouts(engine, [p for p in prompts for _ in range(args.n_samples)], cfg, executor=executor,
                             progress=True)
    kept, stats = select(problems, trajs, args.n_samples, args.keep_per_problem, args.filter_habits)
    rows = [trajectory_row(problem, traj, args.style, model_path) for problem, traj in kept]
    write_jsonl_atomic(os.path.join(args.output_dir, "rft_data.jsonl"), rows)
    report = {"problems": len(problems), "samples": len(trajs), **{k: stats[k] for k in sorted(stats)}}
    write_json_atomic(os.path.join(args.output_dir, "rft_stats.json"), report, indent=2)
    print(json.dumps(report, indent=2))
    if sft_args is None:
        return 0
    if not rows:
        print("error: no trajectory survived rejection sampling; nothing to train on", file=sys.stderr)
        return 1
    del engine  # free the sampling model before training
    from train import sft

    return sft.main(*sft_args, rows=rows)


def cli(argv: list[str] | None = None) -> int:
    """Parse flags (``train.sft``'s after ``--``) and run (bad input: one line, exit 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    own, sft_argv = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    return run_command(lambda: main(*parse_flags(make_parser(), own), sft_argv=sft_argv))


if __name__ == "__main__":
    sys.exit(cli())
