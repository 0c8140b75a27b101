"""Statistics over members: intervals, tests against the baseline, and verdicts.

One GAN run proves little, so every comparison works on the distribution
over members. Each mean gets a bootstrap interval (``scipy.stats.bootstrap``).
Each variant gets a two-sided Mann-Whitney U test against the baseline
(``scipy.stats.mannwhitneyu``), Holm-corrected across all tests of a report.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

# Metrics whose target is 1 (the true tail mass, the true SD) rather than 0.
TARGET_ONE = ("tail_lower_1pct", "tail_upper_1pct", "tail_lower_5pct", "tail_upper_5pct", "sd_ratio")
ALPHA = 0.05


def error_from_target(metric: str, values: np.ndarray) -> np.ndarray:
    """Return how far each value lies from the metric's ideal, so that lower is always better."""
    values = np.asarray(values, dtype=float)
    return np.abs(values - 1.0) if metric in TARGET_ONE else values


def bootstrap_interval(values: np.ndarray, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Return a BCa bootstrap interval for the mean; (nan, nan) for fewer than two values.

    Values that are all equal give the degenerate interval (v, v).
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan"), float("nan")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():
        # BCa warns and returns NaN on samples it cannot correct; the percentile method then serves.
        warnings.simplefilter("ignore")
        result = stats.bootstrap((values,), np.mean, confidence_level=confidence, random_state=seed)
        low, high = result.confidence_interval
        if not (np.isfinite(low) and np.isfinite(high)):
            result = stats.bootstrap(
                (values,), np.mean, confidence_level=confidence, method="percentile", random_state=seed
            )
            low, high = result.confidence_interval
    return float(low), float(high)


def mann_whitney(variant: np.ndarray, baseline: np.ndarray) -> tuple[float, float]:
    """Return the two-sided p-value and the rank-biserial effect of ``variant`` versus ``baseline``.

    Both arrays hold errors from the target (lower is better). The effect is
    ``1 - 2U / (n1 n2)`` with U for the variant, so +1 means every variant
    member beats every baseline member and -1 the reverse.
    """
    variant, baseline = np.asarray(variant, dtype=float), np.asarray(baseline, dtype=float)
    if variant.size == 0 or baseline.size == 0:
        return float("nan"), float("nan")
    if np.all(np.concatenate([variant, baseline]) == variant[0]):
        return 1.0, 0.0
    result = stats.mannwhitneyu(variant, baseline, alternative="two-sided")
    effect = 1.0 - 2.0 * result.statistic / (variant.size * baseline.size)
    return float(result.pvalue), float(effect)


def holm(pvalues: list[float]) -> list[float]:
    """Return Holm-adjusted p-values; NaN entries stay NaN and do not count as tests."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.size, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (order.size - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def verdict(adjusted_p: float, effect: float, alpha: float = ALPHA) -> str:
    """Say whether a variant is better, worse or not distinguishable from the baseline."""
    if not np.isfinite(adjusted_p) or adjusted_p >= alpha or effect == 0:
        return "not distinguishable"
    return "better" if effect > 0 else "worse"
