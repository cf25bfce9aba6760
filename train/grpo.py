"""GRPO with the Python interpreter inside every rollout (CoRT's RL stage) on TRL's ``GRPOTrainer``.

    python -m train.grpo --data ../shared/data/toy_train.reason_step.parquet --output_dir out/grpo \\
        --val_data ../shared/data/val.aime24.reason_step.parquet [--use_cpu]

Rollouts go through ``cort.rollout`` (the one tool loop) with the policy wrapped as a
transformers engine (or TRL's colocated vLLM); ``env_mask`` marks interpreter tokens, which TRL
folds into the loss mask, so they contribute nothing to the policy loss, the KL term or the
entropy bonus while staying in the context.

Defaults are the original CoRT RL recipe (``deepscaler/rl_scripts/launch_cort_rl.sh`` and its verl
configuration): 8 rollouts per prompt at temperature 0.6 / top_p 0.95, 12 generate rounds (11 code
calls) and 16000 response tokens; validation with 16 samples per problem at temperature 0.6 /
top_p 1.0, 15 rounds and 31000 tokens; lr 1e-6 constant; KL loss 0.001 (k3, verl's
``low_var_kl`` without its clamp); entropy bonus 0.001; clip 0.2; losses averaged over the tokens
of each micro-batch (``loss_type bnpo``, as verl's token mean); interpreter timeout 5 s.

Reward (``--reward_rule``):

- ``original`` (default): the original's: the prompt and response together must hold ``<think>``
  and ``</think>``; the last ``\\boxed{}`` after the first ``</think>`` is graded by the DeepScaleR
  rules (1 or 0); minus ``--code_error_penalty`` (0.1) when every code output looks like an error by
  the original's keyword rule, empty outputs and responses without code included
  (:func:`evaluation.original_grading.rl_reward`);
- ``strict``: the project's grader on the final answer; minus the penalty when the response ran
  code and every cell errored (``--penalize_no_code``: also without code); optional
  ``--length_penalty`` token-efficiency shaping.

Logged besides TRL's metrics: accuracy (correct by the rule), code calls per response, code
error rate (``rewards/<name>`` with weight 0), rollout and cell seconds (``cort/*``).
``--select_solved_between A B --select_n N`` keeps only problems the starting model solves between A
and B times in N tries (the paper keeps the ones solved exactly once).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from dataclasses import dataclass, field

from cort.args import ToolArguments, build_executor, require, rollout_config, validate_sampling
from cort.chat import render_prompt
from cort.cli import parse_flags, run_command
from train.common import check_training_args, cpu_precision, save_for_inference

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
logger = logging.getLogger(__name__)

# The original RL recipe (deepscaler/rl_scripts/launch_cort_rl.sh and verl's ppo_trainer.yaml).
GRPO_DEFAULTS = dict(num_generations=8, num_generations_eval=16, temperature=0.6, top_p=0.95, beta=0.001,
                     learning_rate=1e-6, lr_scheduler_type="constant", entropy_coef=0.001, loss_type="bnpo",
                     max_completion_length=16000, logging_steps=1, report_to="none", max_func_call=12,
                     func_call_timeout=5)
REWARD_RULES = ("original", "strict")


@dataclass
class GRPOScriptArguments:
    """Data, validation budget, reward and data selection."""

    data: list[str] = field(default_factory=lambda: ["../shared/data/toy_train.reason_step.parquet"],
                            metadata={"help": "verl parquet or benchmark-style JSONL"})
    val_data: str | None = field(default=None, metadata={"help": "validation set (avg@n via eval_strategy)"})
    val_limit: int = field(default=0, metadata={"help": "first k validation problems (0: all)"})
    val_max_func_call: int = field(default=15, metadata={"help": "generate rounds per trajectory in validation"})
    val_max_completion_length: int = field(default=31000, metadata={"help": "response tokens in validation"})
    val_temperature: float = field(default=0.6, metadata={"help": "sampling temperature in validation"})
    val_top_p: float = field(default=1.0, metadata={"help": "nucleus mass in validation (the original samples "
                                                            "validation with top_p 1)"})
    reward_rule: str = field(default="original", metadata={
        "help": "original: DeepScaleR grading after </think>, 0 without closed thinking, -penalty when every code "
                "output looks like an error (no code included); strict: the project grader, -penalty when every "
                "executed cell errored", "choices": list(REWARD_RULES)})
    correctness_reward: bool = True
    code_error_penalty: float = 0.1
    penalize_no_code: bool = field(default=False, metadata={"help": "strict rule: penalise responses without code"})
    length_penalty: float = field(default=0.0, metadata={"help": "strict rule: minus this x tokens / max tokens"})
    trainable_layers: int = field(default=0, metadata={
        "help": "train only the top N transformer blocks and the final norm (0: the whole model); a CPU budget knob"})
    select_solved_between: list[int] | None = field(default=None, metadata={"help": "A B"})
    select_n: int = 8
    overwrite: bool = field(default=False, metadata={"help": "replace a model already saved in output_dir"})

    def __post_init__(self) -> None:
        require("val_limit", self.val_limit >= 0, f"must be 0 (all) or more, got {self.val_limit}")
        require("val_max_func_call", self.val_max_func_call > 0,
                f"must be greater than 0, got {self.val_max_func_call}")
        require("trainable_layers", self.trainable_layers >= 0, f"must be 0 (all) or more, got {self.trainable_layers}")
        require("val_max_completion_length", self.val_max_completion_length > 0,
                f"must be greater than 0, got {self.val_max_completion_length}")
        validate_sampling(self.val_temperature, self.val_top_p)
        require("reward_rule", self.reward_rule in REWARD_RULES,
                f"must be one of {', '.join(REWARD_RULES)}, got {self.reward_rule!r}")
        require("select_n", self.select_n > 0, f"must be greater than 0, got {self.select_n}")
        if self.select_solved_between is not None:
            low_high = self.select_solved_between
            require("select_solved_between", len(low_high) == 2 and 0 <= low_high[0] <= low_high[1] <= self.select_n,
                    f"expected two numbers A B with 0 <= A <= B <= --select_n, got {low_high}")


def _text(completion) -> str:
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion)
    return completion


def make_rewards(script_args: GRPOScriptArguments, max_tokens: int, tokenizer=None):
    """The reward function and the logged-only metrics, as TRL reward functions."""
    from evaluation.grader import grade
    from evaluation.original_grading import rl_reward

    def prompt_text(prompt) -> str:
        return prompt if isinstance(prompt, str) else render_prompt(tokenizer, prompt)

    @functools.lru_cache(maxsize=1024)
    def graded(prompt: str, text: str, gt: str) -> tuple[float, bool]:
        """(reward by the rule before shaping, correct): once per completion, though two reward functions ask."""
        if script_args.reward_rule == "original":
            return rl_reward(prompt + text, gt, script_args.code_error_penalty)
        correct = grade(text, gt)
        return float(correct), correct

    def judge(prompt, completion, gt, calls: int, errors: int, n_tokens: int | None) -> tuple[float, bool]:
        text = _text(completion)
        reward, correct = graded(prompt_text(prompt), text, str(gt))
        if script_args.reward_rule == "original":
            return (reward if script_args.correctness_reward else reward - float(correct)), correct
        reward = reward if script_args.correctness_reward else 0.0
        if (calls > 0 and errors == calls) or (calls == 0 and script_args.penalize_no_code):
            reward -= script_args.code_error_penalty
        if script_args.length_penalty and n_tokens is not None:
            reward -= script_args.length_penalty * n_tokens / max_tokens
        return reward, correct

    def decisions(prompts, completions, gt_answer, code_calls, code_errors, completion_ids=None):
        return [judge(prompts[i], c, gt_answer[i], code_calls[i], code_errors[i],
                      len(completion_ids[i]) if completion_ids is not None else None)
                for i, c in enumerate(completions)]

    def cort_reward(prompts, completions, gt_answer, code_calls, code_errors, completion_ids=None, **_) -> list[float]:
        return [r for r, _ in decisions(prompts, completions, gt_answer, code_calls, code_errors, completion_ids)]

    def accuracy(prompts, completions, gt_answer, code_calls, code_errors, **_) -> list[float]:
        return [float(c) for _, c in decisions(prompts, completions, gt_answer, code_calls, code_errors)]

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


def loop_config(tool: ToolArguments, args, max_func_call: int, prompt_ids: list[list[int]], seed: int,
                max_completion_length: int | None = None, temperature: float | None = None,
                top_p: float | None = None):
    """The tool loop's settings for one GRPO rollout batch (budgets cut to the completion length)."""
    length = max_completion_length or args.max_completion_length
    temperature = args.temperature if temperature is None else temperature
    top_p = args.top_p if top_p is None else top_p
    return rollout_config(
        tool, max_func_call=max_func_call,
        max_tokens_per_call=min(tool.max_tokens_per_call, length),
        max_model_len=min(tool.max_model_len, max(len(p) for p in prompt_ids) + length),
        temperature=temperature, top_p=1.0 if temperature == 0 else top_p, seed=seed)


