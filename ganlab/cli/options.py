"""Options, settings parsing and output helpers that the ganlab commands share."""

from __future__ import annotations

import dataclasses
import functools
import os
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


def settable() -> dict:
    return {
        f.name: getattr(DEFAULTS, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name not in OWN_OPTIONS
    }


def variant_option_defaults(names: list[str]) -> dict:
    found = {}
    for name in names:
        for field in dataclasses.fields(variant_class(name).Options):
            found.setdefault(field.name, field.default)
    return found


def convert_setting(key: str, text: str, default):
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
    settings, options = settable(), variant_option_defaults(variants)
    config, variant = {}, {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise click.BadParameter(
                f"{pair!r} is not KEY=VALUE, for example dropout=0.2.", param_hint="--set"
            )
        if key in settings:
            config[key] = convert_setting(key, text, settings[key])
        elif key in options:
            variant[key] = convert_setting(key, text, options[key])
        else:
            owners = [name for name in list_variants() if key in variant_option_defaults([name])]
            if owners:
                raise click.BadParameter(
                    f"{key!r} is an option of {', '.join(owners)}, which this command does not train; "
                    f"add --variant {owners[0]} (run) or --variants {owners[0]} (compare).",
                    param_hint="--set",
                )
            known = ", ".join(sorted(settings) + sorted(options))
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
            type=click.IntRange(min=1, max=available_cpus()),
            default=None,
            help="CPU threads for torch  [default: 1 below 64 members, else torch's own choice].",
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
        click.option(
            "--animate",
            is_flag=True,
            help="Also write training.gif in each run folder: member 0's densities and D(x) over training.",
        ),
        click.option(
            "--overwrite", is_flag=True, help="Replace the output folder, and everything in it, if it exists."
        ),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), function)


def available_cpus() -> int:
    """Return the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_memory() -> int | None:
    """Return the memory the kernel reports as available to new work, in bytes, or None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(config: TrainConfig) -> None:
    """Reject a CPU run whose estimated peak memory exceeds what the machine has available."""
    available = available_memory()
    needed = config.estimated_peak_bytes()
    if config.device != "cpu" or available is None or needed <= available:
        return
    raise click.UsageError(
        f"{plural(config.members, 'member')} at batch size {config.batch_size} need about "
        f"{needed / 2**30:.0f} GiB of memory by ganlab's estimate, and this machine has "
        f"{available / 2**30:.0f} GiB available; use fewer --members or a smaller --batch-size."
    )


def exit_out_of_memory(config: TrainConfig, outputs_note: str) -> None:
    """Print one message for a run that ran out of memory, then exit with status 1.

    ``outputs_note`` tells the user what was written before memory ran out.
    """
    click.echo(
        f"Error: out of memory while training {plural(config.members, 'member')} at batch size "
        f"{config.batch_size}; use fewer --members or a smaller --batch-size. {outputs_note}",
        err=True,
    )
    sys.exit(1)


def check_device(device: str) -> None:
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


def load_dataset(name: str, column: str | None, batch_size: int):
    """Resolve a dataset option, turning a bad name or file into a usage error."""
    from ganlab.study import resolve_dataset

    try:
        return resolve_dataset(name, column, batch_size)
    except (UnknownNameError, DataFileError) as error:
        raise click.BadParameter(str(error), param_hint="--dataset") from None


def make_config(variant: str, dataset_name: str, settings: dict, **values) -> TrainConfig:
    """Build and validate the run's config, turning an invalid value into a usage error."""
    check_device(values["device"])
    if values.get("column") is not None and dataset_name in DATASET_SUMMARIES:
        raise click.BadParameter(
            f"--column {values['column']!r} applies to CSV files, and {dataset_name!r} is a built-in "
            "dataset; drop --column.",
            param_hint="--column",
        )
    try:
        config = TrainConfig(variant=variant, dataset=dataset_name, **values, **settings)
        config.validate()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None
    check_memory(config)
    return config


# Generated samples kept per evaluation for --animate.
ANIMATION_SAMPLES = 2000


def training_config(
    names: list[str], hint: str, settings: tuple[str, ...], animate: bool, **values
) -> tuple[TrainConfig, dict]:
    """Check variant names, --set values and variant options; return the config and the options.

    The config names the first variant; ``values`` are the shared options
    that map onto TrainConfig fields.
    """
    from ganlab.study import options_for

    for name in names:
        try:
            variant_class(name)
        except UnknownNameError as error:
            raise click.BadParameter(str(error), param_hint=hint) from None
    config_settings, options = parse_settings(settings, names)
    if animate:
        config_settings.setdefault("snapshot_samples", ANIMATION_SAMPLES)
    for name in names:
        try:
            create_variant(name, **options_for(name, options))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--set") from None
    dataset = values.pop("dataset")
    return make_config(names[0], dataset, config_settings, **values), options


def out_folder(out: Path | None, command: str, label: str, overwrite: bool, resume: bool = False) -> Path:
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


def dataset_label(name: str) -> str:
    return Path(name).stem if name not in DATASET_SUMMARIES else name


def plural(count: int, noun: str) -> str:
    """Return e.g. "1 member" or "8 members"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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


def summary_line(summary: dict, key: str, spec: str = ".2f") -> str:
    entry = summary[key]
    if entry.get("n", 0) == 0:
        return "n/a"
    return f"{entry['mean']:{spec}} ± {entry['sd']:{spec}}"


def print_run_summary(document: dict) -> None:
    s, cost = document["summary"], document["cost"]
    rows = [
        (
            "tail coverage, lower 1% / upper 1%",
            f"{summary_line(s, 'tail_lower_1pct')} / {summary_line(s, 'tail_upper_1pct')}",
        ),
        (
            "tail coverage, lower 5% / upper 5%",
            f"{summary_line(s, 'tail_lower_5pct')} / {summary_line(s, 'tail_upper_5pct')}",
        ),
        ("SD ratio (generated / real)", summary_line(s, "sd_ratio")),
        ("final |D(x) - 0.5|, weighted", summary_line(s, "boundary_deviation", ".4f")),
        ("KS statistic", summary_line(s, "ks", ".3f")),
        ("1-Wasserstein distance", summary_line(s, "w1", ".3f")),
        ("diverged members", str(s["diverged"])),
        (
            "wall clock",
            f"{cost['seconds']:.1f} s, {cost['member_steps_per_second']:,.0f} member-steps/s "
            f"({cost['device']}, {plural(cost['threads'], 'thread')})",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    click.echo(f"{document['variant']}: mean ± SD over members")
    for name, value in rows:
        click.echo(f"  {name:<{width}}  {value}")


# Below this many members one thread is faster: each torch call is too small to split, and a
# second thread stalls whenever another process is using its core (measured in docs/benchmarks.md).
SINGLE_THREAD_BELOW_MEMBERS = 64


def apply_threads(threads: int | None, members: int) -> None:
    """Set torch's CPU threads: the requested count, else 1 for populations below 64 members."""
    if threads is not None:
        torch.set_num_threads(threads)
    elif members < SINGLE_THREAD_BELOW_MEMBERS:
        torch.set_num_threads(1)
