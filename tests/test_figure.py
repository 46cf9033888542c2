"""report.png: CI bars stop at each metric's range, every series gives its n, and the title says which models the
paper has no values for."""

import numpy as np
import pandas as pd
import pytest

from advise_bench.report import figure
from advise_bench.report.build import build_report
from advise_bench.report.paper import paper_table

METRICS = ("AD", "SSIM", "FSIM", "MSE", "AVX")
KEYS = {"ADVISE": "advise", "Grad-CAM": "gradcam", "Grad-CAM++": "gradcam++", "Score-CAM": "scorecam",
        "Layer-CAM": "layercam", "LIME": "lime"}


def _write(root, model, values: dict[str, list[float]]):
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    for method, per_image in values.items():
        pd.DataFrame([{"image_id": f"img{i}", "method": method, "model": model, "protocol": "reference",
                       "status": "ok", **{m: v for m in METRICS}, "Hit": True, "CS_pass": True, "penalty": "none",
                       "time_s": 0.1, "device": "cpu:x86_64 x2"} for i, v in enumerate(per_image)]
                     ).to_csv(folder / f"{method.replace('+', 'p')}.csv", index=False)


@pytest.fixture
def drawn(monkeypatch):
    """The figure plot_report draws, kept open instead of saved and closed."""
    figures = []
    monkeypatch.setattr(figure, "save_figure", lambda fig, path: figures.append(fig) or path)
    yield figures
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)


def test_clipped_error_bars_stay_within_the_range():
    err = figure.clipped_yerr([0.95, 0.02, 0.5], [0.2, 0.1, np.nan], "AD")
    np.testing.assert_allclose(err, [[0.2, 0.02, 0.0], [0.05, 0.1, 0.0]])
    assert figure.n_label(pd.Series([3, 3])) == "n = 3" and figure.n_label(pd.Series([2, 6])) == "n = 2–6"


def test_small_n_bars_end_at_the_range_and_the_figure_gives_n_and_says_the_paper_has_no_values(tmp_path, drawn):
    # Three images near the top of the range: the t interval of the mean reaches far past 1.
    _write(tmp_path, "mobilenet_v2", {"advise": [0.99, 0.6, 0.98], "gradcam": [0.01, 0.3, 0.02]})
    build_report(tmp_path, plot=True, n_resamples=1000)
    fig = drawn[0]
    assert "The paper has no values for mobilenet_v2" in fig._suptitle.get_text()
    assert "hollow" not in fig._suptitle.get_text()
    legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    legend += [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "mobilenet_v2, reference (n = 3)" in legend
    panels = [ax for ax in fig.axes if ax.get_title().split(" ")[0] in METRICS]
    assert len(panels) == 5
    for ax in panels:
        lo, hi = figure.METRICS[ax.get_title().split(" ")[0]].lo, figure.METRICS[ax.get_title().split(" ")[0]].hi
        bars = [seg for c in ax.containers for coll in c.lines[2] for seg in coll.get_segments()]
        ys = np.concatenate([seg[:, 1] for seg in bars])
        assert bars and ys.min() >= lo - 1e-12 and ys.max() <= hi + 1e-12, ax.get_title()


def test_a_model_of_the_paper_gets_its_hollow_markers_and_no_missing_note(tmp_path, drawn):
    paper = paper_table()
    vgg = paper[paper["architecture"] == "vgg16"].set_index("method")
    _write(tmp_path, "vgg16", {KEYS[m]: [vgg.loc[m, "AVX"] - 0.01, vgg.loc[m, "AVX"] + 0.01] for m in vgg.index})
    build_report(tmp_path, plot=True, n_resamples=1000)
    title = drawn[0]._suptitle.get_text()
    assert "the paper's value (hollow)" in title and "no values" not in title
