"""Data-parallel multi-turn inference with a real Python interpreter (the CoRT CLI).

    TOKENIZERS_PARALLELISM=false VLLM_USE_V1=1 python -m infer.inference_vllm_dp_mj \\
      --input_file data/test_aime24.reason_step.jsonl --output_dir out/aime24 \\
      --model_name_or_path <model> --engine vllm --temperature 0.6 --top_p 0.95 --n_sampling 16 \\
      --max_tokens_per_call 32768 --max_model_len 32768 --max_func_call 15 --func_call_mode jupyter \\
      --data_parallel_size 1 --tensor_parallel_size 1

Every flag of the original keeps its name, default and meaning (quirks kept and documented:
``--end -1`` means to the end; ``top_p`` is forced to 1 when ``temperature`` is 0; the chat
template is applied to each ``prompt``). Added flags default to the original behaviour.
Every flag and the whole input are checked before any output is touched; earlier results are
kept unless ``--overwrite``; ``--enable_cache`` resumes exactly the selected problems.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field

from cort.args import EngineArguments, SamplingArguments, ToolArguments, build_executor, require, rollout_config
from cort.chat import HINT_MODES, render_prompt
from cort.cli import Terminated, handle_sigterm, parse_flags, run_command, setup_logging
from cort.errors import InputError, UsageError
from cort.io import (
    RUN_INFO_FILE,
    Field,
    JsonlAppender,
    check_output_dir,
    read_jsonl,
    read_jsonl_tolerant,
    result_files,
    write_json_atomic,
)
from cort.rollout import Trajectory, run_rollouts

logger = logging.getLogger(__name__)


@dataclass
class InferenceArguments:
    """Input, selection, sampling count, data parallelism and output of one inference run."""

    input_file: str = field(default="gsm8k.jsonl", metadata={"help": "JSONL, one problem per line with 'prompt'"})
    output_dir: str = field(default="./output", metadata={"help": "dp_rank_<k>.jsonl files go here"})
    num_test_sample: int = field(default=-1, metadata={"help": "-1 for full data, else a seeded sample of k"})
    start: int = 0
    end: int = field(default=-1, metadata={"help": "-1 means to the end"})
    n_sampling: int = field(default=8, metadata={"help": "trajectories per problem"})
    data_parallel_size: int = field(default=1, metadata={"help": "worker processes, each with its own engine"})
    shuffle: bool = field(default=False, metadata={"help": "shuffle before --start/--end (seeded by --seed)"})
    enable_cache: bool = field(default=False, metadata={
        "help": "resume: skip the selected problems already answered in output_dir"})
    extract_majority_answer: bool = field(default=False, metadata={
        "help": "add the majority answer to each line: majority_answer as the original (math_verify groups), "
                "majority_answer_strict from the project grader's groups"})
    verbose_func_call_output: bool = field(default=False, metadata={"help": "log every executed cell and its output"})
    # additions (defaults keep the original behaviour)
    hint_mode: str = field(default="none", metadata={
        "choices": list(HINT_MODES), "help": "prompt: put CoRT's prompt-hint at the start of thinking"})
    preload_imports: str = field(default="", metadata={
        "help": "code warm kernels run ahead, e.g. 'import sympy, numpy, math'"})
    no_progress: bool = field(default=False, metadata={"help": "hide the progress bar"})
    overwrite: bool = field(default=False, metadata={"help": "replace the results of an earlier run in output_dir"})

    def __post_init__(self) -> None:
        require("num_test_sample", self.num_test_sample == -1 or self.num_test_sample > 0,
                f"must be -1 (all) or greater than 0, got {self.num_test_sample}")
        require("start", self.start >= 0, f"must be 0 or more, got {self.start}")
        require("end", self.end == -1 or self.end > self.start,
                f"must be -1 (to the end) or greater than --start {self.start}, got {self.end}")
        require("n_sampling", self.n_sampling > 0, f"must be greater than 0, got {self.n_sampling}")
        require("data_parallel_size", self.data_parallel_size > 0,
                f"must be greater than 0, got {self.data_parallel_size}")
        require("enable_cache", not (self.enable_cache and self.overwrite), "cannot be combined with --overwrite")
        try:
            compile(self.preload_imports, "--preload_imports", "exec")
        except SyntaxError as err:
            raise UsageError("preload_imports", f"not valid Python ({err.msg}, line {err.lineno})") from None
        check_output_dir(self.output_dir, "output_dir")


@dataclass
class Problem:
    """One selected input line and its templated prompt."""

    line: int
    example: dict
    prompt: str = ""


def make_parser():
    """The original CLI's flags (same defaults) plus the toolkit's additions."""
    from transformers import HfArgumentParser

    return HfArgumentParser((InferenceArguments, EngineArguments, ToolArguments, SamplingArguments),
                            description=__doc__)


def select_problems(args: InferenceArguments, seed: int) -> list[Problem]:
    """Read and check the input, then apply --num_test_sample, --shuffle and --start/--end (in that order)."""
    problems = [Problem(line, row) for line, row in read_jsonl(args.input_file, [Field("prompt")])]
    total = len(problems)
    if args.num_test_sample > 0:
        problems = random.Random(seed).sample(problems, min(args.num_test_sample, total))
    if args.shuffle:
        random.Random(seed).shuffle(problems)
    problems = problems[args.start:len(problems) if args.end == -1 else args.end]
    if not problems:
        raise UsageError("start", f"--start {args.start} --end {args.end} selects no problem of the "
                         f"{total} in {args.input_file}")
    return problems


def answered_prompts(output_dir: str) -> set[str]:
    """Prompts already answered in ``output_dir`` (for ``--enable_cache``)."""
    return {row["prompt"] for path in result_files(output_dir) for _, row in read_jsonl_tolerant(path)
            if isinstance(row.get("prompt"), str)}


def check_prompt_lengths(problems: list[Problem], tokenizer, input_file: str, max_model_len: int) -> None:
    """A prompt that leaves no room to generate within ``max_model_len`` is bad input."""
    for p in problems:
        n = len(tokenizer.encode(p.prompt, add_special_tokens=False))
        if n >= max_model_len:
            raise InputError(input_file, f"{n} tokens with the chat template, no room to generate within "
                             f"--max_model_len {max_model_len}", p.line, "prompt")


def shard_bounds(n: int, dp_size: int, rank: int) -> tuple[int, int]:
    """Contiguous share of ``rank`` (the first ``n % dp_size`` ranks take one extra), as the original."""
    base, extras = divmod(n, dp_size)
    start = rank * base + min(rank, extras)
    return start, start + base + (1 if rank < extras else 0)


def result_row(example: dict, prompt: str, trajs: list[Trajectory], time_use: float) -> dict:
    """One output line: the input example plus the original fields and per-generation counters."""
    row = dict(example)
    row.update({
        "chat_prompt": prompt,
        "gen": [t.text for t in trajs],
        "gen_cumulative_logprob": [t.cumulative_logprob for t in trajs],
        "gen_cumulative_seq_len": [t.model_tokens for t in trajs],
        "gen_num_tokens": [len(t.completion_ids) for t in trajs],
        "gen_code_calls": [t.code_calls for t in trajs],
        "gen_code_errors": [t.code_errors for t in trajs],
        "gen_finish_reason": [t.finish_reason for t in trajs],
        "gen_infra_errors": [t.infra_errors for t in trajs],
        "time_use": time_use,
    })
    return row


@dataclass
class RunPlan:
    """Everything a rank needs: the parsed flags, the resolved model and the effective context length."""

    args: InferenceArguments
    engine_args: EngineArguments
    tool: ToolArguments
    sampling: SamplingArguments
    model_path: str
    max_model_len: int


def _worker_env(plan: RunPlan, rank: int) -> int:
    """Pin this rank's GPUs (or its share of CPU cores); returns its CPU thread count."""
    tp = plan.engine_args.tensor_parallel_size
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(rank * tp, (rank + 1) * tp))
    threads = max(1, (os.cpu_count() or 1) // plan.args.data_parallel_size)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return threads


def run_rank(plan: RunPlan, rank: int, problems: list[Problem]) -> None:
    """Run one data-parallel rank: its problems -> ``dp_rank_<rank>.jsonl``, line by line."""
    args = plan.args
    threads = _worker_env(plan, rank) if args.data_parallel_size > 1 else None
    logger.info("DP rank %d processes %d examples", rank, len(problems))
    if not problems:
        return
    from infer.engines import build_engine

    if threads and plan.engine_args.engine == "hf":
        import torch

        torch.set_num_threads(threads)
    engine = build_engine(plan.engine_args, plan.model_path, plan.max_model_len, plan.sampling.seed)
    n = args.n_sampling
    cfg = rollout_config(plan.tool, plan.sampling, max_model_len=plan.max_model_len,
                         max_batch=plan.engine_args.batch_size if plan.engine_args.engine == "hf" else 0)
    finished: dict[int, list[Trajectory]] = {}
    start, written = time.time(), 0

    def on_finish(traj: Trajectory) -> None:
        nonlocal written
        i = traj.index // n
        finished.setdefault(i, []).append(traj)
        if len(finished[i]) == n:
            trajs = sorted(finished.pop(i), key=lambda t: t.index)
            written += 1
            row = result_row(problems[i].example, problems[i].prompt, trajs, (time.time() - start) / written)
            if args.extract_majority_answer:
                from evaluation.grader import majority_answer
                from evaluation.original_grading import majority_answer_text

                row["majority_answer"] = majority_answer_text(row["gen"])
                row["majority_answer_strict"] = majority_answer(row["gen"])
            writer.write(row)

    def on_cell(traj: Trajectory, code: str, result) -> None:
        logger.info("[traj %d] code:\n%s\n[traj %d] output:\n%s", traj.index, code, traj.index, result.model_text())

    with JsonlAppender(os.path.join(args.output_dir, f"dp_rank_{rank}.jsonl")) as writer, \
            build_executor(plan.tool, preload=args.preload_imports) as executor:
        run_rollouts(engine, [p.prompt for p in problems for _ in range(n)], cfg, executor=executor,
                     on_finish=on_finish, progress=not args.no_progress,
                     on_cell=on_cell if args.verbose_func_call_output else None)
    logger.info("DP rank %d: %d examples in %.1fs", rank, written, time.time() - start)


def _rank_entry(plan: RunPlan, rank: int, problems: list[Problem]) -> None:
    """A spawned worker: same logging and SIGTERM handling as the parent, so its cleanup runs."""
    setup_logging()
    handle_sigterm()
    try:
        run_rank(plan, rank, problems)
    except (KeyboardInterrupt, Terminated):
        sys.exit(143)


def prepare(args: InferenceArguments, engine_args: EngineArguments, tool: ToolArguments,
            sampling: SamplingArguments) -> tuple[RunPlan, list[Problem]]:
    """Check flags, model and input; return the plan and the problems still to run. Touches no output."""
    from cort.models import context_limit, load_tokenizer, resolve_model
    from infer.engines import check_engine_available

    check_engine_available(engine_args.engine)
    existing = result_files(args.output_dir)
    if existing and not (args.enable_cache or args.overwrite):
        raise UsageError("output_dir", f"{args.output_dir} holds results of an earlier run "
                         f"({', '.join(os.path.basename(p) for p in existing)}); pass --enable_cache to resume "
                         f"or --overwrite to replace them")
    problems = select_problems(args, sampling.seed)
    model_path = resolve_model(engine_args.model_name_or_path)
    tokenizer = load_tokenizer(model_path)
    max_model_len = tool.max_model_len
    limit = context_limit(model_path) if engine_args.engine == "hf" else None
    if limit and max_model_len > limit:
        logger.info("--max_model_len %d is beyond the model's %d positions; using %d", max_model_len, limit, limit)
        max_model_len = limit
    for p in problems:
        p.prompt = render_prompt(tokenizer, p.example["prompt"], args.hint_mode)
    check_prompt_lengths(problems, tokenizer, args.input_file, max_model_len)
    if args.enable_cache:
        done = answered_prompts(args.output_dir)
        todo = [p for p in problems if p.example["prompt"] not in done]
        logger.info("%d of %d selected problems already in %s", len(problems) - len(todo), len(problems),
                    args.output_dir)
        problems = todo
    return RunPlan(args, engine_args, tool, sampling, model_path, max_model_len), problems


def run_data_parallel(plan: RunPlan, shards: list[list[Problem]]) -> int:
    """One spawned process per rank; a failing rank, Ctrl-C or SIGTERM stops all of them."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_rank_entry, args=(plan, r, shard), name=f"dp_rank_{r}")
             for r, shard in enumerate(shards)]
    failed = None
    try:
        for p in procs:
            p.start()
        while failed is None and any(p.is_alive() for p in procs):
            for r, p in enumerate(procs):
                p.join(timeout=0.5)
                if p.exitcode not in (None, 0):
                    failed = (r, p.exitcode)
                    break
        failed = failed or next(((r, p.exitcode) for r, p in enumerate(procs) if p.exitcode != 0), None)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    if failed is not None:
        print(f"error: data-parallel rank {failed[0]} failed with exit code {failed[1]} "
              f"(its log is above); results so far are in {plan.args.output_dir}", file=sys.stderr)
        return 1
    return 0


def main(args: InferenceArguments, engine_args: EngineArguments, tool: ToolArguments,
         sampling: SamplingArguments) -> int:
    """Validate everything, then split the problems across ranks and run them."""
    plan, problems = prepare(args, engine_args, tool, sampling)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.overwrite:
        for path in result_files(args.output_dir):
            os.remove(path)
    write_json_atomic(os.path.join(args.output_dir, RUN_INFO_FILE), {  # metrics count tokens with this model
        "model_name_or_path": plan.model_path, "engine": engine_args.engine, **asdict(tool),
        "n_sampling": args.n_sampling, "temperature": sampling.temperature, "top_p": sampling.top_p,
        "seed": sampling.seed})
    logger.info("%d problems to run into %s", len(problems), args.output_dir)
    if not problems:
        return 0
    dp = args.data_parallel_size
    shards = [problems[slice(*shard_bounds(len(problems), dp, r))] for r in range(dp)]
    if dp == 1:
        run_rank(plan, 0, shards[0])
        return 0
    return run_data_parallel(plan, shards)


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
