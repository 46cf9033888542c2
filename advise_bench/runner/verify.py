"""``advise-bench verify RESULTS``: rerun a seeded sample of a results folder's images here and compare.

It is how a user checks an install against committed results. For each model folder under RESULTS (the folder
itself when it holds a ``run.json``), it reruns a seeded sample of the folder's images with the settings its
``run.json`` records (into a temporary folder), and prints per method:

* how many rows agree within ``tolerance`` (1e-5) on every metric;
* for methods with candidate groups (the KDE's groups, the CAM-oracle controls): how many images have the same group
  sizes (the ``<method>_groups`` rows of the first target);
* whether this machine's numerics fingerprint (:mod:`.fingerprint`) is the one the folder's rows record.

A row that disagrees is *explained* when the folder's rows come from another fingerprint (or record none) and
either its groups differ (a float32 difference of ~1e-5 can move a unit to another group) or no metric moved by
more than ``explained_tolerance`` (1e-3: a map that moved by rounding can flip a few mask pixels). Any other
disagreement -- every disagreement when the fingerprints match -- is unexplained, and ``verify`` exits 1.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from ..config import RunConfig

# The command is registered when the CLI starts: what a rerun needs (NumPy, pandas, the runner) is imported when
# it runs, so `advise-bench --help` does not pay for it.

TOLERANCE = 1e-5
EXPLAINED_TOLERANCE = 1e-3


@functools.cache
def compared_columns() -> tuple[str, ...]:
    """The row's numeric scores (columns.py), the opt-in deletion/insertion AUC included."""
    from ..columns import EXTRA_METRIC_COLUMNS, SCORE_COLUMNS

    return tuple(c.name for c in SCORE_COLUMNS + EXTRA_METRIC_COLUMNS if c.type is float)


@dataclass
class MethodCheck:
    method: str
    rows: int = 0  # sampled rows compared (present in both)
    agree: int = 0  # within the tolerance on every metric
    grouped: bool = False
    same_groups: int = 0
    unexplained: list[str] = field(default_factory=list)  # image ids
    worst: float = 0.0  # largest metric difference

    def line(self, tolerance: float) -> str:
        text = f"{self.method}: {self.agree}/{self.rows} rows agree within {tolerance:g} on every metric"
        if self.grouped:
            text += f"; same group sizes on {self.same_groups}/{self.rows} images"
        text += f"; largest difference {self.worst:.2g}"
        if self.unexplained:
            text += f"; UNEXPLAINED on {len(self.unexplained)} ({', '.join(self.unexplained[:5])})"
        return text


@dataclass
class FolderCheck:
    folder: Path
    images: list[str]
    here: str  # this machine's fingerprint id
    recorded: dict[str, int]  # the sampled rows' fingerprints and their rows
    methods: list[MethodCheck]

    @property
    def same_fingerprint(self) -> bool:
        return set(self.recorded) == {self.here}

    @property
    def ok(self) -> bool:
        return not any(m.unexplained for m in self.methods)

    def lines(self, tolerance: float) -> list[str]:
        recorded = ", ".join(f"{k} ({n} rows)" for k, n in self.recorded.items()) or "none"
        same = "yes" if self.same_fingerprint else "no"
        return [f"{self.folder}: {len(self.images)} images rerun",
                f"  fingerprint here {self.here}; the folder's sampled rows: {recorded}; same: {same}",
                *(f"  {m.line(tolerance)}" for m in self.methods)]


def model_folders(results: Path) -> list[Path]:
    """RESULTS itself when it holds a ``run*.json``, else its sub-folders that do."""
    results = Path(results)
    if not results.is_dir():
        raise UserError(f"{results}: no such results folder")
    if any(results.glob("run*.json")):
        return [results]
    found = sorted(p for p in results.iterdir() if p.is_dir() and any(p.glob("run*.json")))
    if not found:
        raise UserError(f"{results}: no run.json here or in a sub-folder (is it a results folder written by `run`?)")
    return found


