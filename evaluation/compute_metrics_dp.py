"""Metrics of an inference output folder (the original ``compute_metrics_dp.py`` command line).

    python evaluation/compute_metrics_dp.py --input_dir out/aime24 --output_file out/aime24/metrics.json \\
        --tokenizer_name_or_path <model>

Reads every ``dp_rank*`` file (de-duplicated by prompt), grades each generation in a process
pool with a per-sample timeout, and writes per ``source`` (benchmark): ``pass@n``, ``avg@n``,
``mj@n``, unbiased ``pass@k`` for every k dividing n, token counts of correct / incorrect / all
responses, entropy, time per sample, grader errors and timeouts, and tool-use analytics (code
calls per response, share using code, code error rate, share showing delayed computation or
code distrust). The original's math_verify numbers are reported alongside (``*_lenient``).
Next to the JSON: ``metrics.md`` (a table) and ``metrics.png`` (accuracy vs tokens).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
from collections import defaultdict
from multiprocessing.pool import Pool

import numpy as np
from tqdm.auto import tqdm

from cort import hints, protocol
from cort.executor.result import is_error_text
from evaluation.grader import grade_detailed, grade_lenient, majority_index
from infer.io import output_files, read_jsonl_tolerant

_TOKENIZER = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Original flags plus workers, timeout and grading mode."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input_dir", default="gsm8k.jsonl", type=str)
    ap.add_argument("--tokenizer_name_or_path", default="", type=str,
                    help="tokenizer for token counts; empty: the bundled SmolLM2 tokenizer")
    ap.add_argument("--output_file", default="output.jsonl", type=str)
    ap.add_argument("--workers", default=max(1, (os.cpu_count() or 1)), type=int)
    ap.add_argument("--timeout", default=30, type=float, help="seconds to grade one sample (all its generations)")
    ap.add_argument("--lenient", action="store_true",
                    help="headline accuracy from the original math_verify scoring instead of the strict grader")
    ap.add_argument("--no_plot", action="store_true")
    return ap.parse_args(argv)


def load_samples(input_dir: str) -> list[dict]:
    """Every sample of the ``dp_rank*`` files, first occurrence of each prompt kept."""
    seen, samples = set(), []
    for path in output_files(input_dir):
        for row in read_jsonl_tolerant(path):
            if row.get("prompt") in seen or "gen" not in row:
                continue
            seen.add(row.get("prompt"))
            samples.append(row)
    return samples


def _init_worker(tokenizer_path: str) -> None:
    global _TOKENIZER
    from transformers import AutoTokenizer

    from cort.models import resolve_model

    _TOKENIZER = AutoTokenizer.from_pretrained(resolve_model(tokenizer_path))


def sequence_entropy(cumulative_logprob: float, length: int) -> float:
    """The original's per-sequence entropy proxy from the cumulative log-probability."""
    if not length:
        return -1.0
    avg = cumulative_logprob / length
    return float(-np.exp(avg) * avg)


def _code_stats(gen: str, calls: int | None, errors: int | None) -> tuple[int, int]:
    outputs = protocol.find_outputs(gen)
    if calls is None:
        calls = len(outputs)
    if errors is None:
        errors = sum(is_error_text(o.text) for o in outputs)
    return calls, errors


def grade_sample(sample: dict) -> dict:
    """Grade every generation of one sample; returns the per-generation facts."""
    gens, ref = sample["gen"], str(sample.get("gt_answer", ""))
    n = len(gens)
    calls_f, errors_f = sample.get("gen_code_calls", [None] * n), sample.get("gen_code_errors", [None] * n)
    out = defaultdict(list)
    for i, gen in enumerate(gens):
        g = grade_detailed(gen, ref)
        out["correct"].append(g.correct)
        out["answers"].append(g.answer)
        out["timeouts"].append(g.timed_out)
        out["lenient"].append(grade_lenient(gen, ref))
        out["tokens"].append(len(_TOKENIZER.encode(gen, add_special_tokens=False)))
        calls, errors = _code_stats(gen, calls_f[i], errors_f[i])
        out["code_calls"].append(calls)
        out["code_errors"].append(errors)
        out["delayed"].append(bool(hints.detect_delayed_computation(gen)))
        out["distrust"].append(bool(hints.detect_code_distrust(gen)))
    lp, sl = sample.get("gen_cumulative_logprob", []), sample.get("gen_cumulative_seq_len", [])
    out["entropy"] = [sequence_entropy(a, b) for a, b in zip(lp, sl)] if len(lp) == n == len(sl) else []
    best = majority_index(out["answers"])
    out["mj_correct"] = [best is not None and out["correct"][best]]
    return dict(out)


