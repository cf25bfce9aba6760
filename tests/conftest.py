"""Shared fixtures: benchmark data beside the checkout, one kernel pool, one small model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CORT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the public benchmark files (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"benchmark data folder {SHARED_DATA} missing (set CORT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def executor():
    """A real kernel pool shared by a test module."""
    from cort.executor import JupyterExecutor

    with JupyterExecutor(timeout=10, warm_kernels=2, max_kernels=6) as ex:
        yield ex


@pytest.fixture(scope="session")
def model_dir() -> str:
    """The bundled SmolLM2-135M-Instruct as an HF folder (converted once)."""
    from cort.models import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="session")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="session")
def hf_engine(model_dir):
    """One real transformers engine for the whole session."""
    from infer.engines.hf import HFEngine

    return HFEngine(model_dir)
