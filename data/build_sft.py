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

import argparse
import json
import os
import re
import sys
from collections import Counter

from cort import hints, protocol
from cort.executor import JupyterExecutor
from data.trajectories import load_trajectories
from evaluation.grader import grade
from infer.io import InputError

STYLES = ("none", "prompt_hint", "hint_engineering")
_SPAN_RE = re.compile(r"\[\[hint:(delayed_computation|code_distrust)\]\](.*?)" + re.escape(hints.SPAN_END), re.S)
_ANSWER_LINE_RE = re.compile(r"^.*(\\boxed|answer is|final answer).*$", re.M | re.I)


def reexecute(response: str, executor: JupyterExecutor, session_id: str) -> tuple[str, int]:
    """``response`` with every output block replaced by the real one; and how many differed."""
    pieces, pos, mismatches = [], 0, 0
    outputs = protocol.find_outputs(response)
    try:
        for cell in protocol.find_cells(response):
            if cell.start < pos:
                continue
            result = executor.run(session_id, cell.code)
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


def apply_prompt_hint(response: str) -> str:
    """The prompt-hint at the start of thinking."""
    if response.startswith(hints.THINK_OPEN):
        return hints.THINK_OPEN + hints.PROMPT_HINT + "\n" + response[len(hints.THINK_OPEN):]
    return hints.PROMPT_HINT + "\n" + response


def _replacement_end(text: str, site: hints.HintSite) -> int | None:
    """Where the span a hint replaces ends: the code it leads into, or the end of a by-hand re-check."""
    if site.kind == hints.DELAYED_COMPUTATION:
        cell = text.find(protocol.CODE_START, site.position)
        return None if cell < 0 else cell + len(protocol.CODE_START)
    candidates = [m.start() for m in _ANSWER_LINE_RE.finditer(text, site.position) if m.start() > site.position]
    cell = text.find(protocol.CODE_START, site.position)
    if cell >= 0:
        candidates.append(cell)
    return min(candidates) if candidates else None


def apply_hint_engineering(response: str) -> tuple[str, Counter]:
    """Place hints: manual markers if any, else the detectors' sites."""
    counts: Counter = Counter()
    if _SPAN_RE.search(response) or hints.find_markers(response):
        def span(m: re.Match) -> str:
            counts[m.group(1)] += 1
            return hints.HINT_TEXTS[m.group(1)] + ("\n" if m.group(1) == hints.CODE_DISTRUST else "")

        text = _SPAN_RE.sub(span, response)
        for site in hints.find_markers(text):
            counts[site.kind] += 1
        return hints.render_markers(text), counts
    text = response
    for site in sorted(hints.detect_sites(response), key=lambda s: s.position, reverse=True):
        end = _replacement_end(text, site)
        if end is None:
            continue
        tail = "\n" if site.kind == hints.CODE_DISTRUST else ""
        text = text[:site.position] + hints.HINT_TEXTS[site.kind] + tail + text[end:]
        counts[site.kind] += 1
    return text, counts


def build(trajectories: list[dict], style: str, reexecute_mode: str = "check", keep_incorrect: bool = False,
          executor: JupyterExecutor | None = None) -> tuple[list[dict], Counter]:
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
                real, mismatches = reexecute(plain, executor, f"build-{i}")
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
                response, counts = apply_hint_engineering(response)
                stats.update({f"hint_{k}": v for k, v in counts.items()})
            else:
                response = hints.strip_markers(response)
                if style == "prompt_hint":
                    response = apply_prompt_hint(response)
            kept.append({**traj, "response": response, "style": style})
            stats["kept"] += 1
    finally:
        if own:
            executor.shutdown()
    return kept, stats


def main(argv: list[str] | None = None) -> int:
    """Build and write the SFT data; print the counts."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, nargs="+", help="trajectory JSONL file(s) or inference outputs")
    ap.add_argument("--output", required=True)
    ap.add_argument("--style", default="none", choices=STYLES)
    ap.add_argument("--reexecute", default="check", choices=["check", "fix", "off"])
    ap.add_argument("--keep_incorrect", action="store_true")
    args = ap.parse_args(argv)
    try:
        trajectories = [t for path in args.input for t in load_trajectories(path)]
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    kept, stats = build(trajectories, args.style, args.reexecute, args.keep_incorrect)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in kept:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, args.output)
    print(json.dumps({"input": len(trajectories), **stats}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