def unbiased_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) (Chen et al. 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def aggregate(samples: list[dict], graded: list[dict | None], lenient_headline: bool) -> dict:
    """Per-source metrics from graded samples (None: grading failed or timed out)."""
    by_source: dict[str, list[tuple[dict, dict | None]]] = defaultdict(list)
    for s, g in zip(samples, graded):
        by_source[s.get("source", "NA")].append((s, g))
    metrics = {}
    for source, pairs in sorted(by_source.items()):
        n = len(pairs[0][0]["gen"])
        ok = [g for _, g in pairs if g is not None]
        errors = len(pairs) - len(ok)
        key = "lenient" if lenient_headline else "correct"
        flat = lambda field: [x for g in ok for x in g[field]]  # noqa: E731
        correct, tokens = flat(key), flat("tokens")
        per_sample = [(len(g[key]), sum(g[key])) for g in ok] + [(n, 0)] * errors
        m = {
            f"pass@{n}": float(np.mean([c > 0 for _, c in per_sample])),
            f"avg@{n}": float(np.mean([c / max(k, 1) for k, c in per_sample])),
            f"mj@{n}": float(np.mean([g["mj_correct"][0] for g in ok] + [False] * errors)),
            f"pass@{n}_lenient": float(np.mean([any(g["lenient"]) for g in ok] + [False] * errors)),
            f"avg@{n}_lenient": float(np.mean([np.mean(g["lenient"]) for g in ok] + [0.0] * errors)),
        }
        for k in range(1, n + 1):
            if n % k == 0:
                m[f"pass@{k}_unbiased"] = float(np.mean([unbiased_pass_at_k(nn, c, k) for nn, c in per_sample]))
        right = [t for t, c in zip(tokens, correct) if c]
        wrong = [t for t, c in zip(tokens, correct) if not c]
        calls, errs = flat("code_calls"), flat("code_errors")
        entropy = flat("entropy")
        times = [s["time_use"] for s, _ in pairs if "time_use" in s]
        m.update({
            "avg_tokens_correct_response": float(np.mean(right)) if right else -1,
            "avg_tokens_incorrect_response": float(np.mean(wrong)) if wrong else -1,
            "avg_tokens_overall_response": float(np.mean(tokens)) if tokens else -1,
            "avg_entropy_mean": float(np.mean(entropy)) if entropy else -1,
            "time_use_mean": float(np.mean(times)) if times else -1,
            "time_use_sum": float(np.sum(times)) if times else -1,
            "code_calls_per_response": float(np.mean(calls)) if calls else 0.0,
            "share_responses_using_code": float(np.mean([c > 0 for c in calls])) if calls else 0.0,
            "code_error_rate": float(sum(errs) / sum(calls)) if sum(calls) else 0.0,
            "share_delayed_computation": float(np.mean(flat("delayed"))) if ok else 0.0,
            "share_code_distrust": float(np.mean(flat("distrust"))) if ok else 0.0,
            "sample_size": len(pairs),
            "num_verify_error": errors,
            "num_grader_timeouts": int(sum(flat("timeouts"))),
        })
        metrics[source] = m
    return metrics


def grade_all(samples: list[dict], tokenizer_path: str, workers: int, timeout: float) -> list[dict | None]:
    """Grade samples in a process pool; a sample over ``timeout`` seconds counts as an error."""
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = Pool(workers, initializer=_init_worker, initargs=(tokenizer_path,), context=ctx)
    try:
        pending = [pool.apply_async(grade_sample, (s,)) for s in samples]
        results = []
        for res in tqdm(pending, desc="grading", unit="sample"):
            try:
                results.append(res.get(timeout=timeout))
            except mp.TimeoutError:
                results.append(None)
            except Exception as err:  # noqa: BLE001 - counted as a grader error
                print(f"grader error: {err}", file=sys.stderr)
                results.append(None)
    finally:
        pool.terminate()
        pool.join()
    return results


def write_markdown(metrics: dict, path: str) -> str:
    """A table of the headline metrics per benchmark; returns it."""
    rows = ["| name | n | avg@n | pass@n | mj@n | avg@n (lenient) | avg tokens | code calls/resp | code error rate | delayed comp. | code distrust |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for source, m in metrics.items():
        n = next(k.split("@")[1] for k in m if k.startswith("avg@") and not k.endswith("lenient"))
        rows.append(f"| {source} | {m['sample_size']}x{n} | {m[f'avg@{n}']:.3f} | {m[f'pass@{n}']:.3f} | "
                    f"{m[f'mj@{n}']:.3f} | {m[f'avg@{n}_lenient']:.3f} | {m['avg_tokens_overall_response']:.0f} | "
                    f"{m['code_calls_per_response']:.2f} | {m['code_error_rate']:.2f} | "
                    f"{m['share_delayed_computation']:.2f} | {m['share_code_distrust']:.2f} |")
    table = "\n".join(rows) + "\n"
    with open(path, "w") as fh:
        fh.write(table)
    return table


def write_plot(metrics: dict, path: str, title: str = "") -> None:
    """Accuracy (avg@n) against average response tokens, one point per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for source, m in metrics.items():
        n = next(k.split("@")[1] for k in m if k.startswith("avg@") and not k.endswith("lenient"))
        x, y = m["avg_tokens_overall_response"], m[f"avg@{n}"]
        ax.scatter([x], [y], s=60)
        ax.annotate(source, (x, y), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("average tokens per response")
    ax.set_ylabel("accuracy (avg@n)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title or "accuracy vs tokens")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Grade, aggregate, write JSON, markdown and plot."""
    args = parse_args(argv)
    samples = load_samples(args.input_dir)
    if not samples:
        print(f"error: {args.input_dir}: no dp_rank*.jsonl results found", file=sys.stderr)
        return 2
    graded = grade_all(samples, args.tokenizer_name_or_path, args.workers, args.timeout)
    metrics = aggregate(samples, graded, args.lenient)
    out_dir = os.path.dirname(os.path.abspath(args.output_file))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.output_file + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(metrics, fh, indent=4)
    os.replace(tmp, args.output_file)
    table = write_markdown(metrics, os.path.join(out_dir, "metrics.md"))
    if not args.no_plot:
        write_plot(metrics, os.path.join(out_dir, "metrics.png"), os.path.basename(os.path.normpath(args.input_dir)))
    print(json.dumps(metrics, indent=4))
    print(table)
    print(f"write to {args.output_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
