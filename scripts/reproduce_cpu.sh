#!/bin/sh
# A CPU-scale check of the CoRT claims with the bundled SmolLM2-135M, using only this toolkit's commands:
#   1. seeded computation-heavy problems (train / val / test, disjoint) and training trajectories in the TIR styles,
#      every cell output from the real executor: prompt_hint (computes by hand first, re-checks code output by
#      hand), hint_engineering (CoRT's hints at those two places); cot (no code) when listed in SFT_STYLES;
#   2. train.sft once per style, deliberately short (SFT_STEPS) so the SFT models leave room to improve;
#   3. per TIR style: train.rft (sampling with the real interpreter, the paper's filters, SFT on what is kept) and
#      train.grpo (the interpreter inside every rollout, the original RL reward) from the SFT model;
#   4. infer.inference_vllm_dp_mj --engine hf + the real kernel + compute_metrics_dp on the held-out test split for
#      every model; one table (accuracy, tokens, code calls, delayed computation, code distrust) as markdown and PNG,
#      and the RL training curves (reward, accuracy, code calls, response tokens per step) as PNG.
# Seeded and re-runnable: finished stages are skipped, inference resumes with --enable_cache. Settings from the
# environment: OUT N_TRAIN N_VAL N_TEST N SFT_STYLES SFT_STEPS EPOCHS LR BATCH MAX_FUNC_CALL MAX_TOKENS_PER_CALL
# SEED RFT_PROBLEMS RFT_SAMPLES RFT_KEEP RFT_STEPS RL_STEPS RL_PROMPTS RL_GENERATIONS RL_LR RL_TEMPERATURE
# RL_BETA RL_TRAINABLE_LAYERS RL_MAX_TOKENS SKIP_RFT SKIP_RL
set -eu
OUT=${OUT:-outputs/reproduce_cpu}
N_TRAIN=${N_TRAIN:-60}
N_VAL=${N_VAL:-10}
N_TEST=${N_TEST:-30}
N=${N:-1}
SFT_STYLES=${SFT_STYLES:-"prompt_hint hint_engineering"}
SFT_STEPS=${SFT_STEPS:-8}          # 0: train EPOCHS epochs instead
EPOCHS=${EPOCHS:-3}
LR=${LR:-1e-4}
BATCH=${BATCH:-4}
MAX_FUNC_CALL=${MAX_FUNC_CALL:-3}
MAX_TOKENS_PER_CALL=${MAX_TOKENS_PER_CALL:-200}
SEED=${SEED:-0}
RFT_PROBLEMS=${RFT_PROBLEMS:-16}
RFT_SAMPLES=${RFT_SAMPLES:-2}
RFT_KEEP=${RFT_KEEP:-1}
RFT_STEPS=${RFT_STEPS:-6}
RL_STEPS=${RL_STEPS:-6}
RL_PROMPTS=${RL_PROMPTS:-4}
RL_GENERATIONS=${RL_GENERATIONS:-4}
RL_LR=${RL_LR:-1e-5}
RL_TEMPERATURE=${RL_TEMPERATURE:-0.8}
RL_BETA=${RL_BETA:-0}
RL_TRAINABLE_LAYERS=${RL_TRAINABLE_LAYERS:-8}
RL_MAX_TOKENS=${RL_MAX_TOKENS:-200}
SKIP_RFT=${SKIP_RFT:-0}
SKIP_RL=${SKIP_RL:-0}
TIR_STYLES=""
for STYLE in $SFT_STYLES; do
  if [ "$STYLE" != cot ]; then TIR_STYLES="$TIR_STYLES $STYLE"; fi
done
START=$(date +%s)
export TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT/logs"
stage() { echo "$1 after $(( $(date +%s) - START )) s"; }
fail() { tail -20 "$1"; exit 1; }
# train.rft fails when rejection sampling keeps nothing; that is a result (no RFT row), not a crash
nothing_kept() {
  grep -q '"kept": 0,' "$OUT/rft/$1/rft_stats.json" 2>/dev/null || return 1
  echo "RFT $1: no sampled trajectory passed the filters; the table has no ${1}_rft row"
}

STYLE_LIST=$(echo "$SFT_STYLES" | tr ' ' ',')
if [ ! -f "$OUT/data/test.jsonl" ]; then
  python -m data.synthetic --out_dir "$OUT/data" --n_train "$N_TRAIN" --n_val "$N_VAL" --n_test "$N_TEST" \
    --seed "$SEED" --styles "$STYLE_LIST" > "$OUT/logs/data.log" 2>&1 || fail "$OUT/logs/data.log"
fi

if [ "$SFT_STEPS" -gt 0 ]; then SFT_LEN="--max_steps $SFT_STEPS"; else SFT_LEN="--num_train_epochs $EPOCHS"; fi
for STYLE in $SFT_STYLES; do
  if [ ! -f "$OUT/models/$STYLE/model.safetensors" ]; then
    # shellcheck disable=SC2086
    python -m train.sft --data "$OUT/data/train_$STYLE.jsonl" --output_dir "$OUT/models/$STYLE" $SFT_LEN \
      --per_device_train_batch_size "$BATCH" --learning_rate "$LR" --lr_scheduler_type constant --save_strategy no \
      --logging_steps 1 --report_to none --use_cpu --seed "$SEED" > "$OUT/logs/sft_$STYLE.log" 2>&1 \
      || fail "$OUT/logs/sft_$STYLE.log"
  fi
  stage "SFT $STYLE"
