"""Studies: train one variant into a run folder, or compare several into a report.

A run folder is written under ``NAME.partial`` and renamed to ``NAME`` once
every file is in place, so a folder without the suffix is always complete.
"""

from __future__ import annotations

import dataclasses
import io
import platform
import shutil
import sys
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import ganlab
from ganlab import metrics as m
from ganlab import plots
from ganlab.allocator import is_out_of_memory
from ganlab.config import TrainConfig
from ganlab.data import Dataset, load_file
from ganlab.io import read_json, write_bytes, write_csv, write_json
from ganlab.metrics import MEMBER_METRICS
from ganlab.networks import save_networks
from ganlab.registry import DATASETS, UnknownNameError, create_variant, variant_class
from ganlab.trainer import Trainer, TrainResult


def resolve_dataset(name: str, column: str | None = None, batch_size: int = 2) -> Dataset:
    """Return the registered dataset ``name``, or load ``name`` as a CSV path.

    A name that is neither registered nor an existing file raises
    UnknownNameError; a file that cannot be used raises DataFileError.
    """
    if name in DATASETS:
        return DATASETS[name]()
    path = Path(name)
    if path.suffix.lower() in {".csv", ".tsv", ".txt"} or path.exists():
        return load_file(path, column, batch_size)
    raise UnknownNameError("dataset", name, list(DATASETS) + ["PATH.csv"])


def member_metrics(result: TrainResult, dataset: Dataset) -> list[dict]:
    """Compute each member's metrics; a diverged member gets NaN for every metric."""
    config = result.config
    cdf = dataset.cdf if dataset.values is None else None
    reference = dataset.reference_sample(config.eval_samples)
    quantiles = {q: dataset.quantile([q, 1 - q]) for q in m.TAIL_LEVELS}
    rows = []
    for member in range(config.members):
        row = {"member": member, "diverged_at": int(result.diverged_at[member])}
        samples = result.samples[member]
        if row["diverged_at"] >= 0 or not np.all(np.isfinite(samples)):
            row.update({key: float("nan") for key in MEMBER_METRICS})
            row["diverged"] = True
            rows.append(row)
            continue
        row["diverged"] = False
        for q, (lower, upper) in quantiles.items():
            percent = round(q * 100)
            low, high = m.tail_coverage(samples, lower, upper, q)
            row[f"tail_lower_{percent}pct"], row[f"tail_upper_{percent}pct"] = low, high
        row["sd_ratio"] = m.sd_ratio(samples, dataset.sd)
        deviations = result.boundary_deviation[:, member]
        row["boundary_deviation"] = float(deviations[-1])
        step = m.convergence_step(result.steps, deviations, config.boundary_threshold)
        row["convergence_step"] = float("nan") if step is None else step
        row["ks"] = m.ks_statistic(samples, cdf=cdf, reference=reference)
        row["w1"] = m.wasserstein(samples, reference)
        rows.append(row)
    return rows


def summarize(rows: list[dict]) -> dict:
    """Summarise each metric over the members that did not diverge."""
    summary = {}
    for key in MEMBER_METRICS:
        values = np.array([row[key] for row in rows], dtype=float)
        finite = values[np.isfinite(values)]
        entry = {"n": int(finite.size), "members": len(rows)}
        if finite.size:
            entry.update(
                mean=float(finite.mean()),
                sd=float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
                median=float(np.median(finite)),
                min=float(finite.min()),
                max=float(finite.max()),
            )
        summary[key] = entry
    summary["diverged"] = sum(bool(row["diverged"]) for row in rows)
    return summary


def cost(result: TrainResult) -> dict:
    steps = result.config.steps
    return {
        "seconds": result.seconds,
        "steps_per_second": steps / result.seconds,
        "member_steps_per_second": steps * result.config.members / result.seconds,
        "device": result.device,
        "threads": result.threads,
    }


