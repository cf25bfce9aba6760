#!/bin/sh
# A real DeepSpeed ZeRO engine on a CPU machine: two processes, gloo backend.
#   sh scripts/sft_cpu_deepspeed.sh --data data/fixtures/trajectories.jsonl --output_dir out/sft-ds --max_steps 2
set -eu
ZERO=${ZERO:-2}
exec torchrun --nproc_per_node "${NPROC:-2}" --master_port "${MASTER_PORT:-29511}" -m train.sft \
  --use_cpu --deepspeed "train/configs/zero$ZERO.json" --report_to none "$@"
