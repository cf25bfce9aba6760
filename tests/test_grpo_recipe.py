"""GRPO's defaults are the original recipe, its reward the original's, and its loss moves when rewards vary."""

from __future__ import annotations

import json
import math

import pytest
import torch

from cort.cli import parse_flags
from evaluation.original_grading import rl_reward
from train.common import cpu_precision

THINK = "<think>\nLet me compute.\n```python\nprint(6 * 7)\n```\n```output\n{out}\n```\n</think>\n{final}"


def _parse(argv):
    from train.grpo import make_parser

    return parse_flags(make_parser(), cpu_precision(argv))


def test_defaults_are_the_original_recipe(tmp_path):
    script_args, tool, args, _ = _parse(["--output_dir", str(tmp_path / "o"), "--use_cpu"])
    assert (args.num_generations, args.num_generations_eval, args.temperature, args.top_p) == (8, 16, 0.6, 0.95)
    assert (args.learning_rate, str(args.lr_scheduler_type), args.beta) == (1e-6, "SchedulerType.CONSTANT", 0.001)
    assert (args.entropy_coef, args.loss_type, args.epsilon, args.max_completion_length) == (0.001, "bnpo", 0.2, 16000)
    assert (tool.max_func_call, tool.func_call_timeout) == (12, 5)  # 12 rounds = 11 code calls, 5 s per cell
    assert (script_args.val_max_func_call, script_args.val_max_completion_length) == (15, 31000)
    assert (script_args.val_temperature, script_args.val_top_p, script_args.reward_rule) == (0.6, 1.0, "original")


@pytest.mark.parametrize("text, expected", [
    (THINK.format(out="42", final="The answer is \\boxed{42}."), (1.0, True)),
    (THINK.format(out="42", final="The answer is \\boxed{41}."), (0.0, False)),
    (THINK.format(out="", final="The answer is \\boxed{42}."), (0.9, True)),  # an empty output counts as an error
    (THINK.format(out="NameError: name 'x' is not defined", final="\\boxed{42}"), (0.9, True)),
    (THINK.format(out="Done", final="\\boxed{42}"), (0.9, True)),
    ("<think>\nsix times seven</think>\nThe answer is \\boxed{42}.", (0.9, True)),  # no code: all([]) is True
    ("<think>\nLet me compute. \\boxed{42}", (-0.1, False)),  # thinking never closed
    ("The answer is \\boxed{42}.", (-0.1, False)),  # no thinking at all
    ("<think>a</think>\n\\boxed{42}</think>\\boxed{7}", (0.9, True)),  # graded between the first two </think>
    ("<think>a</think>\nno box here", (-0.1, False)),
])
def test_original_rl_reward(text, expected):
    reward, correct = rl_reward(text, "42")
    assert correct is expected[1] and reward == pytest.approx(expected[0])


def test_reward_rules_from_flags(tmp_path, tokenizer):
    from train.grpo import make_rewards

    base = ["--output_dir", str(tmp_path / "o"), "--use_cpu"]
    good = THINK.format(out="42", final="The answer is \\boxed{42}.")
    cut = "```python\nprint(6 * 7)\n```\n```output\n42\n```\nSo the answer is \\boxed{42}."  # no <think>
    for rule, rewards in (("original", [1.0, -0.1]), ("strict", [1.0, 1.0])):
        script_args, _, args, _ = _parse([*base, "--reward_rule", rule])
        funcs, weights = make_rewards(script_args, args.max_completion_length, tokenizer)
        got = funcs[0](prompts=["What is 6 times 7?"] * 2, completions=[good, cut], gt_answer=["42", "42"],
                       code_calls=[1, 1], code_errors=[0, 0])
        assert got == pytest.approx(rewards), rule
        assert weights == [1.0, 0.0, 0.0, 0.0]


@pytest.mark.slow
def test_cpu_scoring_equals_trls(tmp_path, shared_data, model_dir):
    """Our completion-only scoring on CPU gives TRL's fused head's log-probs and entropies."""
    from trl import GRPOTrainer

    from train.grpo import build_trainer

    argv = ["--model_name_or_path", model_dir, "--data", str(shared_data / "toy_train.reason_step.parquet"),
            "--output_dir", str(tmp_path / "o"), "--use_cpu", "--num_generations", "2",
            "--per_device_train_batch_size", "2", "--max_completion_length", "16"]
    trainer, executor = build_trainer(*_parse(argv))
    try:
        ids = torch.randint(200, 5000, (3, 40))
        mask = torch.ones_like(ids)
        mask[0, :5] = 0  # a left-padded row
        ours = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, 12, compute_entropy=True)
        theirs = GRPOTrainer._get_per_token_logps_and_entropies(trainer, trainer.model, ids, mask, 12,
                                                                compute_entropy=True)
        assert torch.allclose(ours[0], theirs[0], atol=1e-4) and torch.allclose(ours[1], theirs[1], atol=1e-4)
    finally:
        executor.shutdown()


