"""Speed of ganlab's population training against plain PyTorch and against its own baseline.

The default test run skips these (``--benchmark-skip`` in pyproject's
addopts). Run them with::

    python -m pytest tests/benchmarks --benchmark-only -p no:cacheprovider

Each case prints one row of the summary table at the end of the session and
stores the same numbers in ``benchmark.extra_info``. Only the training
steps are timed: trainers and reference networks are built before the
clock starts. The ratios are reported, not asserted, because wall-clock
times depend on the machine and its load. Only finite losses are asserted.
"""

from __future__ import annotations

import pytest
import torch

from ganlab.config import TrainConfig
from ganlab.data import heights
from ganlab.registry import create_variant, list_variants
from ganlab.trainer import Trainer

from .reference import ReferenceGAN
from .timing import Round, env_int

STEPS = env_int("GANLAB_BENCH_STEPS", 1000)
SCALING_STEPS = env_int("GANLAB_BENCH_SCALING_STEPS", 200)
POPULATIONS = (1, 8, 64, 256)
BATCH_SIZE = 200

# The project's speed goals, as ratios of ganlab time to comparison time.
# One member should run 1.5 times faster than plain PyTorch. Eight members
# should run 8 times faster than eight plain runs one after another. A
# technique should cost at most twice the baseline per step. The population
# cases report member-steps per second, with a goal of 10,000 at 64 members.
ONE_MEMBER_TARGET = round(1 / 1.5, 2)
EIGHT_MEMBERS_TARGET = 1 / 8
TECHNIQUE_TARGET = 2.0


def ganlab_rounds(variant: str, members: int, batch_size: int = BATCH_SIZE):
    """Return a factory of ganlab rounds: a fresh trainer per round, ``Trainer.step`` in a loop."""

    def prepare(steps: int) -> Round:
        config = TrainConfig(variant=variant, members=members, steps=steps, batch_size=batch_size)
        trainer = Trainer(create_variant(variant), config, heights())

        def train():
            for step in range(1, steps + 1):
                losses = trainer.step(step)
            return losses

        return train

    return prepare


def reference_rounds(seeds: int, batch_size: int = BATCH_SIZE):
    """Return a factory of reference rounds: ``seeds`` plain PyTorch runs, one after another."""

    def prepare(steps: int) -> Round:
        gans = []
        for seed in range(seeds):
            torch.manual_seed(seed)
            gans.append(ReferenceGAN(batch_size))

        def train():
            d_losses, g_losses = [], []
            for gan in gans:
                d_loss, g_loss = gan.train(steps)
                d_losses.append(d_loss[-1])
                g_losses.append(g_loss[-1])
            return torch.stack(d_losses), torch.stack(g_losses)

        return train

    return prepare


def scaling_steps(members: int) -> int:
    """Return the steps per round for a population. The 256-member one runs a quarter as many."""
    if members >= 256:
        return max(1, SCALING_STEPS // 4)
    return SCALING_STEPS


@pytest.mark.benchmark(group="one member")
def test_one_member_baseline(compare):
    compare(
        case="baseline, 1 member",
        steps=STEPS,
        members=1,
        rounds=5,
        ganlab=ganlab_rounds("baseline", 1),
        comparison=reference_rounds(1),
        comparison_label="reference, 1 seed",
        target=ONE_MEMBER_TARGET,
    )


@pytest.mark.benchmark(group="eight members")
def test_eight_members_baseline(compare):
    compare(
        case="baseline, 8 members",
        steps=STEPS,
        members=8,
        rounds=3,
        ganlab=ganlab_rounds("baseline", 8),
        comparison=reference_rounds(8),
        comparison_label="reference, 8 seeds in turn",
        target=EIGHT_MEMBERS_TARGET,
    )


@pytest.mark.benchmark(group="population size")
@pytest.mark.parametrize("members", POPULATIONS)
@pytest.mark.parametrize("variant", list_variants())
def test_population_scaling(compare, variant, members):
    # The comparison times one reference seed and multiplies by the member
    # count, because timing 256 plain runs would take minutes per round.
    compare(
        case=f"{variant}, {members} member" + ("s" if members > 1 else ""),
        steps=scaling_steps(members),
        members=members,
        rounds=3,
        ganlab=ganlab_rounds(variant, members),
        comparison=reference_rounds(1),
        comparison_label=f"reference, 1 seed x {members}",
        comparison_factor=members,
        target=None,
    )


@pytest.mark.benchmark(group="technique cost")
@pytest.mark.parametrize("variant", ["minibatch-discrimination", "feature-matching"])
def test_technique_cost(compare, variant):
    compare(
        case=f"{variant}, 8 members",
        steps=STEPS,
        members=8,
        rounds=3,
        ganlab=ganlab_rounds(variant, 8),
        comparison=ganlab_rounds("baseline", 8),
        comparison_label="ganlab baseline, 8 members",
        target=TECHNIQUE_TARGET,
    )


@pytest.mark.benchmark(group="per-call floor")
@pytest.mark.parametrize("members", [1, 8])
def test_per_call_floor(compare, members):
    # Batch 8 does a 25th of the arithmetic of batch 200 in the same torch calls, so its
    # time is close to the fixed cost of those calls.
    compare(
        case=f"baseline, {members} member" + ("s" if members > 1 else "") + ", batch 8",
        steps=STEPS,
        members=members,
        rounds=3,
        ganlab=ganlab_rounds("baseline", members, batch_size=8),
        comparison=ganlab_rounds("baseline", members),
        comparison_label=f"ganlab, batch {BATCH_SIZE}",
        target=None,
    )
