"""Seeded computation-heavy problems and training trajectories in CoRT's three styles.

Problems a 135M model cannot do in its head but one line of Python can: products of 4-6 digit
numbers, modular powers, sums over ranges, gcd/lcm, counting with a condition, base conversion.
Each has its exact answer and its program. Splits (train/val/test) never share a problem.

Trajectory styles for the same problems (outputs always from the real executor):

- ``cot``: reasoning by hand only, no code;
- ``prompt_hint``: the prompt-hint, then, like an untrained reasoning model, a start of the
  calculation by hand (delayed computation), the cell, and a re-check of its result by hand
  (code distrust);
- ``hint_engineering``: the same traces with CoRT's hints placed at those two places by
  :func:`cort.hints.apply_hint_engineering` (no manual work before the code, no re-check after).

    python -m data.synthetic --out_dir out/synthetic --n_train 60 --n_val 20 --n_test 30 --seed 0
"""

from __future__ import annotations

import logging
import math
import os
import random
import sys
from dataclasses import dataclass, field

from cort import hints, protocol
from cort.args import require
from cort.cli import parse_flags, run_command
from cort.io import check_output_dir, write_jsonl_atomic

logger = logging.getLogger(__name__)

KINDS = ("product", "modpow", "range_sum", "gcd", "lcm", "count", "base")
STYLES = ("cot", "prompt_hint", "hint_engineering")


@dataclass
class SyntheticArguments:
    """Where to write, split sizes, seed and trajectory styles."""

    out_dir: str = field(metadata={"help": "folder for train/val/test.jsonl and train_<style>.jsonl"})
    n_train: int = field(default=60, metadata={"help": "training problems (> 0)"})
    n_val: int = field(default=20, metadata={"help": "validation problems (>= 0)"})
    n_test: int = field(default=30, metadata={"help": "held-out test problems (> 0)"})
    seed: int = 0
    styles: str = field(default=",".join(STYLES), metadata={"help": f"comma list of {', '.join(STYLES)}"})
    overwrite: bool = field(default=False, metadata={"help": "replace files an earlier run wrote"})

    def __post_init__(self) -> None:
        require("n_train", self.n_train > 0, f"must be greater than 0, got {self.n_train}")
        require("n_val", self.n_val >= 0, f"must be 0 or more, got {self.n_val}")
        require("n_test", self.n_test > 0, f"must be greater than 0, got {self.n_test}")
        unknown = [s for s in self.style_list if s not in STYLES]
        require("styles", bool(self.style_list) and not unknown,
                f"unknown style(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(STYLES)}")
        check_output_dir(self.out_dir, "out_dir")
        existing = [n for n in self.file_names if os.path.exists(os.path.join(self.out_dir, n))]
        require("out_dir", self.overwrite or not existing,
                f"{self.out_dir} already holds {', '.join(existing)}; pass --overwrite to replace them")

    @property
    def style_list(self) -> list[str]:
        """The requested styles, in order."""
        return [s.strip() for s in self.styles.split(",") if s.strip()]

    @property
    def file_names(self) -> list[str]:
        """Every file this run writes."""
        return ["train.jsonl", "val.jsonl", "test.jsonl"] + [f"train_{s}.jsonl" for s in self.style_list]


def _digits(n: int, base: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, base)
        out = str(r) + out
    return out or "0"


def make_problem(kind: str, rng: random.Random) -> dict:
    """One problem of ``kind``: text, exact answer, program, and a few lines of hand work."""
    if kind == "product":
        a, b = rng.randint(1000, 999999), rng.randint(1000, 99999)
        hi, lo = divmod(b, 1000)
        return dict(problem=f"What is {a} multiplied by {b}?", answer=str(a * b), code=f"print({a} * {b})",
                    hand=[f"{a} * {b} = {a} * {hi * 1000} + {a} * {lo}", f"{a} * {hi * 1000} = {a * hi * 1000}",
                          f"{a} * {lo} = {a * lo}"], check=f"{a * hi * 1000} + {a * lo} = {a * b}")
    if kind == "modpow":
        a, e, m = rng.randint(2, 99), rng.randint(100, 5000), rng.randint(11, 997)
        return dict(problem=f"What is the remainder when {a}^{e} is divided by {m}?", answer=str(pow(a, e, m)),
                    code=f"print(pow({a}, {e}, {m}))",
                    hand=[f"{a}^2 = {a * a} = {a * a % m} (mod {m})",
                          f"{a}^4 = {(a * a % m) ** 2} = {pow(a, 4, m)} (mod {m})"],
                    check=f"{a}^{e} mod {m} = {pow(a, e, m)}")
    if kind == "range_sum":
        n, d = rng.randint(200, 3000), rng.randint(3, 9)
        total = sum(k * k for k in range(1, n + 1) if k % d == 0)
        return dict(problem=f"What is the sum of the squares of all multiples of {d} from 1 to {n}?",
                    answer=str(total), code=f"print(sum(k * k for k in range(1, {n} + 1) if k % {d} == 0))",
                    hand=[f"{d}^2 + {2 * d}^2 = {d * d} + {4 * d * d} = {5 * d * d}",
                          f"{5 * d * d} + {3 * d}^2 = {5 * d * d + 9 * d * d}"], check=f"the sum is {total}")
    if kind == "gcd":
        g = rng.randint(2, 999)
        a, b = g * rng.randint(100, 999), g * rng.randint(100, 999)
        return dict(problem=f"What is the greatest common divisor of {a} and {b}?", answer=str(math.gcd(a, b)),
                    code=f"import math\nprint(math.gcd({a}, {b}))",
                    hand=[f"{max(a, b)} = {max(a, b) // min(a, b)} * {min(a, b)} + {max(a, b) % min(a, b)}",
                          f"{min(a, b)} = {min(a, b) // max(1, max(a, b) % min(a, b))} * {max(a, b) % min(a, b)} + "
                          f"{min(a, b) % max(1, max(a, b) % min(a, b))}"],
                    check=f"gcd({a}, {b}) = {math.gcd(a, b)}")
    if kind == "lcm":
        a, b = rng.randint(100, 9999), rng.randint(100, 9999)
        return dict(problem=f"What is the least common multiple of {a} and {b}?", answer=str(math.lcm(a, b)),
                    code=f"import math\nprint(math.lcm({a}, {b}))",
                    hand=[f"{a} * {b} = {a * b}", f"{a * b} / {math.gcd(a, b)} = {math.lcm(a, b)}"],
                    check=f"lcm({a}, {b}) = {math.lcm(a, b)}")
    if kind == "count":
        n, p, q = rng.randint(1000, 99999), rng.randint(3, 13), rng.randint(14, 29)
        count = sum(1 for k in range(1, n + 1) if k % p == 0 or k % q == 0)
        return dict(problem=f"How many integers from 1 to {n} are divisible by {p} or by {q}?", answer=str(count),
                    code=f"print(sum(1 for k in range(1, {n} + 1) if k % {p} == 0 or k % {q} == 0))",
                    hand=[f"{n} / {p} = {n // p}", f"{n} / {q} = {n // q}"], check=f"the count is {count}")
    n, base = rng.randint(1000, 99999), rng.randint(2, 9)
    return dict(problem=f"Write {n} in base {base}.", answer=f"{_digits(n, base)}_{base}",
                code=f"n, d = {n}, ''\nwhile n:\n    n, r = divmod(n, {base})\n    d = str(r) + d\nprint(d)",
                hand=[f"{n} = {n // base} * {base} + {n % base}",
                      f"{n // base} = {n // base // base} * {base} + {n // base % base}"],
                check=f"the digits are {_digits(n, base)}")