@pytest.mark.slow
def test_loss_moves_when_a_group_has_reward_variance(tmp_path, shared_data, model_dir):
    """Two real GRPO steps where rewards vary within groups (the strict rule with a length penalty, so
    rollouts of different lengths get different rewards): the loss is not 0 and the model changes."""
    from datasets import Dataset

    from train.grpo import build_trainer

    argv = ["--model_name_or_path", model_dir, "--output_dir", str(tmp_path / "o"), "--use_cpu",
            "--data", str(shared_data / "toy_train.reason_step.parquet"), "--reward_rule", "strict",
            "--length_penalty", "0.5", "--num_generations", "4", "--per_device_train_batch_size", "8",
            "--max_completion_length", "48", "--max_func_call", "2", "--max_steps", "2", "--save_strategy", "no",
            "--learning_rate", "1e-4", "--temperature", "1.0", "--trainable_layers", "2",
            "--gradient_checkpointing", "false", "--seed", "0"]
    trainer, executor = build_trainer(*_parse(argv))
    trainer.train_dataset = Dataset.from_list(
        [{"prompt": [{"role": "user", "content": f"What is {a} times {b}? Use python."}], "gt_answer": str(a * b)}
         for a, b in ((6, 7), (12, 13))])
    top = trainer.model.model.layers[-1].mlp.down_proj.weight
    before, frozen_before = top.detach().clone(), trainer.model.model.layers[0].mlp.down_proj.weight.detach().clone()
    try:
        trainer.train()
    finally:
        executor.shutdown()
    logs = [h for h in trainer.state.log_history if "loss" in h and "reward_std" in h]
    varied = [h for h in logs if h["frac_reward_zero_std"] < 1]
    assert varied, "no group had reward variance: the check below would prove nothing"
    assert all(h["loss"] != 0 and math.isfinite(h["loss"]) for h in varied)
    assert not torch.equal(top.detach(), before)  # the trainable top block moved
    assert torch.equal(trainer.model.model.layers[0].mlp.down_proj.weight.detach(), frozen_before)


def test_curves_plot_and_table(tmp_path, capsys):
    from train.curves import cli

    for name, acc in (("a", [0.2, 0.4, 0.6]), ("b", [0.5, 0.5, 0.7])):
        folder = tmp_path / name
        folder.mkdir()
        history = [{"step": i + 1, "rewards/cort_reward/mean": a - 0.1, "rewards/accuracy/mean": a,
                    "rewards/code_calls_per_response/mean": 1.0, "completions/mean_length": 100 - 5 * i}
                   for i, a in enumerate(acc)] + [{"step": 3, "train_runtime": 9.0}]
        (folder / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    out = tmp_path / "c.png"
    assert cli(["--runs", f"a={tmp_path / 'a'}", f"b={tmp_path / 'b'}", "--output_file", str(out)]) == 0
    assert out.stat().st_size > 5000
    table = (tmp_path / "c.md").read_text()
    assert "| a | 3 |" in table and "0.2 → 0.6 (0.6)" in table and "100 → 90 (90)" in table
    assert cli(["--runs", f"x={tmp_path}", "--output_file", str(out)]) == 2  # no trainer_state.json there
    assert "trainer_state.json" in capsys.readouterr().err


def test_rft_can_keep_the_habits():
    from cort.rollout import MODEL, Segment, Trajectory
    from train.rft import rejection_reason

    text = ("Let me compute by hand first: 12 * 13 = 12 * 10 + 12 * 3 = 156.\n```python\nprint(12 * 13)\n```\n"
            "```output\n156\n```\nLet me verify this manually: 12 * 13 = 156. The answer is \\boxed{156}.")
    traj = Trajectory(index=0, prompt="", prompt_ids=[])
    traj.segments.append(Segment(MODEL, text, [1], None))
    traj.code_calls, traj.code_errors = 1, 0
    assert rejection_reason(traj, "156") in ("delayed_computation", "code_distrust")
    assert rejection_reason(traj, "156", filter_habits=False) is None