def recorded_config(folder: Path) -> RunConfig:
    """The run configuration a folder's ``run.json`` records (shards merged), with ``${SHARED}`` expanded: the
    latest session's settings, with the methods of every session (a folder resumed with other methods, as the main
    runs were with the reference maps, is verified for all of them)."""
    from ..config import RunConfig
    from ..paths import SHARED_TOKEN, shared_dir
    from .results import read_manifests

    docs = read_manifests(folder)
    if not docs:
        raise UserError(f"{folder}: no readable run.json")
    config = dict(docs[0].get("config", {}))
    # methods, shard and limit are set below from every session, not from the latest one
    known = {f.name for f in dataclasses.fields(RunConfig)} - {"methods", "shard", "limit"}
    values = {}
    for key, value in config.items():
        if key not in known:
            continue
        if isinstance(value, str):
            value = value.replace(SHARED_TOKEN, str(shared_dir()))
        values[key] = tuple(value) if isinstance(value, list) else value
    sessions = [c for d in docs for c in (*(s.get("config", {}) for s in d.get("earlier_sessions", [])),
                                           d.get("config", {}))]
    values["methods"] = tuple(dict.fromkeys(m for c in sessions for m in c.get("methods") or ()))
    values["shard"] = (0, 1)
    # every image the recorded data and subset give: sessions may have resumed the folder with other limits,
    # and the sample is taken among its rows
    values["limit"] = None
    return RunConfig(**values)


def _sample_maps(images: set[str]):
    """The explainers' maps of the recorded settings, on the sampled images only."""
    from .run import ExplainedMaps

    class SampleMaps(ExplainedMaps):
        def prepare(self, cfg: RunConfig):
            protocol, source, records = super().prepare(cfg)
            return protocol, source, [r for r in records if r.image_id in images]

    return SampleMaps()


