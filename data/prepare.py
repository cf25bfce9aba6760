"""Write the five CoRT benchmark files in the original JSONL format.

Each line: ``problem``, ``gt_answer``, ``prompt`` (the problem plus CoRT's instruction) and
``source``; files are ``<out_dir>/test_<name>.reason_step.jsonl``.

    python -m data.prepare --out_dir data --from_dir ../shared/data   # copy and check
    python -m data.prepare --out_dir data                              # build from public hubs (online)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

from cort.hints import add_prompt_suffix
from infer.io import InputError, load_examples

BENCHMARKS = ("aime24", "aime25", "amc23", "math500", "olympiad_bench")

# name -> (hub dataset, config, split, problem field, answer field)
HUB_SOURCES = {
    "aime24": ("HuggingFaceH4/aime_2024", None, "train", "problem", "answer"),
    "aime25": ("math-ai/aime25", None, "test", "problem", "answer"),
    "amc23": ("math-ai/amc23", None, "test", "question", "answer"),
    "math500": ("HuggingFaceH4/MATH-500", None, "test", "problem", "answer"),
    "olympiad_bench": ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train", "question", "final_answer"),
}


def file_name(name: str) -> str:
    """File name of a benchmark."""
    return f"test_{name}.reason_step.jsonl"


def record(problem: str, answer, source: str) -> dict:
    """One benchmark line in the original format."""
    if isinstance(answer, (list, tuple)):
        answer = ",".join(str(a) for a in answer)
    return {"problem": problem, "gt_answer": str(answer), "prompt": add_prompt_suffix(problem), "source": source}


def copy_from(from_dir: str, out_dir: str, names: list[str]) -> None:
    """Copy benchmark files after checking every line has its fields."""
    for name in names:
        src = os.path.join(from_dir, file_name(name))
        load_examples(src, required=("problem", "gt_answer", "prompt", "source"))
        shutil.copyfile(src, os.path.join(out_dir, file_name(name)))
        print(f"copied {src}")


def build_from_hub(out_dir: str, names: list[str]) -> None:
    """Download each benchmark from its public hub dataset and write it (needs network access)."""
    from datasets import load_dataset

    for name in names:
        repo, config, split, q_field, a_field = HUB_SOURCES[name]
        ds = load_dataset(repo, config, split=split)
        path = os.path.join(out_dir, file_name(name))
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in ds:
                fh.write(json.dumps(record(row[q_field], row[a_field], name), ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        print(f"wrote {path} ({len(ds)} problems from {repo})")


def main(argv: list[str] | None = None) -> int:
    """Copy or build the benchmark files."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out_dir", default="data")
    ap.add_argument("--from_dir", default=None, help="copy the files from this folder instead of downloading")
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    args = ap.parse_args(argv)
    names = [n for n in args.benchmarks.split(",") if n]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    try:
        if args.from_dir:
            copy_from(args.from_dir, args.out_dir, names)
        else:
            build_from_hub(args.out_dir, names)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
