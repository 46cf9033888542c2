"""Sanity check for saliency maps: Adebayo et al. (NeurIPS 2018), cascading model-parameter randomisation.

An explanation that describes the *model* must change when the model's parameters are destroyed. Starting
from the trained network, the weighted layers are re-initialised from the output downwards, cumulatively,
in a handful of cascade steps; after every step each method explains the same images for the same targets
(the trained model's top-1 and top-2 classes) and its maps are compared with the trained model's maps.

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
    seeded by (seed, layer index), so the randomised models depend neither on the grouping nor on the
    chunk of images being processed: images go in chunks, and each chunk resets a clone of the model to
    the trained weights and runs the cascade again. The caller's model is never touched.

Series
    Every method is one series; ADVISE is one series per selection given (``advise (max-peaks)``,
    ``advise (oracle-avx)``): its candidate maps are computed once per step and each selection picks
    from them. A selection that needs the evaluation's scorer (``oracle-avx``) scores with the model
    under test, the randomised one after a cascade step, as it would in use.

Similarity (per image, :func:`spearman`, :func:`ssim`)
    Spearman rank correlation of the flattened top-1 maps (a constant map correlates 0 with anything,
    except an identical map: 1) and SSIM (scikit-image, ``data_range=1``). Step 0 compares the trained
    model's maps with a second computation of them (determinism: expect 1). One row per (image, series,
    step) goes to ``sanity_images.csv`` as soon as it is computed, so a run resumes: images that have
    every row are skipped, and an image cut short mid-cascade loses its rows and is redone from step 0
    (the file never holds one (image, series, step) twice).

Summary and verdict (:func:`summarize`, :func:`verdicts`)
    Per series and step: the mean similarity over the images with a 95% percentile-bootstrap CI (the
    report's :func:`~advise_bench.report.stats.bootstrap_mean_ci`, seeded, values in image-id order).
    The verdict uses Spearman after the full cascade (SSIM is reported but is dominated by smooth
    low-frequency structure shared by many CAM maps):

    * **pass**: its CI lies wholly below ``THRESHOLD`` (0.5: the randomised model's map shares less than
      half of its rank structure with the trained one) and it is not significantly above the similarity
      after step 1 (paired over the images, d = full cascade - step 1; significant = two-sided Wilcoxon
      p < 0.05 *and* the bootstrap CI of mean d wholly above 0, the report's rule). Destroying more of the
      network must not bring the map back, the signature of a method that mostly reflects the input
      image (e.g. its edges) rather than the model. The p-value is not Holm-corrected: a correction
      would only make a pass easier.
    * **fail**: the CI lies wholly above ``THRESHOLD``.
    * **undecided**: anything else, and always with fewer than ``MIN_IMAGES`` (6) images. Below 6 pairs
      the two-sided Wilcoxon test cannot reach p < 0.05 (its smallest p-value is 2 / 2^n), so the
      recovery half of the rule could never object, and the percentile bootstrap of a mean of a few
      values is far too narrow (of one value it has zero width).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..report import stats
from ..report.compare import ALPHA
from ..report.figure import save_figure, series_style

DEFAULT_STEPS = 7
DEFAULT_CHUNK_SIZE = 8
THRESHOLD = 0.5
MIN_IMAGES = 6
PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"
ADVISE = "advise"
IMAGES_FILE = "sanity_images.csv"
SUMMARY_FILE = "sanity.csv"
VERDICTS_FILE = "sanity_verdicts.csv"
FIGURE_FILE = "sanity.png"
MANIFEST_FILE = "sanity.json"
# Settings that change a row's values: a resumed run must use the same ones.
GUARDED_SETTINGS = ("model", "weights", "seed", "protocol", "cascade")

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


# ---------------------------------------------------------------- series
@dataclasses.dataclass(frozen=True)
class Series:
    """One curve of the check: a method, and for ADVISE the selection that picks its map."""

    method: str
    selection: str = ""

    @property
    def label(self) -> str:
        return f"{self.method} ({self.selection})" if self.selection else self.method


def sanity_series(methods, advise_selections=()) -> list[Series]:
    """Every method once; ADVISE once per selection (default: its configured one, given by the caller)."""
    from ..explainers.advise import get_selection

    selections = list(dict.fromkeys(advise_selections))
    for name in selections:
        get_selection(name)  # unknown names: one line, exit 2
    out = []
    for m in methods:
        if m == ADVISE:
            if not selections:
                raise UserError("sanity check: ADVISE needs at least one selection")
            out += [Series(m, s) for s in selections]
        else:
            out.append(Series(m))
    return out


def parse_selections(text: str) -> tuple[str, ...]:
    """``"max-peaks,oracle-avx"`` -> ("max-peaks", "oracle-avx"), each checked."""
    from ..explainers.advise import get_selection

    names = tuple(dict.fromkeys(s.strip() for s in str(text).split(",") if s.strip()))
    if not names:
        raise UserError(f"--advise-selection {text!r}: no selection given")
    for name in names:
        get_selection(name)
    return names


def _series_sort_key(method: str, selection: str):
    from ..explainers import EXPLAINERS

    known = list(EXPLAINERS)
    return (known.index(method) if method in known else len(known), method, selection)


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
    image_ids=None,
    advise_selections=None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    provenance: dict | None = None,
) -> pd.DataFrame:
    """Cascading randomisation; returns one row per (image, series, step) (see the module docstring).

    ``steps``: the number of cascade steps (default 7) or explicit lists of layer names per step.
    ``config``: a :class:`~advise_bench.config.RunConfig` whose method options and protocol apply.
    ``advise_selections``: ADVISE's selections, one series each (default: ``config.advise_selection``).
    ``image_ids``: one id per image (default ``0, 1, ...``); rows and resumption are keyed by them.
    With ``out``, rows are appended to ``sanity_images.csv`` there (images already complete are skipped;
    ``sanity.json`` records the settings, and a resume with other settings is refused), and
    ``sanity.csv``, ``sanity_verdicts.csv`` and ``sanity.png`` are rebuilt from all rows.
    """
    from ..config import RunConfig
    from ..explainers import check_methods

    config = config or RunConfig()
    series = sanity_series(check_methods(methods), advise_selections or (config.advise_selection,))
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if len(images) == 0:
        raise UserError("sanity check: no images")
    ids = [str(i) for i in (range(len(images)) if image_ids is None else image_ids)]
    if len(ids) != len(images) or len(set(ids)) != len(ids):
        raise UserError("sanity check: need one distinct image id per image")
    if chunk_size < 1:
        raise UserError("--chunk-size must be >= 1")
    layer_steps = cascade_steps(loaded.model, steps or DEFAULT_STEPS) if not isinstance(steps, list) else steps
    names = {layer.name: i for i, layer in enumerate(loaded.model.layers)}
    missing = [n for s in layer_steps for n in s if n not in names]
    if missing:
        raise UserError(f"unknown layer(s) in cascade steps: {', '.join(missing[:5])}")

    settings = _settings(loaded, config, series, layer_steps, seed)
    sink = _RowSink(out, settings, provenance)
    expected = {(s.label, k) for s in series for k in range(len(layer_steps) + 1)}
    todo = [i for i, image_id in enumerate(ids) if not expected <= sink.done.get(image_id, set())]
    sink.forget({ids[i] for i in todo}, {s.label for s in series})
    if progress:
        print(f"sanity: {len(todo)} of {len(ids)} images to do", flush=True)
    if todo:
        _Cascade(loaded, series, config, layer_steps, seed, progress).run(
            images[todo], [ids[i] for i in todo], chunk_size, sink.write)
    rows = sink.rows()
    if out is not None:
        write_outputs(out)
    return rows


def _settings(loaded, config, series, layer_steps, seed) -> dict:
    from ..explainers import method_class

    methods = dict.fromkeys(s.method for s in series)
    options = {m: {attr: getattr(config, attr) for attr in method_class(m).config_options if attr != "advise_selection"}
               for m in methods}
    return {"model": loaded.name, "weights": loaded.weights_source, "seed": seed, "protocol": config.protocol,
            "cascade": [{"step": k, "randomized": step_label(layers), "layers": layers}
                        for k, layers in enumerate(layer_steps, start=1)],
            "method_options": options, "series": [s.label for s in series]}


class _RowSink:
    """Per-image rows: appended crash-safely to ``sanity_images.csv`` under ``out``, or kept in memory."""

    def __init__(self, out, settings: dict, provenance: dict | None):
        self.memory: list[dict] = []
        self.writer = None
        self.done: dict[str, set] = {}
        if out is None:
            return
        from ..runner.manifest import write_manifest
        from ..runner.store import RowWriter

        out = Path(out)
        self.path = out / IMAGES_FILE
        _check_resumable(out / MANIFEST_FILE, settings)
        write_manifest(out / MANIFEST_FILE, settings, **(provenance or {}))
        self.writer = RowWriter(self.path)  # repairs a torn last line before the file is read
        if self.path.exists() and self.path.stat().st_size:
            for r in load_image_rows(self.path).itertuples():
                self.done.setdefault(r.image_id, set()).add((r.series, int(r.step)))

    def forget(self, image_ids: set[str], labels: set[str]) -> None:
        """Drop these images' rows of these series: they are redone from step 0 (an image cut short
        mid-cascade would otherwise have its first steps twice)."""
        from ..runner.store import drop_rows

        if self.writer is not None:
            drop_rows(self.path, lambda r: r["image_id"] in image_ids and r["series"] in labels)

    def write(self, row: dict) -> None:
        if self.writer is None:
            self.memory.append(row)
        else:
            self.writer.write(row)

    def rows(self) -> pd.DataFrame:
        return _dedupe(pd.DataFrame(self.memory)) if self.writer is None else load_image_rows(self.path)


def _check_resumable(manifest: Path, settings: dict) -> None:
    """Refuse to add rows made with other settings to a folder (its rows would mix two experiments)."""
    from ..paths import portable_path

    try:
        old = json.loads(manifest.read_text()).get("config", {})
    except (OSError, ValueError):
        return
    new = json.loads(portable_path(json.dumps(settings, default=str)))
    changed = [k for k in GUARDED_SETTINGS if k in old and old[k] != new[k]]
    old_options, new_options = old.get("method_options", {}), new["method_options"]
    changed += [f"{m} options" for m in new_options if m in old_options and old_options[m] != new_options[m]]
    if changed:
        raise UserError(f"{manifest.parent}: its rows were made with other settings ({', '.join(changed)}); "
                        "use another --out")


class _Cascade:
    """The models and explainers of one check; :meth:`run` explains a batch of images chunk by chunk."""

    def __init__(self, loaded, series, config, layer_steps, seed, progress):
        from ..explainers import explainer_from_config
        from ..metrics.protocol import get_protocol

        self.trained_weights = loaded.model.get_weights()
        self.work = clone_loaded(loaded)
        self.series, self.layer_steps, self.seed, self.progress = series, layer_steps, seed, progress
        self.protocol = get_protocol(config.protocol)
        self.layer_index = {layer.name: i for i, layer in enumerate(self.work.model.layers)}
        self.explainers = {
            s: explainer_from_config(s.method, self.work,
                                     dataclasses.replace(config, advise_selection=s.selection or config.advise_selection))
            for s in series}
        self.by_method: dict[str, list[Series]] = {}
        for s in series:
            self.by_method.setdefault(s.method, []).append(s)

    def maps(self, images, targets) -> dict[Series, np.ndarray]:
        """Each series' top-1 map per image, explained by the clone's current weights. A method's
        candidates are computed once and every series of the method selects among them."""
        from ..metrics.protocol import MapScorer

        probs = self.work.predict(images)
        scorers = [MapScorer(x, p, self.work.predict, self.protocol) for x, p in zip(images, probs, strict=True)]
        out = {}
        for members in self.by_method.values():
            per_image = self.explainers[members[0]].explain_candidates(images, targets)
            for s in members:
                select = self.explainers[s].select
                out[s] = np.stack([select(row, scorer).maps[0] for row, scorer in zip(per_image, scorers, strict=True)])
        return out

    def run(self, images, ids, chunk_size, write) -> None:
        for start in range(0, len(images), chunk_size):
            chunk, chunk_ids = images[start : start + chunk_size], ids[start : start + chunk_size]
            self.work.model.set_weights(self.trained_weights)
            targets = np.argsort(-self.work.predict(chunk), axis=1)[:, :2]
            trained = self.maps(chunk, targets)
            steps = [(0, "none (trained)", [])] + [(k, step_label(layers), layers)
                                                    for k, layers in enumerate(self.layer_steps, start=1)]
            for k, label, layers in steps:
                for name in layers:
                    reinitialize_layer(self.work.model.get_layer(name), self.seed, self.layer_index[name])
                maps = self.maps(chunk, targets)
                for s in self.series:
                    for i, image_id in enumerate(chunk_ids):
                        write({"image_id": image_id, "series": s.label, "method": s.method, "selection": s.selection,
                               "step": k, "randomized": label, "layers": len(layers), "target": int(targets[i, 0]),
                               "spearman": spearman(trained[s][i], maps[s][i]), "ssim": ssim(trained[s][i], maps[s][i])})
                if self.progress:
                    print(f"sanity: images {start + 1}-{start + len(chunk)} of {len(images)}: step {k}/"
                          f"{len(self.layer_steps)} done", flush=True)


# ---------------------------------------------------------------- statistics
def load_image_rows(path: str | Path) -> pd.DataFrame:
    """``sanity_images.csv`` as written (the last row of a repeated (image, series, step) wins)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file (run `advise-bench sanity` first)")
    # No NA parsing of the text columns: an empty selection stays "", an image id "NA" stays "NA".
    rows = pd.read_csv(path, dtype={"image_id": str, "series": str, "method": str, "selection": str,
                                    "randomized": str}, keep_default_na=False)
    return _dedupe(rows)


