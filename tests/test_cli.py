"""The command line, driven through click's CliRunner, bad input included."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from click.testing import CliRunner

from ganlab.cli import main

# A budget small enough for a test: a few seconds per variant on two cores.
QUICK = [
    "--steps", "40", "--members", "2", "--batch-size", "32",
    "--set", "eval_every=20", "--set", "eval_samples=400", "--set", "boundary_grid=50",
]  # fmt: skip


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_usage_error(result, *fragments: str) -> None:
    """Check for exit code 2, the message fragments and no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def test_list_names_variants_and_datasets():
    result = invoke("list")
    assert result.exit_code == 0
    for name in ("baseline", "feature-matching", "minibatch-discrimination", "heights", "galton"):
        assert name in result.output


def test_run_writes_run_folder(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--variant", "feature-matching", *QUICK, "--out", str(out))
    assert result.exit_code == 0, result.output
    expected = {
        "config.json", "metrics.json", "history.csv", "samples.csv", "networks.pt", "boundary.npz",
        "density.png", "boundary.png", "losses.png", "manifest.json",
    }  # fmt: skip
    assert expected <= {p.name for p in out.iterdir()}
    assert "tail coverage" in result.output

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["variant"] == "feature-matching"
    assert len(metrics["members"]) == 2
    with open(out / "history.csv", newline="") as file:
        history = list(csv.DictReader(file))
    assert [int(row["step"]) for row in history] == [20, 20, 40, 40]
    with open(out / "samples.csv", newline="") as file:
        samples = list(csv.reader(file))
    assert samples[0] == ["member_0", "member_1"]
    assert len(samples) == 401

    networks = torch.load(out / "networks.pt", weights_only=True)
    assert networks["format"] == 1
    assert networks["config"]["variant"] == "feature-matching"
    assert networks["generator"]["output.weight"].shape == (2, 1, 10)


def test_run_on_galton(tmp_path):
    out = tmp_path / "galton"
    result = invoke("run", "--dataset", "galton", *QUICK, "--out", str(out))
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["rows"] == 481


def test_run_on_user_csv(tmp_path):
    data = tmp_path / "heights.csv"
    data.write_text("name,height\n" + "".join(f"p{i},{60 + (i * 7) % 20}\n" for i in range(100)))
    out = tmp_path / "user"
    result = invoke("run", "--dataset", str(data), *QUICK, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "metrics.json").exists()


def test_unknown_variant_suggests_match(tmp_path):
    result = invoke("run", "--variant", "feature-matchin", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "'feature-matchin'", "Did you mean 'feature-matching'", "baseline")


def test_unknown_dataset_lists_known(tmp_path):
    result = invoke("run", "--dataset", "heigths", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "'heigths'", "Did you mean 'heights'", "galton")


def test_missing_csv_named(tmp_path):
    result = invoke("run", "--dataset", str(tmp_path / "none.csv"), "--out", str(tmp_path / "x"))
    assert_usage_error(result, "none.csv", "not found")


def test_non_number_names_line(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("height\n70\n71\nseventy\n")
    result = invoke("run", "--dataset", str(data), "--out", str(tmp_path / "x"))
    assert_usage_error(result, "bad.csv", "line 4", "'seventy'")


def test_too_few_rows_for_batch(tmp_path):
    data = tmp_path / "small.csv"
    data.write_text("height\n" + "".join(f"{60 + i}\n" for i in range(10)))
    result = invoke("run", "--dataset", str(data), "--batch-size", "32", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "small.csv", "10 value(s)", "--batch-size")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--steps", "0", "--steps"),
        ("--members", "0", "--members"),
        ("--batch-size", "1", "--batch-size"),
        ("--set", "bogus=1", "unknown setting 'bogus'"),
        ("--set", "dropout=abc", "expected a float"),
        ("--set", "dropout=1.5", "dropout must be in [0, 1)"),
        ("--set", "generator_input=gaussian", "generator_input must be one of"),
        ("--set", "kernels=0", "kernels must be at least 1"),
        ("--device", "tpu", "--device"),
        ("--threads", "100000", "--threads"),
        ("--set", "learning_rate=nan", "learning_rate must be a positive finite number"),
    ],
)
def test_bad_option_exits_2(tmp_path, option, value, fragment):
    args = ["run", option, value, "--out", str(tmp_path / "x")]
    if value.startswith("kernels"):
        args[1:1] = ["--variant", "minibatch-discrimination"]
    assert_usage_error(invoke(*args), fragment)


