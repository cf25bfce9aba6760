"""Metrics of an inference output folder (the original ``compute_metrics_dp.py`` command line).

    python -m evaluation.compute_metrics_dp --input_dir out/aime24 --output_file out/aime24/metrics.json \\
        --tokenizer_name_or_path <model>

Reads every ``dp_rank*`` file (de-duplicated by prompt; a row that cannot be scored is refused
with its file and line), grades each generation in a process pool with a per-sample timeout, and
writes per ``source`` (benchmark) the original's keys with the original's meaning: ``pass@n``,
``avg@n``, ``mj@n`` (math_verify over the whole response), ``pass@n_deepscaler``,
``avg@n_deepscaler`` (the DeepScaleR grader after ``</think>``), token counts of correct / incorrect / all
responses, ``avg_entropy_mean``, ``avg_entropy_cv``, ``time_use_mean/std/sum``, ``sample_size``,
``num_verify_error``; beside them the strict final-answer grader (``pass@n_strict``,
``avg@n_strict``, ``mj@n_strict``, its token counts), unbiased ``pass@k`` for every k dividing n
(``pass@k_unbiased``, ``pass@k_unbiased_strict``), 95% bootstrap intervals over problems
(``avg@n_ci95`` ...), grader timeouts and tool-use analytics. Next to the JSON: ``metrics.md``
and ``metrics.png``. Tokens are counted with ``--tokenizer_name_or_path``, or, without it, the
model the run recorded (``run_info.json``); there is no silent fallback. Grading and aggregation
live in :mod:`evaluation.metrics`, rendering in :mod:`evaluation.report`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field

from cort.args import require
from cort.cli import parse_flags, run_command
from cort.io import RUN_INFO_FILE, check_output_file, read_json, write_json_atomic
from evaluation.metrics import aggregate, grade_all, load_samples
from evaluation.report import write_markdown, write_plot

logger = logging.getLogger(__name__)


@dataclass
class MetricsArguments:
    """The original flags plus workers, timeout and grading mode."""

    input_dir: str = field(default="gsm8k.jsonl", metadata={"help": "an inference output folder (dp_rank*.jsonl)"})
    tokenizer_name_or_path: str = field(default="", metadata={
        "help": "tokenizer for token counts; empty: the model recorded in the run's run_info.json (else an error)"})
    output_file: str = field(default="output.jsonl", metadata={"help": "metrics JSON; .md and .png go beside it"})
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1), metadata={"help": "grading processes"})
    timeout: float = field(default=30, metadata={"help": "seconds to grade one sample (all its generations)"})
    no_plot: bool = False

    def __post_init__(self) -> None:
        require("input_dir", os.path.isdir(self.input_dir), f"{self.input_dir} is not a folder")
        require("workers", self.workers > 0, f"must be greater than 0, got {self.workers}")
        require("timeout", self.timeout > 0, f"must be greater than 0, got {self.timeout}")
        check_output_file(self.output_file, "output_file")


def tokenizer_of_run(input_dir: str, flag: str) -> str:
    """The tokenizer to count with: the flag's (aliases of the bundled model allowed), else the run's recorded model."""
    from cort.models import resolve_model

    if flag:
        return resolve_model(flag)
    info_path = os.path.join(input_dir, RUN_INFO_FILE)
    info = read_json(info_path) if os.path.exists(info_path) else {}
    recorded = info.get("model_name_or_path") if isinstance(info, dict) else None
    require("tokenizer_name_or_path", isinstance(recorded, str) and bool(recorded),
            f"not given, and {input_dir} records no model ({RUN_INFO_FILE}); pass the model whose tokens to count")
    return resolve_model(recorded)


def make_parser():
    """The command's flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser(MetricsArguments, description=__doc__)


def main(args: MetricsArguments) -> int:
    """Grade, aggregate, write JSON, markdown and plot; exit 1 when no sample could be graded."""
    from cort.models import load_tokenizer

    samples = load_samples(args.input_dir)
    require("input_dir", bool(samples), f"{args.input_dir}: no dp_rank*.jsonl results found")
    tokenizer_path = tokenizer_of_run(args.input_dir, args.tokenizer_name_or_path)
    load_tokenizer(tokenizer_path, "tokenizer_name_or_path")  # fails here, once, with one line
    graded = grade_all(samples, tokenizer_path, args.workers, args.timeout)
    metrics = aggregate(samples, graded)
    unparsed = sum(m["num_majority_unparsed"] for m in metrics.values())
    if unparsed:
        logger.warning("%d problem(s): the majority vote chose an answer math_verify could not parse (the original "
                       "script stops with an IndexError there); counted as a wrong majority", unparsed)
    out_dir = os.path.dirname(os.path.abspath(args.output_file))
    write_json_atomic(args.output_file, metrics)
    table = write_markdown(metrics, os.path.join(out_dir, "metrics.md"))
    if not args.no_plot:
        write_plot(metrics, os.path.join(out_dir, "metrics.png"), os.path.basename(os.path.normpath(args.input_dir)))
    print(json.dumps(metrics, indent=4))
    print(table)
    print(f"write to {args.output_file}")
    failed = sum(g is None for g in graded)
    if failed == len(graded):
        print(f"error: grading failed for all {failed} samples (see the grader errors above)", file=sys.stderr)
        return 1
    if failed:
        logger.warning("%d of %d samples could not be graded (counted as wrong, num_verify_error)", failed, len(graded))
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
