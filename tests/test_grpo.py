"""GRPO with the interpreter in the rollout: two real steps and the interpreter-token mask."""

import math
from pathlib import Path

import pytest
import torch

from cort.chat import render_prompt

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def grpo(tmp_path_factory, shared_data, tokenizer):
    from datasets import Dataset

    from cort.cli import parse_flags
    from train.common import cpu_precision
    from train.grpo import build_trainer, make_parser

    out = tmp_path_factory.mktemp("grpo")
    argv = [
        "--data", str(shared_data / "toy_train.reason_step.parquet"), "--output_dir", str(out),
        "--num_generations", "4", "--per_device_train_batch_size", "8", "--max_completion_length", "64",
        "--max_func_call", "3", "--max_steps", "2", "--save_steps", "2", "--use_cpu", "--seed", "0",
        "--learning_rate", "1e-5", "--func_call_timeout", "10",
        "--interpreter_mode", "kernel"]  # the prompts open the cell; the original counts only cells opened in a round
    script_args, tool, args, model_args = parse_flags(make_parser(), cpu_precision(argv))  # as the command does
    trainer, executor = build_trainer(script_args, tool, args, model_args)
    prompts = []
    for a, b in ((6, 7), (12, 13)):
        chat = render_prompt(tokenizer, f"What is {a}*{b}? Use python.")
        prompts.append({"prompt": chat + f"I will compute it.\n```python\nprint({a}*{b})\n", "gt_answer": str(a * b)})
    trainer.train_dataset = Dataset.from_list(prompts)
    yield trainer, out, executor
    executor.shutdown()


@pytest.mark.slow
def test_two_grpo_steps_with_real_kernel(grpo):
    trainer, out, _ = grpo
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 2 and all(math.isfinite(h["loss"]) for h in logs)
    assert all("rewards/cort_reward/mean" in h and "rewards/code_calls_per_response/mean" in h for h in logs)
    assert any(h["rewards/code_calls_per_response/mean"] > 0 for h in logs)  # the interpreter really ran
    assert (out / "checkpoint-2" / "model.safetensors").exists()


@pytest.mark.slow
def test_interpreter_tokens_do_not_enter_the_loss(grpo, tokenizer):
    trainer, _, _ = grpo
    batch = [trainer.train_dataset[i % 2] for i in range(8)]
    inputs = trainer._generate_and_score_completions(batch)
    mask = inputs["tool_mask"] * inputs["completion_mask"]
    interp = (inputs["tool_mask"] == 0) & (inputs["completion_mask"] == 1)
    assert interp.any(), "no interpreter tokens in the batch"
    row = int(interp.any(dim=1).nonzero()[0])
    shown = tokenizer.decode(inputs["completion_ids"][row][interp[row]])
    assert shown.startswith("```output\n") and shown.rstrip().endswith("```")
    model = trainer.model
    inputs["advantages"] = torch.linspace(-1, 1, inputs["advantages"].shape[0])
    base_old = inputs["ref_per_token_logps"].clone()

    def loss_with(old, ref):
        trial = dict(inputs, old_per_token_logps=old, ref_per_token_logps=ref)
        with torch.no_grad():
            return trainer._compute_loss(model, trial).item()

    base = loss_with(base_old, base_old)
    at_interp = torch.where(interp, base_old + 2.0, base_old)
    at_model = torch.where(mask.bool(), base_old + 2.0, base_old)
    assert loss_with(at_interp, base_old) == pytest.approx(base, abs=1e-6)  # policy term: masked
    assert loss_with(base_old, at_interp) == pytest.approx(base, abs=1e-6)  # KL term: masked
    assert abs(loss_with(at_model, base_old) - base) > 1e-4  # the same change on model tokens counts
    assert abs(loss_with(base_old, at_model) - base) > 1e-6


@pytest.mark.slow
def test_data_selection_by_solve_count(grpo, tokenizer):
    from cort.args import ToolArguments
    from train.grpo import GRPOScriptArguments, select_problems

    trainer, _, executor = grpo
    tool = ToolArguments(max_func_call=3, func_call_timeout=10)
    never = GRPOScriptArguments(select_solved_between=[0, 0], select_n=2)
    kept = select_problems(trainer.train_dataset, trainer.model, tokenizer, executor, never, tool, trainer.args)
    once = GRPOScriptArguments(select_solved_between=[1, 2], select_n=2)
    kept_once = select_problems(trainer.train_dataset, trainer.model, tokenizer, executor, once, tool, trainer.args)
    assert len(kept) + len(kept_once) == len(trainer.train_dataset)  # every problem lands in exactly one range


@pytest.mark.parametrize("flags, message", [
    (["--num_generations", "0"], "--num_generations: must be 2 or more"),
    (["--num_generations", "1"], "--num_generations: must be 2 or more"),
    (["--generation_batch_size", "6", "--num_generations", "4"], "divisible"),  # TRL's own check, one line
    (["--data", "/no/such.parquet"], "/no/such.parquet: input file not found"),
    (["--temperature", "-1"], "--temperature: must be 0 (greedy) or more"),
    (["--max_func_call", "0"], "--max_func_call: must be greater than 0"),
    (["--select_solved_between", "3", "1"], "--select_solved_between: expected two numbers A B"),
    (["--max_steps", "-1", "--num_train_epochs", "0"], "--num_train_epochs: must be greater than 0"),
])
def test_grpo_bad_flags_one_line_exit_2(tmp_path, shared_data, capsys, flags, message):
    from train.grpo import cli

    base = ["--use_cpu", "--output_dir", str(tmp_path / "out"),
            "--data", str(shared_data / "toy_train.reason_step.parquet")]
    assert cli([*base, *flags]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], errors
    assert not (tmp_path / "out").exists()
