"""Comparison reports built from finished run folders, never from live training.

``build_report`` reads ``runs/VARIANT/`` under a comparison folder and writes
``report.md``, ``metrics.csv``, ``summary.json`` and the figures beside it, so
a report can be rebuilt from saved results at any time.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ganlab import plots
from ganlab.io import read_json, write_csv, write_json, write_text
from ganlab.metrics import MEMBER_METRICS, boundary_deviation
from ganlab.render import render_html, render_markdown
from ganlab.statistics import bootstrap_interval, error_from_target, holm, mann_whitney, verdict

# Metric key: (column label, number format). Families in report order.
FAMILIES = {
    "Tail coverage": {
        "tail_lower_1pct": ("lower 1%", ".2f"),
        "tail_upper_1pct": ("upper 1%", ".2f"),
        "tail_lower_5pct": ("lower 5%", ".2f"),
        "tail_upper_5pct": ("upper 5%", ".2f"),
        "sd_ratio": ("SD ratio", ".2f"),
    },
    "Decision-boundary convergence": {
        "boundary_deviation": ("final deviation", ".4f"),
        "convergence_step": ("convergence step", ".0f"),
    },
    "Distribution distance": {
        "ks": ("KS statistic", ".3f"),
        "w1": ("W1", ".3f"),
    },
}

FAMILY_NOTES = {
    "Tail coverage": "Generated share beyond the real q and 1-q quantiles, divided by q: 1.0 is the true "
    "tail mass, 0 a generator that never reaches the tail. SD ratio: generated SD over real SD.",
    "Decision-boundary convergence": "Final density-weighted mean |D(x) - 0.5| over the real 0.1%-99.9% "
    "range, and the first recorded step after which it stays below the threshold ({threshold}). The "
    "convergence column averages only the members that converged, counted in its n.",
    "Distribution distance": "Kolmogorov-Smirnov statistic and 1-Wasserstein distance ({units}) between "
    "generated samples and the real distribution (scipy.stats).",
}


def format_summary(entry: dict, spec: str) -> str:
    """Format a summary as ``mean ± sd`` with the count when members are missing."""
    if entry.get("n", 0) == 0:
        return "n/a"
    text = f"{entry['mean']:{spec}} ± {entry['sd']:{spec}}"
    if entry["n"] < entry["members"]:
        text += f" (n={entry['n']})"
    return text


def load_runs(folder: Path) -> tuple[dict, dict]:
    """Load every finished run under ``folder/runs``; return (runs, failures) by variant name."""
    runs, failures = {}, {}
    order = (
        read_json(folder / "comparison.json")["variants"] if (folder / "comparison.json").exists() else None
    )
    run_folders = sorted(
        p for p in (folder / "runs").iterdir() if p.is_dir() and not p.name.endswith(".partial")
    )
    by_name = {p.name: p for p in run_folders}
    for name in order or sorted(by_name):
        failure = folder / "runs" / f"{name}.failed.json"
        if failure.exists():
            failures[name] = read_json(failure)
            continue
        if name not in by_name or not (by_name[name] / "metrics.json").exists():
            continue
        path = by_name[name]
        document = {**read_json(path / "metrics.json"), "cost": read_json(path / "cost.json")}
        arrays = np.load(path / "boundary.npz")
        with open(path / "samples.csv", newline="") as file:
            samples = np.array([[float(v) for v in row] for row in list(csv.reader(file))[1:]]).T
        history = arrays["boundary_history"].astype(np.float64)
        runs[name] = {
            "document": document,
            "rows": [_nan_for_none(row) for row in document["members"]],
            "samples": samples,
            "grid": arrays["grid"],
            "steps": arrays["steps"],
            "boundary_history": history,
            "deviation": boundary_deviation(history, arrays["grid_weights"]),
        }
    return runs, failures


def _nan_for_none(row: dict) -> dict:
    return {k: (math.nan if v is None else v) for k, v in row.items()}


def header_lines(plan: dict) -> list[str]:
    """Describe what a comparison trained, from its comparison.json."""
    c = plan["config"]
    data = f"`{plan['dataset']['name']}`" + (f", column `{c['column']}`" if c.get("column") else "")
    lines = [
        f"Variants: {', '.join(plan['variants'])}. Each trained {c['members']} members (seed {c['seed']}) "
        f"for {c['steps']:,} steps at batch size {c['batch_size']} on {data}, "
        f"device {c['device']}" + (f", {plan['threads']} thread(s)." if "threads" in plan else "."),
        "",
    ]
    if "command" in plan:
        lines += [f"Command: `{' '.join(plan['command'])}`.", ""]
    lines += [
        f"Config hash {plan['config_hash']}; the full settings are in `comparison.json` and each run's "
        "`config.json`. Each value is the mean ± SD over the members that did not diverge; n counts them "
        "where some did.",
    ]
    return lines


def _for_test(metric: str, rows: list[dict]) -> np.ndarray:
    """Return the members' errors from the ideal for the test, diverged members left out.

    A member that never converged has no convergence step; it enters the
    test as the worst possible one (infinite) rather than being dropped.
    """
    alive = [row for row in rows if not row["diverged"]]
    raw = np.array([row[metric] for row in alive], dtype=float)
    if metric == "convergence_step":
        raw = np.where(np.isnan(raw), np.inf, raw)
    return error_from_target(metric, raw[~np.isnan(raw)])


def compare_members(runs: dict) -> dict:
    """Test every variant against the baseline on every metric, Holm-corrected across the report.

    Returns ``{metric: {variant: entry}}`` where an entry has the median,
    mean, 95% bootstrap interval and member counts, and for non-baseline
    variants the rank-biserial effect, the Holm-adjusted p-value and the
    verdict. Diverged members are left out of every statistic and counted.
    """
    table: dict = {metric: {} for metric in MEMBER_METRICS}
    tests = []
    for metric in MEMBER_METRICS:
        values = {}
        for name, run in runs.items():
            raw = np.array([row[metric] for row in run["rows"]], dtype=float)
            finite = raw[np.isfinite(raw)]
            values[name] = finite
            low, high = bootstrap_interval(finite)
            table[metric][name] = {
                "n": int(finite.size),
                "members": int(raw.size),
                "diverged": sum(bool(row["diverged"]) for row in run["rows"]),
                "median": float(np.median(finite)) if finite.size else float("nan"),
                "mean": float(finite.mean()) if finite.size else float("nan"),
                "ci_low": low,
                "ci_high": high,
            }
        if "baseline" not in values:
            continue
        tested = {name: _for_test(metric, run["rows"]) for name, run in runs.items()}
        reference = tested["baseline"]
        for name in runs:
            if name != "baseline":
                p, effect = mann_whitney(tested[name], reference)
                table[metric][name].update(p=p, effect=effect)
                tests.append((metric, name))
    adjusted = holm([table[metric][name]["p"] for metric, name in tests])
    for (metric, name), p in zip(tests, adjusted):
        entry = table[metric][name]
        entry.update(p_holm=p, verdict=verdict(p, entry["effect"]))
    return table


def _statistics_table(statistics: dict, columns: dict) -> tuple[list[str], list[list[str]]]:
    header = ["metric", "variant", "median", "mean [95% CI]", "effect", "Holm p", "against baseline"]
    rows = []
    for metric, (label, spec) in columns.items():
        for name, entry in statistics[metric].items():
            tested = "verdict" in entry
            if entry["n"] == 0:
                median = interval = "n/a"
            else:
                median = f"{entry['median']:{spec}}"
                interval = f"{entry['mean']:{spec}} [{entry['ci_low']:{spec}}, {entry['ci_high']:{spec}}]"
                if entry["n"] < entry["members"]:
                    interval += f" (n={entry['n']})"
            rows.append(
                [
                    label,
                    name,
                    median,
                    interval,
                    f"{entry['effect']:+.2f}" if tested else "",
                    f"{entry['p_holm']:.3g}" if tested and math.isfinite(entry["p_holm"]) else "",
                    entry.get("verdict", "(reference)" if name == "baseline" else ""),
                ]
            )
    return header, rows


STATISTICS_NOTE = (
    "Median and mean over the members that did not diverge, with a 95% BCa bootstrap interval for the "
    "mean. Against the baseline: a two-sided Mann-Whitney U test on each member's distance from the "
    "ideal (1 for tail coverage and SD ratio, 0 otherwise), Holm-corrected across every test in this "
    "report at 5%. A member that never converged enters the convergence-step test as the worst rank. "
    "The effect is the rank-biserial correlation: +1 when every member of the variant is closer to the "
    "ideal than every baseline member, -1 for the reverse."
)


def build_report(folder: Path, dataset) -> Path:
    """Write report.md, report.html, metrics.csv, summary.json and the figures for a comparison folder."""
    folder = Path(folder)
    runs, failures = load_runs(folder)
    names = list(runs)
    units = dataset.units or "data units"
    threshold = next(iter(runs.values()))["document"]["threshold"] if runs else None
    statistics = compare_members(runs)

    write_csv(
        folder / "metrics.csv",
        ["variant", "member", "diverged_at", *MEMBER_METRICS],
        (
            [name, row["member"], row["diverged_at"], *(row[key] for key in MEMBER_METRICS)]
            for name in names
            for row in runs[name]["rows"]
        ),
    )
    write_json(
        folder / "summary.json",
        {
            "variants": {
                name: {"summary": runs[name]["document"]["summary"], "cost": runs[name]["document"]["cost"]}
                for name in names
            },
            "statistics": statistics,
            "failed": failures,
        },
    )

    blocks: list[tuple] = [("h1", f"ganlab comparison on {dataset.name}")]
    if (folder / "comparison.json").exists():
        blocks += [("p", line) for line in header_lines(read_json(folder / "comparison.json")) if line]
    for family, columns in FAMILIES.items():
        blocks += [("h2", family), ("p", FAMILY_NOTES[family].format(threshold=threshold, units=units))]
        rows = []
        for name in names:
            summary = runs[name]["document"]["summary"]
            alive = summary["diverged"]
            members = len(runs[name]["rows"])
            cells = [format_summary(summary[key], spec) for key, (_, spec) in columns.items()]
            rows.append([name, *cells, f"{members - alive}/{members}"])
        blocks.append(
            ("table", ["variant", *(label for label, _ in columns.values()), "members trained"], rows)
        )
        blocks.append(("table", *_statistics_table(statistics, columns)))
    blocks += [("p", STATISTICS_NOTE)]
    blocks += [
        ("h2", "Wall-clock cost"),
        ("p", "Training loop time of the whole population, periodic evaluations included."),
    ]
    rows = []
    for name in names:
        c = runs[name]["document"]["cost"]
        rows.append(
            [
                name,
                f"{c['seconds']:.1f}",
                f"{c['steps_per_second']:.0f}",
                f"{c['member_steps_per_second']:.0f}",
                c["device"],
                str(c["threads"]),
            ]
        )
    blocks.append(("table", ["variant", "seconds", "steps/s", "member-steps/s", "device", "threads"], rows))
    if failures:
        blocks += [
            ("h2", "Failed variants"),
            ("list", [f"{name}: {info['error']}" for name, info in failures.items()]),
        ]
    planned = (
        read_json(folder / "comparison.json")["variants"] if (folder / "comparison.json").exists() else []
    )
    missing = [name for name in planned if name not in runs and name not in failures]
    if missing:
        blocks += [
            ("h2", "Not trained yet"),
            (
                "p",
                f"{', '.join(missing)}: the comparison stopped before these finished. Continue it with "
                "`ganlab compare --resume DIR` and the same options.",
            ),
        ]

    if runs:
        blocks.append(("h2", "Figures"))
        for file_name, caption in plots.comparison_figures(folder, runs, dataset):
            blocks += [("image", file_name, caption), ("p", caption)]
    blocks += [
        ("h2", "Raw numbers"),
        (
            "p",
            "`metrics.csv` contains one row per member with every metric, `summary.json` the summaries, "
            "statistics and costs, and `runs/VARIANT/` each variant's run folder with its history, samples "
            "and networks.",
        ),
    ]
    write_text(folder / "report.html", render_html(blocks, folder))
    path = folder / "report.md"
    write_text(path, render_markdown(blocks))
    return path
