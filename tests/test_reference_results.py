"""The committed reference results rebuild byte for byte from the committed per-image CSVs:
`advise-bench report results/reference/<model>` (and its controls) for the main runs and the corrected-protocol
runs (`<model>/corrected/<model>`, controls in `<model>/corrected/controls/`), the ablation's tables from its
folders (`<model>/ablation/`, with the controls that have an ablation), the sanity check's from its per-image rows."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from advise_bench.cli import app
from advise_bench.metrics.core import STATUS_OK
from advise_bench.runner.results import load_rows

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"
MODELS = sorted(p.name for p in REFERENCE.iterdir() if (p / "table1.csv").exists()) if REFERENCE.is_dir() else []
# Report folders: each main run and each corrected-protocol run (<model>/corrected/<model>).
REPORTS = [(m, Path(m)) for m in MODELS] + [(f"{m}/{sub}", Path(m) / sub / m) for m in MODELS
                                            for sub in ("corrected",)
                                            if (REFERENCE / m / sub / m / "table1.csv").exists()]
ABLATIONS = [m for m in MODELS if (REFERENCE / m / "ablation" / "ablation_avx.csv").exists()]
SANITY = [m for m in MODELS if (REFERENCE / m / "sanity" / "sanity_verdicts.csv").exists()]
REBUILT = ("table1.md", "table1.csv", "table1.tex", "comparisons.csv", "ranks.csv", "rank_tests.csv", "report.md",
           "controls.csv", "chance.csv", "validity.csv")


def _inputs(src: Path, dst: Path):
    """The run's own files only (CSVs of rows and run.json), not the report's outputs."""
    rows_only = shutil.ignore_patterns(*REBUILT, "*.png", "*.npz", "advise_units")
    shutil.copytree(src, dst, ignore=rows_only)


@pytest.mark.parametrize("name,folder", REPORTS, ids=[name for name, _ in REPORTS])
def test_report_rebuilds_the_committed_table(tmp_path, name, folder):
    committed = REFERENCE / folder
    copy = tmp_path / folder
    _inputs(committed, copy)
    controls_dir = committed.parent / "controls" if folder.parts[-2:-1] == ("corrected",) else committed / "controls"
    controls = sorted(p for p in controls_dir.glob("*") if any(p.glob("*/run*.json"))) if controls_dir.is_dir() else []
    args = ["report", str(copy)] + [a for c in controls for a in ("--control", str(c))]
    args += ["--plot"] if (committed / "report.png").exists() else []
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for file in REBUILT:
        if (committed / file).exists():
            assert (copy / file).read_bytes() == (committed / file).read_bytes(), file


@pytest.mark.parametrize("model", ABLATIONS)
def test_the_ablation_tables_rebuild_from_its_folders(tmp_path, model):
    from advise_bench.analysis.ablation import AVX_FILE, COMPARISONS_FILE, CONTROLS_FILE, summarize_ablation

    committed = REFERENCE / model / "ablation"
    shutil.copytree(committed, tmp_path / "ablation", ignore=shutil.ignore_patterns("ablation_*", "*_units*"))
    controls = sorted(p for p in (REFERENCE / model / "controls").glob("*") if (p / "ablation").is_dir())
    summarize_ablation(tmp_path / "ablation", controls)
    for file in (AVX_FILE, COMPARISONS_FILE, CONTROLS_FILE):
        if (committed / file).exists():
            assert (tmp_path / "ablation" / file).read_bytes() == (committed / file).read_bytes(), file


@pytest.mark.parametrize("model", SANITY)
def test_the_sanity_tables_rebuild_from_its_rows(tmp_path, model):
    from advise_bench.analysis.sanity import write_outputs

    committed = REFERENCE / model / "sanity"
    shutil.copy(committed / "sanity_images.csv", tmp_path / "sanity_images.csv")
    shutil.copy(committed / "sanity.json", tmp_path / "sanity.json")
    write_outputs(tmp_path)
    for file in ("sanity.csv", "sanity_verdicts.csv"):
        assert (tmp_path / file).read_bytes() == (committed / file).read_bytes(), file


@pytest.mark.parametrize("name,folder", REPORTS, ids=[name for name, _ in REPORTS])
def test_every_committed_method_has_at_least_99_percent_ok_rows(name, folder):
    rows = load_rows(REFERENCE / folder)
    share_ok = (rows["status"] == STATUS_OK).groupby(rows["method"]).mean()
    assert (share_ok >= 0.99).all(), share_ok.to_dict()


def test_reference_results_exist():
    assert MODELS, "no committed reference table under results/reference"


DOCS_RESULTS = REFERENCE.parents[1] / "docs" / "results"


@pytest.mark.parametrize("model", MODELS)
def test_the_results_page_quotes_the_committed_table(model):
    """Each model's results page (docs/results/<model>.md) must show the committed Table I, not an older run's."""
    page = (DOCS_RESULTS / f"{model}.md").read_text()
    rows = [line for line in (REFERENCE / model / "table1.md").read_text().splitlines() if line.startswith(f"| {model} ")]
    assert rows and all(line in page for line in rows)


RUN_FOLDERS = sorted({p.parent for p in REFERENCE.rglob("run*.json")}) if REFERENCE.is_dir() else []


def test_every_committed_run_folder_accounts_for_its_rows():
    """Controls and ablation settings too: at least 99% of each method's rows are ``ok`` in every folder that
    holds a run."""
    assert len(RUN_FOLDERS) >= len(REPORTS)
    for folder in RUN_FOLDERS:
        rows = load_rows(folder)
        assert len(rows), folder
        share_ok = (rows["status"] == STATUS_OK).groupby(rows["method"]).mean()
        assert (share_ok >= 0.99).all(), (folder, share_ok.to_dict())


def test_every_committed_metric_value_lies_in_its_declared_range():
    """metrics/core.py's METRICS ranges hold on every committed per-image row (SSIM: [-1, 1], it does go below 0)."""
    from advise_bench.metrics.core import METRICS

    names = ("AD", "SSIM", "FSIM", "MSE", "AVX")
    outside = {}
    for group in per_image_files(REFERENCE).values():
        for csv in group:
            columns = [c for c in names if c in pd.read_csv(csv, nrows=0).columns]
            if not columns:
                continue
            values = pd.read_csv(csv, usecols=columns)
            for c in columns:
                bad = ~values[c].dropna().between(METRICS[c].lo, METRICS[c].hi)
                if bad.any():
                    outside[f"{csv.relative_to(REFERENCE)}:{c}"] = int(bad.sum())
    assert not outside, outside


