"""The resolved configuration of one training run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

GENERATOR_INPUTS = ("data", "normal", "uniform")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting that decides what a run computes.

    The values follow the article's baseline. The article leaves the decay
    factor and the dropout rate open, so ``lr_decay`` and ``dropout`` are this
    project's choices.
    """

    variant: str = "baseline"
    dataset: str = "heights"
    column: str | None = None
    steps: int = 10_000
    batch_size: int = 200
    members: int = 8
    seed: int = 0
    device: str = "cpu"

    # Plain gradient descent with a staircase decay: lr * lr_decay ** (step // lr_decay_every).
    learning_rate: float = 0.005
    lr_decay: float = 0.95
    lr_decay_every: int = 100

    generator_layers: int = 5
    generator_width: int = 10
    dropout: float = 0.1
    discriminator_layers: int = 3
    discriminator_width: int = 2
    # "data" feeds real values to the generator, x = G(z) with z a real height,
    # as the article does. "normal" and "uniform" are the usual noise inputs.
    generator_input: str = "data"

    # Evaluation: the decision boundary is recorded every eval_every steps on a
    # grid over the real data's 0.1%-99.9% range.
    eval_every: int = 100
    boundary_grid: int = 200
    boundary_threshold: float = 0.05
    eval_samples: int = 10_000
    # Samples of member 0 kept at every evaluation for the training animation; 0 keeps none.
    snapshot_samples: int = 0

    variant_options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """Return a short hash of the settings that decide training, for manifests and resumption.

        ``snapshot_samples`` only records extra samples for the animation, so it is left out.
        """
        settings = {key: value for key, value in self.to_dict().items() if key != "snapshot_samples"}
        text = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def estimated_peak_bytes(self) -> int:
        """Estimate the peak memory of a CPU run of this config, in bytes.

        The rates come from the peak resident size of ``ganlab run`` at 64 to
        1,024 members with batch sizes of 200 and 2,000 (torch 2.13 CPU build).
        A member costs about 2.2 kB per batch sample and 190 bytes per
        evaluation sample, and Python, torch and the plots take half a GiB. The
        generator's default sizes set these rates, so take it as a rough guide.
        """
        per_member = 2200 * self.batch_size + 190 * max(self.eval_samples, self.boundary_grid)
        return 2**29 + self.members * per_member

    def validate(self) -> None:
        """Raise ValueError, naming the setting, for values no run can use."""
        positive = ("steps", "batch_size", "members", "eval_every", "boundary_grid", "eval_samples")
        if self.snapshot_samples < 0:
            raise ValueError(f"snapshot_samples must be 0 or more, got {self.snapshot_samples}.")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 for batch norm, got {self.batch_size}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")
        if not 0 < self.learning_rate < math.inf:
            raise ValueError(f"learning_rate must be a positive finite number, got {self.learning_rate}.")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}.")
        if self.generator_input not in GENERATOR_INPUTS:
            raise ValueError(
                f"generator_input must be one of {', '.join(GENERATOR_INPUTS)}, got {self.generator_input!r}."
            )
        if not 0.0 < self.boundary_threshold < 0.5:
            raise ValueError(f"boundary_threshold must be in (0, 0.5), got {self.boundary_threshold}.")
