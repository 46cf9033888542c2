"""Does ADVISE beat each baseline? Paired comparisons on the same images, then ranks of every method.

Only rows with status ok from trained weights enter: a model run with ``--weights random`` is timing only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import metric_columns, numeric
from ..method_kinds import ADVISE, display_name, method_kind, method_order
from ..metrics.core import METRICS, STATUS_OK
from ..runner.results import untrained_mask
from . import stats
from .format import format_difference_ci, format_number, format_p, markdown_table
from .paper import PAPER_TIE_FOOTNOTE, paper_architecture, paper_architectures, paper_table

ALPHA = 0.05
# Two per-image values closer than this are a tie (both scored the same; CSV round trips are exact).
TIE_TOLERANCE = 1e-12
BLOCK = ["model", "protocol"]


def trained_ok_rows(rows: pd.DataFrame, kinds: tuple[str, ...] | None = ("method",)) -> pd.DataFrame:
    """The rows with status ok from trained weights, of the method kinds asked for (default: the real methods,
    not the reference maps or the shuffled controls, which ``chance.py`` compares; None: every kind)."""
    ok = rows[rows["status"] == STATUS_OK]
    ok = ok[~untrained_mask(ok)]
    return ok if kinds is None else ok[ok["method"].astype(str).map(method_kind).isin(kinds)]


def per_image(block: pd.DataFrame, metric: str) -> pd.DataFrame:
    """images x methods values of one metric (NaN where a method has no ok row for the image), images and methods
    sorted; of an image's rows of one method the last with a value counts (``pivot_table``'s ``aggfunc="last"``,
    built with NumPy: the report calls this hundreds of times, and the pivot was most of its time)."""
    values = numeric(block, metric).to_numpy(dtype=np.float64)
    images, image_of = np.unique(block["image_id"].to_numpy(dtype=object), return_inverse=True)
    methods, method_of = np.unique(block["method"].to_numpy(dtype=object), return_inverse=True)
    has = np.flatnonzero(~np.isnan(values))[::-1]  # latest first
    key = image_of[has] * len(methods) + method_of[has]
    last = has[np.unique(key, return_index=True)[1]]  # each (image, method)'s latest row with a value
    grid = np.full((len(images), len(methods)), np.nan)
    grid[image_of[last], method_of[last]] = values[last]
    # Not copied: pandas keeps the images x methods layout the pivot gives, so a column's sum adds in the pivot's
    # order (the means are the pivot's to the last bit; a copy would be laid out per column).
    wide = pd.DataFrame(grid, index=pd.Index(images, name="image_id"), columns=pd.Index(methods, name="method"),
                        copy=False)
    return wide.dropna(axis=1, how="all")


def method_order_key(methods):
    """Sort key of method keys (``gradcam++``) in the report's order of their display names."""
    position = {name: i for i, name in enumerate(method_order(display_name(m) for m in methods))}
    return lambda m: position[display_name(m)]


def significant_side(holm_p: float, ci_low: float, ci_high: float, higher_is_better: bool) -> int:
    """+1 when the subject is significantly better (Holm p < ALPHA, CI wholly on its side), −1 worse, 0 neither."""
    if not holm_p < ALPHA:
        return 0
    better = ci_low > 0 if higher_is_better else ci_high < 0
    worse = ci_high < 0 if higher_is_better else ci_low > 0
    return 1 if better else -1 if worse else 0


def verdict(holm_p: float, ci_low: float, ci_high: float, higher_is_better: bool, baseline: str) -> str:
    """"yes" when Holm's p < ALPHA and the CI lies on the subject's side of 0; "no: X is better" on the other side."""
    side = significant_side(holm_p, ci_low, ci_high, higher_is_better)
    return {1: "yes", -1: f"no: {baseline} is better", 0: "not shown"}[side]


