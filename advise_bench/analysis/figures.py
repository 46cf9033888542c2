"""``advise-bench show``: one image, every method's map, ADVISE's groups and its unit-score histogram."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import UserError

MAX_COLUMNS = 5


def _overlay(ax, image, heat, title, alpha=0.5):
    ax.imshow(image)
    ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def show(loaded, image_uint8: np.ndarray, methods, out_png, method_options: dict | None = None) -> Path:
    """Explain the top-1 class of one (S, S, 3) uint8 image with every method; write one PNG.

    Panels: the input; each method's map over the image (jet, alpha 0.5); ADVISE's per-group maps
    (title: peak count and number of units); a histogram of ADVISE's unit scores (peak counts).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data import class_name
    from ..explainers import METHOD_NAMES, get_explainer
    from ..report.table import display_name

    methods = tuple(methods or METHOD_NAMES)
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_NAMES)}")
    image = np.asarray(image_uint8)
    size = loaded.input_size
    if image.shape != (size, size, 3):
        raise UserError(f"image must have shape ({size}, {size}, 3); got {image.shape}")
    method_options = method_options or {}
    probs = loaded.predict(image[None])[0]
    target = int(np.argmax(probs))

    panels = [("image", None, f"input (top-1: {class_name(target)}, p={probs[target]:.2f})")]
    groups = None
    for m in methods:
        exp = get_explainer(m, loaded, **method_options.get(m, {}))
        if m == "advise":
            groups = exp.groups(image[None], [target])[0]
            heat = groups.select(exp.selection if exp.selection != "oracle-avx" else "max-peaks")
            panels.append(("map", heat, f"{display_name(m)} ({exp.selection})"))
        else:
            panels.append(("map", exp(image[None], [target])[0], display_name(m)))
    if groups is not None:
        for peaks, units, gmap in zip(groups.peak_counts, groups.unit_counts, groups.maps, strict=True):
            panels.append(("map", gmap, f"ADVISE group: {int(peaks)} peaks, {int(units)} units"))
        panels.append(("hist", groups.unit_scores, "ADVISE unit scores"))

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
            ax.set_xlabel("KDE peak count")
            ax.set_ylabel("units")
            ax.set_title(title, fontsize=9)
    name = class_name(target)
    fig.suptitle(f"{loaded.name}: explanations of class {target} '{name}' (p={probs[target]:.3f})")
    fig.tight_layout()
    return save_figure(fig, out_png)


_MARKERS = ("o", "s", "^", "D", "v", "P")


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
