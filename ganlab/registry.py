"""Registries of variants and datasets, looked up by name.

Variants come from the ``ganlab.variants`` entry-point group, the built-in
ones included, so a third-party package adds a variant by declaring an entry
point and nothing else. Datasets are the built-in ones plus any CSV path.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from importlib.metadata import entry_points

from ganlab.data import Dataset, galton, heights
from ganlab.variant import Variant

VARIANT_GROUP = "ganlab.variants"

DATASETS: dict[str, Callable[[], Dataset]] = {"heights": heights, "galton": galton}
DATASET_SUMMARIES = {
    "heights": "Heights of US men as in the article: normal, mean 69 in, SD 3 in (the default).",
    "galton": "Real heights: the 481 adult sons in Galton's 1886 family records, inches.",
}


class UnknownNameError(LookupError):
    """A variant or dataset name that is not registered, with the closest match."""

    def __init__(self, kind: str, name: str, known: list[str]):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(known)}.")
        self.message = str(self.args[0])


def _variant_entry_points() -> dict:
    found = {}
    for point in entry_points(group=VARIANT_GROUP):
        found.setdefault(point.name, point)
    return dict(sorted(found.items(), key=lambda item: (item[0] != "baseline", item[0])))


def list_variants(pattern: str = "*") -> list[str]:
    """Return the registered variant names matching a shell-style pattern, baseline first."""
    return [name for name in _variant_entry_points() if fnmatch.fnmatch(name, pattern)]


def variant_class(name: str) -> type[Variant]:
    """Load the variant class registered under ``name``."""
    points = _variant_entry_points()
    if name not in points:
        raise UnknownNameError("variant", name, list(points))
    cls = points[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Variant)):
        raise TypeError(
            f"entry point {name!r} in {VARIANT_GROUP} is {cls!r}, not a ganlab.variant.Variant subclass."
        )
    return cls


def create_variant(name: str, **options) -> Variant:
    """Build the variant registered under ``name`` with its options."""
    return variant_class(name)(**options)