def generate(n_train: int, n_val: int, n_test: int, seed: int = 0) -> dict[str, list[dict]]:
    """Disjoint splits of problems, kinds in rotation, reproducible from ``seed``."""
    rng = random.Random(seed)
    seen, problems = set(), []
    total = n_train + n_val + n_test
    while len(problems) < total:
        p = make_problem(KINDS[len(problems) % len(KINDS)], rng)
        if p["problem"] not in seen:
            seen.add(p["problem"])
            problems.append({**p, "kind": KINDS[len(problems) % len(KINDS)], "source": "synthetic"})
    rng.shuffle(problems)
    return {"train": problems[:n_train], "val": problems[n_train:n_train + n_val],
            "test": problems[n_train + n_val:]}


def benchmark_row(p: dict) -> dict:
    """A problem in the benchmark JSONL format (for inference and metrics)."""
    return {"problem": p["problem"], "gt_answer": p["answer"], "prompt": hints.add_prompt_suffix(p["problem"]),
            "source": "synthetic"}


def trajectory(p: dict, style: str, executor) -> dict:
    """One training trajectory for ``p`` in ``style`` (cell outputs from ``executor``).

    Written as a reasoning model writes: the work inside ``<think> ... </think>``, then the final
    answer (what the original RL reward and the strict grader read).
    """
    hand = "\n".join(p["hand"])
    final = f"</think>\nThe answer is \\boxed{{{p['answer']}}}."
    if style == "cot":
        response = f"<think>\nLet me work it out by hand.\n{hand}\n{p['check']}.\n{final}"
    else:
        result = executor.run_program(p["code"])  # as the default (original) interpreter shows it
        cell = f"```python\n{p['code']}\n```\n" + protocol.format_output(result.model_text())
        response = (f"<think>\n{hints.PROMPT_HINT}\nLet me compute this by hand first.\n{hand}\n"
                    f"This is getting long, so let me compute it with python.\n{cell}"
                    f"Let me verify this manually: {p['check']}.\n{final}")
        if style == "hint_engineering":
            response = hints.apply_hint_engineering(response)[0]
    return {"problem": p["problem"], "prompt": hints.add_prompt_suffix(p["problem"]), "response": response,
            "gt_answer": p["answer"], "source": "synthetic", "style": style}


def make_parser():
    """The command's flags."""
    from transformers import HfArgumentParser

    return HfArgumentParser(SyntheticArguments, description=__doc__)


def main(args: SyntheticArguments) -> int:
    """Write train/val/test problems and the training trajectories of every style."""
    from cort.executor import JupyterExecutor

    splits = generate(args.n_train, args.n_val, args.n_test, args.seed)
    for name, rows in splits.items():
        write_jsonl_atomic(os.path.join(args.out_dir, f"{name}.jsonl"), [benchmark_row(p) for p in rows])
    with JupyterExecutor(timeout=30) as executor:
        for style in args.style_list:
            write_jsonl_atomic(os.path.join(args.out_dir, f"train_{style}.jsonl"),
                               [trajectory(p, style, executor) for p in splits["train"]])
    logger.info("wrote %s problems and %s trajectories to %s",
                ", ".join(f"{k}: {len(v)}" for k, v in splits.items()), args.styles, args.out_dir)
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse flags and run (bad input: one line, exit 2)."""
    return run_command(lambda: main(*parse_flags(make_parser(), argv)))


if __name__ == "__main__":
    sys.exit(cli())
