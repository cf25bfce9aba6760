"""Grading and aggregation of inference results: pure functions over rows, plus one process-pool driver.

:func:`load_samples` reads an output folder strictly (one error with file, line and field for a
row that cannot be scored); :func:`grade_sample` grades one row's generations; :func:`aggregate`
turns graded rows into per-``source`` metrics. :mod:`evaluation.report` renders them.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import sys
from collections import defaultdict
from multiprocessing.pool import Pool

import numpy as np
from tqdm.auto import tqdm

from cort import hints, protocol
from cort.errors import InputError
from cort.executor.result import is_error_text
from cort.io import Field, check_per_generation, read_jsonl_tolerant, result_files
from evaluation.grader import grade_detailed, grade_lenient, majority_index

logger = logging.getLogger(__name__)
SAMPLE_FIELDS = (Field("prompt"), Field("gen", (list,), items=str), Field("gt_answer", (str, int, float)))
_TOKENIZER = None


def load_samples(input_dir: str) -> list[dict]:
    """Every row of the ``dp_rank*`` files, checked; the first occurrence of each prompt kept.

    A row is refused (:class:`InputError`, file:line and field) when it has no prompt, no
    reference answer or no list of generations, or when its number of generations differs from
    the other rows of its ``source`` (pass@k and avg@k need the same n everywhere).
    """
    seen, samples, n_of_source = set(), [], {}
    for path in result_files(input_dir):
        for line, row in read_jsonl_tolerant(path):
            for rule in SAMPLE_FIELDS:
                rule.check(row, path, line)
            check_per_generation(row, path, line)
            source = row.get("source", "NA")
            n = n_of_source.setdefault(source, (len(row["gen"]), path, line))
            if len(row["gen"]) != n[0]:
                raise InputError(path, f"has {len(row['gen'])} generations, but {n[1]}:{n[2]} of the same "
                                 f"source {source!r} has {n[0]}", line, "gen")
            if row["prompt"] in seen:
                continue
            seen.add(row["prompt"])
            samples.append(row)
    return samples


def load_worker_tokenizer(tokenizer_path: str) -> None:
    """Load the tokenizer :func:`grade_sample` counts tokens with (in each worker process).

    Each worker loads its own copy: a tokenizer loaded before ``fork`` can deadlock in the child.
    """
    global _TOKENIZER
    from transformers import AutoTokenizer

    _TOKENIZER = AutoTokenizer.from_pretrained(tokenizer_path)


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
    gens, ref = sample["gen"], str(sample["gt_answer"])
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
    out["infra_errors"] = list(sample.get("gen_infra_errors") or [0] * n)
    lp, sl = sample.get("gen_cumulative_logprob", []), sample.get("gen_cumulative_seq_len", [])
    out["entropy"] = [sequence_entropy(a, b) for a, b in zip(lp, sl)] if len(lp) == n == len(sl) else []
    best = majority_index(out["answers"])
    out["mj_correct"] = [best is not None and out["correct"][best]]
    return dict(out)


def unbiased_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) (Chen et al. 2021); needs k <= n."""
    if not 0 < k <= n:
        raise ValueError(f"pass@{k} needs between 1 and n={n} samples per problem")
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
        flat = lambda field, ok=ok: [x for g in ok for x in g[field]]  # noqa: E731
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
            "num_infra_error_responses": int(sum(bool(x) for x in flat("infra_errors"))),
        })
        metrics[source] = m
    return metrics


def grade_all(samples: list[dict], tokenizer_path: str, workers: int, timeout: float) -> list[dict | None]:
    """Grade samples in a process pool; a sample over ``timeout`` seconds counts as an error."""
    # never plain fork: this process has threads (tokenizer, hub telemetry, tqdm) whose locks a forked
    # child can inherit held, and then grading hangs; a fork server starts clean, with the grader preloaded
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["evaluation.metrics"])
    else:
        ctx = mp.get_context("spawn")
    pool = Pool(workers, initializer=load_worker_tokenizer, initargs=(tokenizer_path,), context=ctx)
    try:
        pending = [pool.apply_async(grade_sample, (s,)) for s in samples]
        results = []
        for res in tqdm(pending, desc="grading", unit="sample"):
            try:
                results.append(res.get(timeout=timeout))
            except mp.TimeoutError:
                results.append(None)
            except Exception as err:  # noqa: BLE001 - counted as a grader error
                logger.warning("grader error: %s", err)
                results.append(None)
    finally:
        pool.terminate()
        pool.join()
    return results
