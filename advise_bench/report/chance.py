"""Chance level and metric validity: can a metric tell an explanation from noise, and can it be gamed?

Three reference maps run beside the methods (``explainers/reference.py``): ``random`` (noise at the explained
layer's resolution), ``centre`` (an image-blind centred prior) and ``keep-all`` (a probe that keeps the whole
image). Each method also has a shuffled control, ``<method>-shuffled`` (its own map with the layer's cells
permuted: the same values and area, placed at random).

* :func:`chance_comparisons`: each real method against ``random`` (skill over chance) and against its shuffled
  self (what its placement adds over its area), paired on the images both scored, with the report's statistics
  (bootstrap CI of the mean difference, two-sided Wilcoxon, Holm over the block's comparisons, the same verdict
  rule).
* :func:`metric_validity`: per model x protocol x metric, where the reference maps rank among all methods, how
  many real methods beat ``random`` and lose to it, and a verdict:

  - **fails the gaming probe** when ``keep-all``'s mean is at, beyond or within the 95% CI of the best mean any
    real method gets (a map that explains nothing and keeps everything is as good as the best explanation);
  - **fails the chance test** when ``random`` is not significantly worse than the median real method: per image,
    d = the median of the real methods' values minus random's (signed so that positive is better), Holm over the
    block's metrics, significant when Holm p < 0.05 and the bootstrap CI of mean d lies wholly above 0;
  - **passes** otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import metric_columns
from ..method_kinds import CHANCE, PROBE, REFERENCE_MAPS, display_name, method_kind, shuffled_name
from ..metrics.core import METRICS, MetricInfo
from ..metrics.summary import MeanCI
from . import stats
from .compare import (
    BLOCK,
    add_holm_verdicts,
    method_order_key,
    paired,
    per_image,
    significant_side,
    trained_ok_rows,
)
from .format import format_difference_ci, format_number, format_p, markdown_table

# Below 6 pairs the two-sided Wilcoxon test cannot reach p < 0.05: the chance test cannot pass, so it is not run.
MIN_PAIRS = 6
UNDECIDED = f"chance test undecided (fewer than {MIN_PAIRS} images)"
PASSES = "passes"
FAILS_PROBE = "fails the gaming probe"
FAILS_CHANCE = "fails the chance test"
FAILS_BOTH = "fails both"
# The rates beside Table I's metrics: Hit and the class-sensitivity check (column CS_pass).
RATE_INFO = {"Hit": METRICS["Hit"], "CS_pass": METRICS["CS"]}
# The validity table's key and verdict columns, written even when no block can be judged (untrained weights only),
# so that validity.csv always reads back as a table.
VALIDITY_KEY = ["model", "protocol", "metric", "direction", "verdict"]


def validity_metrics(rows: pd.DataFrame) -> tuple[str, ...]:
    """Table I's metrics, the opt-in ones the rows carry, then Hit and CS pass."""
    return metric_columns(rows) + tuple(RATE_INFO)


def metric_info(metric: str) -> MetricInfo:
    return RATE_INFO.get(metric) or METRICS[metric]


def has_chance_rows(rows: pd.DataFrame) -> bool:
    return bool(rows["method"].astype(str).isin(REFERENCE_MAPS).any()
                or rows["method"].astype(str).map(method_kind).eq("shuffled").any())


def _goodness(d: np.ndarray, higher_is_better: bool) -> np.ndarray:
    return d if higher_is_better else -d


