"""Reading a results folder: its per-image rows (every CSV of rows, shards merged, backends labelled) and its
``run.json`` manifests. The report, ``verify`` and the analyses read results through here."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import UserError

UNTRAINED = "random"  # the weights of a run made for timing only (--weights random)


def read_manifests(folder: Path, pattern: str = "run*.json") -> list[dict]:
    """The readable ``run.json`` documents (shards' included) matching ``pattern`` under ``folder``."""
    docs = []
    for manifest in sorted(Path(folder).glob(pattern)):
        try:
            docs.append(json.loads(manifest.read_text()))
        except (OSError, ValueError):
            continue
    return docs


def folder_weights(folder: Path) -> str:
    """The weights a model folder was run with, from its ``run*.json`` ("random" = untrained, "" if unknown)."""
    sources = {str(doc.get("config", {}).get("weights") or doc.get("weights") or "") for doc in read_manifests(folder)}
    sources.discard("")
    return UNTRAINED if UNTRAINED in sources else ", ".join(sorted(sources))


def load_rows(results_dir: Path) -> pd.DataFrame:
    """Every per-image row under ``results_dir`` (``<model>/<method>[.shard-*].csv``), shards merged.
    ``results_dir`` may also be one model's folder (``<method>.csv`` directly inside).

    Each row also gets ``weights``: the weights its folder's ``run.json`` records."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"{results_dir}: no such results folder (run `advise-bench run` first)")
    frames = []
    weights = {}
    for csv in sorted(results_dir.glob("*.csv")) + sorted(results_dir.glob("*/*.csv")):
        if csv.name.startswith(("advise_groups", "table", "ablation", "sanity", "comparisons", "ranks", "rank_tests",
                                "controls")):
            continue
        try:
            df = pd.read_csv(csv, dtype={"image_id": str})
        except pd.errors.EmptyDataError:  # a zero-byte file (a writer stopped before its header) holds no rows
            continue
        if {"image_id", "method", "status"} <= set(df.columns):
            if csv.parent not in weights:
                weights[csv.parent] = folder_weights(csv.parent)
            frames.append(df.assign(weights=weights[csv.parent]))
    if not frames:
        raise UserError(f"{results_dir}: no result CSVs found")
    rows = label_backends(pd.concat(frames, ignore_index=True))
    # A re-run of a shard may repeat an image; keep its last row.
    return rows.drop_duplicates(subset=["model", "protocol", "method", "image_id"], keep="last")


def label_backends(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows computed on another Keras backend than the default are reported apart, as their own
    architecture ``<model> (<backend>)``, like a separate model: Table I, the comparisons and the ranks
    never pool backends. Rows written before the ``backend`` column existed are TensorFlow's."""
    from ..backend import DEFAULT

    backend = rows["backend"].fillna(DEFAULT).astype(str) if "backend" in rows else pd.Series(DEFAULT, rows.index)
    other = backend != DEFAULT
    rows = rows.assign(backend=backend)
    rows.loc[other, "model"] = rows.loc[other, "model"].astype(str) + " (" + backend[other] + ")"
    return rows


def is_untrained(weights) -> bool:
    return str(weights) == UNTRAINED


def untrained_mask(frame: pd.DataFrame) -> pd.Series:
    """Rows made with untrained weights (all False for frames without a ``weights`` column)."""
    if "weights" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["weights"].astype(str).eq(UNTRAINED)
