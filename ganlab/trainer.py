"""The one training loop that every variant shares.

All members of a variant train together as a population: one forward and
one backward pass per network per step serve every member, and each
member's loss is summed so that its gradient stays its own. The loop
records losses and the decision boundary every ``eval_every`` steps. Between
those points it makes no call that waits for the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ganlab.allocator import keep_freed_memory
from ganlab.config import TrainConfig
from ganlab.data import Dataset
from ganlab.metrics import boundary_deviation
from ganlab.nn import DiscriminatorOutput, Generator
from ganlab.variant import Variant


@dataclass
class TrainResult:
    """Outputs of one population run, in data units where units apply."""

    config: TrainConfig
    steps: np.ndarray  # [evaluations] step numbers of the records below
    learning_rate: np.ndarray  # [evaluations]
    d_loss: np.ndarray  # [evaluations, members]
    g_loss: np.ndarray  # [evaluations, members]
    boundary_deviation: np.ndarray  # [evaluations, members], density-weighted mean |D(x) - 0.5|
    boundary_history: np.ndarray  # [evaluations, members, grid], D(x) on the grid
    grid: np.ndarray  # [grid] points in data units
    grid_weights: np.ndarray  # [grid] real density on the grid, summing to 1
    samples: np.ndarray  # [members, eval_samples], generator in evaluation mode
    snapshots: np.ndarray  # [evaluations, snapshot_samples], member 0 in evaluation mode
    diverged_at: np.ndarray  # [members] first recorded step with non-finite values, -1 if none
    seconds: float  # wall-clock time of the training loop, evaluations included
    device: str
    threads: int
    generator: dict  # state dicts, on the CPU
    discriminator: dict


def boundary_grid(dataset: Dataset, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the grid over the real 0.1%-99.9% range and its density weights."""
    low, high = dataset.quantile([0.001, 0.999])
    grid = np.linspace(low, high, points)
    density = dataset.pdf(grid)
    return grid, density / density.sum()


