"""CSV in and out for `huiyin text train|predict` (UTF-8, header row; other columns ignored)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path


class CsvError(Exception):
    """A CSV that cannot be used; the message names the file and what is wrong."""


def read_rows(path: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Every row of `path` as a dict of the `required` columns; refuses a missing file, an empty
    file, a missing column, a file that is not UTF-8 and a file with a header and no rows."""
    p = Path(path)
    if not p.is_file():
        raise CsvError(f"{path}: no such file")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with p.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            if not header:
                raise CsvError(f"{path}: the file is empty (a header row with {', '.join(required)} is needed)")
            columns = [h.strip() for h in header]
            missing = [c for c in required if c not in columns]
            if missing:
                raise CsvError(
                    f"{path}: no column {', '.join(repr(m) for m in missing)} "
                    f"(the header has: {', '.join(columns)}; needed: {', '.join(required)})"
                )
            key = {c: header[columns.index(c)] for c in required}
            rows = [{c: (row.get(key[c]) or "") for c in required} for row in reader]
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise CsvError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise CsvError(f"{path}: a header and no rows")
    return rows


def write_rows(path: str, header: tuple[str, ...], rows: Iterator[tuple[str, ...]] | list[tuple[str, ...]]) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n
