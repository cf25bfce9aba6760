#!/bin/sh
# CoRT's RL stage on one node of 8 80 GB GPUs: the original deepscaler/rl_scripts/launch_cort_rl.sh mapped onto TRL.
# train.grpo's defaults already are that recipe (8 rollouts at temperature 0.6 / top_p 0.95, 12 rounds = 11 code
# calls, 16000 response tokens, 5 s per cell, lr 1e-6 constant, KL loss 0.001, entropy bonus 0.001, clip 0.2, token
# mean loss, the original reward; validation: 16 samples at temperature 0.6 / top_p 1.0, 15 rounds, 31000 tokens).
# This script adds what depends on the machine:
#   - rollouts on TRL's colocated vLLM (--use_vllm --vllm_mode colocate; sleep mode off: the tool loop drives it);
#   - 128 prompts x 8 rollouts per generation batch, updated in 2 optimizer steps of 64 prompts (verl's
#     train_batch_size 128 / ppo_mini_batch_size 64): per GPU 2 sequences per micro-batch x 32 accumulation steps
#     = 64 sequences per optimizer step (512 on 8 GPUs), steps_per_generation 64 = two optimizer steps;
#   - 2 sequences per micro-batch because the original packs 32000 tokens per GPU (ppo_max_token_len_per_gpu) and a
#     sequence is up to 1024 + 16000 tokens; with bf16, gradient checkpointing and ZeRO-3 over 8 GPUs a 7B policy
#     takes ~14 GB of parameters, gradients and Adam states per GPU, the completion logits of 2 x 16k tokens are
#     scored without materialising the vocabulary at once (TRL's chunked head), and vLLM gets 35% of the memory;
#   - validation before training and every 20 steps, checkpoints every 20 steps, 30 epochs (as the original).
#   MODEL=<sft_rft_model> sh scripts/launch_cort_rl.sh [more train.grpo flags]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT as for scripts/launch_sft.sh.
set -eu
MODEL=${MODEL:?set MODEL to the SFT/RFT model}
DATA_DIR=${DATA_DIR:-data}
exec sh "$(dirname "$0")/accelerate_launch.sh" train.grpo --model_name_or_path "$MODEL" \
  --data "$DATA_DIR/toy_train.reason_step.parquet" --val_data "$DATA_DIR/val.aime24.reason_step.parquet" \
  --use_vllm --vllm_mode colocate --vllm_gpu_memory_utilization 0.35 \
  --per_device_train_batch_size 2 --gradient_accumulation_steps 32 --steps_per_generation 64 \
  --per_device_eval_batch_size 16 \
  --bf16 --gradient_checkpointing --num_train_epochs 30 \
  --save_steps 20 --eval_strategy steps --eval_steps 20 --eval_on_start \
  --report_to "${REPORT_TO:-wandb}" --output_dir "${OUTPUT_DIR:-outputs/cort_rl}" "$@"
