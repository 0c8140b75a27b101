"""Minibatch discrimination (Salimans et al., 2016, "Improved Techniques for Training GANs").

A learned tensor ``T`` maps the discriminator's last hidden layer ``f(x_i)``
to ``B`` kernels of dimension ``C``, the rows ``M_{i,b}``. Each kernel
compares a sample with the rest of its batch:

    o(x_i)_b = sum_{j != i} exp(-|| M_{i,b} - M_{j,b} ||_1)

and ``[f(x_i), o(x_i)]`` feeds the output layer. A generator that collapses
makes these sums large, which the discriminator can detect. The layer
itself is ``ganlab.minibatch_discrimination.MinibatchDiscrimination``.
"""

from dataclasses import dataclass

from ganlab.config import TrainConfig
from ganlab.minibatch_discrimination import MinibatchDiscrimination
from ganlab.nn import Discriminator
from ganlab.variant import Variant


class MinibatchDiscriminationVariant(Variant):
    name = "minibatch-discrimination"
    summary = "Discriminator sees each sample's L1 similarity to the rest of its batch."

    @dataclass(frozen=True)
    class Options:
        kernels: int = 5  # B
        kernel_dim: int = 1  # C; 1 allows the O(n log n) computation
        init_scale: float = 0.1  # sd of the normal start of T

        def __post_init__(self):
            if self.kernels < 1 or self.kernel_dim < 1:
                raise ValueError(
                    "kernels must be at least 1 and kernel_dim at least 1, "
                    f"got {self.kernels} and {self.kernel_dim}."
                )
            if self.init_scale <= 0:
                raise ValueError(f"init_scale must be positive, got {self.init_scale}.")

    def build_discriminator(self, config: TrainConfig) -> Discriminator:
        o = self.options
        width = config.discriminator_width
        head = MinibatchDiscrimination(config.members, width, o.kernels, o.kernel_dim, o.init_scale)
        return Discriminator(config.members, config.discriminator_layers, width, head, o.kernels)
