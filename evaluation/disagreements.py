"""List the responses where the strict grader and the original's math_verify grading disagree.

    python -m evaluation.disagreements --input_dir out/aime24 [--output_file out/aime24/disagreements.md]

For every generation of every row (the ``dp_rank*`` files, read as ``compute_metrics_dp`` reads
them) both gradings are computed: the strict final-answer grader (:mod:`evaluation.grader`) and
math_verify over the whole response, as the original metrics grade (:mod:`evaluation.original_grading`).
Where they differ, one line says which way, why (the thinking was never closed; no final answer;
the number math_verify read is only in a code output; the two read different answers; the same
answer compared differently), the gold answer, both readings and the end of the response. The
table goes to stdout and, with ``--output_file``, to a markdown file; ``--output_jsonl`` writes one
JSON object per disagreement.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from cort import protocol
from cort.args import require
from cort.cli import parse_flags, run_command
from cort.io import check_output_file, write_jsonl_atomic, write_text_atomic
from evaluation import original_grading
from evaluation.extract import final_part
from evaluation.grader import grade_detailed
from evaluation.metrics import load_samples


@dataclass
class DisagreementArguments:
    """Where the run is, and where the report goes."""

    input_dir: str = field(default="", metadata={"help": "an inference output folder (dp_rank*.jsonl)"})
    output_file: str = field(default="", metadata={"help": "also write the markdown table here"})
    output_jsonl: str = field(default="", metadata={"help": "also write one JSON line per disagreement here"})
    limit: int = field(default=0, metadata={"help": "rows to read (0: all)"})
    tail: int = field(default=160, metadata={"help": "characters of each response's end to show"})
    no_progress: bool = False

    def __post_init__(self) -> None:
        require("input_dir", bool(self.input_dir), "required: an inference output folder")
        require("input_dir", os.path.isdir(self.input_dir), f"{self.input_dir} is not a folder")
        require("limit", self.limit >= 0, f"must be 0 (all) or positive, got {self.limit}")
        require("tail", self.tail >= 0, f"must be 0 or positive, got {self.tail}")
        for name in ("output_file", "output_jsonl"):
            if getattr(self, name):
                check_output_file(getattr(self, name), name)


def _reason(response: str, strict, mv_answer: str | None) -> str:
    """Why the two gradings differ, in a few words."""
    if final_part(response) is None:
        return "thinking never closed"
    if strict.answer is None:
        return "no final answer"
    outputs = " ".join(o.text for o in protocol.find_outputs(response))
    if mv_answer and mv_answer in outputs and mv_answer not in (final_part(response) or "").replace(outputs, ""):
        return "math_verify's number is in a code output"
    if mv_answer and strict.answer and mv_answer.replace(" ", "") != strict.answer.replace(" ", ""):
        return "different answers read"
    return "same answer, compared differently"


def find_disagreements(samples: list[dict], progress: bool = True) -> list[dict]:
    """One record per generation whose strict and math_verify verdicts differ."""
    found = []
    for index, sample in enumerate(tqdm(samples, desc="grading", disable=not progress)):
        gold_text = str(sample["gt_answer"])
        gold = original_grading.parse_reference(gold_text)
        for k, response in enumerate(sample["gen"]):
            parsed = original_grading.parse_response(response)
            mv = original_grading.verify(gold, parsed)
            strict = grade_detailed(response, gold_text)
            if strict.correct == mv:
                continue
            mv_answer = str(parsed[-1]) if parsed else None
            found.append({"source": sample.get("source", "NA"), "row": index, "generation": k, "gold": gold_text,
                          "strict": strict.correct, "strict_answer": strict.answer, "strict_method": strict.method,
                          "math_verify": mv, "math_verify_answer": mv_answer,
                          "reason": _reason(response, strict, mv_answer), "response": response})
    return found


def _cell(text, width: int | None = None) -> str:
    text = "" if text is None else str(text)
    if width is not None and len(text) > width:
        text = "…" + text[-width:]
    return text.replace("|", "\\|").replace("\n", " ⏎ ")


def render(found: list[dict], n_generations: int, tail: int) -> str:
    """A markdown report: counts by direction and reason, then one row per disagreement."""
    lines = [f"{len(found)} of {n_generations} generations graded differently "
             f"({sum(1 for f in found if f['strict'])} strict only, {sum(1 for f in found if f['math_verify'])} "
             "math_verify only).", "", "| reason | strict only | math_verify only |", "|---|---:|---:|"]
    by = Counter((f["reason"], f["strict"]) for f in found)
    for reason in sorted({f["reason"] for f in found}):
        lines.append(f"| {reason} | {by[(reason, True)]} | {by[(reason, False)]} |")
    lines += ["", "| source | row | gen | correct by | reason | gold | strict reads | math_verify reads "
              "| response ends |", "|---|---:|---:|---|---|---|---|---|---|"]
    for f in found:
        side = "strict" if f["strict"] else "math_verify"
        lines.append(f"| {_cell(f['source'])} | {f['row']} | {f['generation']} | {side} | {f['reason']} | "
                     f"{_cell(f['gold'], 60)} | {_cell(f['strict_answer'], 60)} ({f['strict_method'] or '-'}) | "
                     f"{_cell(f['math_verify_answer'], 60)} | {_cell(f['response'], tail)} |")
    return "\n".join(lines) + "\n"


def make_parser():
    """The command's flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser(DisagreementArguments, description=__doc__)


def main(args: DisagreementArguments) -> int:
    """Grade both ways, print the report and write the files asked for."""
    samples = load_samples(args.input_dir)
    require("input_dir", bool(samples), f"{args.input_dir}: no dp_rank*.jsonl results found")
    if args.limit:
        samples = samples[:args.limit]
    found = find_disagreements(samples, progress=not args.no_progress)
    report = render(found, sum(len(s["gen"]) for s in samples), args.tail)
    print(report)
    if args.output_file:
        write_text_atomic(args.output_file, report)
    if args.output_jsonl:
        write_jsonl_atomic(args.output_jsonl, found)
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
