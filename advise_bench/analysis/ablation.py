"""Noise and ReLU ablation (the paper's Fig. 5): AVX against salt-and-pepper noise density, with and
without ReLU in map formation, with the report's statistics.

Every (ReLU mode, density) pair is an ordinary :func:`~advise_bench.runner.run.run` into its own folder,
``<out>/ablation/relu-on_d0.050/<model>/<method>.csv`` etc., so the ablation resumes and shards exactly
like a normal run. :func:`summarize_ablation` rebuilds every output from those folders alone (no model,
seconds), after each ``ablate`` call or on its own (``ablate --summary-only``).

Density 0 explains the clean images (no pixel changes): on the same machine and libraries it gives the plain
``run``'s rows exactly. Rows made elsewhere differ in the last float digits, which can flip a few pixels of
a binary mask or move one unit across a KDE valley (other ADVISE group sizes), so compare a density-0 folder
with a main run only when both were made in the same environment.

``ablation_avx.csv``
    Per model, ReLU mode, density and series (each method, and each control's series): n images
    (status ok), the mean AVX with its 95% percentile-bootstrap CI (the report's, seeded, values in
    image-id order), ``zero_fraction`` -- the share of those images whose AVX is exactly 0 (the paper's
    claim is that ADVISE reaches 0) -- split by cause into ``zero_penalty_fraction`` (the penalty zeroed
    the map: a miss that fails the CS check) and ``zero_term_fraction`` (no penalty zeroed it, a term of AVX
    is <= 0 itself, e.g. LIME's SSIM slightly below 0 under noise; :func:`~advise_bench.metrics.core.
    avx_zero_causes`), which add up to it, and the means of AD, SSIM, FSIM and MSE.
``ablation_comparisons.csv``
    Per ReLU mode and density, the report's paired comparison (:func:`~advise_bench.report.compare.
    compare_with_advise`): ADVISE - baseline on the images both scored, bootstrap CI, Wilcoxon, Holm,
    verdict. Holm family: every baseline x metric (AD, SSIM, FSIM, MSE, AVX) of one ReLU mode x density
    (x model x protocol) -- the report's family (model x protocol), one per noise setting.
``ablation_controls.csv`` (with controls)
    Per ReLU mode and density, :func:`~advise_bench.report.controls.compare_controls`: each control
    against every baseline (as ADVISE is), and the main ADVISE against the control (Holm over metrics).
``ablation_avx.png``
    Fig. 5 style: mean AVX against density with its CI band, and the zero fraction below; one column
    with ReLU, one without; controls dashed.

A control is a run of the same images and densities in its own folder with the same layout underneath
(``<control>/ablation/relu-on_d0.050/<model>/*.csv``, each with its ``run.json``), e.g. ADVISE with
``--advise-grouping random``; its series is labelled by :func:`~advise_bench.report.controls.load_controls`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import RunConfig
from ..errors import UserError
from ..metrics.core import STATUS_OK, avx_zero_causes
from ..report import stats
from ..report.figure import save_figure
from ..runner.run import run

DENSITIES = tuple(round(0.025 * k, 3) for k in range(1, 10))  # 0.025, 0.05, ..., 0.225
METRIC_COLUMNS = ("AVX", "AD", "SSIM", "FSIM", "MSE")
TAG = re.compile(r"^relu-(on|off)_d(\d+\.\d+)$")
AVX_FILE = "ablation_avx.csv"
COMPARISONS_FILE = "ablation_comparisons.csv"
CONTROLS_FILE = "ablation_controls.csv"
FIGURE_FILE = "ablation_avx.png"
SUMMARY_COLUMNS = ["model", "method", "control", "relu", "density", "n", "errors", "AVX", "AVX_ci_low", "AVX_ci_high",
                   "zero_fraction", "zero_penalty_fraction", "zero_term_fraction", "AD", "SSIM", "FSIM", "MSE"]


def tag(relu: bool, density: float) -> str:
    return f"relu-{'on' if relu else 'off'}_d{density:.3f}"


def ablation_dir(cfg: RunConfig) -> Path:
    return Path(cfg.out) / "ablation"


def control_ablation_dir(folder: str | Path) -> Path:
    """A control's ablation folder: ``DIR/ablation`` (DIR = the control run's ``--out``), or DIR itself
    when it already holds ``relu-*`` folders."""
    folder = Path(folder)
    if (folder / "ablation").is_dir():
        return folder / "ablation"
    if folder.is_dir() and any(TAG.match(p.name) for p in folder.iterdir()):
        return folder
    raise UserError(f"--control {folder}: no ablation folders (expected {folder}/ablation/relu-on_d0.050/...)")


def ablate(
    cfg: RunConfig,
    densities=DENSITIES,
    relu_modes=(True, False),
    progress: bool = True,
    controls=(),
) -> pd.DataFrame:
    """Run every (ReLU mode, density), then :func:`summarize_ablation` (see the module docstring)."""
    densities = tuple(float(d) for d in densities)
    if not densities:
        raise UserError("ablation: no noise densities given")
    bad = [d for d in densities if not 0 <= d < 1]
    if bad:
        raise UserError(f"noise densities must lie in [0, 1); got {', '.join(map(str, bad))}")
    if not relu_modes:
        raise UserError("ablation: no ReLU mode selected")
    for folder in controls:  # a wrong --control fails before hours of work, not after
        control_ablation_dir(folder)
    root = ablation_dir(cfg)
    for relu in relu_modes:
        # A method that forms no CAM (LIME) has no ReLU to switch off: its maps would repeat the ReLU arm's.
        methods = cfg.methods if relu else tuple(m for m in cfg.methods if forms_cam_with_relu(m))
        if not methods:
            continue
        if progress and methods != cfg.methods:
            print(f"ablation: without ReLU, skipping {', '.join(sorted(set(cfg.methods) - set(methods)))} "
                  "(no ReLU in its maps: the same as with ReLU)", flush=True)
        for d in densities:
            folder = root / tag(relu, d)
            # No chance rows under noise: they are the main run's, and would double the scoring of every setting.
            sub = dataclasses.replace(cfg, noise_density=d, relu=relu, out=str(folder), methods=methods,
                                      reference_maps=False, shuffled_control=False)
            if progress:
                print(f"ablation: ReLU {'on' if relu else 'off'}, density {d:.3f} -> {folder}", flush=True)
            run(sub, progress=progress)
    return summarize_ablation(root, controls)


def forms_cam_with_relu(method: str) -> bool:
    """Whether the method takes the ReLU option of map formation (CAM methods and ADVISE; not LIME)."""
    from ..explainers import method_class

    return "relu" in method_class(method).config_options


def load_rows_or_empty(folder: Path) -> pd.DataFrame:
    from ..runner.results import load_rows

    try:
        return load_rows(folder)
    except UserError:  # e.g. a shard with no images of its own, or a run that has not written a row yet
        return pd.DataFrame()


def noise_settings(root: Path) -> list[tuple[bool, float, Path]]:
    """Every ``relu-{on,off}_d<density>`` folder under ``root``: ReLU on first, densities ascending."""
    found = []
    for p in sorted(Path(root).iterdir()) if Path(root).is_dir() else []:
        m = TAG.match(p.name)
        if m and p.is_dir():
            found.append((m.group(1) == "on", float(m.group(2)), p))
    return sorted(found, key=lambda t: (not t[0], t[1]))


def control_series(folder: Path) -> dict[str, pd.DataFrame]:
    """One noise setting of a control run: its rows per series label, ``load_controls``'s (which gives a
    control folder with several methods one label per method). Empty while it has no rows."""
    from ..report.controls import load_controls

    if not folder.is_dir() or load_rows_or_empty(folder).empty:
        return {}
    return load_controls([folder])


def summarize_ablation(root: str | Path, controls=(), n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
                       seed: int = stats.BOOTSTRAP_SEED) -> pd.DataFrame:
    """Rebuild every output of the module docstring from the rows under ``root`` (and each control
    folder); returns the ``ablation_avx.csv`` table."""
    from ..method_kinds import ADVISE
    from ..report.compare import compare_with_advise
    from ..report.controls import compare_controls

    root = Path(root)
    control_roots = [control_ablation_dir(c) for c in controls]
    summaries, comparisons, control_comparisons = [], [], []
    for relu, density, folder in noise_settings(root):
        main = load_rows_or_empty(folder)
        series = {}
        for control_root in control_roots:
            for label, rows in control_series(control_root / folder.name).items():
                if label in series:
                    raise UserError(f"{control_root}: two controls give the series {label!r}")
                series[label] = rows
        series = dict(sorted(series.items()))  # as the report: the tables do not depend on the --control order
        frames = [main.assign(control=False)] if len(main) else []
        frames += [rows.assign(method=label, control=True) for label, rows in series.items()]
        if frames:
            summaries.append(summarize(pd.concat(frames, ignore_index=True), relu, density, n_resamples, seed))
        setting = {"relu": relu, "density": density}
        if len(main):
            comparisons.append(_first(compare_with_advise(main, n_resamples, seed), setting))
        if len(main) and series:
            # A control of any method is compared in ADVISE's place (compare_controls pairs "advise" rows).
            as_subject = {label: rows.assign(method=ADVISE) for label, rows in series.items()}
            control_comparisons.append(_first(compare_controls(main, as_subject, n_resamples=n_resamples, seed=seed),
                                              setting))
    table = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame(columns=SUMMARY_COLUMNS)
    table = table.sort_values(["model", "relu", "control", "method", "density"],
                              ascending=[True, False, True, True, True]).reset_index(drop=True)
    root.mkdir(parents=True, exist_ok=True)
    table.to_csv(root / AVX_FILE, index=False)
    # A table left from an earlier call (e.g. with controls) would describe rows not summarised now.
    for name, frames in ((COMPARISONS_FILE, comparisons), (CONTROLS_FILE, control_comparisons)):
        if frames:
            pd.concat(frames, ignore_index=True).to_csv(root / name, index=False)
        else:
            (root / name).unlink(missing_ok=True)
    plot(table, root / FIGURE_FILE)
    return table


def _first(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``frame`` with ``columns`` (constant values) as its first columns."""
    return frame.assign(**columns)[[*columns, *[c for c in frame.columns if c not in columns]]]


