"""Statistics over members, checked on inputs whose results are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganlab.report import compare_members
from ganlab.statistics import bootstrap_interval, error_from_target, holm, mann_whitney, verdict

MEMBERS = np.arange(1.0, 9.0)


def test_identical_samples_not_distinguishable():
    p, effect = mann_whitney(MEMBERS, MEMBERS.copy())
    assert p == pytest.approx(1.0)
    assert effect == 0.0
    assert verdict(p, effect) == "not distinguishable"


def test_lower_error_is_better():
    p, effect = mann_whitney(MEMBERS, MEMBERS + 100)
    # Exact two-sided p for complete separation of 8 against 8: 2 / C(16, 8).
    assert p == pytest.approx(2 / math.comb(16, 8))
    assert effect == 1.0
    assert verdict(p, effect) == "better"


def test_higher_error_is_worse():
    p, effect = mann_whitney(MEMBERS + 100, MEMBERS)
    assert effect == -1.0
    assert verdict(p, effect) == "worse"


def test_holm_hand_computed():
    # Sorted p: 0.01, 0.03, 0.04 with 3 tests: 0.03, max(0.03, 0.06), max(0.06, 0.04).
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_holm_skips_untested():
    adjusted = holm([0.02, float("nan")])
    assert adjusted[0] == pytest.approx(0.02)
    assert math.isnan(adjusted[1])


def test_holm_caps_at_one():
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_bootstrap_interval_covers_mean():
    low, high = bootstrap_interval(MEMBERS)
    assert low < MEMBERS.mean() < high
    assert 1.0 <= low
    assert high <= 8.0


def test_bootstrap_constant_is_degenerate():
    assert bootstrap_interval(np.full(8, 0.25)) == (0.25, 0.25)


def test_error_from_target():
    np.testing.assert_allclose(error_from_target("tail_lower_1pct", [0.0, 1.0, 1.5]), [1.0, 0.0, 0.5])
    np.testing.assert_allclose(error_from_target("w1", [0.0, 1.0]), [0.0, 1.0])


def make_rows(**columns):
    count = len(next(iter(columns.values())))
    rows = []
    for member in range(count):
        row = {"member": member, "diverged": False, "diverged_at": -1}
        for key in ("tail_lower_1pct", "tail_upper_1pct", "tail_lower_5pct", "tail_upper_5pct", "sd_ratio",
                    "boundary_deviation", "convergence_step", "ks", "w1"):  # fmt: skip
            row[key] = columns.get(key, [0.5] * count)[member]
        rows.append(row)
    return rows


def test_report_statistics_verdicts():
    runs = {
        "baseline": {"rows": make_rows(w1=list(MEMBERS + 10))},
        "closer": {"rows": make_rows(w1=list(MEMBERS))},
        "same": {"rows": make_rows(w1=list(MEMBERS + 10))},
    }
    table = compare_members(runs)
    assert table["w1"]["closer"]["verdict"] == "better"
    assert table["w1"]["same"]["verdict"] == "not distinguishable"
    assert table["ks"]["closer"]["verdict"] == "not distinguishable"
    assert "verdict" not in table["w1"]["baseline"]


def test_report_statistics_counts_diverged():
    rows = make_rows(w1=list(MEMBERS))
    rows[0].update(diverged=True, w1=float("nan"))
    table = compare_members({"baseline": {"rows": rows}})
    assert table["w1"]["baseline"]["n"] == 7
    assert table["w1"]["baseline"]["diverged"] == 1
    assert table["w1"]["baseline"]["members"] == 8


def test_unconverged_members_rank_worst():
    never = [float("nan")] * 8
    runs = {
        "baseline": {"rows": make_rows(convergence_step=list(MEMBERS * 100))},
        "slow": {"rows": make_rows(convergence_step=never)},
    }
    entry = compare_members(runs)["convergence_step"]["slow"]
    assert entry["n"] == 0
    assert entry["verdict"] == "worse"
