"""Command-line interface: ganlab list | run | compare | report."""

from __future__ import annotations

import dataclasses
import functools
import sys
from datetime import datetime
from pathlib import Path

import click
import torch

from ganlab.config import TrainConfig
from ganlab.data import DataFileError
from ganlab.registry import DATASET_SUMMARIES, UnknownNameError, create_variant, list_variants, variant_class

# Settings that have options of their own, so --set does not take them.
OWN_OPTIONS = {
    "variant",
    "dataset",
    "column",
    "steps",
    "batch_size",
    "members",
    "seed",
    "device",
    "variant_options",
}
DEFAULTS = TrainConfig()


def _settable() -> dict:
    return {
        f.name: getattr(DEFAULTS, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name not in OWN_OPTIONS
    }


def _variant_options(names: list[str]) -> dict:
    found = {}
    for name in names:
        for field in dataclasses.fields(variant_class(name).Options):
            found.setdefault(field.name, field.default)
    return found


def _convert(key: str, text: str, default):
    kind = type(default)
    try:
        if kind is bool:
            if text.lower() not in {"true", "false", "1", "0"}:
                raise ValueError
            return text.lower() in {"true", "1"}
        return kind(text)
    except ValueError:
        raise click.BadParameter(f"{key}={text!r}: expected a {kind.__name__}.", param_hint="--set") from None


def parse_settings(pairs: tuple[str, ...], variants: list[str]) -> tuple[dict, dict]:
    """Split ``--set KEY=VALUE`` pairs into config fields and variant options."""
    settable, options = _settable(), _variant_options(variants)
    config, variant = {}, {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise click.BadParameter(
                f"{pair!r} is not KEY=VALUE, for example dropout=0.2.", param_hint="--set"
            )
        if key in settable:
            config[key] = _convert(key, text, settable[key])
        elif key in options:
            variant[key] = _convert(key, text, options[key])
        else:
            known = ", ".join(sorted(settable) + sorted(options))
            raise click.BadParameter(f"unknown setting {key!r}; settable: {known}.", param_hint="--set")
    return config, variant


def shared_options(function):
    """Add the options that run and compare share."""
    options = [
        click.option(
            "--dataset",
            default="heights",
            show_default=True,
            metavar="NAME|PATH.csv",
            help="Registered dataset (see `ganlab list`) or a CSV file of real values.",
        ),
        click.option(
            "--column",
            default=None,
            metavar="NAME",
            help="Column of the CSV file to learn; not needed when the file has one numeric column.",
        ),
        click.option(
            "--steps",
            type=click.IntRange(min=1),
            default=DEFAULTS.steps,
            show_default=True,
            help="Training steps; each step updates the discriminator once and the generator once.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=2),
            default=DEFAULTS.batch_size,
            show_default=True,
            help="Samples per batch, per member.",
        ),
        click.option(
            "--members",
            type=click.IntRange(min=1),
            default=DEFAULTS.members,
            show_default=True,
            help="Seeds trained together per variant, as one population.",
        ),
        click.option(
            "--seed",
            type=int,
            default=DEFAULTS.seed,
            show_default=True,
            help="Random seed; a run is reproducible from its seed and member count.",
        ),
        click.option(
            "--device",
            default="cpu",
            show_default=True,
            help="Torch device: cpu, or cuda / cuda:N where a GPU is present.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            default=None,
            help="CPU threads for torch  [default: torch's own choice].",
        ),
        click.option(
            "--set",
            "settings",
            multiple=True,
            metavar="KEY=VALUE",
            help="Override a training setting or variant option, e.g. --set dropout=0.2 "
            "--set kernels=8; repeatable. `ganlab list` shows the keys.",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Output folder  [default: ganlab-output/<command>-<names>-<time>].",
        ),
        click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), function)


def _check_device(device: str) -> None:
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise click.BadParameter(
            f"{device!r} is not a torch device; use cpu or cuda.", param_hint="--device"
        ) from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter(
            "CUDA is not available on this machine; use --device cpu.", param_hint="--device"
        )
    if parsed.type not in {"cpu", "cuda"}:
        raise click.BadParameter(f"{device!r} is not supported; use cpu or cuda.", param_hint="--device")


def _dataset(name: str, column: str | None, batch_size: int):
    from ganlab.study import resolve_dataset

    try:
        return resolve_dataset(name, column, batch_size)
    except (UnknownNameError, DataFileError) as error:
        raise click.BadParameter(str(error), param_hint="--dataset") from None


def _config(variant: str, dataset_name: str, settings: dict, **values) -> TrainConfig:
    _check_device(values["device"])
    try:
        config = TrainConfig(variant=variant, dataset=dataset_name, **values, **settings)
        config.validate()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None
    return config


def _out_folder(out: Path | None, command: str, label: str, overwrite: bool, resume: bool = False) -> Path:
    from ganlab.study import prepare_folder

    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path("ganlab-output") / f"{command}-{label}-{stamp}"
    if not resume:
        try:
            prepare_folder(out, overwrite)
        except FileExistsError as error:
            raise click.UsageError(str(error)) from None
    return out


def _dataset_label(name: str) -> str:
    return Path(name).stem if name not in DATASET_SUMMARIES else name


class Progress:
    """A click progress bar that opens on the first update and closes at the end."""

    def __init__(self, label: str, steps: int):
        self.label, self.steps, self.done, self.bar = label, steps, 0, None

    def __call__(self, count: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(
                length=self.steps, label=self.label, file=sys.stderr, show_pos=True, show_eta=True, width=30
            )
            self.bar.__enter__()
        self.bar.update(count)
        self.done += count
        if self.done >= self.steps:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _summary_line(summary: dict, key: str, spec: str = ".2f") -> str:
    entry = summary[key]
    if entry.get("n", 0) == 0:
        return "n/a"
    return f"{entry['mean']:{spec}} ± {entry['sd']:{spec}}"


def _print_run_summary(document: dict) -> None:
    s, cost = document["summary"], document["cost"]
    rows = [
        (
            "tail coverage, lower 1% / upper 1%",
            f"{_summary_line(s, 'tail_lower_1pct')} / {_summary_line(s, 'tail_upper_1pct')}",
        ),
        (
            "tail coverage, lower 5% / upper 5%",
            f"{_summary_line(s, 'tail_lower_5pct')} / {_summary_line(s, 'tail_upper_5pct')}",
        ),
        ("SD ratio (generated / real)", _summary_line(s, "sd_ratio")),
        ("final |D(x) - 0.5|, weighted", _summary_line(s, "boundary_deviation", ".4f")),
        ("KS statistic", _summary_line(s, "ks", ".3f")),
        ("1-Wasserstein distance", _summary_line(s, "w1", ".3f")),
        ("diverged members", str(s["diverged"])),
        (
            "wall clock",
            f"{cost['seconds']:.1f} s, {cost['member_steps_per_second']:,.0f} member-steps/s "
            f"({cost['device']}, {cost['threads']} threads)",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    click.echo(f"{document['variant']}: mean ± SD over members")
    for name, value in rows:
        click.echo(f"  {name:<{width}}  {value}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ganlab")
def main():
    """Compare GAN training techniques on one-dimensional data, many seeds at once."""


@main.command("list")
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
    click.echo("  " + ", ".join(f"{k}={v}" for k, v in _settable().items()))


def _apply_threads(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)


@main.command()
@click.option(
    "--variant", default="baseline", show_default=True, help="Variant to train (see `ganlab list`)."
)
@shared_options
def run(
    variant, dataset, column, steps, batch_size, members, seed, device, threads, settings, out, overwrite
):
    """Train one variant and write its run folder."""
    from ganlab.study import run_variant

    try:
        variant_class(variant)
    except UnknownNameError as error:
        raise click.BadParameter(str(error), param_hint="--variant") from None
    config_settings, options = parse_settings(settings, [variant])
    config = _config(
        variant,
        dataset,
        config_settings,
        column=column,
        steps=steps,
        batch_size=batch_size,
        members=members,
        seed=seed,
        device=device,
    )
    data = _dataset(dataset, column, batch_size)
    folder = _out_folder(out, "run", f"{variant}-{_dataset_label(dataset)}", overwrite)
    _apply_threads(threads)
    progress = Progress(f"{variant} ({members} members)", steps)
    try:
        document = run_variant(config, data, folder, progress, options)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None
    except KeyboardInterrupt:
        progress.close()
        click.echo("\nInterrupted; nothing was written for this run.", err=True)
        sys.exit(130)
    finally:
        progress.close()
    _print_run_summary(document)
    click.echo(f"Run folder: {folder}")


@main.command()
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
    overwrite,
):
    """Train every variant on identical data, seeds and budget, and write a report."""
    from ganlab.study import compare as run_comparison
    from ganlab.study import options_for

    names = list_variants() if variants is None else [v.strip() for v in variants.split(",") if v.strip()]
    if not names:
        raise click.BadParameter(
            "no variant named; pass e.g. baseline,feature-matching.", param_hint="--variants"
        )
    for name in names:
        try:
            variant_class(name)
        except UnknownNameError as error:
            raise click.BadParameter(str(error), param_hint="--variants") from None
    if len(set(names)) != len(names):
        raise click.BadParameter(f"{variants!r} names a variant twice.", param_hint="--variants")
    config_settings, options = parse_settings(settings, names)
    for name in names:
        try:
            create_variant(name, **options_for(name, options))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--set") from None
    config = _config(
        "baseline",
        dataset,
        config_settings,
        column=column,
        steps=steps,
        batch_size=batch_size,
        members=members,
        seed=seed,
        device=device,
    )
    config = dataclasses.replace(config, variant="", variant_options=options)
    data = _dataset(dataset, column, batch_size)
    if resume is not None and out is not None and Path(out) != resume:
        raise click.UsageError("pass either --out or --resume DIR, not both.")
    folder = resume or _out_folder(out, "compare", _dataset_label(dataset), overwrite)
    _apply_threads(threads)
    bars: list[Progress] = []

    def progress_factory(name: str) -> Progress:
        bars.append(Progress(f"{name:<26} ({members} members)", steps))
        return bars[-1]

    try:
        report = run_comparison(
            config, names, data, folder, progress_factory, resume=resume is not None, overwrite=overwrite
        )
    except (FileNotFoundError, ValueError) as error:
        raise click.UsageError(str(error)) from None
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


def _load(run_dir: Path):
    from ganlab.networks import NetworksError, load_networks

    try:
        return load_networks(run_dir)
    except NetworksError as error:
        raise click.BadParameter(str(error), param_hint="RUN_DIR") from None


def _member(run_dir: Path, member: int | None) -> int:
    from ganlab.inference import best_tail_member

    if member is not None:
        return member
    try:
        chosen = best_tail_member(run_dir)
    except FileNotFoundError:
        raise click.BadParameter(
            f"{run_dir} has no metrics.json; pass --member.", param_hint="RUN_DIR"
        ) from None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="RUN_DIR") from None
    click.echo(f"Using member {chosen}, the one with the best tail coverage (choose another with --member).")
    return chosen


def _output_file(path: Path, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise click.UsageError(f"{path} already exists; pass --overwrite to replace it.")
    return path


RUN_DIR = click.argument(
    "run_dir", metavar="RUN_DIR", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
MEMBER = click.option(
    "--member",
    type=click.IntRange(min=0),
    default=None,
    help="Member to use  [default: the best tail coverage].",
)
SEED = click.option("--seed", type=int, default=0, show_default=True, help="Random seed for the draws.")
OVERWRITE = click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")


@main.command()
@RUN_DIR
@click.option("-n", "count", type=click.IntRange(min=1), required=True, help="Number of values to draw.")
@click.option(
    "-o", "output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV to write."
)
@MEMBER
@SEED
@OVERWRITE
def sample(run_dir, count, output, member, seed, overwrite):
    """Draw synthetic values in data units from a trained generator in RUN_DIR."""
    from ganlab.inference import sample as draw
    from ganlab.io import write_csv

    output = _output_file(output, overwrite)
    networks = _load(run_dir)
    member = _member(run_dir, member)
    try:
        values = draw(networks, count, member, seed)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--member") from None
    write_csv(output, ["value"], ([f"{v:.6g}"] for v in values))
    click.echo(f"Wrote {count:,} values from member {member} to {output}.")


@main.command()
@RUN_DIR
@click.argument("input_file", metavar="INPUT.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--column", default=None, metavar="NAME", help="Column to score; not needed with one numeric column."
)
@click.option(
    "-o", "output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV to write."
)
@MEMBER
@SEED
@OVERWRITE
def score(run_dir, input_file, column, output, member, seed, overwrite):
    """Score each value of INPUT.csv with a trained discriminator in RUN_DIR.

    Writes each value with the probability that it is real and its rank from
    most anomalous (1) to least. Values outside the range the model was
    trained on are flagged in their own column.
    """
    from ganlab.data.files import read_column
    from ganlab.inference import anomaly_ranks
    from ganlab.inference import score as rate
    from ganlab.io import write_csv

    output = _output_file(output, overwrite)
    try:
        values = read_column(input_file, column)
    except DataFileError as error:
        raise click.BadParameter(str(error), param_hint="INPUT.csv") from None
    networks = _load(run_dir)
    member = _member(run_dir, member)
    try:
        probabilities = rate(networks, values, member, seed)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--member") from None
    ranks = anomaly_ranks(probabilities)
    low, high = networks.training_range
    outside = (values < low) | (values > high)
    write_csv(
        output,
        ["row", "value", "probability_real", "anomaly_rank", "outside_training_range"],
        (
            [i + 1, f"{v:.6g}", f"{p:.6g}", r, str(bool(o)).lower()]
            for i, (v, p, r, o) in enumerate(zip(values, probabilities, ranks, outside))
        ),
    )
    click.echo(
        f"Scored {values.size:,} values with member {member}'s discriminator; "
        f"{int(outside.sum())} lie outside the training range {low:.4g} to {high:.4g}. Wrote {output}."
    )


@main.command()
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
    plan = read_json(plan_path)
    data = _dataset(plan["config"]["dataset"], plan["config"]["column"], 2)
    click.echo(f"Report: {build_report(folder, data)}")


if __name__ == "__main__":
    main()
