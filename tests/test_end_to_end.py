"""The article's full budget end to end. Opt-in: python -m pytest -m slow."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ganlab.cli import main


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["heights", "galton"])
def test_default_compare_full_budget(tmp_path, dataset):
    out = tmp_path / dataset
    result = CliRunner().invoke(main, ["compare", "--dataset", dataset, "--out", str(out)])
    assert result.exit_code == 0, result.output

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["variants"]) == {"baseline", "feature-matching", "minibatch-discrimination"}
    for name, entry in summary["variants"].items():
        assert entry["summary"]["w1"]["members"] == 8, name
    plan = json.loads((out / "comparison.json").read_text())
    assert plan["config"]["steps"] == 10_000
    assert plan["config"]["batch_size"] == 200
