"""The article's baseline GAN for one seed, in plain PyTorch.

This is the yardstick that the speed benchmarks hold ganlab against: the
code a typical user would write with ``nn.Sequential``, ``nn.BCELoss`` and
``torch.optim.SGD``, one seed per run. Each step runs the same algorithm as
``ganlab.trainer.Trainer.step`` with the default ``generator_input="data"``
on the heights dataset:

1. Draw a real batch of standardised heights, ``torch.randn(batch, 1)``.
2. Draw the generator input the same way and update the discriminator on
   ``(real, G(z).detach())`` with ``BCE(D(real), 1) + BCE(D(fake), 0)``.
3. Draw a fresh input and update the generator with ``BCE(D(G(z)), 1)``.
4. Step both learning-rate schedulers.

Every size, rate and the dropout probability come from the defaults of
``ganlab.config.TrainConfig``, so the two implementations train the same
networks. Random numbers come from the global generator seeded by
``seed``, so a reference run does not reproduce ganlab's values, only its
algorithm and cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganlab.config import TrainConfig

DEFAULTS = TrainConfig()


def build_generator(config: TrainConfig = DEFAULTS) -> nn.Sequential:
    """Build the generator: hidden blocks of linear, batch norm, tanh and dropout, then a linear output."""
    layers: list[nn.Module] = []
    width_in = 1
    for _ in range(config.generator_layers):
        layers += [
            nn.Linear(width_in, config.generator_width),
            nn.BatchNorm1d(config.generator_width),
            nn.Tanh(),
            nn.Dropout(config.dropout),
        ]
        width_in = config.generator_width
    layers.append(nn.Linear(width_in, 1))
    return nn.Sequential(*layers)


def build_discriminator(config: TrainConfig = DEFAULTS) -> nn.Sequential:
    """Build the discriminator: hidden layers of linear and tanh, then a linear output and a sigmoid."""
    layers: list[nn.Module] = []
    width_in = 1
    for _ in range(config.discriminator_layers):
        layers += [nn.Linear(width_in, config.discriminator_width), nn.Tanh()]
        width_in = config.discriminator_width
    layers += [nn.Linear(width_in, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


class ReferenceGAN:
    """One seed's networks, optimisers and schedulers, trained one step at a time.

    Construct it after seeding the global generator: the weights and every
    batch are drawn from it.
    """

    def __init__(self, batch_size: int = DEFAULTS.batch_size, config: TrainConfig = DEFAULTS):
        self.batch_size = batch_size
        self.generator = build_generator(config)
        self.discriminator = build_discriminator(config)
        self.loss = nn.BCELoss()
        self.g_optimizer = torch.optim.SGD(self.generator.parameters(), lr=config.learning_rate)
        self.d_optimizer = torch.optim.SGD(self.discriminator.parameters(), lr=config.learning_rate)
        self.schedulers = [
            torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_decay_every, gamma=config.lr_decay)
            for optimizer in (self.g_optimizer, self.d_optimizer)
        ]
        self.ones = torch.ones(batch_size, 1)
        self.zeros = torch.zeros(batch_size, 1)

    def step(self) -> tuple[Tensor, Tensor]:
        """Run one discriminator update and one generator update, and return both losses, detached."""
        real = torch.randn(self.batch_size, 1)
        fake = self.generator(torch.randn(self.batch_size, 1)).detach()
        self.d_optimizer.zero_grad()
        d_loss = self.loss(self.discriminator(real), self.ones)
        d_loss = d_loss + self.loss(self.discriminator(fake), self.zeros)
        d_loss.backward()
        self.d_optimizer.step()

        self.g_optimizer.zero_grad()
        fake = self.generator(torch.randn(self.batch_size, 1))
        g_loss = self.loss(self.discriminator(fake), self.ones)
        g_loss.backward()
        self.g_optimizer.step()

        for scheduler in self.schedulers:
            scheduler.step()
        return d_loss.detach(), g_loss.detach()

    def train(self, steps: int) -> tuple[Tensor, Tensor]:
        """Run ``steps`` steps and return the discriminator and generator losses, each ``[steps]``."""
        d_losses, g_losses = [], []
        for _ in range(steps):
            d_loss, g_loss = self.step()
            d_losses.append(d_loss)
            g_losses.append(g_loss)
        return torch.stack(d_losses), torch.stack(g_losses)


@dataclass
class ReferenceResult:
    """A finished reference run: its networks and the loss at every step."""

    gan: ReferenceGAN
    d_loss: Tensor  # [steps]
    g_loss: Tensor  # [steps]


def train_reference(steps: int, batch_size: int = 200, seed: int = 0) -> ReferenceResult:
    """Seed the global generator, build the article's GAN and train it for ``steps`` steps."""
    torch.manual_seed(seed)
    gan = ReferenceGAN(batch_size)
    d_loss, g_loss = gan.train(steps)
    return ReferenceResult(gan, d_loss, g_loss)
