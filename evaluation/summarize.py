"""Combine the metrics.json of several benchmark folders into one table and plot.

    python -m evaluation.summarize --output_root <folder with infer_on_test_* subfolders>
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

from evaluation.compute_metrics_dp import write_markdown, write_plot


def main(argv: list[str] | None = None) -> int:
    """Print the summary table; write summary.md, summary.json and summary.png in the root."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output_root", required=True)
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    merged: dict[str, dict] = {}
    for path in sorted(glob.glob(os.path.join(args.output_root, "*", "metrics.json"))):
        with open(path) as fh:
            merged.update(json.load(fh))
    if not merged:
        print(f"error: no */metrics.json under {args.output_root}", file=sys.stderr)
        return 2
    with open(os.path.join(args.output_root, "summary.json"), "w") as fh:
        json.dump(merged, fh, indent=4)
    table = write_markdown(merged, os.path.join(args.output_root, "summary.md"))
    write_plot(merged, os.path.join(args.output_root, "summary.png"), args.title)
    print(table)
    print(f"summary: {os.path.join(args.output_root, 'summary.md')} and summary.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
