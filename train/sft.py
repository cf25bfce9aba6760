"""Supervised fine-tuning on CoRT trajectories (TRL ``SFTTrainer``), interpreter outputs masked.

    python -m train.sft --data data/fixtures/trajectories.jsonl --output_dir out/sft \\
        --num_train_epochs 3 --per_device_train_batch_size 4 --learning_rate 1e-5 [--use_peft]

Flags: this script's (``--data``) plus every ``SFTConfig`` flag (epochs/steps, lr, batch, gradient
accumulation, ``--max_length``, ``--bf16``, ``--gradient_checkpointing``, ``--resume_from_checkpoint``,
``--report_to``, ``--seed``, ``--deepspeed train/configs/zero2.json``, ``--use_cpu``) and ``ModelConfig``
(``--model_name_or_path``, default the bundled SmolLM2-135M; ``--use_peft --lora_r 16`` for LoRA).
The output folder is a plain Hugging Face model (LoRA weights merged) that ``infer`` loads directly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class SFTScriptArguments:
    """What to train on."""

    data: list[str] = field(default_factory=lambda: ["data/fixtures/trajectories.jsonl"],
                            metadata={"help": "trajectory JSONL file(s) (see data/trajectories.py)"})


def build_dataset(paths: list[str], tokenizer, max_length: int | None):
    """Tokenised, masked examples of every trajectory in ``paths``."""
    from datasets import Dataset

    from data.trajectories import load_trajectories
    from train.sft_data import masked_example

    rows = [t for p in paths for t in load_trajectories(p)]
    return Dataset.from_list([masked_example(tokenizer, r["prompt"], r["response"], max_length) for r in rows])


def save_for_inference(trainer, tokenizer, output_dir: str) -> None:
    """Save a plain HF folder (LoRA merged into the base weights)."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if trainer.accelerator.is_main_process:
        model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)


def main(argv: list[str] | None = None) -> int:
    """Parse flags, train, save."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser, get_peft_config

    from cort.models import resolve_model

    parser = TrlParser((SFTScriptArguments, SFTConfig, ModelConfig))
    script_args, training_args, model_args = parser.parse_args_and_config(args=argv)
    model_path = resolve_model(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = build_dataset(script_args.data, tokenizer, training_args.max_length)
    dtype = torch.bfloat16 if training_args.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    trainer = SFTTrainer(model=model, args=training_args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=get_peft_config(model_args))
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    save_for_inference(trainer, tokenizer, training_args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
