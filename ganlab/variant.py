"""The plugin interface: a variant is the article's GAN with some hooks overridden.

The shared trainer calls these hooks and nothing else of a variant, so a
technique never copies the training loop. Every loss hook returns one value
per member, shape ``[members]``; the trainer sums them, which keeps each
member's gradient its own.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from ganlab.config import TrainConfig
from ganlab.nn import Discriminator, DiscriminatorOutput


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """Options of a variant that has none."""


class Variant:
    """The article's GAN: the non-saturating losses on logits, no extra layers.

    Discriminator loss, minimised: ``-log D(x) - log(1 - D(G(z)))``.
    Generator loss, minimised: ``-log D(G(z))``.
    Subclasses set ``name`` and ``summary`` and override the hooks they change.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    # Whether generator_loss needs the discriminator's features of a real batch.
    uses_real_features: ClassVar[bool] = False

    def __init__(self, **options):
        known = {f.name for f in dataclasses.fields(self.Options)}
        unknown = sorted(set(options) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise ValueError(
                f"variant {self.name!r} has no option {', '.join(unknown)}; its options are: {allowed}."
            )
        self.options = self.Options(**options)

    def build_discriminator(self, config: TrainConfig) -> Discriminator:
        return Discriminator(config.members, config.discriminator_layers, config.discriminator_width)

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return -(F.logsigmoid(real.logits) + F.logsigmoid(-fake.logits)).mean(dim=(1, 2))

    def generator_loss(self, fake: DiscriminatorOutput, real_features: Tensor | None) -> Tensor:
        return -F.logsigmoid(fake.logits).mean(dim=(1, 2))

    def after_step(self, step: int, generator: torch.nn.Module, discriminator: Discriminator) -> None:
        """Run after both updates of a step; the baseline does nothing here."""
