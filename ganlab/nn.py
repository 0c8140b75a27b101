"""Population networks: every weight carries a leading member dimension.

Activations use the layout ``[members, features, batch]``. A linear layer is
then one ``baddbmm`` over all members, and batch norm is one ``layer_norm``
along the batch axis, which takes its statistics per member and per feature
over that member's own batch. One call serves every member, so the cost of a
training step hardly grows with the member count while the per-call overhead
dominates.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn


def dropout_masks(
    shape: tuple[int, ...], p: float, generator: torch.Generator | np.random.BitGenerator, scale: float = 1.0
) -> Tensor:
    """Draw inverted-dropout masks: 0 with probability ``p``, else ``scale / (1 - p)``.

    Each unit takes 16 random bits from full-range 64-bit draws, which costs
    about a sixth of ``bernoulli_`` on the CPU. numpy's PCG64 draws those bits
    in about 60% of the time of torch's CPU generator. The drop probability is ``p``
    rounded to a multiple of 2**-16. A torch generator draws the masks on its
    device, a numpy bit generator on the CPU.
    """
    count = math.prod(shape)
    if isinstance(generator, np.random.BitGenerator):
        words = torch.from_numpy(generator.random_raw((count + 3) // 4).view(np.int64))
    else:
        words = torch.empty((count + 3) // 4, dtype=torch.int64, device=generator.device)
        words.random_(-(2**63), None, generator=generator)
    bits = words.view(torch.int16)[:count].view(shape)
    # Integer bits b give clamp(b - threshold + 1, 0, 1) = (b >= threshold). On the CPU this
    # float arithmetic runs several times faster than a comparison and a bool-to-float cast.
    threshold = round(p * 65536) - 32768
    return bits.to(torch.float32).sub_(threshold - 1).clamp_(0, 1).mul_(scale / (1 - p))


class PopulationLinear(nn.Module):
    """Linear map ``y[m] = W[m] @ x[m] + b[m]`` with one weight matrix per member."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members, out_features, 1))
        # The same uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) start as nn.Linear.
        bound = 1.0 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, self.weight, x)


# On x86 CPUs with torch 2.13, torch.tanh runs about ten times slower than torch.sigmoid, so
# large CPU tensors take tanh(a) = 2 sigmoid(2 a) - 1. For a forward and backward pass the
# three or four calls of that route overtake torch.tanh between 8,192 and 16,384 elements.
_SIGMOID_TANH_MIN_NUMEL = 8192


def _sigmoid_route(numel: int, device: torch.device) -> bool:
    return device.type == "cpu" and numel >= _SIGMOID_TANH_MIN_NUMEL


def tanh(x: Tensor) -> Tensor:
    """Return tanh(x), by the faster route for the tensor's size and device."""
    if not _sigmoid_route(x.numel(), x.device):
        return torch.tanh(x)
    return torch.sigmoid(x * 2).mul(2).sub_(1)


def linear_tanh(linear: PopulationLinear, x: Tensor) -> Tensor:
    """Return ``tanh(W x + b)``, with the sigmoid route's doubling folded into ``baddbmm``."""
    if not _sigmoid_route(x.shape[0] * linear.weight.shape[1] * x.shape[2], x.device):
        return torch.tanh(linear(x))
    return torch.baddbmm(linear.bias, linear.weight, x, beta=2, alpha=2).sigmoid_().mul(2).sub_(1)


class PopulationBatchNorm(nn.Module):
    """Batch norm with statistics per member and feature over that member's batch.

    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, with the batch mean
    and biased variance in training mode and the running estimates in
    evaluation mode, as ``nn.BatchNorm1d`` does. In the ``[members, features,
    batch]`` layout these statistics run along the last axis, where
    ``layer_norm`` computes them about twice as fast as ``batch_norm``.
    """

    def __init__(self, members: int, features: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.width = features
        self.momentum = momentum
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(members, features, 1))
        self.bias = nn.Parameter(torch.zeros(members, features, 1))
        self.register_buffer("running_mean", torch.zeros(members, features, 1))
        self.register_buffer("running_var", torch.ones(members, features, 1))

    def forward(
        self, x: Tensor, statistics: list | None = None, groups: int = 1, scale: float = 1.0
    ) -> Tensor:
        """Return ``scale * y`` for ``x``, whose last axis contains ``groups`` batches side by side.

        Each batch takes its own statistics. In training mode the layer appends
        its (mean, rstd), shaped ``[members, features, groups, 1]``, to
        ``statistics`` for ``update_running_statistics``. ``scale`` costs no
        extra call in training mode, which lets tanh take its sigmoid route
        as ``sigmoid(2 y)``.
        """
        if not self.training:
            factor = self.weight * torch.rsqrt(self.running_var + self.eps)
            y = torch.addcmul(self.bias - self.running_mean * factor, x, factor)
            return y if scale == 1 else y.mul_(scale)
        members, features, width = x.shape
        n = width // groups
        # layer_norm takes the scale as its weight, and on the CPU it runs faster with a weight
        # than without. The affine map is mul, then add_, because an addcmul that broadcasts
        # runs several times slower.
        weight = torch.full((n,), scale, device=x.device)
        scaled, mean, rstd = torch.ops.aten.native_layer_norm(
            x.view(members, features, groups, n), [n], weight, None, self.eps
        )
        if statistics is not None:
            statistics.append((mean, rstd))
        return torch.mul(scaled.view(members, features, width), self.weight).add_(self.bias, alpha=scale)


