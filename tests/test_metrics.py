"""Known-answer checks for ganlab.metrics: analytic quantiles, point masses, hand cases."""

import numpy as np
import pytest
from scipy import stats

from ganlab.metrics import (
    boundary_deviation,
    convergence_step,
    ks_statistic,
    sd_ratio,
    tail_coverage,
    wasserstein,
)

MEAN, SD = 69.0, 3.0
N = 100_000


@pytest.fixture(scope="module")
def exact_quantiles():
    """N(69, 3) quantiles at (i + 0.5) / n: a sample with no sampling noise."""
    return stats.norm(MEAN, SD).ppf((np.arange(N) + 0.5) / N)


@pytest.mark.parametrize("q", [0.01, 0.05])
def test_tail_coverage_exact_normal(exact_quantiles, q):
    lower, upper = stats.norm(MEAN, SD).ppf([q, 1 - q])

    below, above = tail_coverage(exact_quantiles, lower, upper, q)

    assert below == pytest.approx(1.0, abs=0.01)
    assert above == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("q", [0.01, 0.05])
def test_tail_coverage_point_mass(q):
    lower, upper = stats.norm(MEAN, SD).ppf([q, 1 - q])

    below, above = tail_coverage(np.full(1000, MEAN), lower, upper, q)

    assert below == 0.0
    assert above == 0.0


def test_tail_coverage_hand_case():
    # Two of ten samples lie below 60 and one lies above 80, so the shares are 0.2 and 0.1.
    samples = np.array([55.0, 59.0, 60.0, 65.0, 69.0, 70.0, 72.0, 75.0, 80.0, 85.0])

    below, above = tail_coverage(samples, lower=60.0, upper=80.0, q=0.1)

    assert below == pytest.approx(2.0)
    assert above == pytest.approx(1.0)


def test_sd_ratio_exact_quantiles(exact_quantiles):
    assert sd_ratio(exact_quantiles, SD) == pytest.approx(1.0, abs=1e-3)


def test_sd_ratio_hand_case():
    # Sample SD (ddof=1) of 1, 2, 3, 4, 5 is sqrt(2.5).
    assert sd_ratio(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 2.0) == pytest.approx(np.sqrt(2.5) / 2.0)


def test_ks_statistic_identical_samples(exact_quantiles):
    assert ks_statistic(exact_quantiles, reference=exact_quantiles.copy()) == 0.0


def test_ks_statistic_exact_quantiles_cdf(exact_quantiles):
    # Each quantile sits half a step of the empirical CDF from the true CDF, so D = 0.5 / n.
    statistic = ks_statistic(exact_quantiles, cdf=stats.norm(MEAN, SD).cdf)

    assert statistic < 1e-3
    assert statistic == pytest.approx(0.5 / N, rel=1e-3)


def test_ks_statistic_disjoint_samples():
    assert ks_statistic(np.arange(10.0), reference=np.arange(10.0) + 100.0) == 1.0


def test_wasserstein_identical_samples(exact_quantiles):
    assert wasserstein(exact_quantiles, exact_quantiles.copy()) == pytest.approx(0.0, abs=1e-12)


def test_wasserstein_shift_by_constant(exact_quantiles):
    assert wasserstein(exact_quantiles + 1.5, exact_quantiles) == pytest.approx(1.5, rel=1e-12)


def test_boundary_deviation_undecided():
    weights = np.full(50, 1 / 50)

    assert boundary_deviation(np.full(50, 0.5), weights) == pytest.approx(0.0)


def test_boundary_deviation_certain():
    weights = np.full(50, 1 / 50)

    assert boundary_deviation(np.ones(50), weights) == pytest.approx(0.5)
    assert boundary_deviation(np.zeros(50), weights) == pytest.approx(0.5)


def test_boundary_deviation_weighted_hand_case():
    # |D - 0.5| is 0, 0.4 and 0.3, so the weighted mean is 0.5 * 0 + 0.25 * 0.4 + 0.25 * 0.3 = 0.175.
    probabilities = np.array([0.5, 0.9, 0.2])
    weights = np.array([0.5, 0.25, 0.25])

    assert boundary_deviation(probabilities, weights) == pytest.approx(0.175)


def test_boundary_deviation_per_member_rows():
    probabilities = np.array([[0.5, 0.9, 0.2], [1.0, 1.0, 1.0]])
    weights = np.array([0.5, 0.25, 0.25])

    deviation = boundary_deviation(probabilities, weights)

    assert deviation.shape == (2,)
    np.testing.assert_allclose(deviation, [0.175, 0.5])


STEPS = np.array([100, 200, 300, 400, 500])


def test_convergence_step_always_below():
    assert convergence_step(STEPS, np.full(5, 0.01), threshold=0.05) == 100


def test_convergence_step_ends_above():
    deviations = np.array([0.01, 0.01, 0.01, 0.01, 0.2])

    assert convergence_step(STEPS, deviations, threshold=0.05) is None


def test_convergence_step_never_below():
    assert convergence_step(STEPS, np.full(5, 0.3), threshold=0.05) is None


def test_convergence_step_after_last_excursion():
    # Below at 200, above again at 300, then below for good from 400.
    deviations = np.array([0.2, 0.01, 0.2, 0.03, 0.02])

    assert convergence_step(STEPS, deviations, threshold=0.05) == 400


def test_convergence_step_threshold_is_strict():
    # A deviation equal to the threshold does not count as below it.
    deviations = np.array([0.01, 0.05, 0.01, 0.01, 0.01])

    assert convergence_step(STEPS, deviations, threshold=0.05) == 300


def test_convergence_step_empty_history():
    assert convergence_step(np.array([], dtype=int), np.array([]), threshold=0.05) is None
