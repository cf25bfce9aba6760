"""Training I: SFT data building, masking, train.sft (full, LoRA, DeepSpeed) and train.rft."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cort import hints, protocol
from data.build_sft import build
from data.trajectories import load_problems, load_trajectories
from train.sft_data import IGNORE_INDEX, masked_example

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "data" / "fixtures" / "trajectories.jsonl"


def _env():
    return dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO),
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def test_masking_hides_prompt_and_interpreter_output(tokenizer):
    traj = load_trajectories(str(FIXTURES))[1]
    ex = masked_example(tokenizer, traj["prompt"], traj["response"])
    trained = tokenizer.decode([t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab != IGNORE_INDEX])
    masked = tokenizer.decode([t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab == IGNORE_INDEX])
    assert "```output" not in trained and "{2: 3, 3: 2, 5: 1} 24" not in trained
    assert "```output\n{2: 3, 3: 2, 5: 1} 24\n```" in masked
    assert "print(factorint(360), divisor_count(360))" in trained and "\\boxed{24}" in trained
    assert traj["problem"] in masked and traj["problem"] not in trained
    assert all(lab in (IGNORE_INDEX, tok) for tok, lab in zip(ex["input_ids"], ex["labels"]))


def test_fixtures_reexecute_cleanly_and_styles(executor):
    trajs = load_trajectories(str(FIXTURES))
    plain, stats = build(trajs, "none", "check", executor=executor)
    assert stats["kept"] == len(trajs) and stats["output_mismatch"] == 0
    assert all("[[hint" not in t["response"] for t in plain)
    prompt_hinted, _ = build(trajs, "prompt_hint", "off")
    assert all(t["response"].startswith(hints.PROMPT_HINT) for t in prompt_hinted)
    engineered, stats = build(trajs, "hint_engineering", "off")
    assert stats["hint_delayed_computation"] == 1 and stats["hint_code_distrust"] == 2
    bad = engineered[-2]["response"]
    assert hints.HINT_TEXTS[hints.DELAYED_COMPUTATION] in bad and "2468 * 1000 = 2468000" not in bad
    assert hints.HINT_CODE_DISTRUST in bad and "verify this manually" not in bad
    assert protocol.find_outputs(bad)[0].text == "3349076"  # the cell still runs after the hint


def test_recorded_output_mismatch_is_refused_or_fixed(executor):
    traj = load_trajectories(str(FIXTURES))[0]
    wrong = dict(traj, response=traj["response"].replace("```output\n18835647", "```output\n18835648"))
    kept, stats = build([wrong], "none", "check", executor=executor)
    assert kept == [] and stats["dropped_output_mismatch"] == 1
    kept, stats = build([wrong], "none", "fix", executor=executor)
    assert stats["fixed_outputs"] == 1 and kept[0]["response"] == traj["response"]


def test_reexecution_follows_the_interpreter_mode(executor):
    response = ("```python\nx = 6 * 7\nx\n```\n```output\n42\n```\n"
                "```python\nprint(x + 1)\n```\n```output\n43\n```\nThe answer is \\boxed{43}.")
    traj = {"problem": "p", "prompt": "p", "response": response, "gt_answer": "43", "source": "t"}
    kept, stats = build([traj], "none", "check", executor=executor, interpreter_mode="kernel")
    assert stats["kept"] == 1 and stats["output_mismatch"] == 0  # a live kernel shows the bare value
    kept, stats = build([traj], "none", "check", executor=executor)  # the original shows stdout only
    assert kept == [] and stats["dropped_output_mismatch"] == 1
    kept, stats = build([traj], "none", "fix", executor=executor)
    # the second program is rebuilt from the first cell (its fixed, empty output is no error), then the new one
    assert [o.text for o in protocol.find_outputs(kept[0]["response"])] == ["", "43"]


def test_incorrect_answers_are_dropped(executor):
    traj = load_trajectories(str(FIXTURES))[2]
    kept, stats = build([dict(traj, gt_answer="4")], "none", "off")
    assert kept == [] and stats["dropped_incorrect"] == 1


def test_verl_parquet_problems(shared_data):
    problems = load_problems(str(shared_data / "toy_train.reason_step.parquet"))
    assert len(problems) == 2 and problems[0]["gt_answer"] == "4086462"
    assert problems[0]["prompt"].endswith(hints.PROMPT_SUFFIX)


def _losses(output_dir: Path) -> list[float]:
    ckpts = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((ckpts[-1] / "trainer_state.json").read_text())
    return [h["loss"] for h in state["log_history"] if "loss" in h]


@pytest.mark.slow
def test_sft_full_loss_decreases_and_infer_loads_it(tmp_path, hf_engine):
    out = tmp_path / "sft"
    proc = subprocess.run([sys.executable, "-m", "train.sft", "--data", str(FIXTURES), "--output_dir", str(out),
                           "--max_steps", "4", "--per_device_train_batch_size", "8", "--learning_rate", "1e-4",
                           "--logging_steps", "1", "--save_steps", "4", "--report_to", "none", "--use_cpu"],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = _losses(out)
    assert len(losses) == 4 and all(v == v and v < 20 for v in losses) and losses[-1] < losses[0]
    from cort.engine import SamplingParams
    from infer.engines.hf import HFEngine

    engine = HFEngine(str(out))
    [gen] = engine.generate([engine.encode("Hello")], [SamplingParams(0.0, 1.0, 8, [])])
    assert len(gen.token_ids) > 0


@pytest.mark.slow
def test_sft_lora_saves_merged_model(tmp_path):
    out = tmp_path / "lora"
    proc = subprocess.run([sys.executable, "-m", "train.sft", "--data", str(FIXTURES), "--output_dir", str(out),
                           "--max_steps", "2", "--per_device_train_batch_size", "4", "--use_peft", "--lora_r", "16",
                           "--lora_target_modules", "q_proj", "v_proj", "--learning_rate", "1e-4",
                           "--logging_steps", "1", "--report_to", "none", "--use_cpu", "--save_strategy", "no"],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "model.safetensors").exists() and not (out / "adapter_config.json").exists()


@pytest.mark.slow
def test_sft_deepspeed_zero2_two_cpu_processes(tmp_path):
    out = tmp_path / "ds"
    proc = subprocess.run(["sh", "scripts/sft_cpu_deepspeed.sh", "--data", str(FIXTURES), "--output_dir", str(out),
                           "--max_steps", "2", "--per_device_train_batch_size", "2", "--logging_steps", "1",
                           "--save_steps", "2"], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "checkpoint-2" / "global_step2").is_dir()  # a DeepSpeed ZeRO checkpoint
    assert (out / "model.safetensors").exists()
    assert all(v == v for v in _losses(out))


@pytest.mark.slow
def test_rft_end_to_end(tmp_path, shared_data):
    out = tmp_path / "rft"
    proc = subprocess.run([sys.executable, "-m", "train.rft", "--problems",
                           str(shared_data / "toy_train.reason_step.parquet"), "--output_dir", str(out),
                           "--n_samples", "2", "--limit", "2", "--max_func_call", "3", "--max_tokens_per_call", "64",
                           "--engine", "hf"],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((out / "rft_stats.json").read_text())
    rejected = sum(v for k, v in stats.items() if k.startswith("rejected_"))
    assert stats["samples"] == 4 and rejected + stats.get("accepted", 0) == 4
    assert len((out / "rft_data.jsonl").read_text().splitlines()) == stats["kept"]


def test_rft_selection_reasons_and_shortest(tokenizer, executor):
    from cort.replay import ReplayEngine
    from cort.rollout import RolloutConfig, run_rollouts
    from train.rft import select, trajectory_row

    trajs = load_trajectories(str(FIXTURES))
    good_long, good_short, habits = trajs[3]["response"], trajs[2]["response"], trajs[6]["response"]
    scripts = {"<a1>\n": _without_outputs(good_long), "<a2>\n": "No code here. The answer is \\boxed{234168}.",
               "<a3>\n": _without_outputs(good_long).replace("\\boxed{234168}", "\\boxed{1}"),
               "<b1>\n": _without_outputs(good_short), "<b2>\n": _without_outputs(habits)}
    engine = ReplayEngine(tokenizer, scripts)
    out = run_rollouts(engine, list(scripts), RolloutConfig(max_func_call=6, max_tokens_per_call=512,
                                                             max_model_len=4096, temperature=0.0), executor=executor)
    problems = [{"problem": "p1", "prompt": "p1", "gt_answer": "234168"},
                {"problem": "p2", "prompt": "p2", "gt_answer": "3"},
                {"problem": "p3", "prompt": "p3", "gt_answer": "3349076"}]
    # p1: coded and correct, no code, wrong; p2: three correct copies; p3: correct but with both bad habits
    kept, stats = select(problems, out[:3] + [out[3]] * 3 + [out[4]] * 3, n=3, keep=1)
    rows = [trajectory_row(p, t, "none", "the-model") for p, t in kept]
    assert (stats["accepted"], stats["rejected_no_code"], stats["rejected_incorrect"],
            stats["rejected_delayed_computation"]) == (4, 1, 1, 3)
    assert [r["gt_answer"] for r in rows] == ["234168", "3"] and stats["kept"] == 2
    assert protocol.find_outputs(rows[0]["response"])[0].text == "234168"  # real interpreter output
    # token-exact: SFT trains on the loop's own ids, interpreter tokens masked, nothing re-tokenised
    from train.sft import build_dataset

    [ex] = build_dataset(rows[:1], tokenizer, None, "the-model").to_list()
    traj = kept[0][1]
    assert ex["input_ids"] == traj.prompt_ids + traj.completion_ids
    trained = [t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab != IGNORE_INDEX]
    assert trained == [t for t, m in zip(traj.completion_ids, traj.model_mask) if m]
    assert "```output" not in tokenizer.decode(trained) and "\\boxed{234168}" in tokenizer.decode(trained)
    [other] = build_dataset(rows[:1], tokenizer, None, "another-model").to_list()  # other tokenizer: from text
    assert other == masked_example(tokenizer, rows[0]["prompt"], rows[0]["response"])


def _without_outputs(response: str) -> str:
    for block in reversed(protocol.find_outputs(response)):
        response = response[:block.start] + response[block.end:]
    return response


@pytest.mark.parametrize("argv, message", [
    (["--data", "no/such/file.jsonl", "--output_dir", "{out}", "--use_cpu"],
     "no/such/file.jsonl: input file not found"),
    (["--data", "{bad}", "--output_dir", "{out}", "--use_cpu"], ":2: field 'response': missing"),
    (["--data", "{fixtures}", "--output_dir", "{out}", "--use_cpu", "--num_train_epochs", "-1"],
     "--num_train_epochs: must be greater than 0"),
    (["--data", "{fixtures}", "--output_dir", "{out}", "--use_cpu", "--per_device_train_batch_size", "0"],
     "--per_device_train_batch_size: must be greater than 0"),
    (["--data", "{fixtures}", "--output_dir", "{afile}/sub", "--use_cpu"], "cannot be a folder"),
    (["--data", "{fixtures}", "--output_dir", "{out}", "--use_cpu", "--load_best_model_at_end", "--eval_strategy",
      "no"], "load_best_model_at_end"),  # transformers' own check, as one line
])
def test_sft_bad_input_one_line_exit_2(tmp_path, capsys, argv, message):
    from train.sft import cli

    bad = tmp_path / "bad.jsonl"
    good = FIXTURES.read_text().splitlines()[0]
    bad.write_text(good + "\n" + json.dumps({"problem": "p", "gt_answer": "1"}) + "\n")
    (tmp_path / "afile").write_text("x")
    fill = {"out": str(tmp_path / "out"), "bad": str(bad), "fixtures": str(FIXTURES), "afile": str(tmp_path / "afile")}
    assert cli([a.format(**fill) for a in argv]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "out").exists()


def test_sft_refuses_to_replace_a_trained_model(tmp_path, capsys):
    from train.sft import cli

    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_text("earlier model")
    assert cli(["--data", str(FIXTURES), "--output_dir", str(out), "--use_cpu", "--max_steps", "1"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (out / "model.safetensors").read_text() == "earlier model"


@pytest.mark.parametrize("argv, message", [
    (["--problems", "{parquet}", "--output_dir", "{out}", "--engine", "hf", "--n_samples", "0"],
     "--n_samples: must be greater than 0"),
    (["--problems", "{wrong_parquet}", "--output_dir", "{out}", "--engine", "hf"], "row 1: field 'prompt': missing"),
    (["--problems", "{parquet}", "--output_dir", "{out}", "--engine", "hf", "--", "--num_train_epochs", "2"],
     "--train: flags after -- are train.sft's"),
    (["--problems", "{parquet}", "--output_dir", "{out}", "--engine", "hf", "--train", "--",
      "--num_train_epochs", "-1", "--use_cpu"], "--num_train_epochs: must be greater than 0"),
    (["--problems", "{parquet}", "--output_dir", "{out}", "--engine", "hf", "--max_func_call", "0"],
     "--max_func_call: must be greater than 0"),
])
def test_rft_bad_input_before_any_sampling(tmp_path, shared_data, capsys, argv, message):
    import pandas as pd

    from train.rft import cli

    wrong = tmp_path / "wrong.parquet"
    pd.DataFrame({"question": ["q"], "answer": ["1"]}).to_parquet(wrong)
    fill = {"parquet": str(shared_data / "toy_train.reason_step.parquet"), "out": str(tmp_path / "out"),
            "wrong_parquet": str(wrong)}
    assert cli([a.format(**fill) for a in argv]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], errors
    assert not (tmp_path / "out" / "rft_data.jsonl").exists()


def test_trajectory_rows_need_an_answer_and_a_prompt(tmp_path):
    from cort.errors import InputError

    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"prompt": "only a prompt", "response": "r", "gt_answer": "1"}) + "\n")
    assert load_trajectories(str(path))[0]["problem"] == "only a prompt"  # prompt without problem is fine
    path.write_text(json.dumps({"prompt": "p", "gen": ["\\boxed{1}"]}) + "\n")
    with pytest.raises(InputError, match=":1: field 'gt_answer': missing"):
        load_trajectories(str(path))
    path.write_text(json.dumps({"prompt": "p", "gen": "\\boxed{1}", "gt_answer": "1"}) + "\n")
    with pytest.raises(InputError, match="field 'gen': must be a list"):
        load_trajectories(str(path))
