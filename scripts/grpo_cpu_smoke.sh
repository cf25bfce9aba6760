#!/bin/sh
# GRPO smoke run on a CPU: bundled model, 2 problems x 4 rollouts, <= 2 code calls, <= 64 tokens, 2 steps,
# with a 1-problem validation pass (avg@2) before training.
#   sh scripts/grpo_cpu_smoke.sh [more train.grpo flags]
set -eu
DATA_DIR=${DATA_DIR:-../shared/data}
exec python -m train.grpo --data "$DATA_DIR/toy_train.reason_step.parquet" \
  --val_data "$DATA_DIR/val.aime24.reason_step.parquet" --val_limit 1 --num_generations_eval 2 \
  --per_device_eval_batch_size 2 --eval_strategy steps --eval_steps 2 --eval_on_start \
  --num_generations 4 --per_device_train_batch_size 8 --max_completion_length 64 --max_func_call 3 \
  --max_steps 2 --save_steps 2 --use_cpu --output_dir "${OUTPUT_DIR:-outputs/grpo_cpu}" "$@"
