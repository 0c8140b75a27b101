"""Metrics for the article's questions, as pure functions of arrays.

Nothing here touches torch, so every function can be checked against a
known result: analytic quantiles, a point mass, identical samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

TAIL_LEVELS = (0.01, 0.05)

# Metric keys computed for every member, in report order.
MEMBER_METRICS = (
    "tail_lower_1pct",
    "tail_upper_1pct",
    "tail_lower_5pct",
    "tail_upper_5pct",
    "sd_ratio",
    "boundary_deviation",
    "convergence_step",
    "ks",
    "w1",
)


def tail_coverage(samples: np.ndarray, lower: float, upper: float, q: float) -> tuple[float, float]:
    """Return the generated share below ``lower`` and above ``upper``, each divided by ``q``.

    ``lower`` and ``upper`` are the real q and 1-q quantiles, so 1.0 means a
    tail carries its true mass and 0.0 means the generator never reaches it.
    """
    samples = np.asarray(samples)
    return float(np.mean(samples < lower) / q), float(np.mean(samples > upper) / q)


def sd_ratio(samples: np.ndarray, real_sd: float) -> float:
    """Return the generated standard deviation over the real one."""
    return float(np.std(samples, ddof=1) / real_sd)


def boundary_deviation(probabilities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the density-weighted mean of ``|D(x) - 0.5|`` along the last axis.

    ``weights`` is the real density on the grid, normalised to sum to 1. A
    discriminator that cannot tell real from generated scores 0; one that is
    sure of every point scores 0.5.
    """
    return np.abs(np.asarray(probabilities) - 0.5) @ np.asarray(weights)


def convergence_step(steps: np.ndarray, deviations: np.ndarray, threshold: float) -> int | None:
    """Return the first recorded step from which the deviation stays below ``threshold``.

    None when the last recorded deviation is not below it.
    """
    below = np.asarray(deviations) < threshold
    if below.size == 0 or not below[-1]:
        return None
    above = np.flatnonzero(~below)
    first = 0 if above.size == 0 else above[-1] + 1
    return int(np.asarray(steps)[first])


def ks_statistic(
    samples: np.ndarray,
    cdf: Callable[[np.ndarray], np.ndarray] | None = None,
    reference: np.ndarray | None = None,
) -> float:
    """Return the Kolmogorov-Smirnov statistic against a CDF, or else a reference sample."""
    if cdf is not None:
        return float(stats.kstest(samples, cdf).statistic)
    return float(stats.ks_2samp(samples, reference).statistic)


def wasserstein(samples: np.ndarray, reference: np.ndarray) -> float:
    """Return the 1-Wasserstein distance between two samples, in their units."""
    return float(stats.wasserstein_distance(samples, reference))
