"""The analyses' figures: ``advise-bench show`` (one image, every method's map, ADVISE's groups and its
unit-score histogram) and the sanity check's similarity against the cascade step."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..report.figure import save_figure, series_style

MAX_COLUMNS = 5


def _overlay(ax, image, heat, title, alpha=0.5):
    ax.imshow(image)
    ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def show(loaded, image_uint8: np.ndarray, methods, out_png, config=None) -> Path:
    """Explain the top-1 class of one (S, S, 3) uint8 image with every method; write one PNG.

    Panels: the input; each method's selected map over the image (jet, alpha 0.5); for a method with
    several candidate maps (ADVISE's groups) each candidate, titled with its metadata; a histogram of
    every per-unit array a method returns (ADVISE's unit scores). ``config`` (a RunConfig) sets the
    method options and the protocol a scoring selection uses.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..config import RunConfig
    from ..data import class_name
    from ..explainers import check_methods, display_name, explainer_from_config
    from ..metrics.protocol import MapScorer, get_protocol

    methods = check_methods(methods)
    config = config or RunConfig()
    image = np.asarray(image_uint8)
    size = loaded.input_size
    if image.shape != (size, size, 3):
        raise UserError(f"image must have shape ({size}, {size}, 3); got {image.shape}")
    probs = loaded.predict(image[None])[0]
    targets = np.argsort(-probs)[:2]
    target = int(targets[0])
    scorer = MapScorer(image, probs, loaded.predict, get_protocol(config.protocol))

    panels = [("image", None, f"input (top-1: {class_name(target)}, p={probs[target]:.2f})")]
    extra = []
    for m in methods:
        exp = explainer_from_config(m, loaded, config)
        explanations = exp.explain_candidates(image[None], targets[None])[0]
        selection = exp.select(explanations, scorer)
        how = selection.info.get("selection")
        panels.append(("map", selection.maps[0], display_name(m) + (f" ({how})" if how else "")))
        first = explanations[0]
        if exp.candidate_key is not None:
            for meta, cmap in zip(first.candidates, first.maps, strict=True):
                extra.append(("map", cmap, f"{display_name(m)}: " + ", ".join(f"{k} {v}" for k, v in meta.items())))
        for name, values in first.arrays.items():
            extra.append(("hist", values, f"{display_name(m)} {name.replace('_', ' ')}"))
    panels += extra

    ncols = min(MAX_COLUMNS, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (kind, data, title) in zip(axes.ravel(), panels, strict=False):
        if kind == "image":
            ax.imshow(image)
            ax.set_title(title, fontsize=9)
        elif kind == "map":
            _overlay(ax, image, data, title)
        else:
            ax.axis("on")
            lo, hi = int(data.min()), int(data.max())
            ax.hist(data, bins=np.arange(lo, hi + 2) - 0.5, color="tab:blue", edgecolor="black")
            ax.set_xlabel("value")
            ax.set_ylabel("count")
            ax.set_title(title, fontsize=9)
    name = class_name(target)
    fig.suptitle(f"{loaded.name}: explanations of class {target} '{name}' (p={probs[target]:.3f})")
    fig.tight_layout()
    return save_figure(fig, out_png)




# ---------------------------------------------------------------- sanity
def series_display_name(method: str, selection: str) -> str:
    from ..explainers import display_name

    return display_name(method) + (f" ({selection})" if selection else "")


def plot_sanity(summary, verdict_table, path: str | Path, threshold: float) -> Path:
    """The sanity check's figure from its tables (``sanity.csv``, ``sanity_verdicts.csv``): Spearman and SSIM
    against the cascade step, mean with 95% CI error bars; ``threshold`` on the Spearman panel; each
    series' verdict in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = summary.drop_duplicates("step").sort_values("step")
    verdict_of = dict(zip(verdict_table["series"], verdict_table["verdict"], strict=True)) if len(verdict_table) else {}
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), sharex=True)
    panels = (("spearman", "Spearman rank correlation"), ("ssim", "SSIM"))
    labels = list(dict.fromkeys(summary["series"]))
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for i, label in enumerate(labels):
            g = summary[summary["series"] == label].sort_values("step")
            name = series_display_name(g["method"].iloc[0], g["selection"].iloc[0])
            offset = (i - (len(labels) - 1) / 2) * 0.05  # side by side, so the error bars stay readable
            err = np.vstack([g[metric] - g[f"{metric}_ci_low"], g[f"{metric}_ci_high"] - g[metric]])
            ax.errorbar(g["step"] + offset, g[metric], yerr=np.clip(err, 0, None), capsize=3,
                        label=f"{name}: {verdict_of.get(label, '—')}", **series_style(i))
        ax.set_title(f"{title} to the trained model's maps (mean, 95% CI)")
        ax.set_xlabel("cascade step (layers re-initialised from the top)")
        ax.set_ylim(-0.2 if metric == "spearman" else -0.05, 1.05)
        ax.axhline(0, color="grey", lw=0.5)
        ax.grid(alpha=0.3)
    axes[0].axhline(threshold, color="red", ls="--", lw=0.8, label=f"pass threshold {threshold}")
    tick_labels = [_short(s) for s in steps["randomized"]]
    for ax in axes:
        ax.set_xticks(steps["step"], tick_labels, rotation=35, ha="right", fontsize=7)
    handles, legend_labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="center right", fontsize=8)
    n = int(summary["n"].max()) if len(summary) else 0
    fig.suptitle(f"Cascading model-parameter randomisation (Adebayo et al., 2018), {n} images")
    fig.tight_layout(rect=(0, 0, 0.82, 1))
    return save_figure(fig, path)


def _short(label: str) -> str:
    return label if len(label) <= 28 else label[:25] + "..."
