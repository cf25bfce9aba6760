#!/bin/sh
# CoRT's RL stage on one node of 8 GPUs, the settings of the original deepscaler/rl_scripts/launch_cort_rl.sh
# mapped onto TRL: 128 prompts x 8 rollouts per generation batch, 2 updates of 64 prompts, 16k response
# tokens, 12 code calls (15 in validation, 16 samples per validation problem), lr 1e-6, KL 0.001 (k3 = verl's
# low_var_kl), temperature 0.6, top_p 0.95, validation before training and every 20 steps, 30 epochs.
#   MODEL=<sft_rft_model> sh scripts/launch_cort_rl.sh [more train.grpo flags]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT as for scripts/launch_sft.sh.
set -eu
MODEL=${MODEL:?set MODEL to the SFT/RFT model}
DATA_DIR=${DATA_DIR:-data}
exec sh "$(dirname "$0")/accelerate_launch.sh" train.grpo --model_name_or_path "$MODEL" \
  --data "$DATA_DIR/toy_train.reason_step.parquet" --val_data "$DATA_DIR/val.aime24.reason_step.parquet" \
  --num_generations 8 --num_generations_eval 16 \
  --per_device_train_batch_size 16 --gradient_accumulation_steps 4 --steps_per_generation 8 \
  --max_completion_length 16000 --max_func_call 13 --val_max_func_call 16 \
  --learning_rate 1e-6 --beta 0.001 --temperature 0.6 --top_p 0.95 \
  --bf16 --gradient_checkpointing --num_train_epochs 30 \
  --save_steps 20 --eval_strategy steps --eval_steps 20 --eval_on_start \
  --logging_steps 1 --report_to "${REPORT_TO:-wandb}" --output_dir "${OUTPUT_DIR:-outputs/cort_rl}" "$@"
