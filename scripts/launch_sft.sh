#!/bin/sh
# Multi-GPU / multi-node SFT with DeepSpeed ZeRO through accelerate.
#   NUM_GPUS=8 ZERO=3 sh scripts/launch_sft.sh --data out/sft.jsonl --model_name_or_path <model> --output_dir out/sft
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT on every node.
set -eu
NUM_GPUS=${NUM_GPUS:-8}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
ZERO=${ZERO:-2}
exec accelerate launch --config_file train/configs/accelerate_zero$ZERO.yaml \
  --num_processes $((NUM_GPUS * NNODES)) --num_machines "$NNODES" --machine_rank "$NODE_RANK" \
  --main_process_ip "$MASTER_ADDR" --main_process_port "$MASTER_PORT" \
  -m train.sft --bf16 --gradient_checkpointing "$@"
