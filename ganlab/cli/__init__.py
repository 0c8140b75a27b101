"""Command-line interface: ganlab list | run | compare | report | sample | score."""

import click

from ganlab.cli.inference import sample, score
from ganlab.cli.training import compare, list_command, report, run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ganlab")
def main():
    """Compare GAN training techniques on one-dimensional data, many seeds at once."""


for command in (list_command, run, compare, report, sample, score):
    main.add_command(command)
