"""Build SFT data from trajectories in one of CoRT's three styles.

    python -m data.build_sft --input data/fixtures/trajectories.jsonl --output out/sft.jsonl \\
        --style hint_engineering [--reexecute check|fix|off] [--keep_incorrect]

Styles: ``none`` (as is), ``prompt_hint`` (the prompt-hint at the start of thinking),
``hint_engineering`` (hint-1 replaces a calculation done by hand before the first cell and leads
into that cell; hint-2 replaces a by-hand re-check of a code result; manual markers win over
detection, see :mod:`data.trajectories`). Every cell is re-run in a real kernel (one session per
trajectory): ``check`` drops trajectories whose recorded output differs from the real one,
``fix`` replaces it. Only trajectories whose final answer the grader accepts are kept.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field

from cort import hints, original, protocol
from cort.args import require
from cort.cli import parse_flags, run_command
from cort.executor import JupyterExecutor
from cort.io import check_output_file, write_jsonl_atomic
from cort.rollout import INTERPRETER_MODES
from data.trajectories import load_trajectories
from evaluation.grader import grade

logger = logging.getLogger(__name__)
STYLES = ("none", "prompt_hint", "hint_engineering")
REEXECUTE_MODES = ("check", "fix", "off")


@dataclass
class BuildSFTArguments:
    """Input trajectories, output file, style and output checking."""

    input: list[str] = field(metadata={"help": "trajectory JSONL file(s) or inference outputs"})
    output: str = field(metadata={"help": "the SFT data file (JSONL) to write"})
    style: str = field(default="none", metadata={"choices": list(STYLES), "help": "hint style"})
    reexecute: str = field(default="check", metadata={
        "choices": list(REEXECUTE_MODES),
        "help": "check: drop trajectories whose recorded output differs; fix: replace it; off: skip"})
    interpreter_mode: str = field(default="original", metadata={
        "choices": list(INTERPRETER_MODES),
        "help": "how the trajectories' outputs were made, so they are re-run the same way: original (each cell's "
                "program rebuilt from the response by the original's rules, fresh namespace) or kernel (the cells "
                "in one live kernel)"})
    keep_incorrect: bool = field(default=False, metadata={"help": "keep trajectories the grader rejects"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing output file"})

    def __post_init__(self) -> None:
        check_output_file(self.output, "output")
        require("output", os.path.abspath(self.output) not in {os.path.abspath(p) for p in self.input},
                "must not be one of the input files")
        require("output", self.overwrite or not os.path.exists(self.output),
                f"{self.output} exists; pass --overwrite to replace it")


class InfrastructureFailure(RuntimeError):
    """A cell could not be re-run through no fault of its code."""


def reexecute(response: str, executor: JupyterExecutor, session_id: str,
              interpreter_mode: str = "original") -> tuple[str, int]:
    """``response`` with every output block replaced by the real one; and how many differed.

    ``interpreter_mode="original"`` runs, for each cell, the program the original rebuilds from the
    response up to that cell (with the outputs kept so far); ``"kernel"`` runs the cells one after
    another in one live kernel.
    """
    pieces, pos, mismatches = [], 0, 0
    outputs = protocol.find_outputs(response)
    try:
        for cell in protocol.find_cells(response):
            if cell.start < pos:
                continue
            if interpreter_mode == "original":
                so_far = "".join(pieces) + response[pos:cell.end]
                result = executor.run_program(original.jupyter_like_program(so_far))
            else:
                result = executor.run(session_id, cell.code)
            if result.infrastructure:
                raise InfrastructureFailure(result.error)
            real = protocol.format_output(result.model_text())
            following = next((o for o in outputs if o.start == cell.end), None)
            pieces.append(response[pos:cell.end])
            if following is None:
                pieces.append(real)
                mismatches += 1
                pos = cell.end
            else:
                recorded = response[following.start:following.end]
                if not recorded.endswith("\n"):
                    recorded += "\n"
                same = recorded.replace("\n\n" + protocol.BUDGET_WARNING, "") == real
                mismatches += int(not same)
                pieces.append(real if not same else response[following.start:following.end])
                pos = following.end
        pieces.append(response[pos:])
    finally:
        executor.close(session_id)
    return "".join(pieces), mismatches


def build(trajectories: list[dict], style: str, reexecute_mode: str = "check", keep_incorrect: bool = False,
          executor: JupyterExecutor | None = None, interpreter_mode: str = "original") -> tuple[list[dict], Counter]:
    """Styled, verified trajectories and counts of what was kept, dropped and inserted."""
    stats: Counter = Counter()
    kept = []
    own = executor is None and reexecute_mode != "off"
    executor = executor or (JupyterExecutor(timeout=30) if reexecute_mode != "off" else None)
    try:
        for i, traj in enumerate(trajectories):
            response = traj["response"]
            if reexecute_mode != "off":
                plain = hints.strip_markers(response)
                try:
                    real, mismatches = reexecute(plain, executor, f"build-{i}", interpreter_mode)
                except InfrastructureFailure as err:
                    logger.warning("trajectory %d skipped: %s", i, err)
                    stats["dropped_infra_error"] += 1
                    continue
                if mismatches:
                    stats["output_mismatch"] += 1
                    if reexecute_mode == "check":
                        stats["dropped_output_mismatch"] += 1
                        continue
                    if plain == response:
                        response = real
                    stats["fixed_outputs"] += 1
            if not keep_incorrect and not grade(hints.strip_markers(response), traj["gt_answer"]):
                stats["dropped_incorrect"] += 1
                continue
            if style == "hint_engineering":
                response, counts = hints.apply_hint_engineering(response)
                stats.update({f"hint_{k}": v for k, v in counts.items()})
            else:
                response = hints.strip_markers(response)
                if style == "prompt_hint":
                    response = hints.prepend_prompt_hint(response)
            kept.append({**traj, "response": response, "style": style})
            stats["kept"] += 1
    finally:
        if own:
            executor.shutdown()
    return kept, stats


def make_parser():
    """The command's flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser(BuildSFTArguments, description=__doc__)


def main(args: BuildSFTArguments) -> int:
    """Build and write the SFT data; print the counts."""
    trajectories = [t for path in args.input for t in load_trajectories(path)]
    kept, stats = build(trajectories, args.style, args.reexecute, args.keep_incorrect,
                        interpreter_mode=args.interpreter_mode)
    write_jsonl_atomic(args.output, kept)
    print(json.dumps({"input": len(trajectories), **stats}, indent=2))
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
