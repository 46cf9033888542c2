"""Sanity check for saliency maps: Adebayo et al. (NeurIPS 2018), cascading model-parameter randomisation.

An explanation that describes the *model* must change when the model's parameters are destroyed. Starting
from the trained network, the weighted layers are re-initialised from the output downwards, cumulatively,
in a handful of cascade steps; after every step each method explains the same images for the same targets
(the trained model's top-1 class) and its maps are compared with the trained model's maps.

Cascade grouping (:func:`cascade_steps`)
    Weighted layers are walked in forward order; a BatchNormalization layer joins the layer before it,
    and layers of one architectural block (``block_16_*``, ``block5_*``, ``conv5_block3_*``,
    ``expanded_conv_*``, ``conv_dw_13``/``conv_pw_13``) form one unit. Step 1 is the top unit alone (the
    logits layer, as in Adebayo et al.); the remaining units, from the top down, are split into
    ``n_steps - 1`` consecutive chunks, the smaller chunks at the top. For MobileNetV2 and 7 steps:
    ``predictions``; ``Conv_1``, blocks 16-15; 14-12; 11-9; 8-6; 5-3; 2-1, ``expanded_conv``, ``Conv1``.

Re-initialisation (:func:`reinitialize_layer`)
    Kernels get a seeded Glorot normal draw of the same shape (std = sqrt(2 / (fan_in + fan_out)); a
    depthwise kernel counts only its own window and multiplier); biases and BatchNorm beta/moving mean
    become 0, BatchNorm gamma/moving variance 1 -- the state of a freshly built layer. The generator is
    seeded by (seed, layer index), so the randomised models do not depend on the grouping or call order.
    The work is done on a clone (``keras.models.clone_model`` + ``set_weights``): the caller's model is
    never touched.

Similarity
    Spearman rank correlation of the flattened maps (a constant map correlates 0 with anything, except
    an identical map: 1) and SSIM (scikit-image, ``data_range=1``), each averaged over the images. Step 0
    compares the trained model's maps with a second computation of them (determinism: expect 1).
    Every method explains the trained model's top-1 and top-2 classes in one call, and its selection
    picks the map; a selection that needs the evaluation's scorer (ADVISE's ``oracle-avx``) scores
    with the model under test (the ``sanity`` command defaults to the deployable ``max-peaks``).

Pass rule (:func:`verdicts`)
    A method **passes** when, after the full cascade, its mean Spearman similarity to the trained maps is
    below ``THRESHOLD`` (0.5: the randomised model's map shares less than half of its rank structure
    with the trained one) *and* is not above the first step's similarity by more than ``TOLERANCE``
    (0.1: destroying more of the network must not bring the map back, the signature of a method that
    mostly reflects the input image, e.g. its edges, rather than the model). SSIM is reported but does
    not enter the verdict (it is dominated by smooth low-frequency structure shared by many CAM maps).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from .figures import save_figure, series_style

DEFAULT_STEPS = 7
THRESHOLD = 0.5
TOLERANCE = 0.1

_BLOCK_PATTERNS = (
    re.compile(r"^(conv\d+_block\d+)_"),  # ResNet50: conv5_block3_1_conv
    re.compile(r"^(block_?\d+)_"),  # MobileNetV2 block_16_*, VGG block5_*, Xception block14_*
    re.compile(r"^(expanded_conv)"),  # MobileNetV2 block 0
)
_MOBILENET_V1 = re.compile(r"^conv_(?:dw|pw|pad)_(\d+)")


def _block_key(name: str) -> str:
    m = _MOBILENET_V1.match(name)
    if m:
        return f"conv_{m.group(1)}"
    for pat in _BLOCK_PATTERNS:
        m = pat.match(name)
        if m:
            return m.group(1)
    return name


def _units(model) -> list[list[str]]:
    """Weighted layers grouped into architectural units, forward order."""
    import keras

    units: list[list[str]] = []
    keys: list[str] = []
    for layer in model.layers:
        if not layer.weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization) and units:
            key = keys[-1]  # BN belongs to the layer it normalises
        else:
            key = _block_key(layer.name)
        if keys and keys[-1] == key:
            units[-1].append(layer.name)
        else:
            units.append([layer.name])
            keys.append(key)
    return units


def cascade_steps(model, n_steps: int = DEFAULT_STEPS) -> list[list[str]]:
    """Layer names re-initialised at each cascade step, output side first (see the module docstring)."""
    if n_steps < 1:
        raise UserError("--steps must be >= 1")
    units = _units(model)[::-1]
    if not units:
        raise UserError("the model has no weighted layers to randomise")
    if n_steps == 1 or len(units) == 1:
        return [sum(units, [])]
    first, rest = units[0], units[1:]
    k = min(n_steps - 1, len(rest))
    sizes = [len(c) for c in np.array_split(np.arange(len(rest)), k)][::-1]  # small chunks at the top
    steps, i = [list(first)], 0
    for s in sizes:
        steps.append(sum(rest[i : i + s], []))
        i += s
    return steps


_NORM = re.compile(r"(^bn_|_bn$)", re.IGNORECASE)


def step_label(layers: list[str]) -> str:
    """Short name of a step, e.g. ``predictions`` or ``Conv_1 .. block_15`` (full names are in the CSV)."""
    keys = [_block_key(n) for n in layers if not _NORM.search(n)] or [_block_key(n) for n in layers]
    keys = list(dict.fromkeys(keys))
    return keys[0] if len(keys) == 1 else f"{keys[0]} .. {keys[-1]}"


def reinitialize_layer(layer, seed: int, index: int) -> None:
    """Seeded fresh weights of the same shapes (Glorot normal kernels, fresh-layer vectors)."""
    import keras

    rng = np.random.default_rng([seed, index])
    depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
    for var in layer.weights:
        shape = tuple(var.shape)
        name = var.name.split("/")[-1]
        if len(shape) >= 2:
            rf = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
            if depthwise or "depthwise" in name:
                fan_in = fan_out = rf * shape[-1]
            else:
                fan_in, fan_out = rf * shape[-2], rf * shape[-1]
            value = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
        elif name in ("gamma", "moving_variance"):
            value = np.ones(shape)
        else:  # bias, beta, moving_mean
            value = np.zeros(shape)
        var.assign(value.astype(var.dtype))


def clone_loaded(loaded):
    """A LoadedModel on a weight-for-weight clone of ``loaded.model`` (the original stays untouched)."""
    import dataclasses

    import keras

    clone = keras.models.clone_model(loaded.model)
    clone.set_weights(loaded.model.get_weights())
    return dataclasses.replace(loaded, model=clone)


# ---------------------------------------------------------------- similarity
def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.array_equal(a, b):
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    r = spearmanr(a, b).statistic
    return float(r) if np.isfinite(r) else 0.0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=1.0))


# ---------------------------------------------------------------- the check
def sanity(
    loaded,
    images: np.ndarray,
    methods,
    config=None,
    steps: int | list[list[str]] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Cascading randomisation; one row per (method, step) with image-averaged similarities.

    ``steps``: the number of cascade steps (default 7) or explicit lists of layer names per step.
    ``config``: a :class:`~advise_bench.config.RunConfig` whose method options apply (default: defaults).
    With ``out``, writes ``sanity.csv``, ``sanity_verdicts.csv`` and ``sanity.png`` there.
    """
    from ..config import RunConfig
    from ..explainers import check_methods, explainer_from_config
    from ..metrics.protocol import MapScorer, get_protocol

    methods = check_methods(methods)
    config = config or RunConfig()
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if len(images) == 0:
        raise UserError("sanity check: no images")
    targets = np.argsort(-loaded.predict(images), axis=1)[:, :2]
    protocol = get_protocol(config.protocol)

    work = clone_loaded(loaded)
    layer_steps = cascade_steps(work.model, steps or DEFAULT_STEPS) if not isinstance(steps, list) else steps
    names = {layer.name: i for i, layer in enumerate(work.model.layers)}
    missing = [n for s in layer_steps for n in s if n not in names]
    if missing:
        raise UserError(f"unknown layer(s) in cascade steps: {', '.join(missing[:5])}")
    explainers = {m: explainer_from_config(m, work, config) for m in methods}

    def all_maps():
        probs = work.predict(images)
        scorers = [MapScorer(x, p, work.predict, protocol) for x, p in zip(images, probs, strict=True)]
        return {m: exp.explain_selected(images, targets, scorers)[:, 0] for m, exp in explainers.items()}

    def log(msg):
        if progress:
            print(msg, flush=True)

    trained = all_maps()
    log("sanity: trained maps done")
    rows = []

    def record(step, label, layers, maps):
        for m in methods:
            sp = [spearman(a, b) for a, b in zip(trained[m], maps[m], strict=True)]
            ss = [ssim(a, b) for a, b in zip(trained[m], maps[m], strict=True)]
            rows.append({
                "method": m, "step": step, "randomized": label, "layers": len(layers),
                "layer_names": ";".join(layers), "n": len(sp),
                "spearman": float(np.mean(sp)), "spearman_std": float(np.std(sp)),
                "ssim": float(np.mean(ss)), "ssim_std": float(np.std(ss)),
            })

    record(0, "none (trained)", [], all_maps())
    for k, layers in enumerate(layer_steps, start=1):
        for name in layers:
            reinitialize_layer(work.model.get_layer(name), seed, names[name])
        record(k, step_label(layers), layers, all_maps())
        log(f"sanity: step {k}/{len(layer_steps)} ({step_label(layers)}) done")
    df = pd.DataFrame(rows)
    if out is not None:
        write_outputs(df, out)
    return df


