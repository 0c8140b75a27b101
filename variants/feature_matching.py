"""Feature matching (Salimans et al., 2016, "Improved Techniques for Training GANs").

The generator stops maximising the discriminator's output and instead
matches the batch means of the discriminator's last hidden layer ``f``:

    L_G = || E_x f(x) - E_z f(G(z)) ||_2^2

with both expectations taken over one batch. The real features are a fixed
target computed without gradient, and the trainer applies this loss to the
generator's parameters only. The discriminator trains as in the baseline.
"""

from torch import Tensor

from ganlab.nn import DiscriminatorOutput
from ganlab.variant import Variant


class FeatureMatching(Variant):
    name = "feature-matching"
    summary = "Generator matches batch means of the discriminator's last hidden layer."
    uses_real_features = True

    def generator_loss(self, fake: DiscriminatorOutput, real_features: Tensor | None) -> Tensor:
        difference = real_features.mean(dim=2) - fake.features.mean(dim=2)
        return difference.square().sum(dim=1)
