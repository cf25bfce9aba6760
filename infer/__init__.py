"""Inference: engines and the data-parallel CLI (``python -m infer.inference_vllm_dp_mj``)."""