def _read(folder: Path, stem: str) -> pd.DataFrame:
    """Rows of ``<stem>[.shard-*].csv`` in ``folder`` (empty when none)."""
    import pandas as pd

    frames = [pd.read_csv(p, dtype={"image_id": str}) for p in sorted(folder.glob(f"{stem}.csv"))
              + sorted(folder.glob(f"{stem}.shard-*-of-*.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _group_sizes(groups: pd.DataFrame, image_id: str, key: str) -> list:
    g = groups[groups["image_id"] == image_id]
    return sorted(zip(g[key].astype(int), g["units"].astype(int), strict=True)) if len(g) else []


def _max_difference(old: pd.Series, new: pd.Series) -> float:
    """Largest |new - old| over the metric columns both rows carry (NaN in both counts as equal)."""
    import numpy as np
    import pandas as pd

    worst = 0.0
    for m in compared_columns():
        if m not in old.index or m not in new.index:
            continue
        a, b = pd.to_numeric(pd.Series([old[m], new[m]]), errors="coerce")
        if np.isnan(a) and np.isnan(b):
            continue
        worst = max(worst, float(abs(a - b)) if not (np.isnan(a) or np.isnan(b)) else np.inf)
    return worst


def compare_folders(old_dir: Path, new_dir: Path, images: list[str], methods, here: str, tolerance: float,
                    explained_tolerance: float) -> list[MethodCheck]:
    """Per method: the sampled rows of ``old_dir`` against ``new_dir``'s."""
    from .fingerprint import FINGERPRINT_COLUMN
    from .run import method_file

    checks = []
    for method in methods:
        stem = method_file(method)
        old, new = _read(old_dir, stem), _read(new_dir, stem)
        if old.empty or new.empty:
            continue
        old = old.drop_duplicates("image_id", keep="last").set_index("image_id")
        new = new.drop_duplicates("image_id", keep="last").set_index("image_id")
        old_groups, new_groups = _read(old_dir, f"{stem}_groups"), _read(new_dir, f"{stem}_groups")
        key = next((k for k in ("peaks", "group") if k in new_groups), None)
        check = MethodCheck(method, grouped=key is not None and key in old_groups)
        for image in images:
            if image not in old.index or image not in new.index:
                continue
            check.rows += 1
            diff = _max_difference(old.loc[image], new.loc[image])
            check.worst = max(check.worst, diff)
            same_groups = (not check.grouped
                           or _group_sizes(old_groups, image, key) == _group_sizes(new_groups, image, key))
            check.same_groups += bool(check.grouped and same_groups)
            if diff <= tolerance:
                check.agree += 1
                continue
            fingerprint = str(old.loc[image].get(FINGERPRINT_COLUMN, "") or "")
            other_machine = fingerprint != here
            if not (other_machine and (not same_groups or diff <= explained_tolerance)):
                check.unexplained.append(image)
        checks.append(check)
    return checks


def verify_folder(folder: Path, sample: int = 20, seed: int = 0, methods=None, tolerance: float = TOLERANCE,
                  explained_tolerance: float = EXPLAINED_TOLERANCE) -> FolderCheck:
    """Rerun ``sample`` seeded images of one model folder here and compare them with its rows."""
    import numpy as np

    from .fingerprint import fingerprint_counts
    from .results import load_rows
    from .run import Run

    cfg = recorded_config(folder)
    if methods:
        unknown = set(methods) - set(cfg.methods)
        if unknown:
            raise UserError(f"{folder}: the run has no method {', '.join(sorted(unknown))} (it ran "
                            f"{', '.join(cfg.methods)})")
        cfg = dataclasses.replace(cfg, methods=tuple(methods))
    rows = load_rows(folder)
    ok = rows[rows["status"] == "ok"]
    ids = sorted(set(ok["image_id"]))
    if not ids:
        raise UserError(f"{folder}: no ok rows to verify")
    rng = np.random.default_rng(seed)
    images = sorted(rng.choice(ids, min(sample, len(ids)), replace=False).tolist())
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        run = Run(dataclasses.replace(cfg, out=tmp), progress=False, maps=_sample_maps(set(images)))
        missing = set(images) - {r.image_id for r in run.records}
        if missing:
            raise UserError(f"{folder}: the recorded data no longer has {len(missing)} of the sampled images "
                            f"(e.g. {sorted(missing)[0]})")
        run.execute()
        here = run.fingerprint["id"]
        checks = compare_folders(Path(folder), run.out_dir, images, cfg.methods, here, tolerance,
                                 explained_tolerance)
    sampled = rows[rows["image_id"].isin(images) & rows["method"].isin(cfg.methods)]
    return FolderCheck(Path(folder), images, here, fingerprint_counts(sampled), checks)


def verify(results: Path, sample: int = 20, seed: int = 0, methods=None, tolerance: float = TOLERANCE,
           explained_tolerance: float = EXPLAINED_TOLERANCE) -> list[FolderCheck]:
    return [verify_folder(f, sample, seed, methods, tolerance, explained_tolerance) for f in model_folders(results)]


def verify_command(
    results: Annotated[Path, typer.Argument(help="results folder written by `run` (or one model's folder)")],
    sample: Annotated[int, typer.Option(help="images to rerun, a seeded sample of the folder's")] = 20,
    seed: Annotated[int, typer.Option(help="seed of the sample")] = 0,
    methods: Annotated[list[str] | None, typer.Option(
        "--methods", "-m", help="only these of the run's methods (repeat or comma list); default: all")] = None,
    tolerance: Annotated[float, typer.Option(help="largest metric difference that counts as agreement")] = TOLERANCE,
) -> None:
    """Rerun a seeded sample of RESULTS' images with the settings its run.json records and compare, per method:
    rows that agree on every metric, the group sizes of methods with candidate groups, and whether this
    machine's numerics fingerprint is the folder's. Exits 1 when metrics disagree beyond what a different
    fingerprint explains."""
    if sample < 1:
        raise UserError("--sample must be at least 1")
    names = [m.strip() for item in (methods or []) for m in item.split(",") if m.strip()]
    checks = verify(results, sample, seed, names or None, tolerance)
    for check in checks:
        typer.echo("\n".join(check.lines(tolerance)))
    if not all(c.ok for c in checks):
        typer.echo("verify: some rows disagree beyond what a different fingerprint explains", err=True)
        raise typer.Exit(1)
