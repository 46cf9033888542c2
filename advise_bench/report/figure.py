"""``advise-bench report --plot``: one panel per metric, mean ± 95% CI per method, the paper's value hollow; with
controls, a last panel sets each method's AVX beside its controls' (where a method's score comes from)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..method_kinds import display_name, method_order
from ..metrics.core import METRICS
from .table import UNTRAINED_NOTE, aggregate, table_metrics_of

CONTROL_METRIC = "AVX"
_MARKERS = ("o", "s", "^", "D", "v", "P")
REFERENCE_MARKER = "X"


PANEL_COLUMNS = 3
# Horizontal room the series of one method share, so that their error bars do not overlap.
METHOD_WIDTH = 0.7


def plot_report(merged: pd.DataFrame, path: str | Path, controls: dict[str, pd.DataFrame] | None = None) -> Path:
    """``merged`` is the report's table (``with_paper(aggregate(rows))``); untrained rows are left out.
    ``controls``: the control series (``controls.load_controls``), drawn in a last, full-width AVX panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = merged[merged["note"] != UNTRAINED_NOTE] if "note" in merged else merged
    metrics = table_metrics_of(trained)
    ncols = min(PANEL_COLUMNS, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    extra = 1 if controls else 0
    fig, grid = plt.subplots(nrows + extra, ncols, figsize=(4.6 * ncols, 3.8 * (nrows + extra)), squeeze=False)
    axes = grid[:nrows]
    if controls:
        for ax in grid[nrows]:
            ax.remove()
        _plot_controls(fig.add_subplot(grid[0][0].get_gridspec()[nrows, :]), trained, controls)
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    reference = trained["kind"].eq("reference") if "kind" in trained else pd.Series(False, index=trained.index)
    # The methods in the paper's order, then the reference maps (chance and probes) in the table's order.
    methods = method_order(trained.loc[~reference, "method"]) + list(dict.fromkeys(trained.loc[reference, "method"]))
    position = {m: i for i, m in enumerate(methods)}
    series = list(trained.groupby(["architecture", "protocol"], sort=True))
    width = METHOD_WIDTH / max(1, len(series))
    for ax, metric in zip(axes.ravel(), metrics, strict=False):
        for i, ((arch, protocol), g) in enumerate(series):
            x = g["method"].map(position).to_numpy() + (i - (len(series) - 1) / 2) * width
            marker = series_style(i)["marker"]
            ref = reference[g.index].to_numpy()
            yerr = clipped_yerr(g[metric], g[f"{metric}_ci95"], metric)
            ax.errorbar(x[~ref], g[metric][~ref], yerr=yerr[:, ~ref], marker=marker, ls="none", color=f"C{i}",
                        capsize=3, label=f"{arch}, {protocol} ({n_label(g['n'][~ref])})")
            if ref.any():  # the reference maps: their own marker, grey, so no one reads them as methods
                ax.errorbar(x[ref], g[metric][ref], yerr=yerr[:, ref], marker=REFERENCE_MARKER, ms=8, ls="none",
                            color="0.35", capsize=3, label=f"{arch}, {protocol}: chance and probes")
            paper = g.get(f"paper_{metric}")
            if paper is not None and paper.notna().any():
                ax.plot(x, paper, marker=marker, ls="none", mfc="none", ms=10, color=f"C{i}",
                        label=f"{arch}: paper's Table I")
        if reference.any():
            ax.axvline(len(methods) - reference_count(trained) - 0.5, color="0.6", ls="--", lw=0.8)
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
    fig.suptitle(title(trained), fontsize=10)
    fig.tight_layout(rect=(0, 0.06 if series and not len(spare) else 0, 1, 1))
    return save_figure(fig, path)


def reference_count(trained: pd.DataFrame) -> int:
    return int(trained.loc[trained["kind"].eq("reference"), "method"].nunique()) if "kind" in trained else 0


def _plot_controls(ax, trained: pd.DataFrame, controls: dict[str, pd.DataFrame]) -> None:
    """Each method's AVX (filled) followed by its controls' (hollow, same colour): ADVISE beside its
    random-grouping and other-selection runs, each CAM beside its oracle run. A dotted line marks each
    series' main ADVISE."""
    controlled = aggregate(pd.concat([rows.assign(method=label) for label, rows in controls.items()],
                                     ignore_index=True))
    base = {label: display_name(rows["method"].iloc[0]) for label, rows in controls.items()}
    series = list(trained.groupby(["architecture", "protocol"], sort=True))
    width = METHOD_WIDTH / max(1, len(series))
    ticks, x = [], 0.0
    for method in method_order(trained.loc[trained.get("kind", pd.Series("method", trained.index)) == "method",
                                           "method"]):
        for name in [method, *[label for label in controls if base[label] == method]]:
            table, hollow = (trained, False) if name == method else (controlled, True)
            for i, ((arch, protocol), _) in enumerate(series):
                row = table[(table["architecture"] == arch) & (table["protocol"] == protocol) & (table["method"] == name)]
                if row.empty:
                    continue
                xi = x + (i - (len(series) - 1) / 2) * width
                ax.errorbar([xi], row[CONTROL_METRIC], yerr=clipped_yerr(row[CONTROL_METRIC], row[f"{CONTROL_METRIC}_ci95"],
                                                                CONTROL_METRIC),
                            marker=series_style(i)["marker"], ls="none", color=f"C{i}", capsize=3,
                            mfc="none" if hollow else f"C{i}")
                if name == display_name("advise") and not hollow:
                    ax.axhline(float(row[CONTROL_METRIC].iloc[0]), color=f"C{i}", ls=":", lw=0.8)
            ticks.append((x, name if name == method else name.replace(f"{method} (", "(")))
            x += 1
        x += 0.5
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks], rotation=25, ha="right", fontsize=7)
    ax.set_title(f"{CONTROL_METRIC} {METRICS[CONTROL_METRIC].arrow}: each method (filled) and its controls (hollow, "
                 "to its right); dotted: ADVISE")
    ax.grid(alpha=0.3, axis="y")


