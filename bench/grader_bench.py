"""Grader benchmark: the strict grader, math_verify and the DeepScaleR grader on the same labelled cases.

Groups (each labelled ``(prediction, reference, equal?)``):

- (a) in-sample: ``tests/grader_cases.py`` (hand-written bare answers, whole responses, and the
  classes of misses), written alongside the grader;
- (b) public: cases from other projects' grader test suites, read at run time from checkouts
  (``--sources DIR``, see ``bench/public_cases.py``), split by a hash into a development share
  (tuned on) and a held-out share;
- (c) generated: rewrites and near misses of the gold answers in ``../shared/data``.

Per group and grader: accuracy, false-positive rate (of the cases labelled "not equal", the share
graded equal), false-negative rate (of those labelled "equal", the share graded not equal), and
cases per second. Each grader sees a prediction as its own pipeline would: the strict grader and
the DeepScaleR grader the text itself, math_verify a bare answer wrapped in ``$...$`` (as the
original wraps gold answers). ``--baseline REPO`` also times another checkout's ``grade`` (for
"as fast as before"), in a subprocess.

    python bench/grader_bench.py [--data ../shared/data] [--sources ~/grader-sources] [--baseline ../old]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.public_cases import collect
from evaluation import deadline, deepscaler_grading
from evaluation.grader import grade
from tests.grader_cases import CLASS_RESPONSES, CLASSES, HANDWRITTEN, RESPONSES, generated

Case = tuple[str, str, bool]


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


GRADERS = {"strict (this project)": grade, "math_verify": math_verify_grade,
           "DeepScaleR": deepscaler_grading.grade_response}


def score(fn, cases: list[Case]) -> dict:
    """Accuracy, false-positive and false-negative rates, cases/s, and the cases graded wrong."""
    start = time.perf_counter()
    verdicts = [bool(fn(p, r)) for p, r, _ in cases]
    elapsed = time.perf_counter() - start
    wrong = [c for c, v in zip(cases, verdicts) if v is not c[2]]
    negatives = sum(1 for c in cases if not c[2])
    positives = len(cases) - negatives
    fp = sum(1 for c in wrong if not c[2])
    return {"acc": 1 - len(wrong) / len(cases), "fp": fp, "fn": len(wrong) - fp,
            "fpr": fp / negatives if negatives else 0.0, "fnr": (len(wrong) - fp) / positives if positives else 0.0,
            "rate": len(cases) / elapsed, "wrong": wrong}


def baseline_rates(repo: Path, groups: dict[str, list[Case]]) -> dict[str, float]:
    """Cases per second of another checkout's ``evaluation.grader.grade`` on the same groups."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({k: [list(c) for c in v] for k, v in groups.items()}, fh)
    code = ("import json, sys, time\nfrom evaluation.grader import grade\n"
            "groups = json.load(open(sys.argv[1]))\ngrade('1', '1')\nout = {}\n"
            "for name, cases in groups.items():\n    t = time.perf_counter()\n"
            "    for p, r, _ in cases: grade(p, r)\n    out[name] = len(cases) / (time.perf_counter() - t)\n"
            "print(json.dumps(out))\n")
    env = dict(os.environ, PYTHONPATH=str(repo))
    try:
        proc = subprocess.run([sys.executable, "-c", code, fh.name], capture_output=True, text=True, env=env,
                              cwd=repo, timeout=3600)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        print(f"baseline failed: {exc}", file=sys.stderr)
        return {}
    finally:
        os.unlink(fh.name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--sources", default=os.environ.get("CORT_GRADER_SOURCES", ""),
                    help="folder with checkouts of the public grader suites (see bench/public_cases.py)")
    ap.add_argument("--baseline", default="", help="another checkout of this project to time its grader against")
    ap.add_argument("--show", type=int, default=5, help="examples of wrong verdicts to print per group and grader")
    args = ap.parse_args()

    groups: dict[str, list[Case]] = {
        "(a) in-sample: hand-written bare answers": HANDWRITTEN,
        "(a) in-sample: whole responses": RESPONSES,
        "(a) in-sample: classes of misses": CLASSES + CLASS_RESPONSES,
    }
    if args.sources:
        public, read = collect(Path(args.sources).expanduser())
        print("public sources read: " + ", ".join(f"{k}@{v}" for k, v in read.items()))
        groups["(b) public, development share (tuned on)"] = [
            (c.prediction, c.reference, c.expected) for c in public if not c.held_out]
        groups["(b) public, held-out share"] = [(c.prediction, c.reference, c.expected) for c in public if c.held_out]
    else:
        print("(b) skipped: pass --sources DIR with checkouts of the public grader suites (bench/public_cases.py)")
    groups["(c) generated from gold answers"] = generated(Path(args.data))

    started = time.perf_counter()
    deadline.call("ping", timeout=60)
    print(f"grading worker start: {time.perf_counter() - started:.2f} s (once per process, not timed below)\n")
    print("| cases | n (not equal) | grader | accuracy | false-positive rate | false-negative rate | cases/s |")
    print("|---|---:|---|---:|---:|---:|---:|")
    results = {}
    for name, cases in groups.items():
        negatives = sum(1 for c in cases if not c[2])
        for gname, fn in GRADERS.items():
            r = results[(name, gname)] = score(fn, cases)
            print(f"| {name} | {len(cases)} ({negatives}) | {gname} | {r['acc']:.1%} | {r['fpr']:.1%} ({r['fp']}) "
                  f"| {r['fnr']:.1%} ({r['fn']}) | {r['rate']:.0f} |")
    if args.baseline:
        rates = baseline_rates(Path(args.baseline).resolve(), groups)
        print("\n| cases | this grader cases/s | baseline cases/s | ratio |\n|---|---:|---:|---:|")
        for name in groups:
            ours, theirs = results[(name, "strict (this project)")]["rate"], rates.get(name)
            if theirs:
                print(f"| {name} | {ours:.0f} | {theirs:.0f} | {ours / theirs:.2f}x |")
    for (name, gname), r in results.items():
        if gname != "strict (this project)":
            continue
        for p, ref, e in r["wrong"][:args.show]:
            print(f"  strict wrong on [{name}]: expected={e} ref={ref[:120]!r} pred={p[-160:]!r}")


if __name__ == "__main__":
    main()