class Trainer:
    """Trains one variant's population of members on one dataset."""

    def __init__(self, variant: Variant, config: TrainConfig, dataset: Dataset):
        config.validate()
        self.variant, self.config, self.dataset = variant, config, dataset
        self.device = torch.device(config.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        c = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            self.generator = Generator(c.members, c.generator_layers, c.generator_width, c.dropout)
            self.discriminator = variant.build_discriminator(c)
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        # Training and evaluation draw from separate streams, so that how often
        # a run evaluates never changes what it trains.
        self.rng = torch.Generator(self.device).manual_seed(c.seed)
        # Dropout masks take most of the random bits of a step, and numpy draws them faster on the CPU.
        self.dropout_rng = np.random.PCG64(c.seed) if self.device.type == "cpu" else self.rng
        self.eval_rng = torch.Generator(self.device).manual_seed(c.seed + 1_000_003)
        self.snapshot_rng = torch.Generator(self.device).manual_seed(c.seed + 2_000_003)
        self.g_optimizer = torch.optim.SGD(self.generator.parameters(), lr=c.learning_rate, fused=True)
        self.d_optimizer = torch.optim.SGD(self.discriminator.parameters(), lr=c.learning_rate, fused=True)
        self.schedulers = [
            torch.optim.lr_scheduler.StepLR(opt, c.lr_decay_every, c.lr_decay)
            for opt in (self.g_optimizer, self.d_optimizer)
        ]
        self.g_parameters = list(self.generator.parameters())
        grid, self.grid_weights = boundary_grid(dataset, c.boundary_grid)
        self.grid = grid
        standard_grid = torch.as_tensor((grid - dataset.mean) / dataset.sd, dtype=torch.float32)
        self._grid = standard_grid.to(self.device).expand(c.members, 1, -1).contiguous()

    def _generator_input(self, shape: tuple[int, ...], rng: torch.Generator) -> Tensor:
        kind = self.config.generator_input
        if kind == "data":
            return self.dataset.sample(shape, rng, self.device)
        if kind == "normal":
            return torch.randn(shape, generator=rng, device=self.device)
        # Uniform on [-sqrt(3), sqrt(3)], which has unit variance like the other inputs.
        return (torch.rand(shape, generator=rng, device=self.device) * 2 - 1) * 3**0.5

    def _score_pair(self, real: Tensor, fake: Tensor) -> tuple[DiscriminatorOutput, DiscriminatorOutput]:
        """Score a real and a fake batch in one pass, each kept apart if the discriminator mixes samples."""
        d = self.discriminator
        both = d(torch.cat([real, fake], dim=2), groups=2 if d.mixes_batch else 1)
        n = real.shape[2]
        return (
            DiscriminatorOutput(both.logits[..., :n], both.features[..., :n]),
            DiscriminatorOutput(both.logits[..., n:], both.features[..., n:]),
        )

    def step(self, step: int) -> tuple[Tensor, Tensor]:
        """Run one discriminator update and one generator update; return both losses per member.

        The discriminator learns from a real batch and ``G(z1)``, then the
        generator from ``D(G(z2))`` with a fresh ``z2``. The generator does not
        change between the two updates, so one generator pass over ``[z1, z2]``
        serves both.
        """
        c, v = self.config, self.variant
        n = c.batch_size
        real = self.dataset.sample((c.members, 1, n), self.rng, self.device)
        z = self._generator_input((c.members, 1, 2 * n), self.rng)
        fake = self.generator(z, self.dropout_rng, groups=2)

        d_loss = v.discriminator_loss(*self._score_pair(real, fake[..., :n].detach()))
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.sum().backward()
        self.d_optimizer.step()

        fake_scores = self.discriminator(fake[..., n:])
        real_features = None
        if v.uses_real_features:
            with torch.no_grad():
                real_features = self.discriminator.hidden(real)
        g_loss = v.generator_loss(fake_scores, real_features)
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss.sum().backward(inputs=self.g_parameters)
        self.g_optimizer.step()

        for scheduler in self.schedulers:
            scheduler.step()
        v.after_step(step, self.generator, self.discriminator)
        return d_loss.detach(), g_loss.detach()

    @torch.no_grad()
    def decision_boundary(self) -> Tensor:
        """Return D(x) on the grid, ``[members, grid]``.

        A discriminator that mixes samples scores each grid point against a
        fixed real batch of ``batch_size - 1`` values, as it would see the point
        during training.
        """
        reference = None
        if self.discriminator.mixes_batch:
            shape = (self.config.members, 1, self.config.batch_size - 1)
            reference = self.dataset.sample(shape, self.eval_rng, self.device)
        logits = self.discriminator(self._grid, reference).logits
        return torch.sigmoid(logits[:, 0, :])

    @torch.no_grad()
    def sample(self, count: int, rng: torch.Generator | None = None) -> Tensor:
        """Draw ``count`` samples per member in data units, generator in evaluation mode."""
        self.generator.eval()
        try:
            z = self._generator_input((self.config.members, 1, count), rng or self.eval_rng)
            x = self.generator(z)[:, 0, :]
        finally:
            self.generator.train()
        return x * self.dataset.sd + self.dataset.mean

    def train(self, progress: Callable[[int], None] | None = None) -> TrainResult:
        """Train for ``config.steps`` steps; ``progress`` receives the steps done since its last call."""
        c = self.config
        members = c.members
        steps, rates, d_losses, g_losses, boundaries, snapshots = [], [], [], [], [], []
        alive = torch.ones(members, dtype=torch.bool, device=self.device)
        diverged_at = torch.full((members,), -1, dtype=torch.long, device=self.device)
        reported = 0
        start = time.perf_counter()
        for step in range(1, c.steps + 1):
            d_loss, g_loss = self.step(step)
            if step % c.eval_every and step != c.steps:
                continue
            boundary = self.decision_boundary()
            finite = torch.isfinite(d_loss) & torch.isfinite(g_loss) & torch.isfinite(boundary).all(dim=1)
            diverged_at = torch.where(alive & ~finite, step, diverged_at)
            alive &= finite
            steps.append(step)
            rates.append(self.g_optimizer.param_groups[0]["lr"])
            d_losses.append(d_loss)
            g_losses.append(g_loss)
            boundaries.append(boundary)
            if c.snapshot_samples:
                snapshots.append(self.sample(c.snapshot_samples, self.snapshot_rng)[0])
            if progress is not None:
                progress(step - reported)
                reported = step
        samples = self.sample(c.eval_samples)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start

        boundary_history = torch.stack(boundaries).cpu().numpy().astype(np.float64)
        deviation = boundary_deviation(boundary_history, self.grid_weights)
        return TrainResult(
            config=c,
            steps=np.asarray(steps),
            learning_rate=np.asarray(rates),
            d_loss=torch.stack(d_losses).cpu().numpy(),
            g_loss=torch.stack(g_losses).cpu().numpy(),
            boundary_deviation=deviation,
            boundary_history=boundary_history,
            grid=self.grid,
            grid_weights=self.grid_weights,
            samples=samples.cpu().numpy().astype(np.float64),
            snapshots=torch.stack(snapshots).cpu().numpy() if snapshots else np.empty((0, 0)),
            diverged_at=diverged_at.cpu().numpy(),
            seconds=seconds,
            device=str(self.device),
            threads=torch.get_num_threads(),
            generator={k: v.cpu() for k, v in self.generator.state_dict().items()},
            discriminator={k: v.cpu() for k, v in self.discriminator.state_dict().items()},
        )
