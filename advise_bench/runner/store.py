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
        tmp = self.path.with_suffix(".widen.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)


def read_header(path: Path) -> list[str] | None:
    if not Path(path).exists():
        return None
    with open(path, newline="") as fh:
        return next(csv.reader(fh), None)


def done_ids(path: Path, key: str = "image_id", repair: bool = True) -> set[str]:
    """Ids already written (ok or error rows): resuming skips them. ``repair=False`` reads a file that
    another process may be writing: its torn tail, if any, is ignored instead of truncated."""
    path = Path(path)
    if not path.exists():
        return set()
    if repair:
        _repair_tail(path)
    data = path.read_bytes()
    text = data[: data.rfind(b"\n") + 1].decode()
    return {row[key] for row in csv.DictReader(io.StringIO(text, newline="")) if row.get(key)}
