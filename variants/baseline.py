"""The article's GAN, unchanged: every hook keeps its default."""

from ganlab.variant import Variant


class Baseline(Variant):
    name = "baseline"
    summary = "The article's GAN: non-saturating losses, no extra layers."