def paired(a: pd.Series, b: pd.Series, higher_is_better: bool, n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
           seed: int = stats.BOOTSTRAP_SEED) -> dict:
    """a − b on the images both have: the means, the mean difference with its bootstrap CI, wins / ties /
    losses of a, the Wilcoxon p."""
    if not a.index.equals(b.index):  # not two columns of one per_image table: align them
        a, b = (pair := pd.concat([a, b], axis=1)).iloc[:, 0], pair.iloc[:, 1]
    x, y = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    d = x - y
    good = d if higher_is_better else -d
    lo, hi = stats.bootstrap_mean_ci(d, n_resamples=n_resamples, seed=seed)
    return {"n_pairs": len(d), "subject_mean": float(x.mean()) if len(d) else np.nan,
            "reference_mean": float(y.mean()) if len(d) else np.nan,
            "mean_diff": float(d.mean()) if len(d) else np.nan, "ci_low": lo, "ci_high": hi,
            "wins": int((good > TIE_TOLERANCE).sum()), "ties": int((np.abs(d) <= TIE_TOLERANCE).sum()),
            "losses": int((good < -TIE_TOLERANCE).sum()), "wilcoxon_p": stats.wilcoxon_p(d)}


def add_holm_verdicts(family: list[dict], reference_key: str) -> None:
    """Holm's correction over one family of paired comparisons (``holm_p``) and each one's verdict against the
    record's ``reference_key`` (in place)."""
    for rec, p in zip(family, stats.holm([r["wilcoxon_p"] for r in family]), strict=True):
        rec["holm_p"] = p
        rec["verdict"] = verdict(p, rec["ci_low"], rec["ci_high"], rec["direction"] == "higher is better",
                                 rec[reference_key])


def compare_with_advise(
    rows: pd.DataFrame, n_resamples: int = stats.BOOTSTRAP_RESAMPLES, seed: int = stats.BOOTSTRAP_SEED
) -> pd.DataFrame:
    """One row per model x protocol x metric x baseline: ADVISE minus the baseline on their common images."""
    records = []
    metrics = metric_columns(trained_ok_rows(rows))
    for (model, protocol), block in trained_ok_rows(rows).groupby(BLOCK, sort=True):
        start = len(records)
        for metric in metrics:
            wide = per_image(block, metric)
            if ADVISE not in wide:
                continue
            higher = METRICS[metric].higher_is_better
            baselines = sorted((m for m in wide.columns if m != ADVISE), key=method_order_key(wide.columns))
            for baseline in baselines:
                result = paired(wide[ADVISE], wide[baseline], higher, n_resamples, seed)
                result["advise_mean"], result["baseline_mean"] = result.pop("subject_mean"), result.pop("reference_mean")
                records.append({"model": model, "protocol": protocol, "metric": metric,
                                "direction": "higher is better" if higher else "lower is better",
                                "baseline": display_name(baseline), **result})
        # One family per model x protocol: every baseline x metric compared there.
        add_holm_verdicts(records[start:], "baseline")
    columns = ["model", "protocol", "metric", "direction", "baseline", "n_pairs", "advise_mean", "baseline_mean",
               "mean_diff", "ci_low", "ci_high", "wins", "ties", "losses", "wilcoxon_p", "holm_p", "verdict"]
    return pd.DataFrame(records, columns=columns)


