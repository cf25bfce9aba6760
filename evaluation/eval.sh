#!/bin/sh
# Evaluate a model on the CoRT benchmarks: inference with the real interpreter, then metrics,
# then one summary table across benchmarks. Every setting comes from an environment variable:
#
#   MODEL                 model folder or hub id (empty: the bundled SmolLM2-135M-Instruct)
#   ENGINE                vllm | hf                               (default vllm)
#   TESTS                 comma list of benchmarks                (default aime24,aime25,amc23,math500,olympiad_bench)
#   N / N_LARGE           samples per problem; N_LARGE for math500 and olympiad_bench (default 16 / 4)
#   DP / TP               data / tensor parallel size             (default 1 / 1)
#   TEMPERATURE           (default 0.6)
#   MAX_FUNC_CALL         (default 15)
#   MAX_TOKENS_PER_CALL   (default 32768)
#   MAX_MODEL_LEN         (default 32768)
#   LIMIT                 first k problems per benchmark, 0 = all (default 0)
#   HINT_MODE             none | prompt                           (default none)
#   DATA_DIR              benchmark files test_<name>.reason_step.jsonl (default <repo>/data, made by
#                         python -m data.prepare)
#   OUT_ROOT              where the settings folders go (default <MODEL> when it is a folder, else
#                         outputs/<name>); each benchmark's results go, as in the original, to
#                         OUT_ROOT/evaluation_outputs_dp_mj.temp_T.n_sampling_N.max_model_len_L.max_func_call_F
#                         .max_tokens_per_call_C/infer_on_test_<name>.reason_step.start_0.end_E with its own N
#                         (math500 and olympiad_bench: N_LARGE); summary.{md,json,png} in OUT_ROOT
#   EXTRA_ARGS            more flags for infer.inference_vllm_dp_mj
#
# Example (CPU, a few minutes):  ENGINE=hf LIMIT=2 N=2 MAX_FUNC_CALL=3 MAX_TOKENS_PER_CALL=256 \
#                                DATA_DIR=../shared/data TESTS=aime24,math500 sh evaluation/eval.sh
# Runs from any folder (relative paths are taken from the folder it is started in).
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

die() { echo "error: $*" >&2; exit 2; }
need_int() {  # name value minimum
  case $2 in ''|*[!0-9]*) die "$1 must be a whole number, got '$2'";; esac
  [ "$2" -ge "$3" ] || die "$1 must be at least $3, got $2"
}
need_num() {  # name value: a number >= 0
  echo "$2" | grep -Eq '^[0-9]+([.][0-9]+)?$' || die "$1 must be a number >= 0, got '$2'"
}

MODEL=${MODEL:-${1:-}}
ENGINE=${ENGINE:-vllm}
TESTS=${TESTS:-aime24,aime25,amc23,math500,olympiad_bench}
N=${N:-16}
N_LARGE=${N_LARGE:-4}
DP=${DP:-1}
TP=${TP:-1}
TEMPERATURE=${TEMPERATURE:-0.6}
MAX_FUNC_CALL=${MAX_FUNC_CALL:-15}
MAX_TOKENS_PER_CALL=${MAX_TOKENS_PER_CALL:-32768}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-32768}
LIMIT=${LIMIT:-0}
HINT_MODE=${HINT_MODE:-none}
DATA_DIR=${DATA_DIR:-$REPO/data}
EXTRA_ARGS=${EXTRA_ARGS:-}
PROMPT_TEMPLATE=reason_step
need_int N "$N" 1; need_int N_LARGE "$N_LARGE" 1; need_int DP "$DP" 1; need_int TP "$TP" 1
need_int MAX_FUNC_CALL "$MAX_FUNC_CALL" 1; need_int MAX_TOKENS_PER_CALL "$MAX_TOKENS_PER_CALL" 1
need_int MAX_MODEL_LEN "$MAX_MODEL_LEN" 1; need_int LIMIT "$LIMIT" 0; need_num TEMPERATURE "$TEMPERATURE"
case $ENGINE in vllm|hf) ;; *) die "ENGINE must be vllm or hf, got '$ENGINE'";; esac
case $HINT_MODE in none|prompt) ;; *) die "HINT_MODE must be none or prompt, got '$HINT_MODE'";; esac
for TEST_SET in $(echo "$TESTS" | tr ',' ' '); do
  case $TEST_SET in aime24|aime25|amc23|math500|olympiad_bench) ;;
    *) die "TESTS: unknown benchmark '$TEST_SET' (aime24, aime25, amc23, math500, olympiad_bench)";; esac
  [ -f "$DATA_DIR/test_$TEST_SET.$PROMPT_TEMPLATE.jsonl" ] || die "benchmark file $DATA_DIR/test_$TEST_SET.$PROMPT_TEMPLATE.jsonl not found; run 'python -m data.prepare --out_dir $DATA_DIR' (online) or set DATA_DIR (e.g. ../shared/data)"
