"""Combine metrics.json files into one table and plot.

    python -m evaluation.summarize --output_root <folder with infer_on_test_* subfolders>  # one model
    python -m evaluation.summarize --runs base=out/base sft=out/sft --output_root out/compare  # one benchmark
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass, field

from cort.args import require
from cort.cli import parse_flags, run_command
from cort.errors import InputError
from cort.io import check_output_dir, read_json, write_json_atomic
from evaluation.report import write_markdown, write_plot


@dataclass
class SummarizeArguments:
    """Where the metrics are and where the summary goes."""

    output_root: str = field(metadata={"help": "summary.{md,json,png} go here; without --runs, */metrics.json is read"})
    runs: list[str] | None = field(default=None, metadata={
        "help": "name=folder with a metrics.json, one row each"})
    title: str = ""

    def __post_init__(self) -> None:
        check_output_dir(self.output_root, "output_root")
        for spec in self.runs or []:
            name, sep, folder = spec.partition("=")
            require("runs", bool(sep and name and folder), f"expected name=folder, got {spec!r}")


def _read_metrics(path: str) -> dict:
    data = read_json(path)
    if not isinstance(data, dict) or not data or not all(isinstance(v, dict) for v in data.values()):
        raise InputError(path, "expected an object of per-benchmark metrics (from evaluation.compute_metrics_dp)")
    return data


def collect(output_root: str, runs: list[str] | None) -> dict[str, dict]:
    """Rows keyed by benchmark (one model) or by run name (``name=folder``, first benchmark of each)."""
    merged: dict[str, dict] = {}
    if runs:
        for spec in runs:
            name, _, folder = spec.partition("=")
            merged[name] = next(iter(_read_metrics(os.path.join(folder, "metrics.json")).values()))
        return merged
    for path in sorted(glob.glob(os.path.join(output_root, "*", "metrics.json"))):
        merged.update(_read_metrics(path))
    return merged


def make_parser():
    """The command's flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser(SummarizeArguments, description=__doc__)


def main(args: SummarizeArguments) -> int:
    """Print the summary table; write summary.md, summary.json and summary.png in the output root."""
    merged = collect(args.output_root, args.runs)
    require("output_root", bool(merged), f"no */metrics.json under {args.output_root}")
    write_json_atomic(os.path.join(args.output_root, "summary.json"), merged)
    table = write_markdown(merged, os.path.join(args.output_root, "summary.md"))
    write_plot(merged, os.path.join(args.output_root, "summary.png"), args.title)
    print(table)
    print(f"summary: {os.path.join(args.output_root, 'summary.md')} and summary.png")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