done

LOOP="--max_func_call $MAX_FUNC_CALL --max_tokens_per_call $MAX_TOKENS_PER_CALL --max_model_len 2048"
for STYLE in $TIR_STYLES; do
  if [ "$SKIP_RFT" = 0 ] && [ ! -f "$OUT/models/${STYLE}_rft/model.safetensors" ] \
      && ! grep -q '"kept": 0,' "$OUT/rft/$STYLE/rft_stats.json" 2>/dev/null; then
    HABITS=true
    if [ "$STYLE" = prompt_hint ]; then HABITS=false; fi  # every prompt-hint sample shows both habits by design
    # shellcheck disable=SC2086
    python -m train.rft --problems "$OUT/data/train.jsonl" --output_dir "$OUT/rft/$STYLE" --overwrite \
      --model_name_or_path "$OUT/models/$STYLE" --engine hf --batch_size 64 --limit "$RFT_PROBLEMS" \
      --n_samples "$RFT_SAMPLES" --keep_per_problem "$RFT_KEEP" --filter_habits "$HABITS" $LOOP \
      --temperature 0.6 --top_p 0.95 --seed "$SEED" --train -- --output_dir "$OUT/models/${STYLE}_rft" \
      --max_steps "$RFT_STEPS" --per_device_train_batch_size "$BATCH" --learning_rate "$LR" \
      --lr_scheduler_type constant --save_strategy no --logging_steps 1 --report_to none --use_cpu --seed "$SEED" \
      > "$OUT/logs/rft_$STYLE.log" 2>&1 || nothing_kept "$STYLE" || fail "$OUT/logs/rft_$STYLE.log"
    stage "RFT $STYLE"
  fi
  if [ "$SKIP_RL" = 0 ] && [ ! -f "$OUT/models/${STYLE}_rl/model.safetensors" ]; then
    python -m train.grpo --model_name_or_path "$OUT/models/$STYLE" --data "$OUT/data/train.jsonl" \
      --output_dir "$OUT/models/${STYLE}_rl" --overwrite --max_steps "$RL_STEPS" \
      --num_generations "$RL_GENERATIONS" --per_device_train_batch_size $((RL_PROMPTS * RL_GENERATIONS)) \
      --max_completion_length "$RL_MAX_TOKENS" --max_func_call "$MAX_FUNC_CALL" --learning_rate "$RL_LR" \
      --temperature "$RL_TEMPERATURE" --beta "$RL_BETA" --trainable_layers "$RL_TRAINABLE_LAYERS" \
      --gradient_checkpointing false --save_strategy no --logging_steps 1 --use_cpu --seed "$SEED" \
      > "$OUT/logs/rl_$STYLE.log" 2>&1 || fail "$OUT/logs/rl_$STYLE.log"
    stage "RL $STYLE"
  fi
done

RUNS=""
CURVES=""
for NAME in base $SFT_STYLES; do
  MODELS="$NAME"
  if [ "$NAME" != base ] && [ "$NAME" != cot ]; then
    [ "$SKIP_RFT" = 0 ] && MODELS="$MODELS ${NAME}_rft"
    [ "$SKIP_RL" = 0 ] && MODELS="$MODELS ${NAME}_rl" && CURVES="$CURVES $NAME=$OUT/models/${NAME}_rl"
  fi
  for RUN in $MODELS; do
    MODEL=""
    if [ "$RUN" != base ]; then MODEL="$OUT/models/$RUN"; fi
    if [ -n "$MODEL" ] && [ ! -f "$MODEL/model.safetensors" ]; then continue; fi
    # shellcheck disable=SC2086
    python -m infer.inference_vllm_dp_mj --input_file "$OUT/data/test.jsonl" --output_dir "$OUT/eval/$RUN" \
      --model_name_or_path "$MODEL" --engine hf --batch_size 64 --n_sampling "$N" --temperature 0.6 --top_p 0.95 \
      $LOOP --seed "$SEED" --enable_cache --no_progress 2> "$OUT/logs/infer_$RUN.log" || fail "$OUT/logs/infer_$RUN.log"
    python -m evaluation.compute_metrics_dp --input_dir "$OUT/eval/$RUN" --output_file "$OUT/eval/$RUN/metrics.json" \
      > "$OUT/logs/metrics_$RUN.log" 2>&1 || fail "$OUT/logs/metrics_$RUN.log"
    RUNS="$RUNS $RUN=$OUT/eval/$RUN"
    stage "evaluated $RUN"
  done
done

# shellcheck disable=SC2086
python -m evaluation.summarize --runs $RUNS --output_root "$OUT" --title "SmolLM2-135M on $N_TEST held-out computation problems"
if [ -n "$CURVES" ]; then
  # shellcheck disable=SC2086
  python -m train.curves --runs $CURVES --output_file "$OUT/rl_curves.png" --title "GRPO from the SFT models (train problems)"
fi
echo "reproduce_cpu wall time: $(( $(date +%s) - START )) s; table: $OUT/summary.md, plot: $OUT/summary.png"