done
END=-1
if [ "$LIMIT" -gt 0 ]; then END=$LIMIT; fi

if [ -z "${OUT_ROOT:-}" ]; then
  if [ -n "$MODEL" ] && [ -d "$MODEL" ]; then OUT_ROOT=$MODEL; else OUT_ROOT=outputs/$(basename "${MODEL:-smollm2-135m-instruct}"); fi
fi
mkdir -p "$OUT_ROOT"
START_TIME=$(date +%s)
RUNS=""

for TEST_SET in $(echo "$TESTS" | tr ',' ' '); do
  echo "Processing test set: $TEST_SET"
  if [ "$TEST_SET" = "math500" ] || [ "$TEST_SET" = "olympiad_bench" ]; then N_SAMPLING=$N_LARGE; else N_SAMPLING=$N; fi
  SETTINGS="evaluation_outputs_dp_mj.temp_$TEMPERATURE.n_sampling_$N_SAMPLING.max_model_len_$MAX_MODEL_LEN.max_func_call_$MAX_FUNC_CALL.max_tokens_per_call_$MAX_TOKENS_PER_CALL"
  OUTPUT_DIR=$OUT_ROOT/$SETTINGS/infer_on_test_$TEST_SET.$PROMPT_TEMPLATE.start_0.end_$END
  RUNS="$RUNS $TEST_SET=$OUTPUT_DIR"
  mkdir -p "$OUTPUT_DIR"
  # shellcheck disable=SC2086
  TOKENIZERS_PARALLELISM=false VLLM_USE_V1=1 python -m infer.inference_vllm_dp_mj \
    --input_file "$DATA_DIR/test_$TEST_SET.$PROMPT_TEMPLATE.jsonl" \
    --start 0 --end "$END" \
    --output_dir "$OUTPUT_DIR" \
    --model_name_or_path "$MODEL" \
    --engine "$ENGINE" \
    --temperature "$TEMPERATURE" --top_p 0.95 \
    --n_sampling "$N_SAMPLING" \
    --stop_tokens_mode normal_code_block_end \
    --max_tokens_per_call "$MAX_TOKENS_PER_CALL" \
    --max_model_len "$MAX_MODEL_LEN" \
    --max_func_call "$MAX_FUNC_CALL" \
    --func_call_mode jupyter \
    --data_parallel_size "$DP" --tensor_parallel_size "$TP" \
    --hint_mode "$HINT_MODE" \
    --enable_cache $EXTRA_ARGS
  python -m evaluation.compute_metrics_dp --input_dir "$OUTPUT_DIR" --output_file "$OUTPUT_DIR/metrics.json" \
    --tokenizer_name_or_path "$MODEL" > "$OUTPUT_DIR/metrics.log"
done

# shellcheck disable=SC2086
python -m evaluation.summarize --output_root "$OUT_ROOT" --title "$(basename "${MODEL:-smollm2-135m-instruct}")" --runs $RUNS
echo "eval wall time: $(( $(date +%s) - START_TIME )) s; results in $OUT_ROOT"