def loss_masks(trajs: list, limit: int) -> list[list[int]]:
    """Per trajectory, 1 on the model's tokens (interpreter output is 0), cut to ``limit``.

    A trajectory cut short by an infrastructure failure carries no gradient at all (all zeros).
    """
    return [t.model_mask[:limit] if not t.infra_errors else [0] * len(t.completion_ids[:limit]) for t in trajs]


def make_rollout_func(script_args: GRPOScriptArguments, tool: ToolArguments, executor, tokenizer):
    """A TRL ``rollout_func`` that runs the CoRT tool loop with the current policy."""
    from trl.models.utils import unwrap_model_for_generation

    from cort.rollout import run_rollouts
    from infer.engines.hf import HFEngine

    def rollout(prompts: list, trainer) -> dict:
        args = trainer.args
        training = trainer.model.training
        chats = [p if isinstance(p, str) else render_prompt(tokenizer, p) for p in prompts]
        prompt_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in chats]
        seed = args.seed + trainer.state.global_step * 7919
        if training:
            limit = args.max_completion_length
            cfg = loop_config(tool, args, tool.max_func_call, prompt_ids, seed)
        else:  # validation: the original's own budget and sampling
            limit = script_args.val_max_completion_length
            cfg = loop_config(tool, args, script_args.val_max_func_call, prompt_ids, seed, limit,
                              script_args.val_temperature, script_args.val_top_p)
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
        metrics["cort/infra_errors"].append(float(sum(t.infra_errors for t in trajs)))
        return {
            "prompt_ids": [t.prompt_ids for t in trajs],
            "completion_ids": [t.completion_ids[:limit] for t in trajs],
            "logprobs": None,
            "env_mask": loss_masks(trajs, limit),
            "code_calls": [t.code_calls for t in trajs],
            "code_errors": [t.code_errors for t in trajs],
        }

    return rollout


