"""What the trainers share: checks of TRL/transformers training flags and saving a model for inference."""

from __future__ import annotations

import os

from cort.args import require
from cort.io import check_output_dir


def check_training_args(training_args, overwrite: bool) -> None:
    """Refuse training settings that would run nothing, or replace a saved model, before any loading."""
    steps, epochs = training_args.max_steps, training_args.num_train_epochs
    require("num_train_epochs", steps > 0 or epochs > 0,
            f"must be greater than 0 (or set --max_steps), got {epochs}")
    require("learning_rate", training_args.learning_rate >= 0, f"must be 0 or more, got {training_args.learning_rate}")
    require("per_device_train_batch_size", training_args.per_device_train_batch_size > 0,
            f"must be greater than 0, got {training_args.per_device_train_batch_size}")
    require("gradient_accumulation_steps", training_args.gradient_accumulation_steps > 0,
            f"must be greater than 0, got {training_args.gradient_accumulation_steps}")
    check_output_dir(training_args.output_dir, "output_dir")
    saved = [f for f in ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors")
             if os.path.exists(os.path.join(training_args.output_dir, f))]
    require("output_dir", overwrite or training_args.resume_from_checkpoint or not saved,
            f"{training_args.output_dir} already holds a trained model ({saved[0] if saved else ''}); "
            f"pass --overwrite to replace it or --resume_from_checkpoint to continue")


def save_for_inference(trainer, tokenizer, output_dir: str) -> None:
    """Save a plain HF folder (LoRA merged into the base weights)."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if trainer.accelerator.is_main_process:
        model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)


def cpu_precision(argv: list[str]) -> list[str]:
    """``argv`` plus ``--bf16 false`` when there is no GPU and ``--bf16`` was not given explicitly.

    TRL's configs default to ``bf16=True``; many CPUs have no bfloat16 matrix units and run it
    10-70x slower than float32 (measured on this machine kind: one SFT step of SmolLM2-135M 170 s
    in bfloat16, ~5 s in float32). It must be decided before the config is built, because
    ``TrainingArguments`` sets accelerate's mixed precision while it is constructed. On a GPU
    nothing changes.
    """
    import torch

    explicit = any(a == "--bf16" or a.startswith("--bf16=") for a in argv)
    if torch.cuda.is_available() or explicit:
        return list(argv)
    return [*argv, "--bf16", "false"]