def chance_comparisons(rows: pd.DataFrame, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
                       seed: int = stats.BOOTSTRAP_SEED) -> pd.DataFrame:
    """Per model x protocol x metric x real method: the method − ``random`` and the method − its shuffled
    control. One Holm family per model x protocol: every comparison of the block."""
    records = []
    metrics = validity_metrics(rows)
    for (model, protocol), block in trained_ok_rows(rows, kinds=None).groupby(BLOCK, sort=True):
        start = len(records)
        kinds = block["method"].astype(str).map(method_kind)
        real = sorted(set(block.loc[kinds == "method", "method"]), key=method_order_key(block["method"].unique()))
        for metric in metrics:
            wide = per_image(block, metric)
            higher = metric_info(metric).higher_is_better
            for method in (m for m in real if m in wide):
                for kind, reference in (("chance", CHANCE), ("shuffled", shuffled_name(method))):
                    if reference not in wide:
                        continue
                    records.append({"model": model, "protocol": protocol, "metric": metric,
                                    "direction": "higher is better" if higher else "lower is better",
                                    "method": display_name(method), "against": kind,
                                    "reference": display_name(reference),
                                    **paired(wide[method], wide[reference], higher, n_resamples, seed)})
        add_holm_verdicts(records[start:], "reference")
    columns = ["model", "protocol", "metric", "direction", "method", "against", "reference", "n_pairs",
               "subject_mean", "reference_mean", "mean_diff", "ci_low", "ci_high", "wins", "ties", "losses",
               "wilcoxon_p", "holm_p", "verdict"]
    return pd.DataFrame(records, columns=columns)


def _ranks(means: pd.Series, higher_is_better: bool) -> pd.Series:
    """1 = best; ties share the lowest rank."""
    return means.rank(ascending=not higher_is_better, method="min")


def metric_validity(rows: pd.DataFrame, comparisons: pd.DataFrame, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
                    seed: int = stats.BOOTSTRAP_SEED) -> pd.DataFrame:
    """Per model x protocol x metric: the reference maps' ranks, real methods beating / losing to ``random``,
    the two tests and the verdict (module docstring). ``comparisons``: :func:`chance_comparisons`'s table."""
    records = []
    for (model, protocol), block in trained_ok_rows(rows, kinds=None).groupby(BLOCK, sort=True):
        kinds = block["method"].astype(str).map(method_kind)
        real = sorted(set(block.loc[kinds == "method", "method"]))
        ranked = [*real, *(m for m in REFERENCE_MAPS if m in set(block["method"]))]
        block_cmp = comparisons[(comparisons["model"] == model) & (comparisons["protocol"] == protocol)]
        where = {"model": model, "protocol": protocol}
        records += _with_verdicts([rec for metric in validity_metrics(rows) if (
            rec := _metric_record(where, block, metric, real, ranked, block_cmp, n_resamples, seed))])
    return pd.DataFrame(records) if records else pd.DataFrame(columns=VALIDITY_KEY)


def _metric_record(where: dict, block: pd.DataFrame, metric: str, real: list[str], ranked: list[str],
                   block_cmp: pd.DataFrame, n_resamples: int, seed: int) -> dict | None:
    """One metric's record of a model x protocol block (``where``), before its verdict (None: no real method
    scored it). ``block_cmp``: the block's rows of :func:`chance_comparisons`'s table."""
    info = metric_info(metric)
    wide = per_image(block, metric)
    present = [m for m in ranked if m in wide]
    real_here = [m for m in real if m in wide]
    if not real_here:
        return None
    means = wide[present].mean()
    ranks = _ranks(means, info.higher_is_better)
    rec = {**where, "metric": metric,
           "direction": "higher is better" if info.higher_is_better else "lower is better",
           "n_methods": len(real_here), "n_ranked": len(present)}
    for ref in REFERENCE_MAPS:
        rec[f"{ref}_mean"] = float(means[ref]) if ref in means else np.nan
        rec[f"{ref}_rank"] = float(ranks[ref]) if ref in ranks else np.nan
    best = max(real_here, key=lambda m: _goodness(np.array([means[m]]), info.higher_is_better)[0])
    half = _t_half_width(wide[best].dropna().to_numpy())
    rec.update(best_method=best, best_mean=float(means[best]), best_ci95=half)
    rec["probe_fails"] = _probe_fails(means, best, half, info.higher_is_better)
    metric_cmp = block_cmp[(block_cmp["metric"] == metric) & (block_cmp["against"] == "chance")]
    sides = [significant_side(r["holm_p"], r["ci_low"], r["ci_high"], info.higher_is_better)
             for _, r in metric_cmp.iterrows()]
    rec["beat_random"] = sides.count(1) if len(metric_cmp) else np.nan
    rec["lose_to_random"] = sides.count(-1) if len(metric_cmp) else np.nan
    if CHANCE in wide:
        median = wide[real_here].median(axis=1, skipna=True)
        rec.update({f"median_{k}": v for k, v in
                    paired(median, wide[CHANCE], info.higher_is_better, n_resamples, seed).items()
                    if k in ("n_pairs", "mean_diff", "ci_low", "ci_high", "wilcoxon_p")})
    return rec


