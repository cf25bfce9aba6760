"""Grader benchmark: this project's grader vs math_verify on the same labelled cases.

Cases: tests/grader_cases.py (hand-written bare answers and whole responses, plus rewrites
and near misses generated from the gold answers in ../shared/data). Each grader sees the
prediction as the original pipeline would give it (bare answers wrapped in ``$...$`` for
math_verify, as the original does for gold answers) and must return the expected verdict.

    python bench/grader_bench.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from evaluation.grader import grade
from tests.grader_cases import HANDWRITTEN, RESPONSES, generated


def math_verify_grade(prediction: str, reference: str) -> bool:
    """math_verify as the original CoRT metrics call it."""
    from math_verify import parse, verify
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    ref = reference if reference.startswith("$") else f"${reference}$"
    bare = "\n" not in prediction and "\\boxed" not in prediction and "$" not in prediction and len(prediction) < 200
    pred = f"${prediction}$" if bare else prediction
    try:
        return bool(verify(parse(ref), parse(pred, extraction_config=(ExprExtractionConfig(), LatexExtractionConfig()))))
    except Exception:  # noqa: BLE001
        return False


def score(fn, cases) -> tuple[float, float, list]:
    start = time.perf_counter()
    wrong = [(p, r, e) for p, r, e in cases if fn(p, r) is not e]
    elapsed = time.perf_counter() - start
    return 1 - len(wrong) / len(cases), len(cases) / elapsed, wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--show", type=int, default=8, help="examples of disagreements to print")
    args = ap.parse_args()
    groups = {"hand-written bare answers": HANDWRITTEN, "whole responses": RESPONSES,
              "generated from gold answers": generated(Path(args.data))}
    print("| cases | n | cort grader acc | math_verify acc | cort cases/s | math_verify cases/s |")
    print("|---|---:|---:|---:|---:|---:|")
    misses = {}
    total = {"cort": [0, 0.0], "mv": [0, 0.0]}
    for name, cases in groups.items():
        acc_c, rate_c, wrong_c = score(grade, cases)
        acc_m, rate_m, wrong_m = score(math_verify_grade, cases)
        misses[name] = (wrong_c, wrong_m)
        for key, acc, rate in (("cort", acc_c, rate_c), ("mv", acc_m, rate_m)):
            total[key][0] += acc * len(cases)
            total[key][1] += len(cases) / rate
        print(f"| {name} | {len(cases)} | {acc_c:.1%} | {acc_m:.1%} | {rate_c:.0f} | {rate_m:.0f} |")
    n = sum(len(c) for c in groups.values())
    print(f"| all | {n} | {total['cort'][0] / n:.1%} | {total['mv'][0] / n:.1%} | {n / total['cort'][1]:.0f} "
          f"| {n / total['mv'][1]:.0f} |")
    for name, (wrong_c, wrong_m) in misses.items():
        for label, wrong in (("cort", wrong_c), ("math_verify", wrong_m)):
            for p, r, e in wrong[:args.show]:
                print(f"  {label} wrong on [{name}]: pred={p!r} ref={r!r} expected={e}")


if __name__ == "__main__":
    main()