def row_key(csv: Path) -> tuple[str, ...] | None:
    """The columns that name one row of a per-image CSV (None: a table of aggregates, no image rows).
    A method's rows: one per image and method. Its candidates (``<method>_groups*.csv``): one per image,
    class and candidate (ADVISE's ``peaks``, a CAM oracle's ``group``). The sanity check's rows: one per
    image, series and cascade step."""
    columns = set(pd.read_csv(csv, nrows=0).columns)
    if "image_id" not in columns:
        return None
    if {"series", "step"} <= columns:
        return ("image_id", "series", "step")
    if "_groups" in csv.name:
        candidate = "peaks" if "peaks" in columns else "group"
        return ("image_id", "target", candidate)
    return ("image_id", "method")


def duplicated_rows(files: list[Path], key: tuple[str, ...]) -> int:
    """Rows of these files (read raw: load_rows keeps the last of duplicates) whose key another row has."""
    raw = pd.concat([pd.read_csv(f, usecols=list(key), dtype=str, keep_default_na=False) for f in files])
    return int(raw.duplicated().sum())


def per_image_files(root: Path) -> dict[tuple[Path, str], list[Path]]:
    """Every CSV with per-image rows under ``root``, by folder and file stem: a method's unsharded file and
    its shards (``advise.csv``, ``advise.shard-0-of-2.csv``) hold one set of rows between them."""
    found: dict[tuple[Path, str], list[Path]] = {}
    for csv in sorted(root.rglob("*.csv")):
        if row_key(csv):
            found.setdefault((csv.parent, csv.name.split(".")[0]), []).append(csv)
    return found


def test_no_committed_file_has_a_row_twice():
    """Per-image rows of every kind (runs, controls, ablation settings, candidates, the sanity check): a
    resumed run redid nothing twice."""
    files = per_image_files(REFERENCE)
    assert any(stem == "sanity_images" for _, stem in files) and any("_groups" in stem for _, stem in files)
    twice = {f"{folder.relative_to(REFERENCE)}/{stem}": n for (folder, stem), group in files.items()
             if (n := duplicated_rows(group, row_key(group[0])))}
    assert not twice, twice


def test_row_key_names_every_kind_of_per_image_file(tmp_path):
    files = {"advise.csv": "image_id,method,AVX\n", "advise_groups.csv": "image_id,target,peaks,AVX\n",
             "gradcam_groups.shard-0-of-2.csv": "image_id,target,group,AVX\n",
             "sanity_images.csv": "image_id,series,step,spearman\n", "table1.csv": "method,AVX\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text + ",".join("1" * text.count(",")) + ",1\n")
    assert {name: row_key(tmp_path / name) for name in files} == {
        "advise.csv": ("image_id", "method"), "advise_groups.csv": ("image_id", "target", "peaks"),
        "gradcam_groups.shard-0-of-2.csv": ("image_id", "target", "group"),
        "sanity_images.csv": ("image_id", "series", "step"), "table1.csv": None}
    (tmp_path / "advise.shard-0-of-2.csv").write_text((tmp_path / "advise.csv").read_text())
    group = per_image_files(tmp_path)[(tmp_path, "advise")]
    assert len(group) == 2 and duplicated_rows(group, ("image_id", "method")) == 1  # one image in two files