def manifest(config: TrainConfig, started: datetime) -> dict:
    """Describe how, where and with what a folder was produced."""
    return {
        "ganlab": ganlab.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": sys.argv,
        "config": config.to_dict(),
        "config_hash": config.digest(),
        "seed": config.seed,
        "members": config.members,
        "device": config.device,
        "threads": torch.get_num_threads(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_run(
    folder: Path, result: TrainResult, dataset: Dataset, rows: list[dict], started: datetime
) -> dict:
    """Write every file of a run folder; return its metrics document with the cost added.

    metrics.json holds only what the seed determines, so the same command
    gives the same file; the wall-clock cost goes to cost.json.
    """
    config = result.config
    members = range(config.members)
    document = {
        "variant": config.variant,
        "dataset": dataset.describe(),
        "members": rows,
        "summary": summarize(rows),
        "threshold": config.boundary_threshold,
    }
    write_json(folder / "config.json", {"config": config.to_dict(), "dataset": dataset.describe()})
    write_json(folder / "metrics.json", document)
    write_json(folder / "cost.json", cost(result))
    write_csv(
        folder / "history.csv",
        ["step", "member", "learning_rate", "d_loss", "g_loss", "boundary_deviation"],
        (
            [int(step), k, f"{rate:.6g}", f"{d[k]:.6g}", f"{g[k]:.6g}", f"{dev[k]:.6g}"]
            for step, rate, d, g, dev in zip(
                result.steps, result.learning_rate, result.d_loss, result.g_loss, result.boundary_deviation
            )
            for k in members
        ),
    )
    write_csv(
        folder / "samples.csv",
        [f"member_{k}" for k in members],
        ([f"{v:.6g}" for v in row] for row in result.samples.T),
    )
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        steps=result.steps,
        grid=result.grid,
        grid_weights=result.grid_weights,
        boundary_history=result.boundary_history.astype(np.float32),
        snapshots=result.snapshots.astype(np.float32),
    )
    write_bytes(folder / "boundary.npz", buffer.getvalue())
    if result.snapshots.size:
        plots.training_animation(folder / "training.gif", result, dataset)
    save_networks(folder / "networks.pt", config, dataset, result.generator, result.discriminator)
    plots.run_figures(folder, result, dataset, rows)
    write_json(folder / "manifest.json", manifest(config, started))
    return {**document, "cost": read_json(folder / "cost.json")}


# A folder that contains one of these was written by ganlab, so --overwrite may replace it.
OUTPUT_MARKERS = ("manifest.json", "comparison.json", "metrics.json")


def prepare_folder(folder: Path, overwrite: bool) -> None:
    """Raise FileExistsError unless ``folder`` is absent, empty, or ganlab output that may be replaced.

    Replacing is refused for the current folder or any folder above it, and
    for a folder without ganlab's files, so that --overwrite cannot delete
    a user's own files.
    """
    folder = Path(folder)
    resolved = folder.resolve()
    if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
        raise FileExistsError(
            f"{folder} is the current folder or contains it; choose a new folder for --out."
        )
    if not folder.exists() or not any(folder.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(f"{folder} already exists and is not empty; pass --overwrite to replace it.")
    if not any((folder / marker).exists() for marker in OUTPUT_MARKERS):
        raise FileExistsError(
            f"{folder} does not look like ganlab output (it has no {' or '.join(OUTPUT_MARKERS)}), so "
            "--overwrite will not delete it; remove it yourself or choose another --out."
        )


def _publish(partial: Path, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)


def run_variant(
    config: TrainConfig,
    dataset: Dataset,
    folder: Path,
    progress: Callable[[int], None] | None = None,
    variant_options: dict | None = None,
) -> dict:
    """Train one variant's population and write its run folder; return the metrics document."""
    started = datetime.now(timezone.utc)
    variant = create_variant(config.variant, **(variant_options or config.variant_options))
    config = dataclasses.replace(config, variant_options=dataclasses.asdict(variant.options))
    result = Trainer(variant, config, dataset).train(progress)
    rows = member_metrics(result, dataset)
    folder = folder.resolve()
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    document = write_run(partial, result, dataset, rows, started)
    _publish(partial, folder)
    return document


def options_for(name: str, options: dict) -> dict:
    """Return the subset of ``options`` that variant ``name`` declares."""
    fields = {f.name for f in dataclasses.fields(variant_class(name).Options)}
    return {key: value for key, value in options.items() if key in fields}


def compare(
    config: TrainConfig,
    variants: list[str],
    dataset: Dataset,
    folder: Path,
    progress_factory: Callable[[str], Callable[[int], None] | None] = lambda name: None,
    resume: bool = False,
    overwrite: bool = False,
) -> Path:
    """Train each variant on identical data, seeds and budget, then write the report.

    A variant whose run folder is already complete is skipped when resuming.
    A variant that raises is recorded as failed with its message, and the
    others still run. Returns the path of report.md.
    """
    from ganlab.report import build_report

    started = datetime.now(timezone.utc)
    plan = {
        "variants": variants,
        "config": config.to_dict(),
        "config_hash": config.digest(),
        "dataset": dataset.describe(),
    }
    plan_path = folder / "comparison.json"
    if resume:
        if not plan_path.exists():
            raise FileNotFoundError(f"{folder} has no comparison.json, so there is nothing to resume.")
        previous = read_json(plan_path)
        if previous["config_hash"] != plan["config_hash"] or previous["variants"] != variants:
            raise ValueError(
                f"{folder} was started with other settings (config hash {previous['config_hash']}, "
                f"variants {', '.join(previous['variants'])}); rerun with the same options to resume."
            )
    else:
        prepare_folder(folder, overwrite)
        if overwrite and folder.exists():
            shutil.rmtree(folder)
    write_json(plan_path, plan)

    for name in variants:
        run_folder = folder / "runs" / name
        failure_path = folder / "runs" / f"{name}.failed.json"
        if (run_folder / "metrics.json").exists():
            continue
        failure_path.unlink(missing_ok=True)
        variant_config = dataclasses.replace(
            config, variant=name, variant_options=options_for(name, config.variant_options)
        )
        try:
            run_variant(variant_config, dataset, run_folder, progress_factory(name))
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - a broken variant must not stop the others
            if is_out_of_memory(error):
                # The next variant needs as much memory, so stop here and keep what finished.
                raise
            write_json(
                failure_path,
                {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()},
            )

    plan["command"] = ["ganlab", *sys.argv[1:]]
    plan["threads"] = torch.get_num_threads()
    write_json(plan_path, plan)
    resolved = {
        name: dataclasses.asdict(create_variant(name, **options_for(name, config.variant_options)).options)
        for name in variants
    }
    write_json(
        folder / "manifest.json",
        {**manifest(config, started), "variants": variants, "variant_options": resolved},
    )
    return build_report(folder, dataset)
