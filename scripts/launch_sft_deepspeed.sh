#!/bin/sh
# The same with the deepspeed launcher (hostfile for multi-node: HOSTFILE=...).
#   NUM_GPUS=8 ZERO=3 sh scripts/launch_sft_deepspeed.sh --data out/sft.jsonl --model_name_or_path <model> --output_dir out/sft
set -eu
NUM_GPUS=${NUM_GPUS:-8}
ZERO=${ZERO:-2}
HOSTS=""
if [ -n "${HOSTFILE:-}" ]; then HOSTS="--hostfile $HOSTFILE"; fi
# shellcheck disable=SC2086
exec deepspeed $HOSTS --num_gpus "$NUM_GPUS" --module train.sft --deepspeed "train/configs/zero$ZERO.json" \
  --bf16 --gradient_checkpointing "$@"
