"""scripts/reproduce_cpu.sh end to end at a reduced size (the full run is documented in the README)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_reproduce_cpu_reduced(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path / "r"), N_TRAIN="7", N_VAL="1", N_TEST="2", N="1", EPOCHS="1",
               MAX_TOKENS_PER_CALL="32", MAX_FUNC_CALL="2",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["sh", "scripts/reproduce_cpu.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = tmp_path / "r"
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == ["base", "cot", "prompt_hint", "hint_engineering"]
    assert all(row["sample_size"] == 2 and "avg@1" in row for row in summary.values())
    for style in ("cot", "prompt_hint", "hint_engineering"):
        assert (out / "models" / style / "model.safetensors").exists()
        assert len((out / "data" / f"train_{style}.jsonl").read_text().splitlines()) == 7
    assert (out / "summary.png").stat().st_size > 1000 and "| hint_engineering |" in proc.stdout
