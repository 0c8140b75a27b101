"""Datasets: what a GAN learns, and the truth its metrics compare against.

A dataset samples training batches in standardised units (``(x - mean) / sd``)
and provides its quantiles, CDF and density in data units. The quantiles and
CDF are analytic where the distribution is known and empirical otherwise.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from ganlab.data.files import DataFileError, read_column

__all__ = [
    "DataFileError",
    "Dataset",
    "EmpiricalDataset",
    "NormalDataset",
    "galton",
    "heights",
    "load_file",
]


class Dataset:
    """A one-dimensional distribution to learn, with its units and truth."""

    name: str
    description: str
    units: str
    mean: float
    sd: float
    values: np.ndarray | None = None

    def sample(self, shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
        """Draw a batch in standardised units."""
        raise NotImplementedError

    def quantile(self, q: np.ndarray | float) -> np.ndarray:
        """Return the true q-quantiles in data units."""
        raise NotImplementedError

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Return the true CDF at ``x`` (data units)."""
        raise NotImplementedError

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Return the density at ``x`` (data units), estimated where it is not known."""
        raise NotImplementedError

    def reference_sample(self, n: int) -> np.ndarray:
        """Return ``n`` values that stand for the true distribution in distance metrics.

        The quantiles at ``(i + 0.5) / n`` for a known distribution, the data
        itself for a real set, so that the metrics carry no sampling noise of
        their own.
        """
        raise NotImplementedError

    def describe(self) -> dict:
        """Return the fields a run folder records about its data."""
        return {
            "name": self.name,
            "description": self.description,
            "units": self.units,
            "mean": self.mean,
            "sd": self.sd,
            "rows": None if self.values is None else int(self.values.size),
        }


class NormalDataset(Dataset):
    """Normal distribution N(mean, sd) with analytic quantiles and CDF."""

    def __init__(self, name: str, mean: float, sd: float, units: str, description: str):
        self.name, self.mean, self.sd, self.units = name, mean, sd, units
        self.description = description
        self.distribution = stats.norm(mean, sd)

    def sample(self, shape, generator, device):
        return torch.randn(shape, generator=generator, device=device)

    def quantile(self, q):
        return self.distribution.ppf(q)

    def cdf(self, x):
        return self.distribution.cdf(x)

    def pdf(self, x):
        return self.distribution.pdf(x)

    def reference_sample(self, n):
        return self.distribution.ppf((np.arange(n) + 0.5) / n)


class EmpiricalDataset(Dataset):
    """A set of real measurements, resampled with replacement for training.

    Its quantiles and CDF are the sample's own. Its density, which only
    weights the decision-boundary metric and draws the figures, is a Gaussian
    kernel density estimate (``scipy.stats.gaussian_kde``, Scott's rule).
    """

    def __init__(self, name: str, values: np.ndarray, units: str, description: str):
        self.name, self.units, self.description = name, units, description
        self.values = np.sort(np.asarray(values, dtype=np.float64))
        self.mean = float(self.values.mean())
        self.sd = float(self.values.std(ddof=1))
        self._kde = stats.gaussian_kde(self.values)
        self._standardised: dict[torch.device, Tensor] = {}

    def sample(self, shape, generator, device):
        table = self._standardised.get(device)
        if table is None:
            table = torch.as_tensor((self.values - self.mean) / self.sd, dtype=torch.float32, device=device)
            self._standardised[device] = table
        index = torch.randint(table.numel(), shape, generator=generator, device=device)
        return table[index]

    def quantile(self, q):
        return np.quantile(self.values, q)

    def cdf(self, x):
        return np.searchsorted(self.values, x, side="right") / self.values.size

    def pdf(self, x):
        return self._kde(np.asarray(x, dtype=np.float64))

    def reference_sample(self, n):
        return self.values


def heights() -> NormalDataset:
    """Return the article's heights of US men, N(69, 3) inches."""
    return NormalDataset(
        "heights", 69.0, 3.0, "in", "Heights of US men as in the article: normal, mean 69 in, SD 3 in."
    )


def galton() -> EmpiricalDataset:
    """Return the 481 adult sons' heights from Galton's 1886 family records."""
    path = resources.files("ganlab.data").joinpath("galton_sons.csv")
    with resources.as_file(path) as local:
        values = read_column(Path(local), "height")
    return EmpiricalDataset(
        "galton", values, "in", "Real heights: the 481 adult sons in Galton's 1886 family records, inches."
    )


def load_file(path: Path, column: str | None, min_rows: int) -> EmpiricalDataset:
    """Load one numeric column of a user's CSV file as a dataset.

    Raises DataFileError, naming the file, line or column and the fix, when
    the file cannot serve as training data.
    """
    values = read_column(path, column)
    if values.size < min_rows:
        raise DataFileError(
            f"{path} has only {values.size} value(s), fewer than the batch size {min_rows}; "
            "lower --batch-size or use a larger file."
        )
    if not math.isfinite(values.std()) or values.std() == 0.0:
        raise DataFileError(
            f"{path}: every value equals {values[0]:g}, so the data have zero spread; "
            "a GAN needs a distribution with some spread to learn."
        )
    label = column or path.name
    return EmpiricalDataset(str(path), values, "", f"Values of {label} read from {path.name}.")
