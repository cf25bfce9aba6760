"""Generation engines behind :class:`cort.engine.Engine`: ``hf`` (transformers) and ``vllm``."""

from __future__ import annotations

ENGINES = ("vllm", "hf")


def make_engine(name: str, model_name_or_path: str, **kwargs):
    """Build engine ``name`` for a model path (imports the backend lazily)."""
    if name == "hf":
        from infer.engines.hf import HFEngine

        return HFEngine(model_name_or_path, **kwargs)
    if name == "vllm":
        from infer.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model_name_or_path, **kwargs)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