def _probe_fails(means: pd.Series, best: str, half: float, higher_is_better: bool) -> bool | None:
    """At, beyond, or inside the best method's CI: the probe is not told apart from the best (None: no probe)."""
    if PROBE not in means:
        return None
    gap = _goodness(np.array([means[PROBE] - means[best]]), higher_is_better)[0]
    return bool(gap >= -half) if np.isfinite(half) else bool(gap >= 0)


def _with_verdicts(records: list[dict]) -> list[dict]:
    """A block's records with the chance test (Holm over the block's metrics) and the verdict."""
    family = [r for r in records if "median_wilcoxon_p" in r]
    for rec, p in zip(family, stats.holm([r["median_wilcoxon_p"] for r in family]), strict=True):
        rec["median_holm_p"] = p
    for rec in records:
        higher = rec["direction"] == "higher is better"
        few = rec.get("median_n_pairs", MIN_PAIRS) < MIN_PAIRS
        if "median_holm_p" in rec and not few:
            chance_fails = significant_side(rec["median_holm_p"], rec["median_ci_low"], rec["median_ci_high"],
                                            higher) != 1
        else:
            chance_fails = None
        rec["chance_fails"] = chance_fails
        rec["verdict"] = (f"{UNDECIDED}" + (f"; {FAILS_PROBE}" if rec["probe_fails"] else "") if few
                          else validity_verdict(rec["probe_fails"], chance_fails))
    return records


def _t_half_width(values: np.ndarray) -> float:
    """The Student-t 95% CI half-width of the mean, as Table I's ± (NaN below 2 values)."""
    acc = MeanCI()
    for v in values:
        acc.update(float(v))
    return acc.summary()["ci95"]


def validity_verdict(probe_fails: bool | None, chance_fails: bool | None) -> str:
    """The metric's verdict from its two tests; a test without its reference map is reported as not run."""
    if probe_fails is None or chance_fails is None:
        missing = [name for name, v in ((PROBE, probe_fails), (CHANCE, chance_fails)) if v is None]
        tested = (f"; {FAILS_PROBE}" if probe_fails else f"; {FAILS_CHANCE}" if chance_fails else "")
        return f"not tested (no {' or '.join(missing)} rows){tested}"
    if probe_fails and chance_fails:
        return FAILS_BOTH
    return FAILS_PROBE if probe_fails else FAILS_CHANCE if chance_fails else PASSES


# --------------------------------------------------------------------------- Markdown and terminal


def _rank_cell(rec, ref: str) -> str:
    rank = rec.get(f"{ref}_rank")
    if rank is None or pd.isna(rank):
        return "—"
    return f"{int(rank)}/{int(rec['n_ranked'])} ({format_number(rec.get(f'{ref}_mean'), 3)})"


