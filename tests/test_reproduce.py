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
    env = dict(os.environ, OUT=str(tmp_path / "r"), N_TRAIN="7", N_VAL="1", N_TEST="2", N="1", SFT_STEPS="1",
               MAX_TOKENS_PER_CALL="32", MAX_FUNC_CALL="2", RFT_PROBLEMS="2", RFT_SAMPLES="1", RFT_STEPS="1",
               RL_STEPS="1", RL_PROMPTS="1", RL_GENERATIONS="2", RL_MAX_TOKENS="32",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["sh", "scripts/reproduce_cpu.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = tmp_path / "r"
    summary = json.loads((out / "summary.json").read_text())
    styles = ("prompt_hint", "hint_engineering")
    rft_kept = {s: json.loads((out / "rft" / s / "rft_stats.json").read_text())["kept"] for s in styles}
    expected = ["base"] + [f"{s}{stage}" for s in styles for stage in ("", "_rft", "_rl")
                           if stage != "_rft" or rft_kept[s]]
    assert list(summary) == expected
    for style in styles:  # an RFT row exists exactly when rejection sampling kept something
        assert (out / "models" / f"{style}_rft" / "model.safetensors").exists() == bool(rft_kept[style])
        assert (f"RFT {style}: no sampled trajectory" in proc.stdout) == (not rft_kept[style])
    assert all(row["sample_size"] == 2 and "avg@1" in row for row in summary.values())
    for style in styles:
        assert len((out / "data" / f"train_{style}.jsonl").read_text().splitlines()) == 7
        for stage in ("", "_rl"):
            assert (out / "models" / f"{style}{stage}" / "model.safetensors").exists()
        state = json.loads((out / "models" / f"{style}_rl" / "trainer_state.json").read_text())
        assert any("reward" in row for row in state["log_history"])
    assert (out / "summary.png").stat().st_size > 1000 and "| hint_engineering_rl |" in proc.stdout
    assert (out / "rl_curves.png").stat().st_size > 1000
    # a rerun finds every stage finished and only rebuilds the table
    again = subprocess.run(["sh", "scripts/reproduce_cpu.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0 and "SFT prompt_hint after" in again.stdout and "RL " not in again.stdout
