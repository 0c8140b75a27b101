"""Commands that train and report: list, run, compare and report."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from ganlab.allocator import is_out_of_memory
from ganlab.cli.options import (
    Progress,
    apply_threads,
    dataset_label,
    exit_out_of_memory,
    load_dataset,
    out_folder,
    plural,
    print_run_summary,
    settable,
    shared_options,
    training_config,
)
from ganlab.registry import DATASET_SUMMARIES, list_variants, variant_class


@click.command("list")
def list_command():
    """List the registered variants, datasets and settings."""
    click.echo("Variants:")
    names = list_variants()
    width = max(len(n) for n in names + list(DATASET_SUMMARIES))
    for name in names:
        cls = variant_class(name)
        options = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.Options))
        click.echo(f"  {name:<{width}}  {cls.summary}" + (f" Options: {options}." if options else ""))
    click.echo("Datasets:")
    for name, summary in DATASET_SUMMARIES.items():
        click.echo(f"  {name:<{width}}  {summary}")
    click.echo(f"  {'PATH.csv':<{width}}  A CSV file of real values; pick the column with --column.")
    click.echo("Settings for --set (defaults):")
    click.echo("  " + ", ".join(f"{k}={v}" for k, v in settable().items()))


@click.command()
@click.option(
    "--variant", default="baseline", show_default=True, help="Variant to train (see `ganlab list`)."
)
@shared_options
def run(
    variant,
    dataset,
    column,
    steps,
    batch_size,
    members,
    seed,
    device,
    threads,
    settings,
    out,
    animate,
    overwrite,
):
    """Train one variant and write its run folder."""
    from ganlab.study import run_variant

    config, options = training_config(
        [variant], "--variant", settings, animate, dataset=dataset, column=column, steps=steps,
        batch_size=batch_size, members=members, seed=seed, device=device,
    )  # fmt: skip
    data = load_dataset(dataset, column, batch_size)
    folder = out_folder(out, "run", f"{variant}-{dataset_label(dataset)}", overwrite)
    apply_threads(threads, members)
    progress = Progress(f"{variant} ({plural(members, 'member')})", steps)
    try:
        document = run_variant(config, data, folder, progress, options)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        progress.close()
        exit_out_of_memory(config, "Nothing was written for this run.")
    except KeyboardInterrupt:
        progress.close()
        click.echo("\nInterrupted; nothing was written for this run.", err=True)
        sys.exit(130)
    finally:
        progress.close()
    print_run_summary(document)
    click.echo(f"Run folder: {folder}")


@click.command()
@click.option(
    "--variants",
    default=None,
    metavar="A,B,...",
    help="Comma-separated variants to compare  [default: every registered variant].",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Continue an interrupted comparison in DIR with the same options.",
)
@shared_options
def compare(
    variants,
    resume,
    dataset,
    column,
    steps,
    batch_size,
    members,
    seed,
    device,
    threads,
    settings,
    out,
    animate,
    overwrite,
):
    """Train every variant on identical data, seeds and budget, and write a report."""
    from ganlab.study import compare as run_comparison

    names = list_variants() if variants is None else [v.strip() for v in variants.split(",") if v.strip()]
    if not names:
        raise click.BadParameter(
            "no variant named; pass e.g. baseline,feature-matching.", param_hint="--variants"
        )
    if len(set(names)) != len(names):
        raise click.BadParameter(f"{variants!r} names a variant twice.", param_hint="--variants")
    config, options = training_config(
        names, "--variants", settings, animate, dataset=dataset, column=column, steps=steps,
        batch_size=batch_size, members=members, seed=seed, device=device,
    )  # fmt: skip
    config = dataclasses.replace(config, variant="", variant_options=options)
    data = load_dataset(dataset, column, batch_size)
    if resume is not None and out is not None and Path(out) != resume:
        raise click.UsageError("pass either --out or --resume DIR, not both.")
    folder = resume or out_folder(out, "compare", dataset_label(dataset), overwrite)
    apply_threads(threads, members)
    bars: list[Progress] = []

    def progress_factory(name: str) -> Progress:
        bars.append(Progress(f"{name:<26} ({plural(members, 'member')})", steps))
        return bars[-1]

    try:
        report = run_comparison(
            config, names, data, folder, progress_factory, resume=resume is not None, overwrite=overwrite
        )
    except (FileNotFoundError, ValueError) as error:
        raise click.UsageError(str(error)) from None
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        for bar in bars:
            bar.close()
        exit_out_of_memory(config, f"Finished variants are kept in {folder}.")
    except KeyboardInterrupt:
        for bar in bars:
            bar.close()
        click.echo(
            f"\nInterrupted. Finished variants are kept in {folder}; continue with:\n"
            f"  ganlab compare --resume {folder} <the same options>",
            err=True,
        )
        sys.exit(130)
    click.echo(f"Report: {report}")


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(folder: Path):
    """Rebuild the report of a finished comparison FOLDER without training."""
    from ganlab.io import read_json
    from ganlab.report import build_report

    plan_path = folder / "comparison.json"
    if not plan_path.exists():
        raise click.BadParameter(
            f"{folder} has no comparison.json; pass a folder written by ganlab compare.", param_hint="FOLDER"
        )
    try:
        plan = read_json(plan_path)
        data = load_dataset(plan["config"]["dataset"], plan["config"]["column"], 2)
        path = build_report(folder, data)
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise click.BadParameter(
            f"a saved file in {folder} is damaged ({type(error).__name__}: {error}); rerun the comparison.",
            param_hint="FOLDER",
        ) from None
    click.echo(f"Report: {path}")