def summarize(rows: pd.DataFrame, relu: bool, density: float, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
              seed: int = stats.BOOTSTRAP_SEED) -> pd.DataFrame:
    """Per (model, series) of one noise setting: n, errors, mean AVX with CI, zero fraction, other means."""
    from ..columns import numeric

    out = []
    rows = rows.sort_values("image_id", kind="stable")  # the bootstrap resamples by position
    if "control" not in rows:
        rows = rows.assign(control=False)
    for (model, method, control), g in rows.groupby(["model", "method", "control"], sort=False):
        ok = g[g["status"] == STATUS_OK]
        rec = {"model": model, "method": method, "control": bool(control), "relu": bool(relu),
               "density": float(density), "n": len(ok), "errors": int((g["status"] != STATUS_OK).sum())}
        for m in METRIC_COLUMNS:
            values = numeric(ok, m).dropna().to_numpy()
            rec[m] = float(values.mean()) if len(values) else np.nan
            if m == "AVX":
                rec["AVX_ci_low"], rec["AVX_ci_high"] = stats.bootstrap_mean_ci(values, n_resamples, seed)
                rec["zero_fraction"] = float(np.mean(values == 0.0)) if len(values) else np.nan
                rec.update(_zero_fractions(ok))
        out.append(rec)
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _zero_fractions(ok: pd.DataFrame) -> dict:
    """The shares of the scored images whose AVX is 0 because the penalty zeroed it, and because a term is <= 0."""
    from ..columns import numeric

    avx = numeric(ok, "AVX")
    scored = avx.notna().to_numpy()
    if not scored.any():
        return {"zero_penalty_fraction": np.nan, "zero_term_fraction": np.nan}
    penalty = ok["penalty"] if "penalty" in ok else pd.Series("", index=ok.index)
    by_penalty, by_term = avx_zero_causes(avx.to_numpy()[scored], penalty.to_numpy()[scored])
    return {"zero_penalty_fraction": float(by_penalty.mean()), "zero_term_fraction": float(by_term.mean())}


