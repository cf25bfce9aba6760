"""Data-parallel multi-turn inference with a real Python interpreter (the CoRT CLI).

    TOKENIZERS_PARALLELISM=false VLLM_USE_V1=1 python -m infer.inference_vllm_dp_mj \\
      --input_file data/test_aime24.reason_step.jsonl --output_dir out/aime24 \\
      --model_name_or_path <model> --engine vllm --temperature 0.6 --top_p 0.95 --n_sampling 16 \\
      --max_tokens_per_call 32768 --max_model_len 32768 --max_func_call 15 --func_call_mode jupyter \\
      --data_parallel_size 1 --tensor_parallel_size 1

Every flag of the original keeps its name, default and meaning (quirks kept and documented:
``--end -1`` means to the end; ``top_p`` is forced to 1 when ``temperature`` is 0; the chat
template is applied to each ``prompt``). Added flags default to the original behaviour.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import time
from datetime import datetime

from cort import hints, protocol
from cort.rollout import RolloutConfig, Trajectory, run_rollouts
from infer.io import InputError, JsonlAppender, cached_prompts, load_examples, output_files


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The original CLI's flags (same defaults) plus the toolkit's additions."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input_file", default="gsm8k.jsonl", type=str)
    ap.add_argument("--output_dir", default="./output", type=str)
    ap.add_argument("--model_name_or_path", default="", type=str,
                    help="model folder or hub id; empty: the bundled SmolLM2-135M-Instruct")
    ap.add_argument("--engine", default="vllm", type=str, choices=["vllm", "hf"])
    ap.add_argument("--num_test_sample", default=-1, type=int, help="-1 for full data")
    ap.add_argument("--seed", default=0, type=int)
    ap.add_argument("--start", default=0, type=int)
    ap.add_argument("--end", default=-1, type=int, help="-1 means to the end")
    ap.add_argument("--temperature", default=0.6, type=float)
    ap.add_argument("--n_sampling", default=8, type=int)
    ap.add_argument("--stop_tokens_mode", default="normal_code_block_end", type=str)
    ap.add_argument("--tensor_parallel_size", default=1, type=int)
    ap.add_argument("--data_parallel_size", default=1, type=int)
    ap.add_argument("--top_p", default=0.95, type=float)
    ap.add_argument("--max_model_len", default=130000, type=int)
    ap.add_argument("--max_tokens_per_call", default=32768, type=int)
    ap.add_argument("--max_func_call", default=10, type=int)
    ap.add_argument("--func_call_mode", default="jupyter", type=str, choices=["jupyter", "python"])
    ap.add_argument("--func_call_timeout", default=30, type=int)
    ap.add_argument("--shuffle", action="store_true")
    ap.add_argument("--enable_cache", action="store_true")
    ap.add_argument("--extract_majority_answer", action="store_true",
                    help="add the majority answer (grouped by the project grader) to each line")
    ap.add_argument("--verbose_func_call_output", action="store_true",
                    help="print every executed cell and its output to stderr")
    # additions (defaults keep the original behaviour)
    ap.add_argument("--hint_mode", default="none", choices=["none", "prompt"],
                    help="prompt: put CoRT's prompt-hint at the start of thinking")
    ap.add_argument("--batch_size", default=16, type=int, help="hf engine: trajectories per generate call")
    ap.add_argument("--preload_imports", default="", type=str,
                    help="code warm kernels run ahead, e.g. 'import sympy, numpy, math'")
    ap.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    args = ap.parse_args(argv)
    args.top_p = 1 if args.temperature == 0 else args.top_p  # as the original (vLLM greedy)
    args.stop = protocol.stop_sequences(args.stop_tokens_mode)
    return args


def prepare_data(args: argparse.Namespace) -> tuple[list[dict], int]:
    """Examples to run (after cache, sampling, shuffle, start/end) and the number skipped by cache."""
    examples = load_examples(args.input_file)
    hit = 0
    if args.enable_cache and os.path.isdir(args.output_dir):
        done = cached_prompts(args.output_dir)
        kept = [e for e in examples if e["prompt"] not in done]
        hit, examples = len(examples) - len(kept), kept
    if args.num_test_sample > 0:
        examples = random.Random(args.seed).sample(examples, min(args.num_test_sample, len(examples)))
    if args.shuffle:
        random.Random(datetime.now().timestamp()).shuffle(examples)
    end = len(examples) if args.end == -1 else args.end
    return examples[args.start:end], hit


def shard_bounds(n: int, dp_size: int, rank: int) -> tuple[int, int]:
    """Contiguous share of ``rank`` (the first ``n % dp_size`` ranks take one extra), as the original."""
    base, extras = divmod(n, dp_size)
    start = rank * base + min(rank, extras)
    return start, start + base + (1 if rank < extras else 0)


def chat_prompt(tokenizer, prompt: str, hint_mode: str) -> str:
    """The chat-templated prompt of one problem, with the prompt-hint when asked."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    return hints.add_prompt_hint(text) if hint_mode == "prompt" else text


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
        "time_use": time_use,
    })
    return row


