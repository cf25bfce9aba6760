#!/bin/sh
# The vLLM-CPU rows of bench/loop_bench.py on a workload with several cells per trajectory:
#   1. seeded chain problems (data.synthetic --steps 2-4: every step uses the previous result, one cell each)
#      and their hint-engineering trajectories, cell outputs from the real executor;
#   2. train.sft of the bundled SmolLM2-135M on them (it learns to write 2-4 cells per answer; on the GPU if any);
#   3. the bench in the vLLM environment, once per timeout band: epoch / batch / continuous loops, the floor
#      (same model tokens, no tool) and the zero-time-cells floor (same requests, cells return at once);
#      vLLM on CPU ENGINE_CPUS, kernels on CELL_CPUS (as on a GPU machine), RUNNING sequences at once;
#   4. the simulator replaying that run (its trajectories, its engine's measured costs) under DRAWS cell-time
#      draws, draw 0 being the run's own (how much the vLLM rows owe to one draw of slow cells).
# ENGINE=hf runs stage 3 with the transformers engine instead (in the main environment, on the GPU when there is
# one) and skips stage 4 (recording and replay are vLLM's).
# Finished stages are skipped. Settings from the environment: OUT PY N_TRAIN N_TEST STEPS SFT_STEPS PROBLEMS N
# RUNNING BANDS ENGINE ENGINE_CPUS CELL_CPUS MAX_FUNC_CALL MAX_TOKENS_PER_CALL SEED DRAWS EXECUTOR_PROCESS
# (separate, the commands' default, or inline: the executor's client in the bench's process); MAIN_PY (data and SFT: the
# main environment, default .venv/bin/python when present, else python) and PY (the bench: the vLLM environment)
set -eu
OUT=${OUT:-outputs/loop_bench}
ENGINE=${ENGINE:-vllm}
if [ -x .venv/bin/python ]; then MAIN_PY=${MAIN_PY:-.venv/bin/python}; else MAIN_PY=${MAIN_PY:-python}; fi
case "$ENGINE" in
  vllm) PY=${PY:-.venv-vllm/bin/python} ;;
  hf) PY=${PY:-$MAIN_PY} ;;
  *) echo "loop_bench_vllm.sh: ENGINE must be vllm or hf, got '$ENGINE'" >&2; exit 2 ;;
esac
EXECUTOR_PROCESS=${EXECUTOR_PROCESS:-separate}
case "$EXECUTOR_PROCESS" in
  separate|inline) ;;
  *) echo "loop_bench_vllm.sh: EXECUTOR_PROCESS must be separate or inline, got '$EXECUTOR_PROCESS'" >&2; exit 2 ;;
esac
N_TRAIN=${N_TRAIN:-120}
N_TEST=${N_TEST:-32}
STEPS=${STEPS:-2-4}
SFT_STEPS=${SFT_STEPS:-16}
PROBLEMS=${PROBLEMS:-12}
N=${N:-4}
RUNNING=${RUNNING:-8}
BANDS=${BANDS:-"30 5"}
ENGINE_CPUS=${ENGINE_CPUS:-0}
CELL_CPUS=${CELL_CPUS:-1}
MAX_FUNC_CALL=${MAX_FUNC_CALL:-6}
MAX_TOKENS_PER_CALL=${MAX_TOKENS_PER_CALL:-200}
SEED=${SEED:-0}
DRAWS=${DRAWS:-10}
export TOKENIZERS_PARALLELISM=false
LONGEST=${STEPS##*-}  # the longest chain: one cell per step, so every trajectory needs that many calls
case "$LONGEST" in *[!0-9]*|"") ;; *) [ "$LONGEST" -le "$MAX_FUNC_CALL" ] \
  || { echo "loop_bench_vllm.sh: STEPS=$STEPS needs MAX_FUNC_CALL >= $LONGEST (got $MAX_FUNC_CALL): longer chains would be cut" >&2; exit 2; } ;; esac
