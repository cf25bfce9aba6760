#!/bin/sh
# Check the GPU paths on a machine with one GPU:
#   1. the transformers engine in bf16: tokens/s of generate; and requests joining a running batch (continuous
#      batching) against the same requests generated alone, in bf16 and float32 (how many rows keep every token:
#      on a GPU a row's numerics can depend on its batch);
#   2. one SFT step and one GRPO step on the GPU (the interpreter in the rollout, the policy streamed through
#      the continuous tool loop).
# MODEL (default: the bundled SmolLM2-135M), DATA_DIR (default ../shared/data), OUT (default outputs/gpu_check),
# PY (default python).
#   sh scripts/gpu_check.sh
set -eu
MODEL=${MODEL:-}
DATA_DIR=${DATA_DIR:-../shared/data}
OUT=${OUT:-outputs/gpu_check}
PY=${PY:-python}
mkdir -p "$OUT"
export TOKENIZERS_PARALLELISM=false

"$PY" - "$MODEL" <<'PY'
import sys, time, torch
from cort.chat import render_prompt
from cort.engine import SamplingParams
from cort.models import resolve_model
from infer.engines.hf import HFEngine
assert torch.cuda.is_available(), "no CUDA device visible"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__, flush=True)
engine = HFEngine(resolve_model(sys.argv[1]), batch_size=16)
assert next(engine.model.parameters()).dtype == torch.bfloat16, "expected bf16 weights on the GPU"
questions = ["What is 2^100 mod 7?", "Sum the integers from 1 to 1000.", "Is 221 prime?", "Name three prime numbers.",
             "What is the gcd of 84 and 120?", "Write 255 in base 2.", "How many days are in 3 weeks?",
             "What is 17 * 23?"] * 2
ids = [engine.encode(render_prompt(engine.tokenizer, q)) for q in questions]
engine.generate(ids[:2], [SamplingParams(0.6, 0.95, 8, [])] * 2)
torch.cuda.synchronize(); start = time.perf_counter()
gens = engine.generate(ids, [SamplingParams(0.6, 0.95, 256, [], seed=i) for i in range(16)])
torch.cuda.synchronize(); wall = time.perf_counter() - start
n = sum(len(g.token_ids) for g in gens)
print(f"hf engine bf16: {n} tokens in {wall:.2f} s = {n / wall:.1f} tokens/s (16 prompts x 256)", flush=True)


def joined_vs_alone(engine, label):
    """8 requests: each alone, then streamed (2 first, one more joining every 5 steps, mixed settings)."""
    params = [SamplingParams(0.6 if i % 3 else 0.0, 0.95 if i % 3 else 1.0, 64, [], seed=100 + i) for i in range(8)]
    alone = [engine.generate([ids[i]], [params[i]])[0] for i in range(8)]
    streamed, pending, steps = {}, list(range(8)), 0
    for i in pending[:2]:
        engine.add_request(str(i), ids[i], params[i])
    pending = pending[2:]
    while engine.has_unfinished() or pending:
        if pending and steps % 5 == 4:
            i = pending.pop(0)
            engine.add_request(str(i), ids[i], params[i])
        streamed.update(engine.step())
        steps += 1
    same = [streamed[str(i)].token_ids == alone[i].token_ids for i in range(8)]
    prefix = []
    for i in range(8):
        a, s = alone[i].token_ids, streamed[str(i)].token_ids
        k = next((j for j, (x, y) in enumerate(zip(a, s)) if x != y), min(len(a), len(s)))
        prefix.append(k)
    print(f"joining a running batch, {label}: {sum(same)}/8 rows token-identical to the row alone; "
          f"tokens before the first difference per row: {prefix}", flush=True)


joined_vs_alone(engine, "bf16")
del engine
torch.cuda.empty_cache()
joined_vs_alone(HFEngine(resolve_model(sys.argv[1]), dtype=torch.float32, batch_size=16), "float32")
PY

"$PY" -m train.sft --data data/fixtures/trajectories.jsonl --model_name_or_path "$MODEL" --output_dir "$OUT/sft" \
  --max_steps 1 --per_device_train_batch_size 4 --bf16 true --logging_steps 1 --save_strategy no --report_to none --overwrite
echo "SFT step on GPU: ok"

"$PY" -m train.grpo --data "$DATA_DIR/toy_train.reason_step.parquet" --model_name_or_path "$MODEL" \
  --output_dir "$OUT/grpo" --max_steps 1 --bf16 true --num_generations 4 --per_device_train_batch_size 8 \
  --max_completion_length 64 --max_func_call 3 --save_strategy no --overwrite
echo "GRPO step on GPU: ok"
