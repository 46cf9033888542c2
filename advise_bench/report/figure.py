"""``advise-bench report --plot``: one panel per metric, mean ± 95% CI per method, the paper's value hollow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.figures import save_figure, series_style
from ..metrics.core import METRICS
from .table import UNTRAINED_NOTE, method_order, table_metrics_of

PANEL_COLUMNS = 3
# Horizontal room the series of one method share, so that their error bars do not overlap.
METHOD_WIDTH = 0.7


def plot_report(merged: pd.DataFrame, path: str | Path) -> Path:
    """``merged`` is the report's table (``with_paper(aggregate(rows))``); untrained rows are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = merged[merged["note"] != UNTRAINED_NOTE] if "note" in merged else merged
    metrics = table_metrics_of(trained)
    ncols = min(PANEL_COLUMNS, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.8 * nrows), squeeze=False)
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    methods = method_order(trained["method"])
    position = {m: i for i, m in enumerate(methods)}
    series = list(trained.groupby(["architecture", "protocol"], sort=True))
    width = METHOD_WIDTH / max(1, len(series))
    for ax, metric in zip(axes.ravel(), metrics, strict=False):
        for i, ((arch, protocol), g) in enumerate(series):
            x = g["method"].map(position).to_numpy() + (i - (len(series) - 1) / 2) * width
            marker = series_style(i)["marker"]
            ax.errorbar(x, g[metric], yerr=np.nan_to_num(g[f"{metric}_ci95"].to_numpy(dtype=float)), marker=marker,
                        ls="none", color=f"C{i}", capsize=3, label=f"{arch}, {protocol}")
            paper = g.get(f"paper_{metric}")
            if paper is not None and paper.notna().any():
                ax.plot(x, paper, marker=marker, ls="none", mfc="none", ms=10, color=f"C{i}",
                        label=f"{arch}: paper's Table I")
        ax.set_title(f"{metric} {METRICS[metric].arrow}")
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    spare = axes.ravel()[len(metrics):]
    if not series:
        axes[0][0].text(0.5, 0.5, f"no trained-weight rows ({UNTRAINED_NOTE})", ha="center", va="center",
                        transform=axes[0][0].transAxes)
    elif len(spare):  # the legend takes an empty panel rather than covering data
        spare[0].legend(*axes[0][0].get_legend_handles_labels(), loc="center", fontsize=9)
    else:
        fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8)
    fig.suptitle("Mean ± 95% CI per method (filled); the paper's value where it has the architecture (hollow)")
    fig.tight_layout(rect=(0, 0.06 if series and not len(spare) else 0, 1, 1))
    return save_figure(fig, path)
