"""Write the five CoRT benchmark files in the original JSONL format.

Each line: ``problem``, ``gt_answer``, ``prompt`` (the problem plus CoRT's instruction) and
``source``; files are ``<out_dir>/test_<name>.reason_step.jsonl``.

    python -m data.prepare --out_dir data --from_dir ../shared/data   # copy and check
    python -m data.prepare --out_dir data                              # build from public hubs (online)
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass, field

from cort.args import require
from cort.cli import parse_flags, run_command
from cort.hints import add_prompt_suffix
from cort.io import Field, check_output_dir, read_jsonl, write_jsonl_atomic

logger = logging.getLogger(__name__)
BENCHMARKS = ("aime24", "aime25", "amc23", "math500", "olympiad_bench")
BENCHMARK_FIELDS = (Field("problem"), Field("gt_answer", (str, int, float)), Field("prompt"), Field("source"))

# name -> (hub dataset, config, split, problem field, answer field)
HUB_SOURCES = {
    "aime24": ("HuggingFaceH4/aime_2024", None, "train", "problem", "answer"),
    "aime25": ("math-ai/aime25", None, "test", "problem", "answer"),
    "amc23": ("math-ai/amc23", None, "test", "question", "answer"),
    "math500": ("HuggingFaceH4/MATH-500", None, "test", "problem", "answer"),
    "olympiad_bench": ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train", "question", "final_answer"),
}


class HubUnavailable(RuntimeError):
    """A benchmark could not be downloaded (no network, or the dataset moved)."""


def file_name(name: str) -> str:
    """File name of a benchmark."""
    return f"test_{name}.reason_step.jsonl"


@dataclass
class PrepareArguments:
    """Where the benchmark files go and where they come from."""

    out_dir: str = field(default="data", metadata={"help": "folder for test_<name>.reason_step.jsonl"})
    from_dir: str | None = field(default=None, metadata={
        "help": "copy the files from this folder (each line checked) instead of downloading"})
    benchmarks: str = field(default=",".join(BENCHMARKS), metadata={"help": "comma list"})
    overwrite: bool = field(default=False, metadata={"help": "replace benchmark files already in out_dir"})

    def __post_init__(self) -> None:
        unknown = [n for n in self.names if n not in BENCHMARKS]
        require("benchmarks", bool(self.names) and not unknown,
                f"unknown benchmark(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(BENCHMARKS)}")
        check_output_dir(self.out_dir, "out_dir")
        if self.from_dir is not None:
            require("from_dir", os.path.isdir(self.from_dir), f"{self.from_dir} is not a folder")
            same = os.path.exists(self.out_dir) and os.path.samefile(self.from_dir, self.out_dir)
            require("from_dir", not same, "is the same folder as --out_dir; nothing to copy")
        existing = [file_name(n) for n in self.names if os.path.exists(os.path.join(self.out_dir, file_name(n)))]
        require("out_dir", self.overwrite or not existing,
                f"{self.out_dir} already holds {', '.join(existing)}; pass --overwrite to replace them")

    @property
    def names(self) -> list[str]:
        """The requested benchmarks."""
        return [n.strip() for n in self.benchmarks.split(",") if n.strip()]


def record(problem: str, answer, source: str) -> dict:
    """One benchmark line in the original format."""
    if isinstance(answer, (list, tuple)):
        answer = ",".join(str(a) for a in answer)
    return {"problem": problem, "gt_answer": str(answer), "prompt": add_prompt_suffix(problem), "source": source}


def copy_from(from_dir: str, out_dir: str, names: list[str]) -> None:
    """Copy benchmark files after checking every line of every file has its fields."""
    sources = [os.path.join(from_dir, file_name(n)) for n in names]
    for src in sources:
        read_jsonl(src, BENCHMARK_FIELDS)
    os.makedirs(out_dir, exist_ok=True)
    for src in sources:
        target = os.path.join(out_dir, os.path.basename(src))
        shutil.copyfile(src, target + ".tmp")
        os.replace(target + ".tmp", target)
        logger.info("copied %s", src)


def build_from_hub(out_dir: str, names: list[str]) -> None:
    """Download each benchmark from its public hub dataset and write it (needs network access)."""
    from datasets import load_dataset

    for name in names:
        repo, config, split, q_field, a_field = HUB_SOURCES[name]
        try:
            ds = load_dataset(repo, config, split=split)
        except Exception as err:  # noqa: BLE001 - offline, moved or renamed: one clear line
            raise HubUnavailable(f"cannot download {name} from the hub dataset {repo} "
                                 f"({type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}); "
                                 f"offline? use --from_dir with a folder of benchmark files") from None
        path = os.path.join(out_dir, file_name(name))
        write_jsonl_atomic(path, [record(row[q_field], row[a_field], name) for row in ds])
        logger.info("wrote %s (%d problems from %s)", path, len(ds), repo)


def make_parser():
    """The command's flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser(PrepareArguments, description=__doc__)


def main(args: PrepareArguments) -> int:
    """Copy or build the benchmark files."""
    if args.from_dir:
        copy_from(args.from_dir, args.out_dir, args.names)
        return 0
    try:
        build_from_hub(args.out_dir, args.names)
    except HubUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
