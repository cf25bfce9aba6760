"""Training curves of GRPO runs: reward, accuracy, code calls and response tokens per step.

    python -m train.curves --runs prompt_hint=out/rl_ph hint_engineering=out/rl_he --output_file out/curves.png

Reads each run's ``trainer_state.json`` (written by ``train.grpo``) and plots the logged
``rewards/cort_reward/mean``, ``rewards/accuracy/mean``, ``rewards/code_calls_per_response/mean``
and ``completions/mean_length`` against the training step, one line per run, into a PNG; a
markdown table of the first, last and best values goes beside it (``.md``) and to stdout.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from cort.args import require
from cort.cli import parse_flags, run_command
from cort.errors import InputError
from cort.io import check_output_file, read_json, write_text_atomic

CURVES = (("rewards/cort_reward/mean", "reward"), ("rewards/accuracy/mean", "accuracy"),
          ("rewards/code_calls_per_response/mean", "code calls / response"),
          ("completions/mean_length", "response tokens"))


@dataclass
class CurvesArguments:
    """Which runs, and where the plot goes."""

    runs: list[str] = field(default_factory=list, metadata={"help": "name=folder of a train.grpo run"})
    output_file: str = field(default="curves.png", metadata={"help": "the PNG; the .md table goes beside it"})
    title: str = ""

    def __post_init__(self) -> None:
        require("runs", bool(self.runs), "give at least one name=folder")
        for spec in self.runs:
            name, sep, folder = spec.partition("=")
            require("runs", bool(sep and name and folder), f"expected name=folder, got {spec!r}")
        check_output_file(self.output_file, "output_file")


def training_log(folder: str) -> list[dict]:
    """The per-step training records of a run (``trainer_state.json``'s ``log_history``, train steps only)."""
    path = os.path.join(folder, "trainer_state.json")
    state = read_json(path)
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise InputError(path, "has no log_history (is it a train.grpo output folder?)", field="log_history")
    return [h for h in history if isinstance(h, dict) and "step" in h and CURVES[0][0] in h]


def table(logs: dict[str, list[dict]]) -> str:
    """First, last and best value of each curve per run."""
    lines = ["| run | steps | " + " | ".join(f"{label} (first → last, best)" for _, label in CURVES) + " |",
             "|---|---:|" + "---:|" * len(CURVES)]
    for name, log in logs.items():
        cells = []
        for key, label in CURVES:
            values = [h[key] for h in log if key in h]
            if not values:
                cells.append("—")
                continue
            best = min(values) if label == "response tokens" else max(values)
            cells.append(f"{values[0]:.3g} → {values[-1]:.3g} ({best:.3g})")
        lines.append(f"| {name} | {len(log)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(logs: dict[str, list[dict]], path: str, title: str = "") -> None:
    """Four panels, one line per run (the raw values and a 3-step moving average)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CURVES), figsize=(4 * len(CURVES), 3.2))
    for ax, (key, label) in zip(axes, CURVES):
        for name, log in logs.items():
            points = [(h["step"], h[key]) for h in log if key in h]
            if not points:
                continue
            steps, values = zip(*points)
            line, = ax.plot(steps, values, alpha=0.35, linewidth=1)
            smooth = [sum(values[max(0, i - 2):i + 1]) / len(values[max(0, i - 2):i + 1]) for i in range(len(values))]
            ax.plot(steps, smooth, color=line.get_color(), linewidth=2, label=name)
        ax.set_title(label)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def make_parser():
    """The command's flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser(CurvesArguments, description=__doc__)


def main(args: CurvesArguments) -> int:
    """Read the runs, write the PNG and the markdown table."""
    logs = {spec.partition("=")[0]: training_log(spec.partition("=")[2]) for spec in args.runs}
    for name, log in logs.items():
        require("runs", bool(log), f"run {name!r} logged no training step")
    plot(logs, args.output_file, args.title)
    text = table(logs)
    write_text_atomic(os.path.splitext(args.output_file)[0] + ".md", text)
    print(text)
    print(f"curves: {args.output_file}")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
