#!/bin/sh
# Shared by the launchers: `sh scripts/accelerate_launch.sh <module> [flags]` runs `python -m <module>` under
# accelerate with DeepSpeed ZeRO (ZERO=2|3) on NUM_GPUS per node; multi-node with NNODES, NODE_RANK,
# MASTER_ADDR, MASTER_PORT set on every node.
set -eu
MODULE=$1
shift
NUM_GPUS=${NUM_GPUS:-8}
NNODES=${NNODES:-1}
ZERO=${ZERO:-2}
exec accelerate launch --config_file "train/configs/accelerate_zero$ZERO.yaml" \
  --num_processes $((NUM_GPUS * NNODES)) --num_machines "$NNODES" --machine_rank "${NODE_RANK:-0}" \
  --main_process_ip "${MASTER_ADDR:-127.0.0.1}" --main_process_port "${MASTER_PORT:-29500}" \
  -m "$MODULE" "$@"
