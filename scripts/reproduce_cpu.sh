#!/bin/sh
# A CPU-scale check of the CoRT claims with the bundled SmolLM2-135M, using only this toolkit's commands:
#   1. seeded computation-heavy problems (train / val / test, disjoint) and training trajectories in three
#      styles, every cell output from the real executor: cot (no code), prompt_hint (computes by hand first,
#      re-checks code output by hand), hint_engineering (CoRT's hints at those two places);
#   2. train.sft once per style;
#   3. infer.inference_vllm_dp_mj --engine hf + the real kernel + compute_metrics_dp on the held-out test split,
#      for the base model and the three fine-tuned ones;
#   4. one table (accuracy avg@n, response tokens, code calls, code distrust, delayed computation) as markdown and PNG.
# Seeded and re-runnable (inference resumes with --enable_cache). Settings from the environment:
#   OUT N_TRAIN N_VAL N_TEST N EPOCHS LR BATCH MAX_FUNC_CALL MAX_TOKENS_PER_CALL SEED
set -eu
OUT=${OUT:-outputs/reproduce_cpu}
N_TRAIN=${N_TRAIN:-60}
N_VAL=${N_VAL:-10}
N_TEST=${N_TEST:-30}
N=${N:-2}
EPOCHS=${EPOCHS:-3}
LR=${LR:-1e-4}
BATCH=${BATCH:-4}
MAX_FUNC_CALL=${MAX_FUNC_CALL:-4}
MAX_TOKENS_PER_CALL=${MAX_TOKENS_PER_CALL:-200}
SEED=${SEED:-0}
STYLES="cot prompt_hint hint_engineering"
START=$(date +%s)
export TOKENIZERS_PARALLELISM=false

if [ ! -f "$OUT/data/test.jsonl" ]; then
  python -m data.synthetic --out_dir "$OUT/data" --n_train "$N_TRAIN" --n_val "$N_VAL" --n_test "$N_TEST" --seed "$SEED"
fi

for STYLE in $STYLES; do
  if [ ! -f "$OUT/models/$STYLE/model.safetensors" ]; then
    python -m train.sft --data "$OUT/data/train_$STYLE.jsonl" --output_dir "$OUT/models/$STYLE" \
      --num_train_epochs "$EPOCHS" --per_device_train_batch_size "$BATCH" --learning_rate "$LR" \
      --lr_scheduler_type constant --save_strategy no --logging_steps 5 --report_to none --use_cpu --seed "$SEED" \
      > "$OUT/sft_$STYLE.log" 2>&1 || { tail -20 "$OUT/sft_$STYLE.log"; exit 1; }
  fi
  echo "trained $STYLE after $(( $(date +%s) - START )) s"
done

RUNS=""
for NAME in base $STYLES; do
  MODEL=""
  if [ "$NAME" != base ]; then MODEL="$OUT/models/$NAME"; fi
  python -m infer.inference_vllm_dp_mj --input_file "$OUT/data/test.jsonl" --output_dir "$OUT/eval/$NAME" \
    --model_name_or_path "$MODEL" --engine hf --n_sampling "$N" --temperature 0.6 --top_p 0.95 \
    --max_func_call "$MAX_FUNC_CALL" --max_tokens_per_call "$MAX_TOKENS_PER_CALL" --max_model_len 2048 \
    --seed "$SEED" --enable_cache --no_progress 2> "$OUT/infer_$NAME.log" || { tail -20 "$OUT/infer_$NAME.log"; exit 1; }
  python -m evaluation.compute_metrics_dp --input_dir "$OUT/eval/$NAME" --output_file "$OUT/eval/$NAME/metrics.json" \
    > "$OUT/metrics_$NAME.log" 2>&1
  RUNS="$RUNS $NAME=$OUT/eval/$NAME"
  echo "evaluated $NAME after $(( $(date +%s) - START )) s"
done

# shellcheck disable=SC2086
python -m evaluation.summarize --runs $RUNS --output_root "$OUT" --title "SmolLM2-135M on $N_TEST held-out computation problems"
echo "reproduce_cpu wall time: $(( $(date +%s) - START )) s; table: $OUT/summary.md, plot: $OUT/summary.png"
