"""Writing results so that a crash or a kill never leaves a half-written file.

Every file is written to a temporary name in its folder and renamed into
place, which POSIX makes atomic within one file system.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp creates the file private (0600); give it the usual permissions under the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _plain(value):
    """Convert numpy scalars and arrays, and non-finite floats, to JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON; NaN and infinities become null."""
    write_bytes(path, (json.dumps(_plain(data), indent=2) + "\n").encode())


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable]) -> None:
    """Write rows under a header as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_bytes(path, buffer.getvalue().encode())


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())
