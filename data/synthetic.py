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
import re
import sys
from dataclasses import dataclass, field

from cort import hints, original, protocol
from cort.args import require
from cort.cli import parse_flags, run_command
from cort.io import check_output_dir, write_jsonl_atomic

logger = logging.getLogger(__name__)

KINDS = ("product", "modpow", "range_sum", "gcd", "lcm", "count", "base")
STYLES = ("cot", "prompt_hint", "hint_engineering")
MAX_STEPS = 8
CHAIN_VARS = "abcdefgh"


def parse_steps(spec: str) -> tuple[int, int] | None:
    """``"1"`` -> (1, 1); ``"3"`` -> (3, 3); ``"2-4"`` -> (2, 4); None when not a valid setting."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", spec)
    if not m:
        return None
    lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
    if (lo, hi) == (1, 1):
        return lo, hi
    return (lo, hi) if 2 <= lo <= hi <= MAX_STEPS else None


@dataclass
class SyntheticArguments:
    """Where to write, split sizes, seed and trajectory styles."""

    out_dir: str = field(metadata={"help": "folder for train/val/test.jsonl and train_<style>.jsonl"})
    n_train: int = field(default=60, metadata={"help": "training problems (> 0)"})
    n_val: int = field(default=20, metadata={"help": "validation problems (>= 0)"})
    n_test: int = field(default=30, metadata={"help": "held-out test problems (> 0)"})
    seed: int = 0
    styles: str = field(default=",".join(STYLES), metadata={"help": f"comma list of {', '.join(STYLES)}"})
    steps: str = field(default="1", metadata={"help": (
        "computations per problem, one cell each: 1 (the single-step kinds) or N / A-B with 2 <= A <= B <= "
        f"{MAX_STEPS} (chains: every step uses the previous step's result, so a trajectory writes several cells)")})
    overwrite: bool = field(default=False, metadata={"help": "replace files an earlier run wrote"})

    def __post_init__(self) -> None:
        require("n_train", self.n_train > 0, f"must be greater than 0, got {self.n_train}")
        require("n_val", self.n_val >= 0, f"must be 0 or more, got {self.n_val}")
        require("n_test", self.n_test > 0, f"must be greater than 0, got {self.n_test}")
        unknown = [s for s in self.style_list if s not in STYLES]
        require("styles", bool(self.style_list) and not unknown,
                f"unknown style(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(STYLES)}")
        require("steps", parse_steps(self.steps) is not None,
                f"must be 1, N or A-B with 2 <= A <= B <= {MAX_STEPS}, got {self.steps!r}")
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


def _chain_start(rng: random.Random) -> tuple[str, str, int, list[str]]:
    """The first step of a chain: (its wording, its Python expression, its value, a start by hand)."""
    pick = rng.randrange(3)
    if pick == 0:
        a, b = rng.randint(1000, 99999), rng.randint(1000, 9999)
        hi, lo = divmod(b, 1000)
        return (f"{a} multiplied by {b}", f"{a} * {b}", a * b,
                [f"{a} * {hi * 1000} = {a * hi * 1000}", f"{a} * {lo} = {a * lo}"])
    if pick == 1:
        a, b = rng.randint(100, 9999), rng.randint(100, 9999)
        return (f"the least common multiple of {a} and {b}", f"math.lcm({a}, {b})", math.lcm(a, b),
                [f"{a} * {b} = {a * b}", f"{a * b} / {math.gcd(a, b)} = {math.lcm(a, b)}"])
    n, d = rng.randint(200, 3000), rng.randint(3, 9)
    return (f"the sum of the squares of all multiples of {d} from 1 to {n}",
            f"sum(k * k for k in range(1, {n} + 1) if k % {d} == 0)", sum(k * k for k in range(d, n + 1, d)),
            [f"{d}^2 + {2 * d}^2 = {d * d} + {4 * d * d} = {5 * d * d}", f"{5 * d * d} + {3 * d}^2 = {14 * d * d}"])


def _chain_step(rng: random.Random, prev: str, value: int) -> tuple[str, str, int]:
    """A step that uses the previous result ``prev`` (= ``value``): (wording, expression, value)."""
    pick = rng.randrange(5)
    if pick == 0:
        e, m = rng.randint(100, 5000), rng.randint(11, 997)
        return f"the remainder when {prev}^{e} is divided by {m}", f"pow({prev}, {e}, {m})", pow(value, e, m)
    if pick == 1:
        return f"the sum of the digits of {prev}", f"sum(int(ch) for ch in str({prev}))", sum(map(int, str(value)))
    if pick == 2:
        k = rng.randint(100, 9999)
        return f"the greatest common divisor of {prev} and {k}", f"math.gcd({prev}, {k})", math.gcd(value, k)
    if pick == 3 or value < 100:
        k, c = rng.randint(11, 999), rng.randint(1, 999)
        return f"{prev} multiplied by {k}, plus {c}", f"{prev} * {k} + {c}", value * k + c
    m = rng.randint(11, min(9999, value - 1))
    return f"the remainder when {prev} is divided by {m}", f"{prev} % {m}", value % m


def _cell(var: str, expr: str) -> str:
    return ("import math\n" if "math." in expr else "") + f"{var} = {expr}\nprint({var})"


def make_chain(steps: int, rng: random.Random) -> dict:
    """A problem of ``steps`` dependent computations, one cell each (``a = ...``, ``b = f(a)``, ...).

    Every step's value is at least 2, so no later step degenerates (a remainder of 0, a gcd of 1).
    """
    while True:
        wording, expr, value, hand = _chain_start(rng)
        parts, cells, values = [f"let a be {wording}"], [_cell("a", expr)], [value]
        for k in range(1, steps):
            wording, expr, value = _chain_step(rng, CHAIN_VARS[k - 1], values[-1])
            parts.append(f"let {CHAIN_VARS[k]} be {wording}")
            cells.append(_cell(CHAIN_VARS[k], expr))
            values.append(value)
        if min(values) >= 2:
            break
    text = ", ".join(parts[:-1]) + (", and " if steps > 2 else " and ") + parts[-1]
    text = f"{text[0].upper()}{text[1:]}. What is {CHAIN_VARS[steps - 1]}?"
    return dict(problem=text, answer=str(values[-1]), code="\n".join(cells), cells=cells,
                values=[str(v) for v in values], wordings=[p.split(" be ", 1)[1] for p in parts], hand=hand)


def generate(n_train: int, n_val: int, n_test: int, seed: int = 0,
             steps: tuple[int, int] = (1, 1)) -> dict[str, list[dict]]:
    """Disjoint splits of problems, reproducible from ``seed``: the single-step kinds in rotation,
    or (``steps`` other than (1, 1)) chains of ``steps[0]`` to ``steps[1]`` cells, lengths in rotation."""
    rng = random.Random(seed)
    seen, problems = set(), []
    total = n_train + n_val + n_test
    while len(problems) < total:
        if steps == (1, 1):
            kind = KINDS[len(problems) % len(KINDS)]
            p = make_problem(kind, rng)
        else:
            length = steps[0] + len(problems) % (steps[1] - steps[0] + 1)
            kind, p = f"chain{length}", make_chain(length, rng)
        if p["problem"] not in seen:
            seen.add(p["problem"])
            problems.append({**p, "kind": kind, "source": "synthetic"})
    rng.shuffle(problems)
    return {"train": problems[:n_train], "val": problems[n_train:n_train + n_val],
            "test": problems[n_train + n_val:]}


def benchmark_row(p: dict) -> dict:
    """A problem in the benchmark JSONL format (for inference and metrics)."""
    return {"problem": p["problem"], "gt_answer": p["answer"], "prompt": hints.add_prompt_suffix(p["problem"]),
            "source": "synthetic"}


def _chain_response(p: dict, style: str, executor, final: str) -> str:
    """A chain's response: one cell per step, each output what the default interpreter shows there."""
    names, hand = CHAIN_VARS[:len(p["cells"])], "\n".join(p["hand"])
    if style == "cot":
        steps = "\n".join(f"{v} is {w}, which works out to {x}." for v, w, x in zip(names, p["wordings"], p["values"]))
        response = f"<think>\nLet me work it out by hand.\n{hand}\n{steps}\n{final}"
    else:
        text = (f"<think>\n{hints.PROMPT_HINT}\nLet me compute this by hand first.\n{hand}\n"
                "This is getting long, so let me compute a with python.\n")
        for k, (var, code, value) in enumerate(zip(names, p["cells"], p["values"])):
            if k:
                text += f"Next, {var} is {p['wordings'][k]}; let me compute it with python.\n"
            text += f"```python\n{code}\n```\n"
            result = executor.run_program(original.jupyter_like_program(text))
            text += protocol.format_output(result.model_text()) + f"Let me verify this manually: {var} = {value}.\n"
        response = text + final
        if style == "hint_engineering":
            response = hints.apply_hint_engineering(response)[0]
    return response


def trajectory(p: dict, style: str, executor) -> dict:
    """One training trajectory for ``p`` in ``style`` (cell outputs from ``executor``).

    Written as a reasoning model writes: the work inside ``<think> ... </think>``, then the final
    answer (what the original RL reward and the strict grader read).
    """
    hand = "\n".join(p["hand"])
    final = f"</think>\nThe answer is \\boxed{{{p['answer']}}}."
    if "cells" in p:
        response = _chain_response(p, style, executor, final)
    elif style == "cot":
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

    splits = generate(args.n_train, args.n_val, args.n_test, args.seed, parse_steps(args.steps))
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