@torch.no_grad()
def update_running_statistics(norms: list[PopulationBatchNorm], statistics: list, batch: int) -> None:
    """Move each layer's running mean and unbiased variance towards its batch values.

    With several batches in one pass, the target is their average statistics.
    All layers are stacked and updated together, which keeps the update off
    the per-call overhead that dominates small populations.
    """
    means, rstds = zip(*statistics)
    mean = torch.stack(means).mean(dim=3)
    variance = torch.stack(rstds).pow_(-2).sub_(norms[0].eps).mean(dim=3).mul_(batch / (batch - 1))
    torch._foreach_lerp_([n.running_mean for n in norms], mean.unbind(0), norms[0].momentum)
    torch._foreach_lerp_([n.running_var for n in norms], variance.unbind(0), norms[0].momentum)


class Generator(nn.Module):
    """The article's generator: hidden blocks of linear, batch norm, tanh and
    dropout, then a linear map to one output, for every member at once."""

    def __init__(self, members: int, hidden_layers: int = 5, width: int = 10, dropout: float = 0.1):
        super().__init__()
        self.dropout = dropout
        sizes = [1] + [width] * hidden_layers
        self.linears = nn.ModuleList(PopulationLinear(members, a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(PopulationBatchNorm(members, width) for _ in range(hidden_layers))
        self.output = PopulationLinear(members, width, 1)

    def forward(
        self, z: Tensor, rng: torch.Generator | np.random.BitGenerator | None = None, groups: int = 1
    ) -> Tensor:
        """Map inputs ``[members, 1, groups * batch]`` to samples of the same shape.

        The last axis contains ``groups`` batches side by side, and batch norm
        normalises each with its own statistics, so one pass does the work of
        ``groups`` passes. In training mode the dropout masks come from
        ``rng`` (see ``dropout_masks``), or from torch's default generator when
        it is None.
        """
        if not self.training:
            h = z
            for linear, norm in zip(self.linears, self.norms):
                h = tanh(norm(linear(h)))
            return self.output(h)
        return self._train_forward(z, rng, groups)

    def _train_forward(
        self, z: Tensor, rng: torch.Generator | np.random.BitGenerator | None, groups: int
    ) -> Tensor:
        # Each hidden block in few calls: tanh(y) * keep = (sigmoid(2 y) - 1/2) * 2 keep, with
        # batch norm returning 2 y, because torch.tanh runs about ten times slower than
        # torch.sigmoid on the CPU. The linear bias enters detached: batch norm subtracts it
        # again, so its gradient is exactly zero, where autograd would return rounding noise.
        # It still shifts the running mean that evaluation mode uses.
        members, _, width = z.shape
        layers = len(self.linears)
        if self.dropout > 0:
            if rng is None:
                rng = (
                    torch.default_generator
                    if z.device.type == "cpu"
                    else torch.cuda.default_generators[z.device.index or 0]
                )
            keep2 = dropout_masks((layers, members, self.norms[0].width, width), self.dropout, rng, 2.0)
            keep2 = keep2.unbind(0)
        else:
            keep2 = [2.0] * layers
        statistics = []
        h = z
        for linear, norm, keep in zip(self.linears, self.norms, keep2):
            a = torch.baddbmm(linear.bias.detach(), linear.weight, h)
            s = norm(a, statistics, groups, scale=2.0).sigmoid_()
            h = torch.sub(s, 0.5).mul_(keep)
        update_running_statistics(list(self.norms), statistics, width // groups)
        return self.output(h)


class DiscriminatorOutput(NamedTuple):
    """Logits ``[members, 1, batch]`` and the last hidden layer ``[members, width, batch]``."""

    logits: Tensor
    features: Tensor


class Discriminator(nn.Module):
    """The article's discriminator: hidden layers of linear and tanh, then a
    linear output, for every member at once.

    ``head`` is the slot before the output layer. It maps the last hidden
    layer to the output layer's input; minibatch discrimination goes there.
    The sigmoid is left to the losses, which work on logits.
    """

    def __init__(
        self,
        members: int,
        hidden_layers: int = 3,
        width: int = 2,
        head: nn.Module | None = None,
        head_features: int = 0,
    ):
        super().__init__()
        sizes = [1] + [width] * hidden_layers
        self.linears = nn.ModuleList(PopulationLinear(members, a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = head
        self.output = PopulationLinear(members, width + head_features, 1)

    @property
    def mixes_batch(self) -> bool:
        """Whether one sample's output depends on the rest of its batch."""
        return self.head is not None and getattr(self.head, "mixes_batch", False)

    def forward(self, x: Tensor, reference: Tensor | None = None, groups: int = 1) -> DiscriminatorOutput:
        """Score samples ``[members, 1, n]``.

        ``groups`` splits the last axis into that many batches side by side, which
        a batch-mixing head keeps apart. ``reference`` is a batch that such a head
        compares each sample with, in place of the sample's own batch. Heads that
        do not mix samples ignore both.
        """
        features = h = self.hidden(x)
        if self.head is not None:
            reference_features = None if reference is None else self.hidden(reference)
            h = torch.cat([h, self.head(h, reference_features, groups)], dim=1)
        return DiscriminatorOutput(self.output(h), features)

    def hidden(self, x: Tensor) -> Tensor:
        """Return the last hidden layer for samples ``[members, 1, batch]``."""
        h = x
        for linear in self.linears:
            h = linear_tanh(linear, h)
        return h