def freeze_below(model, trainable_layers: int) -> None:
    """Leave only the top ``trainable_layers`` transformer blocks (and the final norm) trainable."""
    blocks = getattr(getattr(model, "model", None), "layers", None)
    require("trainable_layers", blocks is not None, f"{type(model).__name__} has no model.layers to choose from")
    require("trainable_layers", trainable_layers <= len(blocks),
            f"the model has {len(blocks)} transformer blocks, got {trainable_layers}")
    for param in model.parameters():
        param.requires_grad_(False)
    for module in list(blocks)[-trainable_layers:] + [getattr(model.model, "norm", None)]:
        if module is not None:
            for param in module.parameters():
                param.requires_grad_(True)


def load_dataset_rows(paths: list[str]):
    """A ``datasets.Dataset`` with conversational ``prompt`` and ``gt_answer``."""
    from datasets import Dataset

    from data.trajectories import load_problems

    rows = [{"prompt": [{"role": "user", "content": p["prompt"]}], "gt_answer": p["gt_answer"]}
            for path in paths for p in load_problems(path)]
    return Dataset.from_list(rows)


def select_problems(dataset, model, tokenizer, executor, script_args, tool, args):
    """Problems the starting model solves between A and B times out of ``select_n`` tries."""
    from cort.rollout import run_rollouts
    from evaluation.grader import grade
    from infer.engines.hf import HFEngine

    low, high = script_args.select_solved_between
    n = script_args.select_n
    engine = HFEngine(model=model, tokenizer=tokenizer)
    chats = [r["prompt"] if isinstance(r["prompt"], str) else render_prompt(tokenizer, r["prompt"]) for r in dataset]
    prompt_ids = [engine.encode(c) for c in chats]
    cfg = loop_config(tool, args, tool.max_func_call, prompt_ids, args.seed)
    trajs = run_rollouts(engine, [c for c in chats for _ in range(n)], cfg, executor=executor, progress=True)
    keep = [i for i, row in enumerate(dataset)
            if low <= sum(grade(t.text, row["gt_answer"]) for t in trajs[i * n:(i + 1) * n]) <= high]
    logger.info("data selection: kept %d of %d problems solved %d..%d times in %d", len(keep), len(dataset), low,
                high, n)
    model.train()
    return dataset.select(keep)


def make_parser():
    """GRPO's flags, the shared tool-loop flags (GRPO defaults), TRL's ``GRPOConfig`` and ``ModelConfig``."""
    from trl import GRPOConfig, ModelConfig, TrlParser

    parser = TrlParser((GRPOScriptArguments, ToolArguments, GRPOConfig, ModelConfig), description=__doc__)
    parser.set_defaults(**GRPO_DEFAULTS)
    return parser


