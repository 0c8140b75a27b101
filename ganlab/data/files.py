"""Reading one numeric column from a user's CSV file, with errors a user can act on."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


class DataFileError(ValueError):
    """A data file that cannot be used, with a message naming the file and the fix."""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Return the non-blank rows of a CSV file with their 1-based line numbers."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(f"{path} not found; check the path.") from None
    except IsADirectoryError:
        raise DataFileError(f"{path} is a folder; pass a CSV file to --dataset.") from None
    except PermissionError:
        raise DataFileError(f"{path} is not readable; check its permissions.") from None
    except UnicodeDecodeError as error:
        raise DataFileError(
            f"{path} is not UTF-8 text (byte {error.start} is invalid); save it as a UTF-8 CSV file."
        ) from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise DataFileError(f"{path} is empty; it needs a column of numbers, with or without a header.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # One CSV record per line: ganlab's files hold numbers, which never span lines.
    numbered = ((number, next(csv.reader([line], dialect), [])) for number, line in enumerate(lines, 1))
    return [(number, row) for number, row in numbered if any(cell.strip() for cell in row)]


def _choose_column(path: Path, header: list[str], first: list[str], column: str | None) -> int:
    """Return the index of the requested column, or of the only numeric one."""
    commas = [cell.strip() for cell in first if DECIMAL_COMMA.match(cell.strip())]
    if column is None and commas:
        raise DataFileError(
            f"{path} writes numbers with a decimal comma ({commas[0]!r}); "
            f"use decimal points, as in {commas[0].replace(',', '.')}."
        )
    if column is not None:
        if column in header:
            return header.index(column)
        names = ", ".join(repr(name) for name in header)
        raise DataFileError(f"{path} has no column {column!r}; its columns are {names}.")
    numeric = [i for i, cell in enumerate(first) if i < len(header) and _is_number(cell.strip())]
    if not numeric:
        raise DataFileError(f"{path} has no numeric column; the first data row is {','.join(first)!r}.")
    if len(numeric) > 1:
        names = ", ".join(repr(header[i]) for i in numeric)
        raise DataFileError(f"{path} has several numeric columns ({names}); choose one with --column.")
    return numeric[0]


def read_column(path: Path, column: str | None = None) -> np.ndarray:
    """Read the values of one numeric column of a CSV file.

    The first row is a header unless all of its cells are numbers; without a
    header the columns are named "1", "2", and so on. With ``column`` None
    the file must have exactly one numeric column. Every value of the chosen
    column must be a finite number.
    """
    path = Path(path)
    rows = _read_rows(path)
    first = rows[0][1]
    has_header = not all(_is_number(cell.strip()) for cell in first)
    header = [cell.strip() for cell in first] if has_header else [str(i + 1) for i in range(len(first))]
    body = rows[1:] if has_header else rows
    if not body:
        raise DataFileError(f"{path} has a header but no data rows.")
    index = _choose_column(path, header, body[0][1], column)
    name = header[index]

    values = np.empty(len(body))
    for offset, (line, row) in enumerate(body):
        if has_header and len(row) > len(header):
            raise DataFileError(
                f"{path}, line {line}: {len(row)} fields under a header of {len(header)}; a decimal comma "
                "such as 64,9 splits a value in two, so write decimal points or quote the value."
            )
        if index >= len(row) or not row[index].strip():
            raise DataFileError(f"{path}, line {line}: column {name!r} is empty; fill in or delete the row.")
        cell = row[index].strip()
        try:
            value = float(cell)
        except ValueError:
            fix = f"write {cell.replace(',', '.')}" if DECIMAL_COMMA.match(cell) else "fix or delete the row"
            raise DataFileError(
                f"{path}, line {line}: {cell!r} in column {name!r} is not a number; {fix}."
            ) from None
        if not math.isfinite(value):
            raise DataFileError(
                f"{path}, line {line}: {cell!r} in column {name!r} is not a finite number; "
                "remove the row or replace the value."
            )
        values[offset] = value
    return values
