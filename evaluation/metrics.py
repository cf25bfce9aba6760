"""Grading and aggregation of inference results: pure functions over rows, plus one process-pool driver.

:func:`load_samples` reads an output folder strictly (one error with file, line and field for a
row that cannot be scored); :func:`grade_sample` grades one row's generations both the original's
way (:mod:`evaluation.original_grading`) and with the strict grader; :func:`aggregate` turns graded
rows into per-``source`` metrics under the original's key names, the strict grader's under
``*_strict``. :mod:`evaluation.report` renders them.
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
from evaluation import deepscaler_grading, original_grading
from evaluation.bootstrap import bootstrap_ci
from evaluation.grader import grade_detailed, majority_index

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
    """The original's per-sequence entropy proxy: ``-p * log p`` of the mean token log-probability."""
    avg = cumulative_logprob / length
    return float(-np.exp(avg) * avg)


def original_entropies(sample: dict) -> list[float]:
    """Per generation, as the original: its entropy proxy, or -1 for every one when the log-prob lists do not match.

    A generation of no tokens (the original divides by zero there and loses the whole sample) gets -1.
    """
    n = len(sample["gen"])
    lp, sl = sample.get("gen_cumulative_logprob", []), sample.get("gen_cumulative_seq_len", [])
    if not (len(lp) == n == len(sl)):
        return [-1.0] * n
    return [sequence_entropy(a, b) if b else -1.0 for a, b in zip(lp, sl)]


def _code_stats(gen: str, calls: int | None, errors: int | None) -> tuple[int, int]:
    outputs = protocol.find_outputs(gen)
    if calls is None:
        calls = len(outputs)
    if errors is None:
        errors = sum(is_error_text(o.text) for o in outputs)
    return calls, errors


def grade_sample(sample: dict) -> dict:
    """Grade every generation of one sample both ways; returns the per-generation facts.

    ``mv``: the original's grading (math_verify over the whole response); ``ds``: the DeepScaleR
    grader on the text after ``</think>`` (:mod:`evaluation.deepscaler_grading`); ``strict``: the
    project's final-answer grader. Majorities: ``mv_mj`` as the original computes it (the row's
    ``majority_answer`` when present, else math_verify groups), ``strict_mj`` from strict groups.
    """
    gens, ref = sample["gen"], str(sample["gt_answer"])
    n = len(gens)
    calls_f, errors_f = sample.get("gen_code_calls", [None] * n), sample.get("gen_code_errors", [None] * n)
    gold = original_grading.parse_reference(ref)
    parsed = [original_grading.parse_response(gen) for gen in gens]
    out = defaultdict(list)
    for i, gen in enumerate(gens):
        g = grade_detailed(gen, ref)
        out["strict"].append(g.correct)
        out["answers"].append(g.answer)
        out["timeouts"].append(g.timed_out)
        out["mv"].append(original_grading.verify(gold, parsed[i]))
        out["ds"].append(deepscaler_grading.grade_response(gen, ref))
        out["tokens"].append(len(_TOKENIZER.encode(gen, add_special_tokens=False)))
        calls, errors = _code_stats(gen, calls_f[i], errors_f[i])
        out["code_calls"].append(calls)
        out["code_errors"].append(errors)
        out["delayed"].append(bool(hints.detect_delayed_computation(gen)))
        out["distrust"].append(bool(hints.detect_code_distrust(gen)))
    out["infra_errors"] = list(sample.get("gen_infra_errors") or [0] * n)
    entropies = original_entropies(sample)
    result = dict(out)
    with np.errstate(divide="ignore", invalid="ignore"):
        result["entropy_mean"] = float(np.mean(entropies))
        result["entropy_cv"] = float(np.std(entropies) / np.mean(entropies))
    result["mv_mj"], result["mv_mj_unparsed"] = original_grading.majority_correct(
        gold, parsed, sample.get("majority_answer", original_grading.ABSENT))
    best = majority_index(out["answers"])
    result["strict_mj"] = best is not None and out["strict"][best]
    return result


