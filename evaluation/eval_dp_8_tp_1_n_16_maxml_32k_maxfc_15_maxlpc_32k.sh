#!/bin/sh
# The original CoRT evaluation: five benchmarks, n=16 (math500 and olympiad_bench n=4),
# temperature 0.6, DP 8, TP 1, 32k model length, 15 code calls, 32k tokens per call, vLLM,
# with --enable_cache. Usage: sh evaluation/eval_dp_8_tp_1_n_16_maxml_32k_maxfc_15_maxlpc_32k.sh <model>
# DATA_DIR (default data/) points at the benchmark files.
set -eu
MODEL=$1 ENGINE=vllm TESTS=aime24,aime25,amc23,math500,olympiad_bench N=16 N_LARGE=4 DP=8 TP=1 \
TEMPERATURE=0.6 MAX_FUNC_CALL=15 MAX_TOKENS_PER_CALL=32768 MAX_MODEL_LEN=32768 LIMIT=0 \
  exec sh "$(dirname "$0")/eval.sh"