"$MAIN_PY" -c "import cort.executor, trl" 2>/dev/null \
  || { echo "loop_bench_vllm.sh: $MAIN_PY lacks the main environment (README Setup); set MAIN_PY" >&2; exit 2; }
[ "$ENGINE" = hf ] || "$PY" -c "import vllm" 2>/dev/null \
  || { echo "loop_bench_vllm.sh: $PY lacks vllm (README \"vLLM on CPU\"); set PY" >&2; exit 2; }
mkdir -p "$OUT/logs"
fail() { tail -20 "$1"; exit 1; }

if [ ! -f "$OUT/data/test.jsonl" ]; then
  "$MAIN_PY" -m data.synthetic --out_dir "$OUT/data" --n_train "$N_TRAIN" --n_val 0 --n_test "$N_TEST" --seed "$SEED" \
    --steps "$STEPS" --styles hint_engineering > "$OUT/logs/data.log" 2>&1 || fail "$OUT/logs/data.log"
fi
MODEL="$OUT/models/hint_engineering_chain"
USE_CPU=--use_cpu  # the fine-tune runs on the GPU when there is one
if "$MAIN_PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then USE_CPU=; fi
if [ ! -f "$MODEL/model.safetensors" ]; then
  "$MAIN_PY" -m train.sft --data "$OUT/data/train_hint_engineering.jsonl" --output_dir "$MODEL" --max_steps "$SFT_STEPS" \
    --per_device_train_batch_size 4 --learning_rate 1e-4 --lr_scheduler_type constant --save_strategy no \
    --logging_steps 4 --report_to none $USE_CPU --seed "$SEED" > "$OUT/logs/sft.log" 2>&1 || fail "$OUT/logs/sft.log"
fi
for BAND in $BANDS; do
  if [ "$ENGINE" = hf ]; then
    "$PY" bench/loop_bench.py --engine hf --skip_sim --workloads heavy --model "$MODEL" --data "$OUT/data/test.jsonl" \
      --problems "$PROBLEMS" --n "$N" --max_running "$RUNNING" --max_func_call "$MAX_FUNC_CALL" \
      --max_tokens_per_call "$MAX_TOKENS_PER_CALL" --timeout_s "$BAND" --engine_cpus "$ENGINE_CPUS" \
      --cell_cpus "$CELL_CPUS" --executor_process "$EXECUTOR_PROCESS" > "$OUT/bench_hf_${BAND}s.md" 2> "$OUT/logs/bench_hf_${BAND}s.log" \
      || fail "$OUT/logs/bench_hf_${BAND}s.log"
    grep '^|' "$OUT/bench_hf_${BAND}s.md"
    continue
  fi
  "$PY" bench/loop_bench.py --engine vllm --skip_sim --workloads heavy --model "$MODEL" --data "$OUT/data/test.jsonl" \
    --problems "$PROBLEMS" --n "$N" --max_running "$RUNNING" --max_func_call "$MAX_FUNC_CALL" \
    --max_tokens_per_call "$MAX_TOKENS_PER_CALL" --timeout_s "$BAND" --engine_cpus "$ENGINE_CPUS" \
    --cell_cpus "$CELL_CPUS" --executor_process "$EXECUTOR_PROCESS" --record "$OUT/recording_${BAND}s.json" > "$OUT/bench_${BAND}s.md" 2> "$OUT/logs/bench_${BAND}s.log" \
    || fail "$OUT/logs/bench_${BAND}s.log"
  grep '^|' "$OUT/bench_${BAND}s.md"
  "$PY" bench/loop_bench.py --replay "$OUT/recording_${BAND}s.json" --draws "$DRAWS" --time_scale 0.05 \
    > "$OUT/replay_${BAND}s.md" 2> "$OUT/logs/replay_${BAND}s.log" || fail "$OUT/logs/replay_${BAND}s.log"
  sed -n '/measured on vLLM/,$p' "$OUT/replay_${BAND}s.md"
done
