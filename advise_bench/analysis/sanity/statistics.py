"""Statistics and verdicts from the per-image rows: per series and step the mean similarity with its 95%
bootstrap CI, and per series the verdict on Spearman after the full cascade (docs/command-line.md#sanity)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...report import stats
from ...report.compare import ALPHA
from .series import series_sort_key

THRESHOLD = 0.5
# Below 6 pairs the two-sided Wilcoxon test cannot reach p < 0.05 (its smallest p-value is 2 / 2^n).
MIN_IMAGES = 6
PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order (series by method, then step, then image id), so the statistics do not
    depend on the order images were processed or resumed in (the bootstrap resamples by position)."""
    pairs = sorted(set(zip(rows["method"], rows["selection"], strict=True)), key=lambda ms: series_sort_key(*ms))
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
    """Per series: the similarity after step 1 and after the full cascade, and the verdict."""
    out = []
    for label, g in _ordered(rows).groupby("series", sort=False):
        if (g["step"] > 0).any():
            out.append(_series_verdict(label, g, threshold, n_resamples, seed))
    return pd.DataFrame(out)


def _mean_or_nan(values) -> float:
    """The mean of a Series or an array (its own ``mean``), NaN when empty."""
    return float(values.mean()) if len(values) else np.nan


def _series_verdict(label: str, g: pd.DataFrame, threshold: float, n_resamples: int, seed: int) -> dict:
    """One series' row of the verdicts table; ``g`` has at least one randomised step."""
    wide = g.pivot_table(index="image_id", columns="step", values=["spearman", "ssim"], aggfunc="last")
    randomized = sorted(s for s in g["step"].unique() if s > 0)
    first, last = randomized[0], randomized[-1]
    # With one cascade step, step 1 is the full cascade and the recovery is 0 on every image.
    pairs = pd.DataFrame({"first": wide["spearman"][first], "full": wide["spearman"][last]}).dropna()
    full = pairs["full"].to_numpy(float)
    recovery = (pairs["full"] - pairs["first"]).to_numpy(float)
    lo, hi = stats.bootstrap_mean_ci(full, n_resamples=n_resamples, seed=seed)
    rec_lo, rec_hi = stats.bootstrap_mean_ci(recovery, n_resamples=n_resamples, seed=seed)
    rec_p = stats.wilcoxon_p(recovery)
    verdict, reason = _verdict(len(full), lo, hi, rec_p, rec_lo, threshold)
    return {
        "series": label, "method": g["method"].iloc[0], "selection": g["selection"].iloc[0], "n": len(full),
        "first_step": int(first), "full_cascade_step": int(last), "threshold": threshold,
        "spearman_trained": float(wide["spearman"][0].mean()) if 0 in wide["spearman"] else np.nan,
        "spearman_first_step": _mean_or_nan(pairs["first"]),
        "spearman_full_cascade": _mean_or_nan(full),
        "spearman_full_cascade_ci_low": lo, "spearman_full_cascade_ci_high": hi,
        "recovery": _mean_or_nan(recovery),
        "recovery_ci_low": rec_lo, "recovery_ci_high": rec_hi, "recovery_wilcoxon_p": rec_p,
        "ssim_first_step": float(wide["ssim"][first].mean()), "ssim_full_cascade": float(wide["ssim"][last].mean()),
        "verdict": verdict, "reason": reason,
    }


def _verdict(n: int, ci_low: float, ci_high: float, recovery_p: float, recovery_ci_low: float,
             threshold: float) -> tuple[str, str]:
    """pass: CI wholly below the threshold and no significant recovery after step 1 (the report's rule:
    Wilcoxon p < ALPHA and the CI of the mean recovery above 0); fail: CI wholly above; else undecided,
    and always below MIN_IMAGES images."""
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