def _worker_env(args: argparse.Namespace, rank: int) -> int:
    """Pin this rank's GPUs (or its share of CPU cores); returns its CPU thread count."""
    tp = args.tensor_parallel_size
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(rank * tp, (rank + 1) * tp))
    threads = max(1, (os.cpu_count() or 1) // args.data_parallel_size)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return threads


def run_rank(args: argparse.Namespace, rank: int, examples: list[dict]) -> None:
    """Run one data-parallel rank: its examples -> ``dp_rank_<rank>.jsonl``, line by line."""
    threads = _worker_env(args, rank) if args.data_parallel_size > 1 else None
    print(f"DP rank {rank} processes {len(examples)} examples", file=sys.stderr)
    if not examples:
        return
    from cort.executor import JupyterExecutor
    from cort.models import resolve_model
    from infer.engines import make_engine

    model_path = resolve_model(args.model_name_or_path)
    if args.engine == "hf":
        import torch

        if threads:
            torch.set_num_threads(threads)
        engine = make_engine("hf", model_path, batch_size=args.batch_size)
        model_limit = getattr(engine.model.config, "max_position_embeddings", None)
        if model_limit and args.max_model_len > model_limit:
            args.max_model_len = model_limit
    else:
        engine = make_engine("vllm", model_path, tensor_parallel_size=args.tensor_parallel_size,
                             max_model_len=args.max_model_len, seed=args.seed)
    n = args.n_sampling
    prompts = [chat_prompt(engine.tokenizer, e["prompt"], args.hint_mode) for e in examples]
    cfg = RolloutConfig(
        max_func_call=args.max_func_call, max_tokens_per_call=args.max_tokens_per_call,
        max_model_len=args.max_model_len, stop_tokens_mode=args.stop_tokens_mode,
        func_call_mode=args.func_call_mode, func_call_timeout=args.func_call_timeout,
        temperature=args.temperature, top_p=args.top_p, seed=args.seed,
        max_batch=args.batch_size if args.engine == "hf" else 0)
    writer = JsonlAppender(os.path.join(args.output_dir, f"dp_rank_{rank}.jsonl"))
    finished: dict[int, list[Trajectory]] = {}
    start, written = time.time(), 0

    def on_finish(traj: Trajectory) -> None:
        nonlocal written
        i = traj.index // n
        finished.setdefault(i, []).append(traj)
        if len(finished[i]) == n:
            trajs = sorted(finished.pop(i), key=lambda t: t.index)
            written += 1
            row = result_row(examples[i], prompts[i], trajs, (time.time() - start) / written)
            if args.extract_majority_answer:
                from evaluation.grader import majority_answer

                row["majority_answer"] = majority_answer(row["gen"])
            writer.write(row)

    def on_cell(traj: Trajectory, code: str, result) -> None:
        print(f"[traj {traj.index}] code:\n{code}\n[traj {traj.index}] output:\n{result.model_text()}\n",
              file=sys.stderr)

    try:
        with JupyterExecutor(timeout=float(args.func_call_timeout), preload=args.preload_imports) as executor:
            run_rollouts(engine, [p for p in prompts for _ in range(n)], cfg, executor=executor,
                         on_finish=on_finish, progress=not args.no_progress,
                         on_cell=on_cell if args.verbose_func_call_output else None)
    finally:
        writer.close()
    print(f"DP rank {rank}: {written} examples in {time.time() - start:.1f}s", file=sys.stderr)


def _rank_entry(args: argparse.Namespace, rank: int, examples: list[dict]) -> None:
    run_rank(args, rank, examples)


def main(argv: list[str] | None = None) -> int:
    """Validate input, split it across ranks, run them, fail loudly if any rank fails."""
    args = parse_args(argv)
    try:
        examples, hit = prepare_data(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.makedirs(args.output_dir, exist_ok=True)
    if not args.enable_cache:  # a fresh run replaces earlier results, as the original's rewrite did
        for path in output_files(args.output_dir):
            os.remove(path)
    print(f"{len(examples)} examples to run ({hit} already in {args.output_dir})", file=sys.stderr)
    dp = args.data_parallel_size
    shards = [examples[slice(*shard_bounds(len(examples), dp, r))] for r in range(dp)]
    if dp == 1:
        run_rank(args, 0, shards[0])
        return 0
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_rank_entry, args=(args, r, shards[r]), name=f"dp_rank_{r}") for r in range(dp)]
    for p in procs:
        p.start()
    failed = None
    while any(p.is_alive() for p in procs) and failed is None:
        for r, p in enumerate(procs):
            p.join(timeout=0.5)
            if p.exitcode not in (None, 0):
                failed = (r, p.exitcode)
                break
    if failed is None:
        failed = next(((r, p.exitcode) for r, p in enumerate(procs) if p.exitcode != 0), None)
    if failed is not None:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()
        print(f"error: data-parallel rank {failed[0]} failed with exit code {failed[1]} "
              f"(its traceback is above); results so far are in {args.output_dir}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