def rank_methods(rows: pd.DataFrame, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean rank (1 = best) of every method per model x protocol x metric on the images every method scored,
    Friedman's test across methods, and Kendall's tau-b of our means (``table``) against the paper's."""
    rank_rows, test_rows = [], []
    paper = paper_table()
    for (model, protocol), block in trained_ok_rows(rows).groupby(BLOCK, sort=True):
        ours = table[(table["architecture"] == model) & (table["protocol"] == protocol)].set_index("method")
        published = paper[paper["architecture"] == paper_architecture(model)].set_index("method")
        for metric in metric_columns(trained_ok_rows(rows)):
            wide = per_image(block, metric)
            complete = wide.dropna()
            names = [display_name(m) for m in wide.columns]
            higher = METRICS[metric].higher_is_better
            ranked = stats.ranks_within_rows(complete.to_numpy(), higher) if len(complete) else None
            mean_ranks = ranked.mean(axis=0) if ranked is not None else np.full(len(names), np.nan)
            chi2, p = stats.friedman(ranked) if ranked is not None else (np.nan, np.nan)
            means = ours[metric] if metric in ours else pd.Series(dtype=float)
            for name, r in zip(names, mean_ranks, strict=True):
                rank_rows.append({"model": model, "protocol": protocol, "metric": metric, "method": name,
                                  "mean_rank": float(r), "mean": means.get(name, np.nan)})
            paper_values = published[metric] if metric in published else pd.Series(dtype=float)
            common = [n for n in names if n in paper_values.index and n in means.index]
            tau, tau_p = stats.kendall_tau_b(means[common].to_numpy(), paper_values[common].to_numpy())
            test_rows.append({"model": model, "protocol": protocol, "metric": metric, "n_images": len(complete),
                              "n_methods": len(names), "friedman_chi2": chi2, "friedman_p": p,
                              "kendall_tau_b": tau, "kendall_p": tau_p, "n_methods_vs_paper": len(common),
                              "same_best_as_paper": same_best(means[common], paper_values[common], higher)
                              if common else np.nan})
    ranks = pd.DataFrame(rank_rows, columns=["model", "protocol", "metric", "method", "mean_rank", "mean"])
    tests = pd.DataFrame(test_rows, columns=["model", "protocol", "metric", "n_images", "n_methods", "friedman_chi2",
                                             "friedman_p", "kendall_tau_b", "kendall_p", "n_methods_vs_paper",
                                             "same_best_as_paper"])
    return ranks, tests


def same_best(ours: pd.Series, paper: pd.Series, higher_is_better: bool) -> bool:
    """Whether our best method (by mean) is among the paper's best (the paper ties LIME with Grad-CAM)."""
    ours, paper = ours.dropna(), paper.dropna()
    if ours.empty or paper.empty:
        return False
    best_ours = ours.idxmax() if higher_is_better else ours.idxmin()
    best_paper = paper.max() if higher_is_better else paper.min()
    return bool(paper.get(best_ours, np.nan) == best_paper)


# --------------------------------------------------------------------------- Markdown


def _untrained_models(rows: pd.DataFrame) -> list[str]:
    return sorted(rows.loc[untrained_mask(rows), "model"].unique())


def _skipped_note(rows: pd.DataFrame) -> list[str]:
    skipped = _untrained_models(rows)
    return [f"Not compared (untrained weights, timing only): {', '.join(skipped)}.", ""] if skipped else []


def comparisons_markdown(comparisons: pd.DataFrame, rows: pd.DataFrame) -> str:
    lines = ["## Does ADVISE beat each baseline?", ""]
    if comparisons.empty:
        lines += ["No paired comparison: no trained model has ADVISE rows and baseline rows with status ok.", ""]
    for (model, protocol), block in comparisons.groupby(BLOCK, sort=True):
        heads = ["Metric", "Baseline", "Does ADVISE beat it?", "n pairs", "ADVISE − baseline [95% CI]",
                 "wins / ties / losses", "p (Holm)"]
        cells = [[f"{r['metric']} {METRICS[r['metric']].arrow}", str(r["baseline"]), str(r["verdict"]), str(r["n_pairs"]),
                  format_difference_ci(r['mean_diff'], r['ci_low'], r['ci_high']),
                  f"{r['wins']} / {r['ties']} / {r['losses']}", format_p(r["holm_p"])] for _, r in block.iterrows()]
        lines += [f"### {model}, {protocol} protocol", "", *markdown_table(heads, cells), ""]
    n_res = f"{stats.BOOTSTRAP_RESAMPLES:,}"
    lines += _skipped_note(rows) + [
        "Notes:", "",
        "- Each row pairs ADVISE with one baseline on the images both scored (status ok). The difference is "
        "ADVISE minus the baseline: ADVISE is better when it is positive for ↑ metrics and negative for ↓ "
        "metrics (AD, MSE, deletion AUC).",
        f"- [95% CI]: percentile bootstrap of the mean difference ({n_res} resamples, seeded).",
        "- p (Holm): two-sided Wilcoxon signed-rank test of the paired differences (zero differences dropped), "
        "Holm-corrected over every baseline × metric of the same model and protocol.",
        f"- 'yes': Holm p < {ALPHA} and the whole CI on ADVISE's side of 0; 'no: X is better': the same on the "
        "other side; 'not shown': anything else (too few images, or no consistent difference).",
        "- wins / ties / losses: images where ADVISE scores better / the same / worse.", "",
    ]
    return "\n".join(lines)


def verdict_lines(comparisons: pd.DataFrame, metric: str = "AVX") -> list[str]:
    """One line per model x protocol x baseline: the verdict on ``metric`` with its CI (the terminal's summary)."""
    rows = comparisons[comparisons["metric"] == metric]
    if rows.empty:
        return [f"No paired comparison with ADVISE on {metric} (no trained model has ADVISE and baseline rows)."]
    blocks = rows.groupby(BLOCK, sort=True)
    lines = []
    for (model, protocol), block in blocks:
        where = f"{model}, {protocol}: " if blocks.ngroups > 1 else ""
        lines += [f"{where}Does ADVISE beat {r['baseline']} on {metric} {METRICS[metric].arrow}? {r['verdict']}; "
                  f"ADVISE − {r['baseline']} {format_difference_ci(r['mean_diff'], r['ci_low'], r['ci_high'])} "
                  f"(95% CI), Holm p {format_p(r['holm_p'])}, {r['n_pairs']} images" for _, r in block.iterrows()]
    return lines


def ranks_markdown(ranks: pd.DataFrame, tests: pd.DataFrame) -> str:
    lines = ["## Ranks of the methods (1 = best)", ""]
    if ranks.empty:
        lines += ["No ranks: no trained model has rows with status ok.", ""]
    in_paper = paper_architectures()
    for (model, protocol), block in ranks.groupby(BLOCK, sort=True):
        t = tests[(tests["model"] == model) & (tests["protocol"] == protocol)].set_index("metric")
        metrics = list(dict.fromkeys(block["metric"]))
        n_images = ", ".join(f"{m} {int(t.loc[m, 'n_images'])}" for m in metrics)
        mean_rank = block.pivot_table(index="method", columns="metric", values="mean_rank", dropna=False)
        cells = [[method] + [format_number(mean_rank.loc[method].get(m), 2) for m in metrics]
                 for method in method_order(mean_rank.index)]
        cells.append(["Friedman χ² (p)"] + [f"{format_number(t.loc[m, 'friedman_chi2'], 1)} ({format_p(t.loc[m, 'friedman_p'])})"
                                            for m in metrics])
        if paper_architecture(model) in in_paper:
            cells.append(["Kendall τ_b vs paper (p)"] + [
                f"{format_number(t.loc[m, 'kendall_tau_b'], 2)} ({format_p(t.loc[m, 'kendall_p'])})" for m in metrics])
        lines += [f"### {model}, {protocol} protocol", "", f"Images scored by every method: {n_images}.", "",
                  *markdown_table(["Method"] + [f"{m} {METRICS[m].arrow}" for m in metrics], cells)]
        if paper_architecture(model) in in_paper:
            lines += ["", agreement_sentence(model, t), ""]
        else:
            lines += ["", f"The paper has no {model}: no ordering to compare with.", ""]
    lines += ["Notes:", "",
              "- Mean rank: each image ranks the methods (1 = best, ties share the average rank); the table "
              "averages over the images every method scored.",
              "- Friedman χ² (p): do the methods differ at all? Friedman's test on those ranks (tie-corrected; "
              "χ² with methods − 1 degrees of freedom).",
              "- Kendall τ_b: agreement of our ordering of the methods (by their mean, as in Table I) with the "
              "paper's for the same architecture; 1 = the same order, −1 = reversed. τ_b counts ties in either "
              f"ordering. {PAPER_TIE_FOOTNOTE} τ_b treats that pair as tied in the paper's ordering.", ""]
    return "\n".join(lines)


def agreement_sentence(model: str, tests: pd.DataFrame) -> str:
    """One line per architecture in the paper: tau_b per metric, and where our best method is the paper's."""
    compared = tests[tests["kendall_tau_b"].notna()]
    if compared.empty:
        return f"Our ordering cannot be compared with the paper's for {model} (too few methods in common)."
    taus = ", ".join(f"{m} {v:.2f}" for m, v in compared["kendall_tau_b"].items())
    same = [m for m, v in compared["same_best_as_paper"].items() if v is True or v == 1.0]
    other = [m for m in compared.index if m not in same]
    sentence = (f"Against the paper's ordering for {model}, Kendall τ_b is {taus}. The best method by our means "
                f"is also the paper's best on {', '.join(same) if same else 'no metric'}")
    return sentence + (f"; it differs on {', '.join(other)}." if other else ".")