def plot(table: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 5 style: mean AVX (95% CI band) and the zero fraction against density; with / without ReLU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..method_kinds import display_name

    modes = [r for r in (True, False) if r in set(table["relu"])] or [True]
    fig, axes = plt.subplots(2, len(modes), figsize=(6.5 * len(modes), 9), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]}, layout="constrained")
    keys = list(dict.fromkeys(zip(table["model"], table["method"], table["control"], strict=True)))
    several_models = table["model"].nunique() > 1
    markers = ("o", "s", "^", "D", "v", "P", "X", "*")
    for col, relu in enumerate(modes):
        top, bottom = axes[0][col], axes[1][col]
        for i, (model, method, control) in enumerate(keys):
            g = table[(table["relu"] == relu) & (table["model"] == model) & (table["method"] == method)
                      & (table["control"] == control)].sort_values("density")
            if g.empty:
                continue
            label = display_name(method) + (f" ({model})" if several_models else "")
            style = {"color": f"C{i % 10}", "marker": markers[i % len(markers)], "ls": "--" if control else "-"}
            top.plot(g["density"], g["AVX"], label=label, **style)
            top.fill_between(g["density"], g["AVX_ci_low"], g["AVX_ci_high"], color=style["color"], alpha=0.15, lw=0)
            bottom.plot(g["density"], g["zero_fraction"], **style)
        top.set_title("with ReLU" if relu else "without ReLU")
        bottom.set_xlabel("salt-and-pepper noise density")
        bottom.set_ylim(-0.03, 1.03)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("AVX (mean, 95% CI band)")
    axes[1][0].set_ylabel("fraction of images with AVX = 0")
    # One legend for all panels, below them: inside a panel it hides the curves it names.
    handles = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=2 if len(modes) == 1 else 3,
                   fontsize=8)
    n = int(table["n"].max()) if len(table) else 0
    fig.suptitle(f"AVX under salt-and-pepper noise\nup to {n} images per point, controls dashed")
    return save_figure(fig, path)
