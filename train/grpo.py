"""GRPO with the Python interpreter inside every rollout (CoRT's RL stage) on TRL's ``GRPOTrainer``.

    python -m train.grpo --data ../shared/data/toy_train.reason_step.parquet --output_dir out/grpo \\
        --num_generations 8 --max_completion_length 4096 --max_num_func_calls 12 [--use_cpu]

Rollouts go through ``cort.rollout`` (the one tool loop) with the policy wrapped as a
transformers engine; ``env_mask`` marks interpreter tokens, which TRL folds into the loss mask, so
they contribute nothing to the policy loss or the KL term while staying in the context.

Reward (``cort_reward``): 1 for a correct final answer (the project grader), else 0; minus
``--code_error_penalty`` (0.1) when the response ran code and every cell errored; optionally the
same penalty without any code (``--penalize_no_code``, as the original repo did); optional
token-efficiency shaping ``--length_penalty`` (off). Logged besides: accuracy, code calls per
response, code error rate (``rewards/<name>`` with weight 0).

Defaults follow the CoRT recipe: 8 generations, temperature 0.6, top_p 0.95, KL coefficient 0.001
(``low_var_kl`` in verl = TRL's k3 estimator), lr 1e-6, 12 code calls in training, 15 in validation.
``--select_solved_between A B --select_n N`` keeps only problems the starting model solves between A
and B times in N tries (the paper keeps the ones solved exactly once).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

GRPO_DEFAULTS = dict(num_generations=8, temperature=0.6, top_p=0.95, beta=0.001, learning_rate=1e-6,
                     max_completion_length=4096, logging_steps=1, report_to="none")


@dataclass
class GRPOScriptArguments:
    """Data, tool budget, reward and data selection."""

    data: list[str] = field(default_factory=lambda: ["../shared/data/toy_train.reason_step.parquet"],
                            metadata={"help": "verl parquet or benchmark-style JSONL"})
    val_data: str | None = field(default=None, metadata={"help": "validation set (avg@n via eval_strategy)"})
    val_limit: int = field(default=0, metadata={"help": "first k validation problems (0: all)"})
    max_num_func_calls: int = 12
    val_max_num_func_calls: int = 15
    func_call_timeout: float = 30.0
    correctness_reward: bool = True
    code_error_penalty: float = 0.1
    penalize_no_code: bool = False
    length_penalty: float = 0.0
    select_solved_between: list[int] | None = field(default=None, metadata={"help": "A B"})
    select_n: int = 8


def _text(completion) -> str:
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion)
    return completion


def make_rewards(script_args: GRPOScriptArguments, max_tokens: int):
    """The reward function and the logged-only metrics, as TRL reward functions."""
    from evaluation.grader import grade

    def cort_reward(completions, gt_answer, code_calls, code_errors, completion_ids=None, **_) -> list[float]:
        rewards = []
        for i, completion in enumerate(completions):
            text = _text(completion)
            r = float(grade(text, gt_answer[i])) if script_args.correctness_reward else 0.0
            if code_calls[i] > 0 and code_errors[i] == code_calls[i]:
                r -= script_args.code_error_penalty
            elif code_calls[i] == 0 and script_args.penalize_no_code:
                r -= script_args.code_error_penalty
            if script_args.length_penalty and completion_ids is not None:
                r -= script_args.length_penalty * len(completion_ids[i]) / max_tokens
            rewards.append(r)
        return rewards

    def accuracy(completions, gt_answer, **_) -> list[float]:
        return [float(grade(_text(c), gt_answer[i])) for i, c in enumerate(completions)]

    def code_calls_per_response(completions, code_calls, **_) -> list[float]:
        return [float(c) for c in code_calls]

    def code_error_rate(completions, code_calls, code_errors, **_) -> list[float]:
        return [e / c if c else 0.0 for c, e in zip(code_calls, code_errors)]

    return [cort_reward, accuracy, code_calls_per_response, code_error_rate], [1.0, 0.0, 0.0, 0.0]


def _vllm_engine(trainer):
    """The colocated vLLM of TRL's GRPO as a cort engine (``--use_vllm --vllm_mode colocate``)."""
    from infer.engines.vllm_engine import VLLMEngine

    llm = getattr(getattr(trainer, "vllm_generation", None), "llm", None)
    if llm is None or trainer.args.vllm_enable_sleep_mode:
        raise ValueError("multi-turn rollouts need vLLM in colocate mode without sleep mode "
                         "(--use_vllm --vllm_mode colocate); server mode is not supported")
    return VLLMEngine.from_llm(llm)


