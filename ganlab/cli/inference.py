"""Commands that put trained networks to work: sample and score."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ganlab.cli.options import plural
from ganlab.data import DataFileError


def _load(run_dir: Path):
    from ganlab.networks import NetworksError, load_networks

    try:
        return load_networks(run_dir)
    except NetworksError as error:
        raise click.BadParameter(str(error), param_hint="RUN_DIR") from None


def _member(run_dir: Path, networks, member: int | None) -> int:
    """Return the requested member if it exists, else the one with the best tail coverage."""
    from ganlab.inference import best_tail_member

    if member is not None:
        members = networks.config.members
        if member >= members:
            raise click.BadParameter(
                f"member {member} does not exist; this run has members 0 to {members - 1}.",
                param_hint="--member",
            )
        return member
    try:
        chosen = best_tail_member(run_dir)
    except FileNotFoundError:
        raise click.BadParameter(
            f"{run_dir} has no metrics.json; pass --member.", param_hint="RUN_DIR"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise click.BadParameter(
            f"{run_dir / 'metrics.json'} is not a ganlab metrics file; pass --member or train the run again.",
            param_hint="RUN_DIR",
        ) from None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="RUN_DIR") from None
    click.echo(
        f"Using member {chosen}: the best tail coverage, ties broken by the lowest W1 "
        "(choose another with --member)."
    )
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


def seed_option(purpose: str):
    return click.option("--seed", type=int, default=0, show_default=True, help=f"Random seed for {purpose}.")


OVERWRITE = click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")


@click.command()
@RUN_DIR
@click.option("-n", "count", type=click.IntRange(min=1), required=True, help="Number of values to draw.")
@click.option(
    "-o", "output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV to write."
)
@MEMBER
@seed_option("the generator inputs")
@OVERWRITE
def sample(run_dir, count, output, member, seed, overwrite):
    """Draw synthetic values in data units from a trained generator in RUN_DIR."""
    from ganlab.inference import sample as draw
    from ganlab.io import write_csv

    output = _output_file(output, overwrite)
    networks = _load(run_dir)
    member = _member(run_dir, networks, member)
    values = draw(networks, count, member, seed)
    write_csv(output, ["value"], ([f"{v:.6g}"] for v in values))
    click.echo(f"Wrote {count:,} values from member {member} to {output}.")


@click.command()
@RUN_DIR
@click.argument("input_file", metavar="INPUT.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--column", default=None, metavar="NAME", help="Column to score; not needed with one numeric column."
)
@click.option(
    "-o", "output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV to write."
)
@MEMBER
@seed_option("the real batch that a minibatch-discrimination discriminator compares with")
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
    member = _member(run_dir, networks, member)
    probabilities = rate(networks, values, member, seed)
    ranks = anomaly_ranks(probabilities)
    spread = float(probabilities.max() - probabilities.min())
    if spread < 0.01:
        click.echo(
            f"Warning: the probabilities span only {spread:.4f}, so this discriminator barely tells "
            "the values apart and the ranking carries little information.",
            err=True,
        )
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
        f"{plural(int(outside.sum()), 'value')} outside the training range {low:.4g} to {high:.4g}. "
        f"Wrote {output}."
    )
