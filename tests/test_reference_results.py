"""The committed reference results: `advise-bench report results/reference/<model>` rebuilds the committed
tables and comparisons byte for byte from the committed per-image CSVs (and its controls, where committed)."""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advise_bench.cli import app
from advise_bench.metrics.core import STATUS_OK
from advise_bench.report.table import load_rows

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"
MODELS = sorted(p.name for p in REFERENCE.iterdir() if (p / "table1.csv").exists()) if REFERENCE.is_dir() else []
REBUILT = ("table1.md", "table1.csv", "table1.tex", "comparisons.csv", "ranks.csv", "rank_tests.csv", "report.md",
           "controls.csv")


def _inputs(src: Path, dst: Path):
    """The run's own files only (CSVs of rows and run.json), not the report's outputs."""
    rows_only = shutil.ignore_patterns(*REBUILT, "*.png", "*.npz", "advise_units")
    shutil.copytree(src, dst, ignore=rows_only)


@pytest.mark.parametrize("model", MODELS)
def test_report_rebuilds_the_committed_table(tmp_path, model):
    committed = REFERENCE / model
    _inputs(committed, tmp_path / model)
    controls = sorted((tmp_path / model / "controls").glob("*")) if (committed / "controls").is_dir() else []
    args = ["report", str(tmp_path / model)] + [a for c in controls for a in ("--control", str(c))]
    args += ["--plot"] if (committed / "report.png").exists() else []
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in REBUILT:
        if (committed / name).exists():
            assert (tmp_path / model / name).read_bytes() == (committed / name).read_bytes(), name


@pytest.mark.parametrize("model", MODELS)
def test_every_committed_method_has_at_least_99_percent_ok_rows(model):
    rows = load_rows(REFERENCE / model)
    share_ok = (rows["status"] == STATUS_OK).groupby(rows["method"]).mean()
    assert (share_ok >= 0.99).all(), share_ok.to_dict()


def test_reference_results_exist():
    assert MODELS, "no committed reference table under results/reference"


@pytest.mark.parametrize("model", MODELS)
def test_readme_quotes_the_committed_table(model):
    """README's "What we found" must show the committed numbers, not an older run's."""
    readme = (REFERENCE.parents[1] / "README.md").read_text()
    rows = [line for line in (REFERENCE / model / "table1.md").read_text().splitlines() if line.startswith(f"| {model} ")]
    assert rows and all(line in readme for line in rows)
