"""Supervised fine-tuning on CoRT trajectories (TRL ``SFTTrainer``), interpreter outputs masked.

    python -m train.sft --data data/fixtures/trajectories.jsonl --output_dir out/sft \\
        --num_train_epochs 3 --per_device_train_batch_size 4 --learning_rate 1e-5 [--use_peft]

Flags: this script's (``--data``, ``--overwrite``) plus every ``SFTConfig`` flag (epochs/steps, lr,
batch, gradient accumulation, ``--max_length``, ``--bf16``, ``--gradient_checkpointing``,
``--resume_from_checkpoint``, ``--report_to``, ``--seed``, ``--deepspeed train/configs/zero2.json``,
``--use_cpu``) and ``ModelConfig`` (``--model_name_or_path``, default the bundled SmolLM2-135M;
``--use_peft --lora_r 16`` for LoRA). The output folder is a plain Hugging Face model (LoRA
weights merged) that ``infer`` loads directly. Rows that carry the tool loop's token ids
(``train.rft`` writes them) are trained on those ids, not re-tokenised.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field

from cort.cli import parse_flags, run_command
from train.common import check_training_args, cpu_precision, save_for_inference

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
logger = logging.getLogger(__name__)


@dataclass
class SFTScriptArguments:
    """What to train on."""

    data: list[str] = field(default_factory=lambda: ["data/fixtures/trajectories.jsonl"],
                            metadata={"help": "trajectory JSONL file(s) (see data/trajectories.py)"})
    overwrite: bool = field(default=False, metadata={"help": "replace a model already saved in output_dir"})


def build_dataset(rows: list[dict], tokenizer, max_length: int | None, model_path: str):
    """Tokenised, masked examples: token-exact when a row carries ids made by this model's tokenizer."""
    from datasets import Dataset

    from train.sft_data import masked_example, token_example

    examples = []
    for r in rows:
        if "completion_ids" in r and r.get("tokenizer") == model_path:
            examples.append(token_example(r["prompt_ids"], r["completion_ids"], r["model_mask"], max_length))
        else:
            examples.append(masked_example(tokenizer, r["prompt"], r["response"], max_length))
    return Dataset.from_list(examples)


def make_parser():
    """``SFTScriptArguments`` + TRL's ``SFTConfig`` + ``ModelConfig`` (YAML ``--config`` accepted)."""
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((SFTScriptArguments, SFTConfig, ModelConfig), description=__doc__)


def main(script_args: SFTScriptArguments, training_args, model_args, rows: list[dict] | None = None) -> int:
    """Train on ``rows`` (trajectory dicts; default: read ``script_args.data``) and save a plain HF folder."""
    import torch
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer, get_peft_config

    from cort.models import load_tokenizer, resolve_model
    from data.trajectories import load_trajectories

    check_training_args(training_args, script_args.overwrite)
    if rows is None:
        rows = [t for p in script_args.data for t in load_trajectories(p)]
    model_path = resolve_model(model_args.model_name_or_path)
    tokenizer = load_tokenizer(model_path)
    dataset = build_dataset(rows, tokenizer, training_args.max_length, model_path)
    logger.info("training %s on %d examples", model_path, len(dataset))
    dtype = torch.bfloat16 if training_args.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    trainer = SFTTrainer(model=model, args=training_args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=get_peft_config(model_args))
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    save_for_inference(trainer, tokenizer, training_args.output_dir)
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    def body() -> int:
        flags = cpu_precision(sys.argv[1:] if argv is None else argv)
        return main(*parse_flags(make_parser(), flags))

    return run_command(body)


if __name__ == "__main__":
    sys.exit(cli())
