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
  :func:`data.build_sft.apply_hint_engineering` (no manual work before the code, no re-check after).

    python -m data.synthetic --out_dir out/synthetic --n_train 60 --n_val 20 --n_test 30 --seed 0
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys

from cort import hints, protocol

KINDS = ("product", "modpow", "range_sum", "gcd", "lcm", "count", "base")


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
                    hand=[f"{a}^2 = {a * a} = {a * a % m} (mod {m})", f"{a}^4 = {(a * a % m) ** 2} = {pow(a, 4, m)} (mod {m})"],
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
                hand=[f"{n} = {n // base} * {base} + {n % base}", f"{n // base} = {n // base // base} * {base} + {n // base % base}"],
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
    """One training trajectory for ``p`` in ``style`` (cell outputs from ``executor``)."""
    hand = "\n".join(p["hand"])
    if style == "cot":
        response = f"Let me work it out by hand.\n{hand}\n{p['check']}.\nThe answer is \\boxed{{{p['answer']}}}."
    else:
        result = executor.run_stateless(p["code"])
        cell = f"```python\n{p['code']}\n```\n" + protocol.format_output(result.model_text())
        response = (f"{hints.PROMPT_HINT}\nLet me compute this by hand first.\n{hand}\n"
                    f"This is getting long, so let me compute it with python.\n{cell}"
                    f"Let me verify this manually: {p['check']}.\nThe answer is \\boxed{{{p['answer']}}}.")
        if style == "hint_engineering":
            from data.build_sft import apply_hint_engineering

            response = apply_hint_engineering(response)[0]
    return {"problem": p["problem"], "prompt": hints.add_prompt_suffix(p["problem"]), "response": response,
            "gt_answer": p["answer"], "source": "synthetic", "style": style}


def main(argv: list[str] | None = None) -> int:
    """Write train/val/test problems and the training trajectories of every style."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out_dir", required=True)
    ap.add_argument("--n_train", type=int, default=60)
    ap.add_argument("--n_val", type=int, default=20)
    ap.add_argument("--n_test", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--styles", default="cot,prompt_hint,hint_engineering")
    args = ap.parse_args(argv)
    from cort.executor import JupyterExecutor

    splits = generate(args.n_train, args.n_val, args.n_test, args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    for name, rows in splits.items():
        with open(os.path.join(args.out_dir, f"{name}.jsonl"), "w") as fh:
            fh.writelines(json.dumps(benchmark_row(p)) + "\n" for p in rows)
    with JupyterExecutor(timeout=30) as executor:
        for style in args.styles.split(","):
            with open(os.path.join(args.out_dir, f"train_{style}.jsonl"), "w") as fh:
                fh.writelines(json.dumps(trajectory(p, style, executor)) + "\n" for p in splits["train"])
    print(f"wrote {', '.join(f'{k}: {len(v)}' for k, v in splits.items())} problems and "
          f"{args.styles} trajectories to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