def _dedupe(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (image, series, step), the last written (an image interrupted mid-cascade is redone)."""
    if rows.empty:
        return rows
    return rows.drop_duplicates(["image_id", "series", "step"], keep="last").reset_index(drop=True)


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order (series by method, then step, then image id), so the statistics do not
    depend on the order images were processed or resumed in (the bootstrap resamples by position)."""
    pairs = sorted(set(zip(rows["method"], rows["selection"], strict=True)), key=lambda ms: _series_sort_key(*ms))
    rank = {pair: i for i, pair in enumerate(pairs)}
    key = [rank[pair] for pair in zip(rows["method"], rows["selection"], strict=True)]
    return rows.assign(_key=key).sort_values(["_key", "step", "image_id"], kind="stable").drop(columns="_key")


def summarize(rows: pd.DataFrame, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
              seed: int = stats.BOOTSTRAP_SEED) -> pd.DataFrame:
    """Per series and step: n images, mean Spearman and SSIM, each with its 95% bootstrap CI."""
    out = []
    for (label, step), g in _ordered(rows).groupby(["series", "step"], sort=False):
        rec = {"series": label, "method": g["method"].iloc[0], "selection": g["selection"].iloc[0], "step": int(step),
               "randomized": g["randomized"].iloc[0], "layers": int(g["layers"].iloc[0]), "n": len(g)}
        for metric in ("spearman", "ssim"):
            values = g[metric].to_numpy(float)
            lo, hi = stats.bootstrap_mean_ci(values, n_resamples=n_resamples, seed=seed)
            rec.update({metric: float(values.mean()), f"{metric}_ci_low": lo, f"{metric}_ci_high": hi})
        out.append(rec)
    return pd.DataFrame(out)


def verdicts(rows: pd.DataFrame, threshold: float = THRESHOLD, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
             seed: int = stats.BOOTSTRAP_SEED) -> pd.DataFrame:
    """Per series: the similarity after step 1 and after the full cascade, and the verdict (module docstring)."""
    out = []
    for label, g in _ordered(rows).groupby("series", sort=False):
        wide = g.pivot_table(index="image_id", columns="step", values=["spearman", "ssim"], aggfunc="last")
        randomized = sorted(s for s in g["step"].unique() if s > 0)
        if not randomized:
            continue
        first, last = randomized[0], randomized[-1]
        # With one cascade step, step 1 is the full cascade and the recovery is 0 on every image.
        pairs = pd.DataFrame({"first": wide["spearman"][first], "full": wide["spearman"][last]}).dropna()
        full = pairs["full"].to_numpy(float)
        recovery = (pairs["full"] - pairs["first"]).to_numpy(float)
        lo, hi = stats.bootstrap_mean_ci(full, n_resamples=n_resamples, seed=seed)
        rec_lo, rec_hi = stats.bootstrap_mean_ci(recovery, n_resamples=n_resamples, seed=seed)
        rec_p = stats.wilcoxon_p(recovery)
        verdict, reason = _verdict(len(full), lo, hi, rec_p, rec_lo, threshold)
        out.append({
            "series": label, "method": g["method"].iloc[0], "selection": g["selection"].iloc[0], "n": len(full),
            "first_step": int(first), "full_cascade_step": int(last), "threshold": threshold,
            "spearman_trained": float(wide["spearman"][0].mean()) if 0 in wide["spearman"] else np.nan,
            "spearman_first_step": float(pairs["first"].mean()) if len(pairs) else np.nan,
            "spearman_full_cascade": float(full.mean()) if len(full) else np.nan,
            "spearman_full_cascade_ci_low": lo, "spearman_full_cascade_ci_high": hi,
            "recovery": float(recovery.mean()) if len(recovery) else np.nan,
            "recovery_ci_low": rec_lo, "recovery_ci_high": rec_hi, "recovery_wilcoxon_p": rec_p,
            "ssim_first_step": float(wide["ssim"][first].mean()), "ssim_full_cascade": float(wide["ssim"][last].mean()),
            "verdict": verdict, "reason": reason,
        })
    return pd.DataFrame(out)


def _verdict(n: int, ci_low: float, ci_high: float, recovery_p: float, recovery_ci_low: float,
             threshold: float) -> tuple[str, str]:
    if n < MIN_IMAGES:
        return UNDECIDED, f"{n} images: a verdict needs at least {MIN_IMAGES}"
    recovers = recovery_p < ALPHA and recovery_ci_low > 0
    if ci_high < threshold and not recovers:
        return PASS, f"CI wholly below {threshold}, no significant recovery after step 1"
    if ci_low > threshold:
        return FAIL, f"CI wholly above {threshold}"
    if ci_high < threshold:
        return UNDECIDED, "CI below the threshold, but significantly more similar than after step 1"
    return UNDECIDED, f"CI contains {threshold}"


# ---------------------------------------------------------------- outputs
def series_display_name(method: str, selection: str) -> str:
    from ..explainers import display_name

    return display_name(method) + (f" ({selection})" if selection else "")


def plot(summary: pd.DataFrame, verdict_table: pd.DataFrame, path: str | Path) -> Path:
    """Spearman and SSIM against the cascade step, mean with 95% CI error bars; the verdict in the legend."""
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
    axes[0].axhline(THRESHOLD, color="red", ls="--", lw=0.8, label=f"pass threshold {THRESHOLD}")
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


def write_outputs(out: str | Path, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
                  seed: int = stats.BOOTSTRAP_SEED) -> dict[str, Path]:
    """Rebuild ``sanity.csv``, ``sanity_verdicts.csv`` and ``sanity.png`` from ``sanity_images.csv`` alone."""
    out = Path(out)
    rows = load_image_rows(out / IMAGES_FILE)
    if rows.empty:
        raise UserError(f"{out / IMAGES_FILE}: no rows yet")
    paths = output_paths(out)
    summary = summarize(rows, n_resamples, seed)
    verdict_table = verdicts(rows, n_resamples=n_resamples, seed=seed)
    summary.to_csv(paths["csv"], index=False)
    verdict_table.to_csv(paths["verdicts"], index=False)
    plot(summary, verdict_table, paths["png"])
    return paths


def output_paths(out: str | Path) -> dict[str, Path]:
    """The files :func:`write_outputs` writes under ``out``."""
    out = Path(out)
    return {"csv": out / SUMMARY_FILE, "verdicts": out / VERDICTS_FILE, "png": out / FIGURE_FILE}