def test_memory_estimate_above_available(tmp_path, monkeypatch):
    # 1,000 members at batch 200 need about 2.3 GiB by the estimate; pretend 1 GiB is free.
    monkeypatch.setattr("ganlab.cli.options.available_memory", lambda: 2**30)
    result = invoke("run", "--members", "1000", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "1000 members at batch size 200", "GiB", "--members")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["run", "compare"])
def test_out_of_memory_message(tmp_path, monkeypatch, command):
    def exhaust(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr("ganlab.study.run_variant", exhaust)
    result = invoke(command, *QUICK, "--out", str(tmp_path / "x"))
    assert result.exit_code == 1, result.output
    assert "out of memory while training 2 members at batch size 32" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_exits_2(tmp_path):
    result = invoke("run", "--device", "cuda", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "CUDA is not available")


def test_existing_out_needs_overwrite(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = invoke("run", *QUICK, "--out", str(out))
    assert_usage_error(result, "--overwrite")
    assert (out / "keep.txt").read_text() == "mine"


def test_compare_writes_report(tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", "--variants", "baseline,minibatch-discrimination", *QUICK, "--out", str(out))
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    for heading in ("## Tail coverage", "## Decision-boundary convergence", "## Distribution distance",
                    "## Wall-clock cost"):  # fmt: skip
        assert heading in report
    assert "| minibatch-discrimination |" in report
    for figure in ("densities.png", "boundary_deviation.png", "tail_coverage.png", "qq.png"):
        assert (out / figure).exists()
    assert "against baseline" in report
    html = (out / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 4
    assert "<table>" in html
    assert 'src="http' not in html
    with open(out / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["variants"]) == {"baseline", "minibatch-discrimination"}

    (out / "report.md").unlink()
    rebuilt = invoke("report", str(out))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (out / "report.md").read_text().split("## Tail coverage")[1] == report.split("## Tail coverage")[1]


def test_compare_unknown_variant(tmp_path):
    result = invoke("compare", "--variants", "baseline,minibatch", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "'minibatch'", "Did you mean 'minibatch-discrimination'")


def test_variant_option_names_owner(tmp_path):
    result = invoke("run", "--set", "kernels=8", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "'kernels' is an option of minibatch-discrimination", "--variant")


def test_column_with_builtin_dataset(tmp_path):
    result = invoke("run", "--column", "height", "--out", str(tmp_path / "x"))
    assert_usage_error(result, "--column 'height' applies to CSV files")


def test_animate_writes_gif(tmp_path):
    out = tmp_path / "anim"
    result = invoke("run", *QUICK, "--animate", "--out", str(out))
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(out / "training.gif") as gif:
        # One frame per evaluation: steps 20 and 40.
        assert gif.n_frames == 2


def test_overwrite_spares_foreign_folder(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("run", *QUICK, "--out", str(out), "--overwrite")
    assert_usage_error(result, "does not look like ganlab output")
    assert (out / "notes.txt").read_text() == "mine"


def test_overwrite_refuses_parent_folder(tmp_path, monkeypatch):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "keep.txt").write_text("mine")
    monkeypatch.chdir(inner)
    result = invoke("run", *QUICK, "--out", "..", "--overwrite")
    assert_usage_error(result, "is the current folder or contains it")
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_overwrite_replaces_run_folder(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *QUICK, "--out", str(out)).exit_code == 0
    result = invoke("run", *QUICK, "--out", str(out), "--overwrite")
    assert result.exit_code == 0, result.output
    assert (out / "metrics.json").exists()


def test_report_on_damaged_plan(tmp_path):
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / "comparison.json").write_text("{")
    result = invoke("report", str(folder))
    assert_usage_error(result, "is damaged")
