"""Faults during a comparison: kills, interrupts, failing variants, and reruns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ganlab import study
from ganlab.cli import main

VARIANTS = ["--variants", "baseline,feature-matching"]
# Long enough that a kill can land while the second variant trains.
BUDGET = ["--steps", "3000", "--members", "2", "--batch-size", "32", "--set", "eval_every=500",
          "--set", "eval_samples=400", "--set", "boundary_grid=50", "--threads", "1"]  # fmt: skip


def start_compare(out, *extra):
    command = [sys.executable, "-m", "ganlab.cli", "compare", *VARIANTS, *BUDGET, "--out", str(out), *extra]
    # Started outside the source tree, so that the installed package is the one imported.
    return subprocess.Popen(
        command, cwd=out.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(path, process, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"compare ended before {path} appeared: {process.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.02)


def metrics_table(folder):
    return (folder / "metrics.csv").read_text()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "cmp"
    process = start_compare(out)
    _, error = process.communicate(timeout=300)
    assert process.returncode == 0, error
    return out


def test_killed_compare_keeps_finished_and_resumes(tmp_path, uninterrupted):
    out = tmp_path / "cmp"
    process = start_compare(out)
    wait_for(out / "runs" / "baseline" / "metrics.json", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    finished = json.loads((out / "runs" / "baseline" / "metrics.json").read_text())
    assert len(finished["members"]) == 2
    assert not (out / "report.md").exists()
    assert not (out / "runs" / "feature-matching").exists()

    result = CliRunner().invoke(main, ["compare", *VARIANTS, *BUDGET, "--resume", str(out)])
    assert result.exit_code == 0, result.output
    assert metrics_table(out) == metrics_table(uninterrupted)


def test_interrupted_compare_exits_130(tmp_path):
    out = tmp_path / "cmp"
    process = start_compare(out)
    wait_for(out / "runs" / "baseline" / "metrics.json", process)
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Interrupted" in error
    assert "--resume" in error
    assert "Traceback" not in error
    assert (out / "runs" / "baseline" / "metrics.json").exists()


def test_resume_with_other_options_rejected(tmp_path, uninterrupted):
    result = CliRunner().invoke(
        main, ["compare", *VARIANTS, *BUDGET[:-2], "--set", "dropout=0.3", "--resume", str(uninterrupted)]
    )
    assert result.exit_code == 2
    assert "other settings" in result.output


def test_failing_variant_reported(tmp_path, monkeypatch):
    original = study.run_variant

    def run_or_fail(config, *args, **kwargs):
        if config.variant == "feature-matching":
            raise RuntimeError("synthetic failure for the test")
        return original(config, *args, **kwargs)

    monkeypatch.setattr(study, "run_variant", run_or_fail)
    out = tmp_path / "cmp"
    quick = ["--steps", "40", "--members", "2", "--batch-size", "32", "--set", "eval_every=20"]
    result = CliRunner().invoke(main, ["compare", *VARIANTS, *quick, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "## Failed variants" in report
    assert "RuntimeError: synthetic failure for the test" in report
    assert "| baseline |" in report


def test_same_command_same_metrics(tmp_path):
    quick = ["--steps", "60", "--members", "2", "--batch-size", "32", "--set", "eval_every=20"]
    for name in ("first", "second"):
        result = CliRunner().invoke(main, ["run", *quick, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    first = (tmp_path / "first" / "metrics.json").read_bytes()
    second = (tmp_path / "second" / "metrics.json").read_bytes()
    assert first == second


def test_no_partial_files_after_run(tmp_path):
    quick = ["--steps", "20", "--members", "1", "--batch-size", "16", "--set", "eval_every=10"]
    result = CliRunner().invoke(main, ["run", *quick, "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    assert leftovers == []
    assert os.listdir(tmp_path) == ["run"]