def clipped_yerr(means, ci95, metric: str) -> np.ndarray:
    """Error bars (2, N) of mean ± ci, cut at the metric's range (``METRICS[metric].lo/hi``): at small n the t
    interval can reach past it (AD above 1, MSE below 0), values no image can have."""
    info = METRICS.get(metric)
    means = np.asarray(means, dtype=float)
    ci = np.nan_to_num(np.asarray(ci95, dtype=float))
    if info is None:
        return np.stack([ci, ci])
    below = np.clip(np.minimum(ci, means - info.lo), 0, None)
    above = np.clip(np.minimum(ci, info.hi - means), 0, None)
    return np.nan_to_num(np.stack([below, above]))


def n_label(n) -> str:
    """The number of images behind a series' means: ``n = 300``, or its range when the methods differ."""
    n = pd.Series(n).dropna().astype(int)
    if n.empty:
        return "n = 0"
    return f"n = {n.min()}" if n.min() == n.max() else f"n = {n.min()}–{n.max()}"


def title(trained: pd.DataFrame) -> str:
    """The figure's title: what the markers are, and which models the paper has no values for."""
    from .paper import paper_architectures

    text = "Mean ± 95% CI per method (filled; bars cut at the metric's range)"
    architectures = list(dict.fromkeys(trained["architecture"])) if "architecture" in trained else []
    has_paper = {a for a in architectures if "paper_AVX" in trained
                 and trained.loc[trained["architecture"] == a, "paper_AVX"].notna().any()}
    if has_paper:
        text += "; the paper's value (hollow)"
    missing = [a for a in architectures if a not in has_paper]
    if missing:
        text += (f"\nThe paper has no values for {', '.join(missing)} "
                 f"(it reports {', '.join(sorted(paper_architectures()))})")
    return text


def series_style(i: int) -> dict:
    """Marker and line style of the i-th curve, so that overlapping curves stay distinguishable."""
    return {"marker": _MARKERS[i % len(_MARKERS)], "ls": "-" if i % 2 == 0 else "--"}


def save_figure(fig, path) -> Path:
    """Write a matplotlib figure as PNG (creating the folder) and free it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
