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
from advise_bench.report.table import load_rows

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"
MODELS = sorted(p.name for p in REFERENCE.iterdir() if (p / "table1.csv").exists()) if REFERENCE.is_dir() else []
# Report folders: each main run, and each corrected-protocol run (<model>/corrected/<model>).
REPORTS = [(m, Path(m)) for m in MODELS] + [(f"{m}/corrected", Path(m) / "corrected" / m) for m in MODELS
                                            if (REFERENCE / m / "corrected" / m / "table1.csv").exists()]
ABLATIONS = [m for m in MODELS if (REFERENCE / m / "ablation" / "ablation_avx.csv").exists()]
SANITY = [m for m in MODELS if (REFERENCE / m / "sanity" / "sanity_verdicts.csv").exists()]
REBUILT = ("table1.md", "table1.csv", "table1.tex", "comparisons.csv", "ranks.csv", "rank_tests.csv", "report.md",
           "controls.csv")


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
    holds a run, and no file has two rows for one image and method (a resumed run redid nothing)."""
    assert len(RUN_FOLDERS) >= len(REPORTS)
    for folder in RUN_FOLDERS:
        rows = load_rows(folder)
        assert len(rows), folder
        share_ok = (rows["status"] == STATUS_OK).groupby(rows["method"]).mean()
        assert (share_ok >= 0.99).all(), (folder, share_ok.to_dict())
        for csv in folder.glob("*.csv"):  # load_rows keeps the last of duplicates, so read each file raw
            if csv.name in REBUILT or "_groups" in csv.name:
                continue
            raw = pd.read_csv(csv, usecols=["image_id", "method"])
            assert not raw.duplicated().any(), csv
