"""The check's files: the per-image rows, and the tables and figure rebuilt from them alone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import UserError
from ...report import stats
from .statistics import THRESHOLD, summarize, verdicts

IMAGES_FILE = "sanity_images.csv"
SUMMARY_FILE = "sanity.csv"
VERDICTS_FILE = "sanity_verdicts.csv"
FIGURE_FILE = "sanity.png"
MANIFEST_FILE = "sanity.json"
ROW_KEY = ("image_id", "series", "step")  # one row per (image, series, step)


def load_image_rows(path: str | Path) -> pd.DataFrame:
    """``sanity_images.csv`` as written (the last row of a repeated (image, series, step) wins)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file (run `advise-bench sanity` first)")
    # No NA parsing of the text columns: an empty selection stays "", an image id "NA" stays "NA".
    rows = pd.read_csv(path, dtype={"image_id": str, "series": str, "method": str, "selection": str,
                                    "randomized": str}, keep_default_na=False)
    return dedupe(rows)


def dedupe(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (image, series, step), the last written (an image interrupted mid-cascade is redone)."""
    if rows.empty:
        return rows
    return rows.drop_duplicates(list(ROW_KEY), keep="last").reset_index(drop=True)


def output_paths(out: str | Path) -> dict[str, Path]:
    """The files :func:`write_outputs` writes under ``out``."""
    out = Path(out)
    return {"csv": out / SUMMARY_FILE, "verdicts": out / VERDICTS_FILE, "png": out / FIGURE_FILE}


def write_outputs(out: str | Path, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
                  seed: int = stats.BOOTSTRAP_SEED) -> dict[str, Path]:
    """Rebuild ``sanity.csv``, ``sanity_verdicts.csv`` and ``sanity.png`` from ``sanity_images.csv`` alone."""
    from ..figures import plot_sanity

    out = Path(out)
    rows = load_image_rows(out / IMAGES_FILE)
    if rows.empty:
        raise UserError(f"{out / IMAGES_FILE}: no rows yet")
    paths = output_paths(out)
    summary = summarize(rows, n_resamples, seed)
    verdict_table = verdicts(rows, n_resamples=n_resamples, seed=seed)
    summary.to_csv(paths["csv"], index=False)
    verdict_table.to_csv(paths["verdicts"], index=False)
    plot_sanity(summary, verdict_table, paths["png"], THRESHOLD)
    return paths
