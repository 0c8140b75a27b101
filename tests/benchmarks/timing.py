"""Shared pieces of the speed benchmarks: settings from the environment and result rows."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

# A round: prepared without timing, it trains for the steps it was built
# with when called, and returns the last discriminator and generator losses.
Round = Callable[[], tuple[Tensor, Tensor]]


def env_int(name: str, default: int) -> int:
    """Read a positive integer from the environment variable ``name``."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {text!r}.") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}.")
    return value


@dataclass
class SpeedRow:
    """One line of the summary table. Times are medians over the timed rounds, in seconds."""

    case: str
    steps: int
    members: int
    ganlab_s: float
    comparison: str
    comparison_s: float
    target: float | None
    threads: int
    # The lowest and highest ratio of one ganlab round to the comparison round timed just before it.
    round_ratios: tuple[float, float]

    @property
    def ratio(self) -> float:
        return self.ganlab_s / self.comparison_s

    @property
    def member_steps_per_s(self) -> float:
        return self.members * self.steps / self.ganlab_s
