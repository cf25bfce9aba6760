#!/bin/sh
# Multi-GPU / multi-node SFT with DeepSpeed ZeRO through accelerate.
#   NUM_GPUS=8 ZERO=3 sh scripts/launch_sft.sh --data out/sft.jsonl --model_name_or_path <model> --output_dir out/sft
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT on every node.
set -eu
exec sh "$(dirname "$0")/accelerate_launch.sh" train.sft --bf16 --gradient_checkpointing "$@"
