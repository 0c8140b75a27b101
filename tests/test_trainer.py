"""Short end-to-end training runs of every registered variant on the heights dataset."""

import numpy as np
import pytest
import torch

from ganlab.config import TrainConfig
from ganlab.data import heights
from ganlab.registry import create_variant, list_variants
from ganlab.trainer import Trainer

STEPS, EVAL_EVERY, MEMBERS, GRID = 200, 50, 2, 200


@pytest.fixture(autouse=True)
def single_thread():
    """Run each test on one torch thread.

    These networks are too small to gain from a second thread. On a busy two-core
    machine, two threads made a 200-step run about ten times slower (2.7 s against 0.27 s).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_trainer(variant="baseline", **settings):
    """Build a short run of ``variant``. Keyword ``settings`` override the TrainConfig fields set here."""
    fields = {
        "steps": STEPS,
        "members": MEMBERS,
        "batch_size": 64,
        "eval_every": EVAL_EVERY,
        "boundary_grid": GRID,
        "eval_samples": 2000,
    }
    config = TrainConfig(variant=variant, **{**fields, **settings})
    return Trainer(create_variant(variant), config, heights())


def test_registry_lists_built_in_variants():
    assert set(list_variants()) >= {"baseline", "feature-matching", "minibatch-discrimination"}
    assert list_variants()[0] == "baseline"


@pytest.mark.parametrize("variant", list_variants())
def test_variant_trains_end_to_end(variant):
    torch.manual_seed(0)
    result = make_trainer(variant).train()
    evaluations = STEPS // EVAL_EVERY

    np.testing.assert_array_equal(result.steps, [50, 100, 150, 200])
    assert result.d_loss.shape == (evaluations, MEMBERS)
    assert result.g_loss.shape == (evaluations, MEMBERS)
    assert np.isfinite(result.d_loss).all()
    assert np.isfinite(result.g_loss).all()
    assert result.boundary_history.shape == (evaluations, MEMBERS, GRID)
    assert ((result.boundary_history >= 0) & (result.boundary_history <= 1)).all()
    assert result.boundary_deviation.shape == (evaluations, MEMBERS)
    assert result.samples.shape == (MEMBERS, 2000)
    assert np.isfinite(result.samples).all()
    np.testing.assert_array_equal(result.diverged_at, [-1, -1])


@pytest.mark.parametrize("variant", list_variants())
def test_variant_boundary_deviation_consistent(variant):
    torch.manual_seed(0)
    result = make_trainer(variant).train()

    expected = np.abs(result.boundary_history - 0.5) @ result.grid_weights
    np.testing.assert_allclose(result.boundary_deviation, expected)
    assert result.grid_weights.sum() == pytest.approx(1.0)
    assert result.grid[0] == pytest.approx(heights().quantile(0.001))
    assert result.grid[-1] == pytest.approx(heights().quantile(0.999))


def test_final_step_recorded_off_interval():
    # 130 steps with evaluations every 50: records at 50, 100 and the last step.
    config = TrainConfig(steps=130, members=MEMBERS, batch_size=64, eval_every=50, eval_samples=100)

    result = Trainer(create_variant("baseline"), config, heights()).train()

    np.testing.assert_array_equal(result.steps, [50, 100, 130])
    assert result.boundary_history.shape == (3, MEMBERS, 200)


def test_learning_rate_staircase():
    config = TrainConfig(steps=STEPS, members=MEMBERS, batch_size=64, eval_every=EVAL_EVERY, eval_samples=100)

    result = Trainer(create_variant("baseline"), config, heights()).train()

    # The rate after each recorded step is lr * 0.95 ** (step // 100).
    expected = 0.005 * 0.95 ** (np.array([50, 100, 150, 200]) // 100)
    np.testing.assert_allclose(result.learning_rate, expected)


def test_same_config_identical_samples():
    first = make_trainer().train()
    second = make_trainer().train()

    assert np.array_equal(first.samples, second.samples)


def test_same_config_without_dropout():
    first = make_trainer(dropout=0.0).train()
    second = make_trainer(dropout=0.0).train()

    assert np.array_equal(first.samples, second.samples)
    assert np.array_equal(first.boundary_history, second.boundary_history)


def test_same_config_global_seed_reset():
    torch.manual_seed(123)
    first = make_trainer().train()
    torch.manual_seed(123)
    second = make_trainer().train()

    assert np.array_equal(first.samples, second.samples)
    assert np.array_equal(first.d_loss, second.d_loss)


def test_different_seeds_differ():
    first = make_trainer(dropout=0.0, seed=1).train()
    second = make_trainer(dropout=0.0, seed=2).train()

    assert not np.array_equal(first.samples, second.samples)


@pytest.mark.parametrize("variant", list_variants())
def test_evaluation_frequency_keeps_training(variant):
    # Evaluation draws from its own stream, so recording more often leaves the weights unchanged.
    torch.manual_seed(7)
    often = make_trainer(variant, dropout=0.0).train()
    torch.manual_seed(7)
    rarely = make_trainer(variant, dropout=0.0, eval_every=200).train()

    for name, tensor in often.generator.items():
        assert torch.equal(tensor, rarely.generator[name]), name
    for name, tensor in often.discriminator.items():
        assert torch.equal(tensor, rarely.discriminator[name]), name


@pytest.mark.parametrize("variant", list_variants())
def test_diverged_member_reported(variant):
    torch.manual_seed(0)
    trainer = make_trainer(variant)
    with torch.no_grad():
        trainer.generator.output.weight[1] = float("nan")

    result = trainer.train()

    assert result.diverged_at[1] == EVAL_EVERY
    assert result.diverged_at[0] == -1
    assert np.isfinite(result.d_loss[:, 0]).all()
    assert np.isfinite(result.g_loss[:, 0]).all()
    assert np.isfinite(result.boundary_history[:, 0]).all()
    assert np.isfinite(result.samples[0]).all()
    assert not np.isfinite(result.samples[1]).any()


def test_diverged_member_matches_solo_run():
    # The healthy member trains exactly as it would beside a healthy partner.
    torch.manual_seed(0)
    healthy = make_trainer(dropout=0.0).train()
    trainer = make_trainer(dropout=0.0)
    with torch.no_grad():
        trainer.generator.output.weight[1] = float("nan")

    broken = trainer.train()

    np.testing.assert_array_equal(broken.samples[0], healthy.samples[0])
    np.testing.assert_array_equal(broken.d_loss[:, 0], healthy.d_loss[:, 0])


def test_peak_memory_estimate_formula():
    # Half a GiB, plus per member 2,200 bytes per batch sample and 190 per evaluation sample.
    config = TrainConfig(members=8, batch_size=200, eval_samples=10_000)
    assert config.estimated_peak_bytes() == 2**29 + 8 * (2200 * 200 + 190 * 10_000)


def test_peak_memory_estimate_grows_with_members():
    small = TrainConfig(members=8).estimated_peak_bytes()
    large = TrainConfig(members=1000).estimated_peak_bytes()
    assert 2 * 2**30 < large < 3 * 2**30
    assert small < 2**30
