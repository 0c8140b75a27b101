"""Paired timing for the speed benchmarks, and the summary table they print.

Every case times ganlab against a comparison (the plain PyTorch reference
in ``reference.py``, or ganlab's own baseline) in the same pytest run. The
rounds of the two sides alternate, so that a slow spell caused by other
processes tends to hit both sides. A burst that hits one round only still
skews that round, and the medians limit how far it moves the ratio.

Environment variables:

- ``GANLAB_BENCH_STEPS``: training steps per timed round for the one-member,
  eight-member and variant cases (default 1000).
- ``GANLAB_BENCH_SCALING_STEPS``: steps per round for the population-size
  cases (default 200).
- ``GANLAB_BENCH_ROUNDS``: timed rounds per side, overriding each case's own
  default.
- ``GANLAB_BENCH_THREADS``: ``torch.set_num_threads`` value for the whole
  benchmark session (default: torch's own choice, as the ganlab CLI uses).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from .timing import Round, SpeedRow, env_int

# Steps that each side runs once, untimed, before its first timed round.
WARMUP_STEPS = 20

ROWS_KEY = pytest.StashKey[list[SpeedRow]]()


@pytest.fixture(scope="session", autouse=True)
def torch_threads():
    """Set torch's CPU thread count from ``GANLAB_BENCH_THREADS`` for the session, then restore it."""
    before = torch.get_num_threads()
    torch.set_num_threads(env_int("GANLAB_BENCH_THREADS", before))
    yield torch.get_num_threads()
    torch.set_num_threads(before)


def assert_finite(label: str, losses: tuple[Tensor, Tensor]) -> None:
    d_loss, g_loss = losses
    assert torch.isfinite(d_loss).all(), f"{label}: discriminator loss is not finite: {d_loss}"
    assert torch.isfinite(g_loss).all(), f"{label}: generator loss is not finite: {g_loss}"


@pytest.fixture
def compare(benchmark, request):
    """Return a function that times ganlab against a comparison and records the ratio.

    The returned function takes two round factories, each mapping a step
    count to an untimed-prepared round. Before each ganlab round that
    ``benchmark.pedantic`` times, its ``setup`` hook (which the benchmark
    does not time) times one comparison round with ``time.perf_counter``
    and then prepares the ganlab round. ``comparison_factor`` scales the
    comparison's median, for a comparison that stands for several runs
    one after another but times only one of them.
    """
    rows = request.config.stash.setdefault(ROWS_KEY, [])

    def run(
        *,
        case: str,
        steps: int,
        members: int,
        rounds: int,
        ganlab: Callable[[int], Round],
        comparison: Callable[[int], Round],
        comparison_label: str,
        comparison_factor: float = 1.0,
        target: float | None = None,
    ) -> SpeedRow | None:
        rounds = env_int("GANLAB_BENCH_ROUNDS", rounds)
        assert_finite("ganlab warm-up", ganlab(WARMUP_STEPS)())
        assert_finite(f"{comparison_label} warm-up", comparison(WARMUP_STEPS)())

        comparison_seconds = []

        def setup():
            comparison_round = comparison(steps)
            start = time.perf_counter()
            losses = comparison_round()
            comparison_seconds.append(time.perf_counter() - start)
            assert_finite(comparison_label, losses)
            return (ganlab(steps),), {}

        losses = benchmark.pedantic(lambda ganlab_round: ganlab_round(), setup=setup, rounds=rounds)
        assert_finite("ganlab", losses)

        benchmark.extra_info.update(
            case=case,
            steps=steps,
            members=members,
            threads=torch.get_num_threads(),
            comparison=comparison_label,
            comparison_seconds=comparison_seconds,
            comparison_factor=comparison_factor,
            target_ratio=target,
        )
        if benchmark.stats is None:
            # With --benchmark-disable the round ran once and nothing was timed.
            return None
        pair_ratios = [
            ganlab_s / (comparison_s * comparison_factor)
            for ganlab_s, comparison_s in zip(benchmark.stats.stats.data, comparison_seconds)
        ]
        row = SpeedRow(
            case=case,
            steps=steps,
            members=members,
            ganlab_s=benchmark.stats.stats.median,
            comparison=comparison_label,
            comparison_s=statistics.median(comparison_seconds) * comparison_factor,
            target=target,
            threads=torch.get_num_threads(),
            round_ratios=(min(pair_ratios), max(pair_ratios)),
        )
        benchmark.extra_info.update(
            ganlab_median_s=row.ganlab_s,
            comparison_median_s=row.comparison_s,
            ratio=row.ratio,
            member_steps_per_s=row.member_steps_per_s,
        )
        rows.append(row)
        return row

    return run


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.1f} ms"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    """Print one line per benchmark case: both medians, their ratio, its range over rounds and the target."""
    rows = config.stash.get(ROWS_KEY, [])
    if not rows:
        return
    header = ("case", "steps", "ganlab", "member-steps/s", "compared with") + (
        "its time",
        "ratio",
        "rounds",
        "target",
    )
    lines = [
        (
            row.case,
            str(row.steps),
            format_seconds(row.ganlab_s),
            f"{row.member_steps_per_s:,.0f}",
            row.comparison,
            format_seconds(row.comparison_s),
            f"{row.ratio:.2f}",
            f"{row.round_ratios[0]:.2f}-{row.round_ratios[1]:.2f}",
            "-" if row.target is None else f"<= {row.target:g}",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    # Text columns align left, numbers right.
    left = {0, 4}

    def render(cells) -> str:
        return "  ".join(
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        )

    reporter = terminalreporter
    reporter.section("ganlab speed: ganlab time / comparison time (lower is better)")
    threads = ", ".join(str(count) for count in sorted({row.threads for row in rows}))
    reporter.write_line(
        f"torch {torch.__version__}, {threads} CPU threads; "
        "times are medians per timed round of the given steps; rounds gives the lowest and "
        "highest ratio of one round pair."
    )
    reporter.write_line(render(header))
    for line in lines:
        reporter.write_line(render(line))
