"""Minibatch discrimination (Salimans et al., 2016, "Improved Techniques for Training GANs").

A learned tensor ``T`` maps the discriminator's last hidden layer ``f(x_i)``
to ``B`` kernels of dimension ``C``, the rows ``M_{i,b}``. Each kernel
compares a sample with the rest of its batch:

    o(x_i)_b = sum_{j != i} exp(-|| M_{i,b} - M_{j,b} ||_1)

and ``[f(x_i), o(x_i)]`` feeds the output layer. A generator that collapses
makes these sums large, which the discriminator can detect.

With ``C = 1``, the default, each kernel is a line: after sorting, the sums
over the samples below and above ``x_i`` are log-cumulative-sum-exps, so a
batch of ``n`` costs O(n log n) instead of the O(n^2 C) pairwise distances
that ``C > 1`` needs.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganlab.config import TrainConfig
from ganlab.nn import Discriminator
from ganlab.variant import Variant


class MinibatchDiscrimination(nn.Module):
    """The minibatch layer, per member: features ``[M, F, N]`` to ``o`` ``[M, B, N]``."""

    mixes_batch = True

    def __init__(self, members: int, in_features: int, kernels: int, kernel_dim: int, init_scale: float):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(members, kernels * kernel_dim, in_features) * init_scale)

    def _rows(self, features: Tensor) -> Tensor:
        members, _, batch = features.shape
        rows = torch.bmm(self.T, features).view(members * self.kernels, self.kernel_dim, batch)
        return rows.transpose(1, 2)  # [members * kernels, batch, kernel_dim]

    def forward(self, features: Tensor, reference: Tensor | None = None) -> Tensor:
        """Compare each sample with its own batch, or with ``reference`` features if given."""
        members, _, batch = features.shape
        rows = self._rows(features)
        if reference is not None:
            distance = (rows[:, :, None, :] - self._rows(reference)[:, None, :, :]).abs().sum(dim=3)
            similarity = torch.exp(-distance).sum(dim=2)
        elif self.kernel_dim == 1:
            similarity = line_similarity(rows[..., 0])
        else:
            distance = (rows[:, :, None, :] - rows[:, None, :, :]).abs().sum(dim=3)
            # exp(-0) = 1 is each sample's similarity to itself, which the sum excludes.
            similarity = torch.exp(-distance).sum(dim=2) - 1
        return similarity.view(members, self.kernels, batch)


def line_similarity(a: Tensor) -> Tensor:
    """Return ``sum_{j != i} exp(-|a_i - a_j|)`` along the last axis of ``a``.

    In sorted order the samples below ``a_i`` add ``exp(a_j - a_i)`` and those
    above add ``exp(a_i - a_j)``; ``logcumsumexp`` forms both sums stably.
    """
    ordered, order = torch.sort(a, dim=-1)
    below = torch.logcumsumexp(ordered, dim=-1)[..., :-1] - ordered[..., 1:]
    above = torch.logcumsumexp(-ordered.flip(-1), dim=-1).flip(-1)[..., 1:] + ordered[..., :-1]
    zero = torch.zeros_like(ordered[..., :1])
    total = torch.cat([zero, below.exp()], dim=-1) + torch.cat([above.exp(), zero], dim=-1)
    return torch.empty_like(total).scatter_(-1, order, total)


class MinibatchDiscriminationVariant(Variant):
    name = "minibatch-discrimination"
    summary = "Discriminator sees each sample's L1 similarity to the rest of its batch."

    @dataclass(frozen=True)
    class Options:
        kernels: int = 5  # B
        kernel_dim: int = 1  # C
        init_scale: float = 0.1  # sd of the normal start of T

    def build_discriminator(self, config: TrainConfig) -> Discriminator:
        o = self.options
        head = MinibatchDiscrimination(
            config.members, config.discriminator_width, o.kernels, o.kernel_dim, o.init_scale
        )
        return Discriminator(
            config.members, config.discriminator_layers, config.discriminator_width, head, o.kernels
        )
