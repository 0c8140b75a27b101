"""Putting trained networks to work: synthetic samples and anomaly scores.

The generator makes synthetic data; the discriminator scores real records,
and the ones it finds least real are the most anomalous.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganlab.io import read_json
from ganlab.networks import TrainedNetworks

TAIL_KEYS = ("tail_lower_1pct", "tail_upper_1pct", "tail_lower_5pct", "tail_upper_5pct")


def best_tail_member(run_folder: Path) -> int:
    """Return the member whose four tail coverages lie closest to 1 in total, from metrics.json.

    Ties, common when no member reaches the tails, go to the lowest 1-Wasserstein distance.
    """
    rows = read_json(Path(run_folder) / "metrics.json")["members"]
    scored = [
        (sum(abs(row[key] - 1.0) for key in TAIL_KEYS), row["w1"], row["member"])
        for row in rows
        if not row["diverged"] and all(row[key] is not None for key in TAIL_KEYS)
    ]
    if not scored:
        raise ValueError(f"every member of {run_folder} diverged, so none can be used.")
    return min(scored)[2]


def _check_member(networks: TrainedNetworks, member: int) -> None:
    if not 0 <= member < networks.config.members:
        raise ValueError(
            f"member {member} does not exist; this run has members 0 to {networks.config.members - 1}."
        )


def _inputs(networks: TrainedNetworks, count: int, rng: torch.Generator) -> torch.Tensor:
    """Draw ``count`` generator inputs for every member, as training drew them."""
    shape = (networks.config.members, 1, count)
    kind = networks.config.generator_input
    if kind == "data":
        return networks.dataset.sample(shape, rng, torch.device("cpu"))
    if kind == "normal":
        return torch.randn(shape, generator=rng)
    return (torch.rand(shape, generator=rng) * 2 - 1) * 3**0.5


@torch.no_grad()
def sample(networks: TrainedNetworks, count: int, member: int, seed: int = 0) -> np.ndarray:
    """Draw ``count`` synthetic values in data units from one member's generator.

    The generator is in evaluation mode, so each value depends only on its
    own input, never on the rest of the batch.
    """
    _check_member(networks, member)
    rng = torch.Generator().manual_seed(seed)
    x = networks.generator(_inputs(networks, count, rng))[member, 0]
    return x.double().numpy() * networks.dataset.sd + networks.dataset.mean


@torch.no_grad()
def score(networks: TrainedNetworks, values: np.ndarray, member: int, seed: int = 0) -> np.ndarray:
    """Return one member discriminator's probability that each value is real.

    A discriminator with minibatch discrimination scores each value against
    a fixed real batch, as it saw values in training.
    """
    _check_member(networks, member)
    data = networks.dataset
    standard = torch.as_tensor(
        (np.asarray(values, dtype=np.float64) - data.mean) / data.sd, dtype=torch.float32
    )
    x = standard.expand(networks.config.members, 1, -1).contiguous()
    reference = None
    if networks.discriminator.mixes_batch:
        rng = torch.Generator().manual_seed(seed)
        reference = data.sample(
            (networks.config.members, 1, networks.config.batch_size - 1), rng, torch.device("cpu")
        )
    logits = networks.discriminator(x, reference).logits[member, 0]
    return torch.sigmoid(logits.double()).numpy()


def anomaly_ranks(probabilities: np.ndarray) -> np.ndarray:
    """Rank values from most anomalous (1: lowest probability of real) to least; ties share order of input."""
    order = np.argsort(probabilities, kind="stable")
    ranks = np.empty(order.size, dtype=int)
    ranks[order] = np.arange(1, order.size + 1)
    return ranks