def unbiased_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) (Chen et al. 2021); needs k <= n."""
    if not 0 < k <= n:
        raise ValueError(f"pass@{k} needs between 1 and n={n} samples per problem")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _mean_or(values: list, default: float = -1) -> float:
    return float(np.mean(values)) if len(values) else default


def _accuracy(graded: list[dict], field: str, suffix: str, k: int) -> dict:
    """pass@k, avg@k, mj@k, unbiased pass@j (j dividing k) and bootstrap CIs from one grading."""
    hits = [g[field] for g in graded]
    passed = [float(any(h)) for h in hits]
    rate = [sum(h) / len(h) for h in hits]
    m = {f"pass@{k}{suffix}": float(np.mean(passed)), f"avg@{k}{suffix}": float(np.mean(rate)),
         f"mj@{k}{suffix}": _mean_or([g[f"{field}_mj"] for g in graded])}
    for j in range(1, k + 1):
        if k % j == 0:
            m[f"pass@{j}_unbiased{suffix}"] = float(np.mean([unbiased_pass_at_k(len(h), sum(h), j) for h in hits]))
    m[f"avg@{k}{suffix}_ci95"] = bootstrap_ci(rate)
    m[f"pass@{k}{suffix}_ci95"] = bootstrap_ci(passed)
    return m


def _tokens(graded: list[dict], field: str, suffix: str) -> dict:
    right = [t for g in graded for t, c in zip(g["tokens"], g[field]) if c]
    wrong = [t for g in graded for t, c in zip(g["tokens"], g[field]) if not c]
    return {f"avg_tokens_correct_response{suffix}": _mean_or(right),
            f"avg_tokens_incorrect_response{suffix}": _mean_or(wrong)}


def aggregate(samples: list[dict], graded: list[dict | None]) -> dict:
    """Per-source metrics: the original's keys with its meaning, the strict grader's beside them.

    As in the original, a sample whose grading failed or timed out is left out of its source and
    counted in ``num_verify_error`` (the run's total, repeated in every source); ``k`` is the
    number of generations of the source's rows.
    """
    by_source: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for s, g in zip(samples, graded):
        if g is not None:
            by_source[s.get("source", "NA")].append((s, g))
    failed = sum(g is None for g in graded)
    metrics = {}
    for source, pairs in sorted(by_source.items()):
        ok = [g for _, g in pairs]
        k = len(pairs[0][0]["gen"])
        flat = lambda field, ok=ok: [x for g in ok for x in g[field]]  # noqa: E731
        tokens, calls, errs = flat("tokens"), flat("code_calls"), flat("code_errors")
        times = [s["time_use"] for s, _ in pairs if "time_use" in s]
        m = _accuracy(ok, "mv", "", k)
        ds = [g["ds"] for g in ok]
        m[f"pass@{k}_deepscaler"] = float(np.mean([any(h) for h in ds]))
        m[f"avg@{k}_deepscaler"] = float(np.mean([sum(h) / len(h) for h in ds]))
        m.update(_tokens(ok, "mv", ""))
        m.update({
            "avg_tokens_overall_response": _mean_or(tokens),
            "avg_entropy_mean": _mean_or([g["entropy_mean"] for g in ok]),
            "avg_entropy_cv": _mean_or([g["entropy_cv"] for g in ok]),
            "time_use_mean": _mean_or(times), "time_use_std": float(np.std(times)) if times else -1,
            "time_use_sum": float(np.sum(times)) if times else -1,
            "sample_size": len(pairs), "num_verify_error": failed,
        })
        m.update(_accuracy(ok, "strict", "_strict", k))
        m.update(_tokens(ok, "strict", "_strict"))
        m.update({
            "code_calls_per_response": _mean_or(calls, 0.0),
            "share_responses_using_code": _mean_or([c > 0 for c in calls], 0.0),
            "code_error_rate": float(sum(errs) / sum(calls)) if sum(calls) else 0.0,
            "share_delayed_computation": _mean_or(flat("delayed"), 0.0),
            "share_code_distrust": _mean_or(flat("distrust"), 0.0),
            "num_grader_timeouts": int(sum(flat("timeouts"))),
            "num_infra_error_responses": int(sum(bool(x) for x in flat("infra_errors"))),
            "num_majority_unparsed": int(sum(g["mv_mj_unparsed"] for g in ok)),
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
