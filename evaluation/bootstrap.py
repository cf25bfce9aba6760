"""Confidence intervals of benchmark accuracies: a seeded bootstrap over problems.

AIME has 30 problems: one problem more or less solved moves avg@k by 3.3 points. Resampling the
problems (with replacement) and recomputing the mean shows how much of a difference between two
runs such luck can explain. The generations of a problem stay together (they are not independent).
"""

from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


def bootstrap_ci(per_problem: list[float], level: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED) -> list[float]:
    """``[low, high]`` percentile interval of the mean of ``per_problem`` values (``[]`` for no problems)."""
    values = np.asarray(per_problem, dtype=float)
    if values.size == 0:
        return []
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(resamples, values.size))
    means = values[picks].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return [float(low), float(high)]
