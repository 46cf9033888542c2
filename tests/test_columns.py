"""The result row's columns are declared once (advise_bench/columns.py): what writes rows and what reads them agree
with the declaration, and the report renders without loading an explainer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from advise_bench.columns import COLUMNS, METHOD_COLUMNS, ROW_COLUMNS, SCORE_COLUMNS, make_row
from advise_bench.metrics.core import METRICS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"


def test_every_metric_column_carries_its_declared_direction():
    for name in ("AD", "SSIM", "FSIM", "MSE", "AVX", "Hit", "deletion_auc", "insertion_auc"):
        assert COLUMNS[name].metric is METRICS[name]
    assert COLUMNS["AD"].metric.higher_is_better is False and COLUMNS["AVX"].metric.higher_is_better is True
    assert COLUMNS["status"].metric is None
    assert len(COLUMNS) == len(ROW_COLUMNS)  # no name declared twice


def test_make_row_orders_declared_columns_and_keeps_a_plugins_own_before_the_status():
    row = make_row(error="", status="ok", my_plugin_score=3, AVX=0.5, image_id="x", AD=0.1)
    assert list(row) == ["image_id", "AD", "AVX", "my_plugin_score", "status", "error"]


def test_the_scorer_writes_declared_columns_only():
    from advise_bench.metrics.protocol import get_protocol, score_explanation

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    top1, top2 = rng.random((32, 32)), rng.random((32, 32))
    probs = np.full(10, 0.05)
    probs[3] = 0.55
    scores = score_explanation(image, image // 2, top1, top2, probs, probs, get_protocol("reference"))
    assert set(scores) == {c.name for c in SCORE_COLUMNS}


def _committed_headers():
    for csv in sorted(REFERENCE.glob("**/*.csv")):
        if csv.name.startswith(("advise_groups", "table", "ablation", "sanity", "comparisons", "ranks", "rank_tests",
                                "controls", "chance", "validity")) or "_groups" in csv.name:
            continue
        yield csv, csv.open().readline().strip().split(",")


def test_committed_rows_have_declared_columns_in_the_declared_order():
    """The committed rows were written by the run before this declaration existed: an oracle of the names, and
    the rows that record a numerics fingerprint (the one-run sets, written at once by one version, no header widened
    since) an oracle of the order."""
    order = [c.name for c in ROW_COLUMNS]
    checked = 0
    for csv, header in _committed_headers():
        if "status" not in header:
            continue
        assert set(header) <= set(order), (csv, set(header) - set(order))
        if "fingerprint" in header:
            assert header == [c for c in order if c in header], csv
            checked += 1
    assert checked >= 15


def test_the_builtin_methods_columns_are_declared():
    """ADVISE's info and its selection's: the declaration names every column a built-in method adds."""
    header = (REFERENCE / "mobilenet_v2" / "advise.csv").open().readline().strip().split(",")
    method_columns = {c.name for c in METHOD_COLUMNS}
    assert {"peak_min", "peak_max", "groups", "kde_s", "selected_peaks", "selection"} <= set(header)
    assert {h for h in header if h in method_columns} == {"peak_min", "peak_max", "groups", "kde_s",
                                                          "selected_peaks", "selection"}


REPORT_PROBE = """
import json, sys, tempfile
from advise_bench.report.build import build_report, terminal_summary
imported = {"at_import": {m: m in sys.modules for m in sys.argv[2:]}}
with tempfile.TemporaryDirectory() as out:
    merged, paths = build_report(sys.argv[1], out, n_resamples=1000)
    terminal_summary(merged, paths)
imported["after_report"] = {m: m in sys.modules for m in sys.argv[2:]}
imported["modules"] = sum(m.startswith("advise_bench") for m in sys.modules)
print(json.dumps(imported))
"""


@pytest.mark.skipif(not (REFERENCE / "mobilenet" / "corrected" / "mobilenet").is_dir(), reason="no committed results")
def test_a_report_loads_no_explainer_no_kde_and_no_keras():
    heavy = ["keras", "advise_bench.explainers", "advise_bench.explainers.kde", "advise_bench.models.zoo",
             "scipy.optimize"]
    folder = REFERENCE / "mobilenet" / "corrected" / "mobilenet"
    out = subprocess.run([sys.executable, "-c", REPORT_PROBE, str(folder), *heavy], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert not any(imported["at_import"].values()), imported
    # scipy.stats (the paired tests) imports scipy's optimisers itself once a test is computed; nothing else may
    assert not any(v for m, v in imported["after_report"].items() if m != "scipy.optimize"), imported
    assert imported["modules"] < 30