def verdicts(df: pd.DataFrame, threshold: float = THRESHOLD, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Per method: similarity after step 1 and after the full cascade, and PASS/FAIL (module docstring)."""
    out = []
    for method, g in df.groupby("method", sort=False):
        g = g.sort_values("step")
        rand = g[g["step"] > 0]
        first, last = rand.iloc[0], rand.iloc[-1]
        ok = last["spearman"] < threshold and last["spearman"] <= first["spearman"] + tolerance
        out.append({
            "method": method, "spearman_trained": float(g.iloc[0]["spearman"]),
            "spearman_first_step": float(first["spearman"]), "spearman_full_cascade": float(last["spearman"]),
            "ssim_first_step": float(first["ssim"]), "ssim_full_cascade": float(last["ssim"]),
            "verdict": "PASS" if ok else "FAIL",
        })
    return pd.DataFrame(out)


def plot(df: pd.DataFrame, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..explainers import display_name

    steps = df.drop_duplicates("step").sort_values("step")
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), sharex=True)
    panels = (("spearman", "Spearman rank correlation"), ("ssim", "SSIM"))
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for i, (method, g) in enumerate(df.groupby("method", sort=False)):
            g = g.sort_values("step")
            ax.plot(g["step"], g[metric], label=display_name(method), **series_style(i))
        ax.set_title(f"{title} to the trained model's maps")
        ax.set_xlabel("cascade step (layers re-initialised from the top)")
        ax.set_ylim(-0.2 if metric == "spearman" else -0.05, 1.05)
        ax.axhline(0, color="grey", lw=0.5)
        ax.grid(alpha=0.3)
    axes[0].axhline(THRESHOLD, color="red", ls="--", lw=0.8, label=f"pass threshold {THRESHOLD}")
    labels = [_short(s) for s in steps["randomized"]]
    for ax in axes:
        ax.set_xticks(steps["step"], labels, rotation=35, ha="right", fontsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.suptitle("Cascading model-parameter randomisation (Adebayo et al., 2018)")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    return save_figure(fig, path)


def _short(label: str) -> str:
    return label if len(label) <= 28 else label[:25] + "..."


def write_outputs(df: pd.DataFrame, out: str | Path) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "sanity.csv", "verdicts": out / "sanity_verdicts.csv", "png": out / "sanity.png"}
    df.to_csv(paths["csv"], index=False)
    verdicts(df).to_csv(paths["verdicts"], index=False)
    plot(df, paths["png"])
    return paths
