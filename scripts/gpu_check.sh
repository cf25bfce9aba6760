#!/bin/sh
# Check the GPU paths on a machine with one GPU: the transformers engine in bf16 (tokens/s), one SFT step and
# one GRPO step (with the interpreter in the rollout) on the GPU. MODEL (default: the bundled SmolLM2-135M),
# DATA_DIR (default ../shared/data), OUT (default outputs/gpu_check).
#   sh scripts/gpu_check.sh
set -eu
MODEL=${MODEL:-}
DATA_DIR=${DATA_DIR:-../shared/data}
OUT=${OUT:-outputs/gpu_check}
mkdir -p "$OUT"
export TOKENIZERS_PARALLELISM=false

python - "$MODEL" <<'PY'
import sys, time, torch
from cort.chat import render_prompt
from cort.engine import SamplingParams
from cort.models import resolve_model
from infer.engines.hf import HFEngine
assert torch.cuda.is_available(), "no CUDA device visible"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
engine = HFEngine(resolve_model(sys.argv[1]), batch_size=16)
assert next(engine.model.parameters()).dtype == torch.bfloat16, "expected bf16 weights on the GPU"
chat = render_prompt(engine.tokenizer, "What is 2^100 mod 7?")
ids = [engine.encode(chat)] * 16
engine.generate(ids[:2], [SamplingParams(0.6, 0.95, 8, [])] * 2)
torch.cuda.synchronize(); start = time.perf_counter()
gens = engine.generate(ids, [SamplingParams(0.6, 0.95, 256, [], seed=i) for i in range(16)])
torch.cuda.synchronize(); wall = time.perf_counter() - start
n = sum(len(g.token_ids) for g in gens)
print(f"hf engine bf16: {n} tokens in {wall:.2f} s = {n / wall:.1f} tokens/s (16 prompts x 256)")
PY

python -m train.sft --data data/fixtures/trajectories.jsonl --model_name_or_path "$MODEL" --output_dir "$OUT/sft" \
  --max_steps 1 --per_device_train_batch_size 4 --bf16 --logging_steps 1 --save_strategy no --report_to none --overwrite
echo "SFT step on GPU: ok"

python -m train.grpo --data "$DATA_DIR/toy_train.reason_step.parquet" --model_name_or_path "$MODEL" \
  --output_dir "$OUT/grpo" --max_steps 1 --bf16 --num_generations 4 --per_device_train_batch_size 8 \
  --max_completion_length 64 --max_func_call 3 --save_strategy no --overwrite
echo "GRPO step on GPU: ok"
