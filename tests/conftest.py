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


@pytest.fixture
def high_fds():
    """Hold enough open descriptors that every new one is numbered above ``FD_SETSIZE`` (1024).

    A process driving a couple of hundred kernels is in that state; ``select.select`` refuses such
    descriptors. Yields the first free number; the soft limit is raised for the test if it must be.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 1400
    if hard != resource.RLIM_INFINITY and hard < needed + 600:
        pytest.skip(f"the descriptor limit ({hard}) is too low to pass 1024")
    if soft != resource.RLIM_INFINITY and soft < needed + 600:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed + 600, hard))
    held = []
    try:
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            held.append(fd)
            if fd >= needed:
                break
        probe = os.open(os.devnull, os.O_RDONLY)
        os.close(probe)
        yield probe
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


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
