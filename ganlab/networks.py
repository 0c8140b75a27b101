"""Saving and loading trained networks safely.

A ``networks.pt`` file contains plain tensors, numbers and strings only, so it
loads with ``torch.load(..., weights_only=True)``, which never runs code
from the file. It carries a format version, the resolved config, and what
a trained model needs of its data: the standardisation, the training range
and, for real data, the values the generator draws its inputs from.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

import ganlab
from ganlab.config import TrainConfig
from ganlab.data import Dataset, EmpiricalDataset, NormalDataset
from ganlab.io import write_bytes
from ganlab.nn import Discriminator, Generator
from ganlab.registry import create_variant

FORMAT = 1


class NetworksError(ValueError):
    """A networks file that cannot be used, with a message naming the file and the fix."""


def save_networks(
    path: Path, config: TrainConfig, dataset: Dataset, generator: dict, discriminator: dict
) -> None:
    """Save both networks' state dicts with their config and data description, atomically."""
    low, high = training_range(dataset)
    payload = {
        "format": FORMAT,
        "ganlab": ganlab.__version__,
        "config": config.to_dict(),
        "dataset": dataset.describe(),
        "training_range": [float(low), float(high)],
        "values": None if dataset.values is None else torch.as_tensor(dataset.values),
        "generator": generator,
        "discriminator": discriminator,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes(path, buffer.getvalue())


def training_range(dataset: Dataset) -> tuple[float, float]:
    """Return the range a model saw in training: the data's own for real data, 0.1%-99.9% otherwise."""
    if dataset.values is not None:
        return float(dataset.values.min()), float(dataset.values.max())
    low, high = dataset.quantile([0.001, 0.999])
    return float(low), float(high)


@dataclass
class TrainedNetworks:
    """A run's networks in evaluation mode, with their config and data."""

    config: TrainConfig
    dataset: Dataset
    generator: Generator
    discriminator: Discriminator
    training_range: tuple[float, float]


def load_networks(run_folder: Path) -> TrainedNetworks:
    """Load ``networks.pt`` from a run folder; raise NetworksError when it cannot be used."""
    path = Path(run_folder) / "networks.pt"
    if not path.exists():
        raise NetworksError(
            f"{run_folder} has no networks.pt; pass a run folder written by ganlab run or compare."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as error:
        raise NetworksError(
            f"{path} cannot be read ({type(error).__name__}); the file is truncated or corrupt. "
            "Train the run again."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        raise NetworksError(
            f"{path} has format {found!r}, and this ganlab ({ganlab.__version__}) reads format {FORMAT}; "
            "use the ganlab version that wrote it or train the run again."
        )
    try:
        known = {f.name for f in fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in payload["config"].items() if k in known})
        variant = create_variant(config.variant, **config.variant_options)
        generator = Generator(config.members, config.generator_layers, config.generator_width, config.dropout)
        discriminator = variant.build_discriminator(config)
        generator.load_state_dict(payload["generator"])
        discriminator.load_state_dict(payload["discriminator"])
        dataset = _dataset(payload)
        low, high = payload["training_range"]
    except (KeyError, TypeError, ValueError, RuntimeError, LookupError) as error:
        raise NetworksError(
            f"{path} does not match this ganlab's networks ({error}); train the run again."
        ) from None
    generator.eval()
    discriminator.eval()
    return TrainedNetworks(
        config=config,
        dataset=dataset,
        generator=generator,
        discriminator=discriminator,
        training_range=(float(low), float(high)),
    )


def _dataset(payload: dict) -> Dataset:
    info = payload["dataset"]
    if payload["values"] is None:
        return NormalDataset(info["name"], info["mean"], info["sd"], info["units"], info["description"])
    values = np.asarray(payload["values"], dtype=np.float64)
    return EmpiricalDataset(info["name"], values, info["units"], info["description"])
