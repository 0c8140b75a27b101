"""Sampling and scoring with a trained run, and loading its networks safely."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ganlab.data
from ganlab.cli import main
from ganlab.inference import anomaly_ranks, sample
from ganlab.networks import load_networks

QUICK = [
    "--steps",
    "40",
    "--members",
    "2",
    "--batch-size",
    "32",
    "--set",
    "eval_every=20",
    "--set",
    "eval_samples=400",
]


GALTON_FILE = Path(ganlab.data.__file__).with_name("galton_sons.csv")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mbd"
    result = invoke("run", "--variant", "minibatch-discrimination", *QUICK, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_sample_writes_values(run_dir, tmp_path):
    out = tmp_path / "synthetic.csv"
    result = invoke("sample", run_dir, "-n", 300, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Using member" in result.output
    rows = read_rows(out)
    assert len(rows) == 300
    assert all(np.isfinite(float(row["value"])) for row in rows)


def test_sample_same_seed_same_file(run_dir, tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    invoke("sample", run_dir, "-n", 50, "-o", first, "--member", 1, "--seed", 3)
    invoke("sample", run_dir, "-n", 50, "-o", second, "--member", 1, "--seed", 3)
    assert first.read_bytes() == second.read_bytes()


def test_sample_independent_of_batch(run_dir):
    networks = load_networks(run_dir)
    z = torch.randn(2, 1, 64)
    whole = networks.generator(z)
    alone = torch.cat([networks.generator(z[..., i : i + 1]) for i in range(64)], dim=2)
    torch.testing.assert_close(whole, alone)


def test_sample_in_data_units(run_dir):
    values = sample(load_networks(run_dir), 2000, member=0)
    # Heights in inches: a trained or half-trained generator stays within tens of inches of 69.
    assert 40 < np.median(values) < 100


def test_score_ranks_and_flags(run_dir, tmp_path):
    data = tmp_path / "people.csv"
    data.write_text("name,height\nann,69\nbob,70.5\ncy,40\ndee,120\n")
    out = tmp_path / "scores.csv"
    result = invoke("score", run_dir, data, "-o", out, "--member", 0)
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert [row["value"] for row in rows] == ["69", "70.5", "40", "120"]
    assert [row["outside_training_range"] for row in rows] == ["false", "false", "true", "true"]
    assert sorted(int(row["anomaly_rank"]) for row in rows) == [1, 2, 3, 4]
    probabilities = [float(row["probability_real"]) for row in rows]
    assert all(0.0 <= p <= 1.0 for p in probabilities)


def test_anomaly_ranks_lowest_first():
    assert list(anomaly_ranks(np.array([0.9, 0.1, 0.5]))) == [3, 1, 2]


def test_score_on_galton_values(run_dir, tmp_path):
    out = tmp_path / "galton_scores.csv"
    result = invoke("score", run_dir, GALTON_FILE, "--column", "height", "-o", out)
    assert result.exit_code == 0, result.output
    assert len(read_rows(out)) == 481


def test_missing_networks_message(run_dir, tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    result = invoke("sample", empty, "-n", 5, "-o", tmp_path / "x.csv", "--member", 0)
    assert result.exit_code == 2
    assert "has no networks.pt" in result.output
    assert "Traceback" not in result.output


def test_truncated_networks_message(run_dir, tmp_path):
    broken = tmp_path / "broken_run"
    broken.mkdir()
    data = (run_dir / "networks.pt").read_bytes()
    (broken / "networks.pt").write_bytes(data[: len(data) // 2])
    result = invoke("sample", broken, "-n", 5, "-o", tmp_path / "x.csv", "--member", 0)
    assert result.exit_code == 2
    assert "truncated or corrupt" in result.output


def test_other_format_message(run_dir, tmp_path):
    old = tmp_path / "old_run"
    old.mkdir()
    payload = torch.load(run_dir / "networks.pt", weights_only=True)
    payload["format"] = 99
    torch.save(payload, old / "networks.pt")
    result = invoke("sample", old, "-n", 5, "-o", tmp_path / "x.csv", "--member", 0)
    assert result.exit_code == 2
    assert "format 99" in result.output


def test_member_out_of_range(run_dir, tmp_path):
    result = invoke("sample", run_dir, "-n", 5, "-o", tmp_path / "x.csv", "--member", 7)
    assert result.exit_code == 2
    assert "members 0 to 1" in result.output


def test_existing_output_needs_overwrite(run_dir, tmp_path):
    out = tmp_path / "taken.csv"
    out.write_text("mine\n")
    result = invoke("sample", run_dir, "-n", 5, "-o", out)
    assert result.exit_code == 2
    assert out.read_text() == "mine\n"


def test_sample_and_score_galton_run(tmp_path):
    run = tmp_path / "galton_run"
    result = invoke("run", "--dataset", "galton", *QUICK, "--out", run)
    assert result.exit_code == 0, result.output

    synthetic = tmp_path / "synthetic.csv"
    assert invoke("sample", run, "-n", 100, "-o", synthetic).exit_code == 0
    values = np.array([float(row["value"]) for row in read_rows(synthetic)])
    assert values.size == 100

    scores = tmp_path / "scores.csv"
    result = invoke("score", run, GALTON_FILE, "--column", "height", "-o", scores)
    assert result.exit_code == 0, result.output
    rows = read_rows(scores)
    # Every son's height lies inside the range the galton model was trained on.
    assert {row["outside_training_range"] for row in rows} == {"false"}
    assert len(rows) == 481
