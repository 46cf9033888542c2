"""Whether the rows a report compares were computed by one numerics fingerprint (see
:mod:`advise_bench.runner.fingerprint`): ADVISE's groups can differ between two machines' float32 kernels, so
a comparison across fingerprints mixes that difference into the methods'."""

from __future__ import annotations

import pandas as pd

from ..runner.fingerprint import fingerprint_counts


def fingerprint_note(rows: pd.DataFrame, controls: dict[str, pd.DataFrame] | None = None) -> str | None:
    """One line when the rows (the folder's and its controls') come from more than one fingerprint, with the
    rows of each (``unrecorded``: written before runs recorded one); None when they come from one."""
    frames = [rows, *(controls or {}).values()]
    counts: dict[str, int] = {}
    for frame in frames:
        for key, n in fingerprint_counts(frame).items():
            counts[key] = counts.get(key, 0) + n
    if len(counts) <= 1:
        return None
    parts = ", ".join(f"{key}: {n} rows" for key, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    where = "this folder and its controls" if controls else "this folder"
    return (f"Warning: the rows of {where} come from {len(counts)} numerics fingerprints ({parts}); ADVISE's "
            "groups can differ between them (`advise-bench verify` reruns a sample here).")
