"""ganlab: compare GAN training techniques on one-dimensional data, many seeds at once."""

__version__ = "0.1.0"