def validity_markdown(validity: pd.DataFrame) -> str:
    lines = ["## Chance level and metric validity: can the metric tell an explanation from noise?", ""]
    if validity.empty:
        return "\n".join(lines + ["No reference-map rows (run without --no-reference-maps).", ""])
    for (model, protocol), block in validity.groupby(BLOCK, sort=True):
        heads = ["Metric", "Verdict", "Random: rank (mean)", "Centre", "Keep-all", "Best method (mean ± CI)",
                 "Beat random / lose to it", "Median method − random [95% CI]", "p (Holm)"]
        cells = []
        for _, r in block.iterrows():
            info = metric_info(r["metric"])
            cells.append([f"{r['metric']} {info.arrow}", str(r["verdict"]), _rank_cell(r, "random"),
                          _rank_cell(r, "centre"), _rank_cell(r, "keep-all"),
                          f"{display_name(str(r['best_method']))} ({format_number(r['best_mean'], 3)} ± "
                          f"{format_number(r['best_ci95'], 3)})",
                          f"{_count(r.get('beat_random'))} / {_count(r.get('lose_to_random'))} of {int(r['n_methods'])}",
                          format_difference_ci(r.get("median_mean_diff"), r.get("median_ci_low"),
                                               r.get("median_ci_high")),
                          format_p(r.get("median_holm_p"))])
        lines += [f"### {model}, {protocol} protocol", "", *markdown_table(heads, cells), ""]
    lines += ["Notes:", "", *[f"- {n}" for n in VALIDITY_NOTES], ""]
    return "\n".join(lines)


VALIDITY_NOTES = (
    "Reference maps: 'random' is seeded uniform noise at the explained layer's resolution, upsampled like a CAM; "
    "'centre' an image-blind centred Gaussian (sigma a quarter of the side); 'keep-all' a probe that keeps the whole "
    "image but one pixel (a different one per class, so the class-sensitivity check passes). Rank: among the real "
    "methods and the reference maps by mean (1 = best).",
    f"Verdict '{FAILS_PROBE}': keep-all's mean is at, beyond or within the 95% CI of the best real method's mean. "
    f"'{FAILS_CHANCE}': random is not significantly worse than the median real method (per image, the median of the "
    "real methods' values minus random's; two-sided Wilcoxon, Holm over the metrics; significant: Holm p < 0.05 and "
    f"the bootstrap CI wholly on the better side; below {MIN_PAIRS} images it cannot be significant and is reported as "
    "undecided). 'passes': neither.",
    "Beat random / lose to it: real methods significantly better / worse than random on the metric (the report's "
    "rule: Holm over every comparison of the block in chance.csv, CI wholly on one side).",
)


def _count(value) -> str:
    return "—" if value is None or pd.isna(value) else str(int(value))


def chance_markdown(comparisons: pd.DataFrame) -> str:
    """Per model x protocol: each method's mean, its difference from random and from its shuffled self (AVX and
    every other metric)."""
    lines = ["## Skill over chance: each method against random and against its shuffled self", ""]
    if comparisons.empty:
        return "\n".join(lines + ["No comparison: no reference-map or shuffled-control rows.", ""])
    for (model, protocol), block in comparisons.groupby(BLOCK, sort=True):
        heads = ["Metric", "Method", "mean", "− random [95% CI]", "beats random?", "− shuffled self [95% CI]",
                 "beats shuffled?"]
        cells = []
        for (metric, method), g in block.groupby(["metric", "method"], sort=False):
            by = g.set_index("against")
            cells.append([f"{metric} {metric_info(metric).arrow}", str(method),
                          format_number(g["subject_mean"].iloc[0], 3),
                          *_against_cells(by, "chance"), *_against_cells(by, "shuffled")])
        lines += [f"### {model}, {protocol} protocol", "", *markdown_table(heads, cells), ""]
    lines += ["Notes:", "",
              "- '− random': the method minus the random map on the images both scored; '− shuffled self': minus the "
              "method's own map with the explained layer's cells permuted (the same values and kept area, placed at "
              "random; the same permutation for the top-1 and top-2 maps, so Class Sensitivity is unchanged). It "
              "measures what the method's placement adds over its area.",
              "- One Holm family per model × protocol: every comparison of this table. 'yes': Holm p < 0.05 and the "
              "CI wholly on the method's better side; 'no: X is better': the other side.", ""]
    return "\n".join(lines)


def _against_cells(by: pd.DataFrame, kind: str) -> list[str]:
    if kind not in by.index:
        return ["—", "—"]
    r = by.loc[kind]
    verdict = "yes" if r["verdict"] == "yes" else "no" if str(r["verdict"]).startswith("no:") else "not shown"
    return [format_difference_ci(r["mean_diff"], r["ci_low"], r["ci_high"]), verdict]
