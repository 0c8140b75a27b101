"""Figures for run folders and comparison reports, drawn with matplotlib (Agg)."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

from ganlab.io import write_bytes  # noqa: E402

REAL_COLOR = "black"
BOUNDARY_COLOR = "tab:red"


def save(figure, path: Path) -> None:
    """Save a figure as PNG atomically and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    write_bytes(path, buffer.getvalue())


def representative_member(rows: list[dict]) -> int | None:
    """Return the member with the median 1-Wasserstein distance among those that did not diverge."""
    alive = [row for row in rows if not row["diverged"]]
    if not alive:
        return None
    alive.sort(key=lambda row: row["w1"])
    return alive[(len(alive) - 1) // 2]["member"]


def _plot_range(dataset, samples: np.ndarray) -> tuple[float, float]:
    low, high = dataset.quantile([0.0005, 0.9995])
    finite = samples[np.isfinite(samples)]
    if finite.size:
        low = min(low, np.quantile(finite, 0.001))
        high = max(high, np.quantile(finite, 0.999))
    margin = 0.05 * (high - low)
    return low - margin, high + margin


def density_axes(axes, dataset, samples, boundary_grid, boundaries, chosen: int | None, title: str):
    """Draw the article's Figure 2 on ``axes``: real and generated densities, D(x) on a second axis."""
    low, high = _plot_range(dataset, samples)
    x = np.linspace(low, high, 400)
    bins = np.linspace(low, high, 60)

    densities = {
        member: np.histogram(row, bins=bins, density=True)[0]
        for member, row in enumerate(samples)
        if np.all(np.isfinite(row))
    }
    for member, density in densities.items():
        if member != chosen:
            axes.stairs(density, bins, color="tab:blue", alpha=0.2, linewidth=0.8)
    if chosen in densities:
        axes.stairs(
            densities[chosen], bins, color="tab:blue", linewidth=1.8, label=f"generated (member {chosen})"
        )

    real = dataset.pdf(x)
    axes.plot(x, real, color=REAL_COLOR, linewidth=1.8, label="real")
    # A collapsed generator's spike would flatten the real density, so the axis stops at 3x its peak.
    top = 3 * real.max()
    axes.set_ylim(0, top)
    highest = max((density.max() for density in densities.values()), default=0.0)
    if highest > top:
        axes.text(0.99, 0.98, f"generated peaks clipped (highest {highest:.2g})", transform=axes.transAxes,
                  ha="right", va="top", fontsize="x-small", color="tab:blue")  # fmt: skip

    units = f" ({dataset.units})" if dataset.units else ""
    axes.set_xlabel(f"value{units}")
    axes.set_ylabel("density")
    axes.set_xlim(low, high)
    axes.set_title(title)

    twin = axes.twinx()
    for member, curve in enumerate(boundaries):
        if member != chosen and np.all(np.isfinite(curve)):
            twin.plot(boundary_grid, curve, color=BOUNDARY_COLOR, alpha=0.2, linewidth=0.8)
    if chosen is not None:
        twin.plot(boundary_grid, boundaries[chosen], color=BOUNDARY_COLOR, linewidth=1.8, label="D(x)")
    twin.axhline(0.5, color=BOUNDARY_COLOR, linestyle=":", linewidth=1)
    twin.set_ylim(0, 1)
    twin.set_ylabel("D(x), probability of real", color=BOUNDARY_COLOR)

    handles = axes.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    axes.legend(handles=handles, loc="upper left", fontsize="small", frameon=False)
    return twin


def training_animation(path: Path, result, dataset, fps: int = 10) -> None:
    """Write a GIF of member 0's densities and decision boundary at every evaluation.

    Frames come from the snapshots the trainer kept (``snapshot_samples``),
    drawn by matplotlib's Pillow writer.
    """
    figure, axes = plt.subplots(figsize=(6.5, 4))
    low, high = _plot_range(dataset, result.snapshots)
    x = np.linspace(low, high, 300)
    bins = np.linspace(low, high, 50)
    real = dataset.pdf(x)
    twin = axes.twinx()

    def draw(frame: int):
        axes.clear()
        twin.clear()
        axes.plot(x, real, color=REAL_COLOR, linewidth=1.8, label="real")
        axes.hist(
            result.snapshots[frame],
            bins=bins,
            density=True,
            histtype="step",
            color="tab:blue",
            linewidth=1.5,
            label="generated",
        )
        axes.set_xlim(low, high)
        axes.set_ylim(0, 3 * real.max())
        axes.set_xlabel(f"value ({dataset.units})" if dataset.units else "value")
        axes.set_ylabel("density")
        axes.set_title(f"{result.config.variant}, member 0, step {result.steps[frame]:,}")
        axes.legend(loc="upper left", frameon=False, fontsize="small")
        twin.plot(result.grid, result.boundary_history[frame, 0], color=BOUNDARY_COLOR, linewidth=1.5)
        twin.axhline(0.5, color=BOUNDARY_COLOR, linestyle=":", linewidth=1)
        twin.set_ylim(0, 1)
        # clear() moves a twin axis back to the left.
        twin.yaxis.tick_right()
        twin.yaxis.set_label_position("right")
        twin.set_ylabel("D(x)", color=BOUNDARY_COLOR)

    animation = FuncAnimation(figure, draw, frames=len(result.steps))
    temporary = path.with_name(f".{path.name}.tmp.gif")
    animation.save(temporary, writer=PillowWriter(fps=fps))
    plt.close(figure)
    temporary.replace(path)


def run_figures(folder: Path, result, dataset, rows: list[dict]) -> None:
    """Write density.png, boundary.png and losses.png for one run."""
    chosen = representative_member(rows)
    figure, axes = plt.subplots(figsize=(7, 4.2))
    density_axes(
        axes,
        dataset,
        result.samples,
        result.grid,
        result.boundary_history[-1],
        chosen,
        f"{result.config.variant} on {dataset.name}: densities and decision boundary",
    )
    save(figure, folder / "density.png")

    figure, axes = plt.subplots(figsize=(7, 3.8))
    axes.plot(result.steps, result.boundary_deviation, color="tab:purple", alpha=0.3, linewidth=0.8)
    axes.plot(
        result.steps,
        np.nanmedian(result.boundary_deviation, axis=1),
        color="tab:purple",
        linewidth=2,
        label="median over members",
    )
    axes.axhline(
        result.config.boundary_threshold, color="gray", linestyle="--", linewidth=1, label="threshold"
    )
    axes.set_xlabel("step")
    axes.set_ylabel("weighted mean |D(x) - 0.5|")
    axes.set_title("Decision-boundary deviation from 0.5 during training")
    axes.legend(frameon=False)
    save(figure, folder / "boundary.png")

    figure, panels = plt.subplots(1, 2, figsize=(9, 3.5), sharex=True)
    for panel, losses, name in (
        (panels[0], result.d_loss, "discriminator"),
        (panels[1], result.g_loss, "generator"),
    ):
        panel.plot(result.steps, losses, color="gray", alpha=0.3, linewidth=0.8)
        panel.plot(result.steps, np.nanmedian(losses, axis=1), color="black", linewidth=1.8)
        panel.set_title(f"{name} loss (median in black)")
        panel.set_xlabel("step")
    save(figure, folder / "losses.png")


def comparison_figures(folder: Path, runs: dict, dataset) -> list[tuple[str, str]]:
    """Write the side-by-side figures of a comparison; return (file name, caption) pairs.

    ``runs`` maps a variant name to a dict with the arrays of its run folder:
    ``samples``, ``grid``, ``boundary_history``, ``steps``, ``deviation`` and
    its member ``rows``.
    """
    names = list(runs)
    written = []

    figure, axes = plt.subplots(
        1,
        len(names),
        figsize=(5.6 * len(names), 4.2),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for panel, name in zip(axes[0], names):
        run = runs[name]
        density_axes(
            panel,
            dataset,
            run["samples"],
            run["grid"],
            run["boundary_history"][-1],
            representative_member(run["rows"]),
            name,
        )
    save(figure, folder / "densities.png")
    written.append(
        (
            "densities.png",
            "Real density (black), generated densities (blue; bold: the member with "
            "the median W1) and the final decision boundary D(x) (red, right axis).",
        )
    )

    figure, axes = plt.subplots(figsize=(7, 4))
    # Distinct dashes keep a curve visible where another lies on top of it.
    for name, dashes in zip(names, itertools.cycle(["-", "--", ":", "-."])):
        run = runs[name]
        median = np.nanmedian(run["deviation"], axis=1)
        low, high = np.nanpercentile(run["deviation"], [25, 75], axis=1)
        (line,) = axes.plot(run["steps"], median, linewidth=1.8, linestyle=dashes, label=name)
        axes.fill_between(run["steps"], low, high, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("step")
    axes.set_ylabel("weighted mean |D(x) - 0.5|")
    axes.set_title("Decision-boundary deviation: median and interquartile band over members")
    axes.legend(frameon=False)
    save(figure, folder / "boundary_deviation.png")
    written.append(("boundary_deviation.png", "Decision-boundary deviation from 0.5 over training."))

    keys = ["tail_lower_1pct", "tail_upper_1pct", "tail_lower_5pct", "tail_upper_5pct"]
    figure, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.6), sharey=True)
    rng = np.random.default_rng(0)
    for panel, key in zip(axes, keys):
        for position, name in enumerate(names):
            values = np.array([row[key] for row in runs[name]["rows"]], dtype=float)
            values = values[np.isfinite(values)]
            jitter = rng.uniform(-0.12, 0.12, values.size)
            panel.scatter(np.full(values.size, position) + jitter, values, s=14, alpha=0.7)
            if values.size:
                panel.hlines(np.median(values), position - 0.25, position + 0.25, color="black")
        panel.axhline(1.0, color="gray", linestyle="--", linewidth=1)
        panel.set_xticks(range(len(names)), names, rotation=30, ha="right")
        side, level = key.split("_")[1:3]
        panel.set_title(f"{side} {level.replace('pct', '%')} tail")
    axes[0].set_ylabel("generated tail share / true share")
    save(figure, folder / "tail_coverage.png")
    written.append(
        (
            "tail_coverage.png",
            "Tail coverage per member (dots) and its median (bar); 1.0 is the true tail mass.",
        )
    )

    figure, axes = plt.subplots(figsize=(5.5, 5.5))
    levels = np.linspace(0.001, 0.999, 199)
    truth = dataset.quantile(levels)
    for name, marker in zip(names, itertools.cycle(["o", "s", "^", "D"])):
        member = representative_member(runs[name]["rows"])
        if member is None:
            continue
        generated = np.quantile(runs[name]["samples"][member], levels)
        axes.plot(
            truth, generated, marker=marker, markersize=3, linewidth=1, label=f"{name} (member {member})"
        )
    axes.plot(truth, truth, color="black", linestyle="--", linewidth=1, label="identity")
    units = f" ({dataset.units})" if dataset.units else ""
    axes.set_xlabel(f"real quantile{units}")
    axes.set_ylabel(f"generated quantile{units}")
    axes.set_title("Q-Q plot, 0.1% to 99.9%")
    axes.legend(frameon=False, fontsize="small")
    save(figure, folder / "qq.png")
    written.append(
        (
            "qq.png",
            "Generated against real quantiles for each variant's median-W1 member. Where a curve flattens "
            "away from the dashed identity line at the ends, the generator misses that tail.",
        )
    )
    return written
