"""Combine metrics.json files into one table and plot.

    python -m evaluation.summarize --output_root <folder with infer_on_test_* subfolders>   # benchmarks of one model
    python -m evaluation.summarize --runs base=out/base sft=out/sft --output_root out/compare   # models on one benchmark
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

from evaluation.compute_metrics_dp import write_markdown, write_plot


def collect(output_root: str, runs: list[str] | None) -> dict[str, dict]:
    """Rows keyed by benchmark (one model) or by run name (``name=folder``, first benchmark of each)."""
    merged: dict[str, dict] = {}
    if runs:
        for spec in runs:
            name, folder = spec.split("=", 1)
            with open(os.path.join(folder, "metrics.json")) as fh:
                merged[name] = next(iter(json.load(fh).values()))
        return merged
    for path in sorted(glob.glob(os.path.join(output_root, "*", "metrics.json"))):
        with open(path) as fh:
            merged.update(json.load(fh))
    return merged


def main(argv: list[str] | None = None) -> int:
    """Print the summary table; write summary.md, summary.json and summary.png in the output root."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output_root", required=True)
    ap.add_argument("--runs", nargs="*", default=None, help="name=folder with a metrics.json, one row each")
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    merged = collect(args.output_root, args.runs)
    if not merged:
        print(f"error: no */metrics.json under {args.output_root}", file=sys.stderr)
        return 2
    os.makedirs(args.output_root, exist_ok=True)
    with open(os.path.join(args.output_root, "summary.json"), "w") as fh:
        json.dump(merged, fh, indent=4)
    table = write_markdown(merged, os.path.join(args.output_root, "summary.md"))
    write_plot(merged, os.path.join(args.output_root, "summary.png"), args.title)
    print(table)
    print(f"summary: {os.path.join(args.output_root, 'summary.md')} and summary.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
