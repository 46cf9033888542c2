"""What `report` prints: a Table I that fits 100 columns (six methods and the reference maps), every column with
--wide, plain text off a terminal, one line when the paper has no row, the paper's rows with --paper."""

import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from advise_bench.cli import app
from advise_bench.report.build import build_report, terminal_summary
from advise_bench.report.format import format_number
from advise_bench.report.paper import paper_table

METHODS = ("advise", "gradcam", "gradcam++", "scorecam", "layercam", "lime", "random", "centre", "keep-all")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _write(root, model, methods=METHODS, n_images=10):
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    for k, method in enumerate(methods):
        rows = [{"image_id": f"img{i:02d}", "method": method, "model": model, "protocol": "reference", "status": "ok",
                 **{m: 0.1 + 0.05 * k + 0.01 * i for m in ("AD", "SSIM", "FSIM", "MSE", "AVX")},
                 "Hit": i % 2 == 0, "CS_pass": True, "penalty": "none", "time_s": 12.345 * (k + 1),
                 "device": "cpu:x86_64 x2"} for i in range(n_images)]
        pd.DataFrame(rows).to_csv(folder / f"{method.replace('+', 'p')}.csv", index=False)


def test_the_summary_fits_100_columns_for_the_six_methods_and_the_reference_maps(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "results", "mobilenet_v2")
    merged, paths = build_report(Path("results"), n_resamples=1000, plot=True)
    for color in (False, True):
        text = terminal_summary(merged, paths, color=color, width=100)
        lines = ANSI.sub("", text).splitlines()
        assert max(len(line) for line in lines) <= 100, max(lines, key=len)
        assert bool(ANSI.search(text)) == color  # pipes and files get plain text
        for name in ("ADVISE", "Grad-CAM++", "Score-CAM", "LIME", "Random", "Centre", "Keep-all (probe)"):
            table_row = [line for line in lines if line.split("  ")[0].strip() == name and "±" in line]
            assert len(table_row) == 1, (name, lines)  # one line per method: nothing wrapped
    plain = terminal_summary(merged, paths)
    assert plain.count("The paper has no row for mobilenet_v2") == 1
    assert "mobilenet_v2 · reference protocol" in plain and "Figure: results/report.png" in plain
    assert "| mobilenet_v2 |" not in plain  # not the Markdown table


def test_wide_prints_every_column_of_table1(tmp_path):
    _write(tmp_path, "mobilenet", METHODS[:6], n_images=6)
    merged, paths = build_report(tmp_path, n_resamples=1000)
    wide = terminal_summary(merged, paths, wide=True)
    heads = [c.strip() for c in paths["markdown"].read_text().splitlines()[0].strip("|").split("|")]
    header = next(line for line in wide.splitlines() if line.startswith("Architecture"))
    assert all(h in header for h in heads), (heads, header)
    assert "penalties (scaled/zeroed)" in header and "0/0" in wide


def test_report_paper_on_a_vgg16_folder_prints_the_papers_vgg16_rows(tmp_path):
    _write(tmp_path, "vgg16", METHODS[:6], n_images=6)
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--paper", "--bootstrap-resamples", "1000"])
    assert result.exit_code == 0, result.output
    paper = paper_table()
    printed = [line.split() for line in result.output.splitlines() if line.startswith("vgg16 ") and " · " not in line]
    assert len(printed) == (paper["architecture"] == "vgg16").sum() == 6
    for _, row in paper[paper["architecture"] == "vgg16"].iterrows():
        cells = next(c for c in printed if c[1] == row["method"])
        assert cells[3:8] == [format_number(row[m]) for m in ("AD", "SSIM", "FSIM", "MSE", "AVX")]
        assert cells[-2:] == [format_number(row["time_gpu_s"]), format_number(row["time_cpu_s"])]
    assert not any(line.startswith(("alexnet ", "resnet50 ", "xception ")) for line in result.output.splitlines())
    assert "The paper has no row" not in result.output
    # Without --paper, one line says where the paper's values are.
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--bootstrap-resamples", "1000"])
    assert "`report --paper` prints its rows" in result.output and not any(
        line.startswith("vgg16 ") and " · " not in line for line in result.output.splitlines())


def test_report_paper_on_a_model_the_paper_lacks_prints_every_row(tmp_path):
    _write(tmp_path, "mobilenet", METHODS[:2], n_images=6)
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--paper", "--bootstrap-resamples", "1000"])
    assert result.exit_code == 0, result.output
    assert "The paper has no row for mobilenet (it reports alexnet, resnet50, vgg16, xception)." in result.output
    assert sum(line.startswith(("alexnet ", "vgg16 ", "resnet50 ", "xception ")) for line in
               result.output.splitlines()) == len(paper_table())


def test_untrained_rows_say_so_and_are_not_set_beside_the_paper(tmp_path):
    import json

    _write(tmp_path, "vgg16", METHODS[:2], n_images=4)
    (tmp_path / "vgg16" / "run.json").write_text(json.dumps({"config": {"weights": "random"}, "weights": "random"}))
    merged, paths = build_report(tmp_path, n_resamples=1000)
    text = terminal_summary(merged, paths)
    assert "vgg16 (untrained: timing only) · reference protocol" in text
    assert "never set beside the paper's" in text and "table1.md; `report --paper`" not in text
