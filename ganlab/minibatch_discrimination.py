"""The minibatch-discrimination layer (Salimans et al., 2016), for a population.

A learned tensor ``T`` maps a sample's features ``f(x_i)`` to ``B`` kernels of
dimension ``C``, the rows ``M_{i,b}``. Each kernel sums the sample's
similarity to the rest of its batch:

    o(x_i)_b = sum_{j != i} exp(-|| M_{i,b} - M_{j,b} ||_1)

With ``C = 1`` each kernel is a line: after sorting, the sums over the
samples below and above ``x_i`` are cumulative sums, so a batch of ``n`` costs
O(n log n) instead of the O(n^2 C) pairwise distances that ``C > 1`` needs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class MinibatchDiscrimination(nn.Module):
    """Features ``[members, F, groups * n]`` to similarities ``[members, B, groups * n]``.

    The last axis contains ``groups`` batches of ``n`` samples side by side, and
    each sample is compared only with the rest of its own batch.
    """

    mixes_batch = True

    def __init__(self, members: int, in_features: int, kernels: int, kernel_dim: int, init_scale: float):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(members, kernels * kernel_dim, in_features) * init_scale)

    def _rows(self, features: Tensor, groups: int) -> Tensor:
        """Return ``M`` as ``[members * kernels * groups, n, C]``."""
        members, _, width = features.shape
        rows = torch.bmm(self.T, features).view(
            members, self.kernels, self.kernel_dim, groups, width // groups
        )
        return rows.permute(0, 1, 3, 4, 2).reshape(-1, width // groups, self.kernel_dim)

    def forward(self, features: Tensor, reference: Tensor | None = None, groups: int = 1) -> Tensor:
        """Compare each sample with its own batch, or with all of ``reference`` if given."""
        members, _, width = features.shape
        rows = self._rows(features, groups)
        if reference is not None:
            others = self._rows(reference, groups)
            distance = (rows[:, :, None, :] - others[:, None, :, :]).abs().sum(dim=3)
            similarity = torch.exp(-distance).sum(dim=2)
        elif self.kernel_dim == 1:
            similarity = line_similarity(rows[..., 0])
        else:
            distance = (rows[:, :, None, :] - rows[:, None, :, :]).abs().sum(dim=3)
            # exp(-0) = 1 is each sample's similarity to itself, which the sum excludes.
            similarity = torch.exp(-distance).sum(dim=2) - 1
        return similarity.reshape(members, self.kernels, width)


def _argsort(a: Tensor) -> Tensor:
    # numpy sorts short CPU rows about five times faster than torch.sort (torch 2.13),
    # and the permutation needs no gradient.
    if a.device.type != "cpu":
        return torch.argsort(a, dim=-1)
    return torch.from_numpy(np.argsort(a.detach().numpy(), axis=-1))


def line_similarity(a: Tensor) -> Tensor:
    """Return ``sum_{j != i} exp(-|a_i - a_j|)`` along the last axis of ``a``.

    In sorted order the samples below ``a_i`` add ``exp(a_j - a_i)`` and those
    above add ``exp(a_i - a_j)``. Both sums are cumulative sums of
    exponentials taken relative to the row's median, in float64. Where values
    tie exactly, |a_i - a_j| has a kink and the gradient is a one-sided
    derivative that depends on the sort order, where autograd on the dense
    formula would take abs'(0) = 0.
    """
    # NOTE: a row that spans more than about 700 (exp overflows float64 beyond that)
    # turns non-finite, and its member is then reported as diverged.
    order = _argsort(a)
    ordered = a.gather(-1, order).double()
    center = ordered[..., ordered.shape[-1] // 2, None].detach()
    up, down = torch.exp(ordered - center), torch.exp(center - ordered)
    below = (torch.cumsum(up, dim=-1) - up) * down
    above = (torch.cumsum(down.flip(-1), dim=-1).flip(-1) - down) * up
    total = (below + above).to(a.dtype)
    return torch.empty_like(total).scatter_(-1, order, total)
