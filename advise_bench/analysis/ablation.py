"""Noise and ReLU ablation (the paper's Fig. 5): AVX against salt-and-pepper noise density, with and
without ReLU in map formation.

Every (ReLU mode, density) pair is an ordinary :func:`~advise_bench.runner.run.run` into its own folder,
``<out>/ablation/relu-on_d0.050/`` etc., so the ablation resumes and shards exactly like a normal run;
the rows are then read back with :func:`~advise_bench.report.table.load_rows` (all shards merged) and
averaged per (method, ReLU mode, density) into ``<out>/ablation/ablation_avx.csv`` and
``ablation_avx.png``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import RunConfig
from ..errors import UserError
from ..runner.run import run
from .figures import save_figure, series_style

DENSITIES = tuple(round(0.025 * k, 3) for k in range(1, 10))  # 0.025, 0.05, ..., 0.225
METRIC_COLUMNS = ("AVX", "AD", "SSIM", "FSIM", "MSE")


def tag(relu: bool, density: float) -> str:
    return f"relu-{'on' if relu else 'off'}_d{density:.3f}"


def ablation_dir(cfg: RunConfig) -> Path:
    return Path(cfg.out) / "ablation"


def ablate(
    cfg: RunConfig,
    densities=DENSITIES,
    relu_modes=(True, False),
    progress: bool = True,
) -> pd.DataFrame:
    """Run every (ReLU mode, density) and return the tidy per-method means (see the module docstring)."""
    densities = tuple(float(d) for d in densities)
    if not densities:
        raise UserError("ablation: no noise densities given")
    bad = [d for d in densities if not 0 <= d < 1]
    if bad:
        raise UserError(f"noise densities must lie in [0, 1); got {', '.join(map(str, bad))}")
    if not relu_modes:
        raise UserError("ablation: no ReLU mode selected")
    root = ablation_dir(cfg)
    frames = []
    for relu in relu_modes:
        for d in densities:
            folder = root / tag(relu, d)
            sub = dataclasses.replace(cfg, noise_density=d, relu=relu, out=str(folder))
            if progress:
                print(f"ablation: ReLU {'on' if relu else 'off'}, density {d:.3f} -> {folder}", flush=True)
            run(sub, progress=progress)
            rows = load_rows_or_empty(folder)
            if len(rows):
                frames.append(summarize(rows, relu, d))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["model", "method", "relu", "density", "n", "errors", *METRIC_COLUMNS])
    table = table.sort_values(["model", "relu", "method", "density"], ascending=[True, False, True, True])
    table = table.reset_index(drop=True)
    root.mkdir(parents=True, exist_ok=True)
    table.to_csv(root / "ablation_avx.csv", index=False)
    plot(table, root / "ablation_avx.png")
    return table


def load_rows_or_empty(folder: Path) -> pd.DataFrame:
    from ..report.table import load_rows

    try:
        return load_rows(folder)
    except UserError:  # e.g. a shard with no images of its own
        return pd.DataFrame()


def summarize(rows: pd.DataFrame, relu: bool, density: float) -> pd.DataFrame:
    out = []
    for (model, method), g in rows.groupby(["model", "method"], sort=False):
        ok = g[g["status"] == "ok"]
        rec = {"model": model, "method": method, "relu": bool(relu), "density": float(density),
               "n": len(ok), "errors": int((g["status"] != "ok").sum())}
        for m in METRIC_COLUMNS:
            vals = pd.to_numeric(ok[m], errors="coerce") if m in ok else pd.Series(dtype=float)
            rec[m] = float(vals.mean()) if vals.notna().any() else np.nan
        out.append(rec)
    return pd.DataFrame(out)


def plot(table: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 5 style: AVX vs noise density, one line per method; panels with / without ReLU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..explainers import display_name

    modes = [r for r in (True, False) if r in set(table["relu"])] or [True]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 4.8), sharey=True, squeeze=False)
    for ax, relu in zip(axes[0], modes, strict=True):
        sub = table[table["relu"] == relu]
        for i, ((model, method), g) in enumerate(sub.groupby(["model", "method"], sort=False)):
            g = g.sort_values("density")
            label = display_name(method) + (f" ({model})" if sub["model"].nunique() > 1 else "")
            ax.plot(g["density"], g["AVX"], label=label, **series_style(i))
        ax.set_title("with ReLU" if relu else "without ReLU")
        ax.set_xlabel("salt-and-pepper noise density")
        ax.grid(alpha=0.3)
        if len(sub):
            ax.legend(fontsize=8)
    axes[0][0].set_ylabel("AVX (mean)")
    fig.suptitle("AVX under salt-and-pepper noise")
    fig.tight_layout()
    return save_figure(fig, path)