def make_rollout_func(script_args: GRPOScriptArguments, executor, tokenizer):
    """A TRL ``rollout_func`` that runs the CoRT tool loop with the current policy."""
    from trl.models.utils import unwrap_model_for_generation

    from cort.rollout import RolloutConfig, run_rollouts
    from infer.engines.hf import HFEngine

    def rollout(prompts: list, trainer) -> dict:
        args = trainer.args
        training = trainer.model.training
        chats = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                 if isinstance(p, list) else p for p in prompts]
        prompt_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in chats]
        cfg = RolloutConfig(
            max_func_call=(script_args.max_num_func_calls if training else script_args.val_max_num_func_calls) + 1,
            max_tokens_per_call=args.max_completion_length,
            max_model_len=max(len(p) for p in prompt_ids) + args.max_completion_length,
            func_call_timeout=script_args.func_call_timeout, temperature=args.temperature, top_p=args.top_p,
            seed=args.seed + trainer.state.global_step * 7919)
        cell_seconds = []
        start = time.perf_counter()
        on_cell = lambda t, code, result: cell_seconds.append(result.elapsed)  # noqa: E731
        if trainer.use_vllm:  # TRL synced the colocated vLLM weights before calling us
            engine = _vllm_engine(trainer)
            trajs = run_rollouts(engine, chats, cfg, executor=executor, prompt_ids=prompt_ids, on_cell=on_cell)
        else:
            with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as policy:
                engine = HFEngine(model=policy, tokenizer=tokenizer, batch_size=max(1, len(chats)))
                trajs = run_rollouts(engine, chats, cfg, executor=executor, prompt_ids=prompt_ids, on_cell=on_cell)
        trainer.model.train(training)
        metrics = trainer._metrics["train" if training else "eval"]  # logged with TRL's own metrics
        metrics["cort/rollout_seconds"].append(time.perf_counter() - start)
        metrics["cort/cell_seconds"].append(sum(cell_seconds))
        limit = args.max_completion_length
        return {
            "prompt_ids": [t.prompt_ids for t in trajs],
            "completion_ids": [t.completion_ids[:limit] for t in trajs],
            "logprobs": None,
            "env_mask": [t.model_mask[:limit] for t in trajs],
            "code_calls": [t.code_calls for t in trajs],
            "code_errors": [t.code_errors for t in trajs],
        }

    return rollout


def load_dataset_rows(paths: list[str]):
    """A ``datasets.Dataset`` with conversational ``prompt`` and ``gt_answer``."""
    from datasets import Dataset

    from data.trajectories import load_problems

    rows = [{"prompt": [{"role": "user", "content": p["prompt"]}], "gt_answer": p["gt_answer"]}
            for path in paths for p in load_problems(path)]
    return Dataset.from_list(rows)


def select_problems(dataset, model, tokenizer, executor, script_args, args):
    """Problems the starting model solves between A and B times out of ``select_n`` tries."""
    from cort.rollout import RolloutConfig, run_rollouts
    from evaluation.grader import grade
    from infer.engines.hf import HFEngine

    low, high = script_args.select_solved_between
    n = script_args.select_n
    engine = HFEngine(model=model, tokenizer=tokenizer)
    chats = [tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
             if isinstance(r["prompt"], list) else r["prompt"] for r in dataset]
    cfg = RolloutConfig(max_func_call=script_args.max_num_func_calls + 1, max_tokens_per_call=args.max_completion_length,
                        max_model_len=8192, temperature=args.temperature, top_p=args.top_p, seed=args.seed)
    trajs = run_rollouts(engine, [c for c in chats for _ in range(n)], cfg, executor=executor, progress=True)
    keep = [i for i, row in enumerate(dataset)
            if low <= sum(grade(t.text, row["gt_answer"]) for t in trajs[i * n:(i + 1) * n]) <= high]
    print(f"data selection: kept {len(keep)} of {len(dataset)} problems solved {low}..{high} times in {n}",
          file=sys.stderr)
    model.train()
    return dataset.select(keep)


def build_trainer(argv: list[str] | None = None):
    """Parse flags and build (trainer, executor); used by ``main`` and the tests."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer, ModelConfig, TrlParser, get_peft_config

    from cort.executor import JupyterExecutor
    from cort.models import resolve_model

    parser = TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig))
    parser.set_defaults(**GRPO_DEFAULTS)
    script_args, args, model_args = parser.parse_args_and_config(args=argv)
    model_path = resolve_model(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.bfloat16 if args.bf16 else torch.float32)
    executor = JupyterExecutor(timeout=script_args.func_call_timeout)
    train_set = load_dataset_rows(script_args.data)
    if script_args.select_solved_between:
        train_set = select_problems(train_set, model, tokenizer, executor, script_args, args)
    eval_set = load_dataset_rows([script_args.val_data]) if script_args.val_data else None
    if eval_set is not None and script_args.val_limit:
        eval_set = eval_set.select(range(min(script_args.val_limit, len(eval_set))))
    reward_funcs, weights = make_rewards(script_args, args.max_completion_length)
    args.reward_weights = weights
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args, train_dataset=train_set,
                          eval_dataset=eval_set, processing_class=tokenizer, peft_config=get_peft_config(model_args),
                          rollout_func=make_rollout_func(script_args, executor, tokenizer))
    return trainer, executor


def main(argv: list[str] | None = None) -> int:
    """Train and save a plain HF folder."""
    trainer, executor = build_trainer(argv)
    try:
        trainer.train(resume_from_checkpoint=trainer.args.resume_from_checkpoint)
        from train.sft import save_for_inference

        save_for_inference(trainer, trainer.processing_class, trainer.args.output_dir)
    finally:
        executor.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
