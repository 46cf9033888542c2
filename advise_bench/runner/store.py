"""Crash-safe, resumable CSV rows: one ``os.write`` + fsync per row, torn tails repaired on open.

A process killed at any moment (kill -9 included) leaves at most a torn last line, which
:class:`RowWriter` and :func:`done_ids` truncate, so the file always parses and resuming redoes only that row.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path


def _repair_tail(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(keep)


class RowWriter:
    """Appends dict rows to a CSV. The header grows when a row brings new columns (e.g. the first rows
    were error rows): the file is then rewritten once, atomically, so no column is ever dropped."""

    def __init__(self, path: Path, columns: list[str] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _repair_tail(self.path)
        self.columns = columns or read_header(self.path)

    def write(self, row: dict) -> None:
        if self.columns is None:
            self.columns = list(row)
        new = [k for k in row if k not in self.columns]
        if new:
            self._widen(new)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if fresh:
            writer.writeheader()
        writer.writerow(row)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, buf.getvalue().encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _widen(self, new: list[str]) -> None:
        self.columns = self.columns + new
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        _rewrite(self.path, self.columns, rows)


def _rewrite(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Replace ``path`` atomically by these rows. Values read back as text are written back as the same
    text, so the rows kept are byte for byte the rows written."""
    tmp = path.with_suffix(".rewrite.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def drop_rows(path: Path, drop) -> int:
    """Remove the rows for which ``drop(row)`` (a dict of str) is true, atomically; returns how many. A resume
    calls it before it redoes an image whose rows were cut short, so the file never holds a row twice."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    _repair_tail(path)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    keep = [r for r in rows if not drop(r)]
    if len(keep) < len(rows):
        _rewrite(path, columns, keep)
    return len(rows) - len(keep)


def read_header(path: Path) -> list[str] | None:
    if not Path(path).exists():
        return None
    with open(path, newline="") as fh:
        return next(csv.reader(fh), None)


def done_ids(path: Path, key: str = "image_id", repair: bool = True) -> set[str]:
    """Ids already written (ok or error rows): resuming skips them. ``repair=False`` reads a file that
    another process may be writing: its torn tail, if any, is ignored instead of truncated."""
    return {row[key] for row in _whole_rows(path, repair) if row.get(key)}


def done_keys(path: Path, keys: tuple[str, ...], repair: bool = True) -> set[tuple[str, ...]]:
    """:func:`done_ids` for rows keyed by several columns: the ``keys`` values (as text) of every row written."""
    return {tuple(row[k] for k in keys) for row in _whole_rows(path, repair)}


def _whole_rows(path: Path, repair: bool) -> list[dict]:
    """The file's rows as dicts of str, without a torn last line (truncated with ``repair``, else ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    if repair:
        _repair_tail(path)
    data = path.read_bytes()
    text = data[: data.rfind(b"\n") + 1].decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))