def check_grpo_args(script_args: GRPOScriptArguments, args) -> None:
    """GRPO-specific checks of TRL's flags (besides :func:`train.common.check_training_args`)."""
    check_training_args(args, script_args.overwrite)
    require("num_generations", args.num_generations is not None and args.num_generations >= 2,
            f"must be 2 or more (a group needs several rollouts to compare), got {args.num_generations}")
    require("max_completion_length", args.max_completion_length > 0,
            f"must be greater than 0, got {args.max_completion_length}")
    require("beta", args.beta >= 0, f"must be 0 or more, got {args.beta}")
    validate_sampling(args.temperature, args.top_p)


def _trainer_class():
    """TRL's ``GRPOTrainer``, scoring only the completion tokens when there is no Triton (CPU).

    TRL's fused LM head scores every position of the sequence (prompt included) off Triton and
    recomputes the logits tile by tile in its backward pass: on a 2-core CPU that was 33 of the 43
    seconds of a backward pass. Here, on CPU and for text-only inputs, the model returns the
    logits of the completion positions only and log-probabilities and entropies come from them
    directly (same values, the same loss).
    """
    import torch
    from trl import GRPOTrainer
    from trl.trainer.utils import selective_log_softmax_and_entropy

    class CortGRPOTrainer(GRPOTrainer):
        def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                               batch_size=None, compute_entropy=False, compute_aux_loss=False,
                                               **extra):
            if input_ids.is_cuda or compute_aux_loss or any(v is not None for v in extra.values()):
                return super()._get_per_token_logps_and_entropies(
                    model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss,
                    **extra)
            batch_size = batch_size or input_ids.size(0)
            logps, entropies = [], []
            for start in range(0, input_ids.size(0), batch_size):
                ids, mask = input_ids[start:start + batch_size], attention_mask[start:start + batch_size]
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=logits_to_keep + 1).logits
                logits = logits[:, :-1, :].float() / self.temperature
                lp, ent = selective_log_softmax_and_entropy(logits, ids[:, -logits_to_keep:])
                logps.append(lp)
                entropies.append(ent)
            return torch.cat(logps), (torch.cat(entropies) if compute_entropy else None), None

    return CortGRPOTrainer


def build_trainer(script_args: GRPOScriptArguments, tool: ToolArguments, args, model_args):
    """Build (trainer, executor) from parsed flags; used by ``main`` and the tests."""
    import torch
    from transformers import AutoModelForCausalLM
    from trl import get_peft_config

    from cort.models import load_tokenizer, resolve_model

    check_grpo_args(script_args, args)
    train_set = load_dataset_rows(script_args.data)
    eval_set = load_dataset_rows([script_args.val_data]) if script_args.val_data else None
    model_path = resolve_model(model_args.model_name_or_path)
    tokenizer = load_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.bfloat16 if args.bf16 else torch.float32)
    if script_args.trainable_layers:
        freeze_below(model, script_args.trainable_layers)
    executor = build_executor(tool)
    if script_args.select_solved_between:
        train_set = select_problems(train_set, model, tokenizer, executor, script_args, tool, args)
    if eval_set is not None and script_args.val_limit:
        eval_set = eval_set.select(range(min(script_args.val_limit, len(eval_set))))
    reward_funcs, weights = make_rewards(script_args, args.max_completion_length, tokenizer)
    args.reward_weights = weights
    trainer = _trainer_class()(model=model, reward_funcs=reward_funcs, args=args, train_dataset=train_set,
                          eval_dataset=eval_set, processing_class=tokenizer, peft_config=get_peft_config(model_args),
                          rollout_func=make_rollout_func(script_args, tool, executor, tokenizer))
    return trainer, executor


def main(script_args: GRPOScriptArguments, tool: ToolArguments, args, model_args) -> int:
    """Train and save a plain HF folder."""
    trainer, executor = build_trainer(script_args, tool, args, model_args)
    try:
        trainer.train(resume_from_checkpoint=trainer.args.resume_from_checkpoint)
        trainer.save_state()  # trainer_state.json: the per-step log train.curves plots
        save_for_inference(trainer, trainer.processing_class, trainer.args.output_dir)
    finally:
        executor.shutdown()
    return 0


def precheck_flags(argv: list[str]) -> None:
    """Flags TRL's ``GRPOConfig`` would crash on while it is built (``--num_generations 0`` divides by 0)."""
    import argparse

    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--num_generations", "--num-generations", type=int, default=None)
    known, _ = ap.parse_known_args(argv)
    if known.num_generations is not None:
        require("num_generations", known.num_generations >= 2,
                f"must be 2 or more (a group needs several rollouts to compare), got {known.num_generations}")


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    def body() -> int:
        flags = cpu_precision(sys.argv[1:] if argv is None else argv)
        precheck_flags(flags)
        return main(*parse_flags(make_parser(), flags))

    return run_command(body)


if __name__ == "__main__":
    sys.exit(cli())
