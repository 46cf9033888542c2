"""Controls: the same images explained with another setting, to tell where a method's score comes from.

A control is a run in its own folder whose ``run.json`` records its setting:

* ADVISE with another selection or grouping (``run -m advise --advise-selection all``, or
  ``--advise-grouping random``, which keeps the group sizes but permutes the unit scores). Its rows are
  compared with every baseline of the main run exactly as ADVISE is (same pairing, bootstrap, Wilcoxon and
  Holm family), and the main run's ADVISE is compared with it. If a random grouping scores as well as the
  KDE's, the gain comes from the selection rule, not from the KDE.
* A CAM method given ADVISE's oracle (``run --cam-groups like-advise``: its channels in random groups of
  ADVISE's sizes, the best AVX kept). Each such method is compared with its own plain run and with the main
  run's ADVISE: if the oracle lifts every CAM as much as it lifts ADVISE, ADVISE's lead is the oracle's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..method_kinds import ADVISE, CAM_GROUPS_SELECTION, display_name, method_kind
from ..metrics.core import METRICS
from ..runner.results import load_rows, read_manifests
from . import stats
from .compare import BLOCK, compare_with_advise
from .format import format_difference_ci, format_number, format_p, markdown_table

MAIN = "main ADVISE"
CAM_SELECTION = CAM_GROUPS_SELECTION  # the oracle a grouped CAM uses


def folder_config(folder: Path) -> dict:
    """The one configuration a control folder's ``run.json`` files record (shards must agree)."""
    configs = {}
    for doc in read_manifests(folder) + read_manifests(folder, "*/run*.json"):
        config = doc.get("config", {})
        key = (config.get("advise_grouping", "kde"), config.get("advise_selection", "oracle-avx"),
               config.get("cam_groups", "none"))
        configs[key] = config
    if len(configs) != 1:
        found = "none" if not configs else "; ".join(" / ".join(k) for k in sorted(configs))
        raise UserError(f"{folder}: a control needs one setting recorded in its run.json (found: {found})")
    return next(iter(configs.values()))


def run_variant(folder: Path) -> str:
    """How a folder's ADVISE grouped and selected, from its ``run.json``: ``random grouping, all``."""
    config = folder_config(folder)
    return f"{config.get('advise_grouping', 'kde')} grouping, {config.get('advise_selection', 'oracle-avx')}"


def control_label(folder: Path, method: str) -> str:
    """``ADVISE (random grouping, oracle-avx)``, or for a CAM method ``Grad-CAM (like-advise groups,
    oracle-avx)``; a method run without a control setting is no control (an error)."""
    if method == ADVISE:
        return f"{display_name(ADVISE)} ({run_variant(folder)})"
    groups = folder_config(folder).get("cam_groups", "none")
    if groups in (None, "none"):
        raise UserError(f"{folder}: {display_name(method)} ran without a control setting (a CAM control is a run "
                        "with --cam-groups like-advise)")
    return f"{display_name(method)} ({groups} groups, {CAM_SELECTION})"


def load_controls(folders) -> dict[str, pd.DataFrame]:
    """Every control series of the folders, one per method a folder ran, keyed by :func:`control_label`, in
    the order of those labels (so the report does not depend on the order the folders were given in)."""
    controls = {}
    for folder in folders:
        rows = load_rows(folder)  # first: a missing folder is the clearer error
        # A control folder's reference maps and shuffled controls are no control setting of their own.
        for method in (m for m in dict.fromkeys(rows["method"]) if method_kind(str(m)) == "method"):
            label = control_label(folder, method)
            if label in controls:
                raise UserError(f"{folder}: two control folders ran the same setting ({label})")
            controls[label] = rows[rows["method"] == method]
    return dict(sorted(controls.items()))


def compare_controls(rows: pd.DataFrame, controls: dict[str, pd.DataFrame], **stats_options) -> pd.DataFrame:
    """Per control (``subject`` = the control): an ADVISE control against every baseline, as
    ``compare_with_advise`` does for ADVISE; a CAM control against its own method's plain run. Then the
    main run's ADVISE against the control (``subject`` = main ADVISE, ``baseline`` = the control; one Holm
    family over the metrics)."""
    main = rows[rows["method"] == ADVISE]
    frames = []
    for label, control in controls.items():
        method = control["method"].iloc[0]
        baselines = rows[rows["method"] != ADVISE] if method == ADVISE else rows[rows["method"] == method]
        against_baselines = compare_with_advise(
            pd.concat([baselines, control.assign(method=ADVISE)], ignore_index=True), **stats_options)
        against_main = compare_with_advise(pd.concat([main, control.assign(method=label)], ignore_index=True),
                                           **stats_options)
        frames += [against_baselines.assign(control=label, subject=label),
                   against_main.assign(control=label, subject=MAIN)]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True).rename(columns={"advise_mean": "subject_mean"})
    return table[["control", "subject", *[c for c in table.columns if c not in ("control", "subject")]]]


def _short(verdict: str) -> str:
    """'yes', 'not shown', or 'no' for "no: X is better"."""
    return "no" if verdict.startswith("no:") else verdict


def controls_markdown(table: pd.DataFrame) -> str:
    """One table per model x protocol: each control's mean per metric, whether it beats each baseline, and
    whether the main run's ADVISE beats it."""
    lines = ["## Controls: is it the KDE, or the selection?", ""]
    if table.empty:
        return "\n".join(lines + ["No control rows.", ""])
    for (model, protocol), block in table.groupby(BLOCK, sort=True):
        by_control = block[block["subject"] != MAIN]
        baselines = list(dict.fromkeys(by_control["baseline"]))
        heads = (["Control", "Metric", "Control mean", f"{MAIN} − control [95% CI]", "p (Holm)", "Does main beat it?"]
                 + [f"Beats {b}?" for b in baselines])
        cells = []
        for (control, metric), rows in by_control.groupby(["control", "metric"], sort=False):
            vs_main = block[(block["subject"] == MAIN) & (block["control"] == control) & (block["metric"] == metric)]
            m = vs_main.iloc[0] if len(vs_main) else None
            verdicts = rows.set_index("baseline")
            cells.append(
                [control, f"{metric} {METRICS[metric].arrow}", format_number(rows["subject_mean"].iloc[0], 3),
                 "—" if m is None else
                 format_difference_ci(m['mean_diff'], m['ci_low'], m['ci_high']),
                 "—" if m is None else format_p(m["holm_p"]), "—" if m is None else _short(m["verdict"])]
                + [f"{_short(verdicts.loc[b, 'verdict'])} ({format_number(verdicts.loc[b, 'mean_diff'], 3, True)})"
                   if b in verdicts.index else "—" for b in baselines])
        lines += [f"### {model}, {protocol} protocol", "", *markdown_table(heads, cells), ""]
    lines += [
        "Notes:", "",
        "- A control is a run of the same images with another setting (its run.json says which): ADVISE with "
        "another grouping or selection ('random grouping' permutes the units' peak counts with a seeded "
        "permutation before grouping: the same group sizes, the KDE's information removed), or a CAM method "
        "with 'like-advise groups' (its channels split at random into groups of ADVISE's sizes on each image, "
        "one map per group, the best AVX kept: ADVISE's oracle given to that CAM).",
        f"- '{MAIN} − control' pairs the main run's ADVISE with the control on the images both scored; 'yes' means "
        "the main ADVISE is better (Holm over the metrics of that control).",
        "- 'Beats X?': the control against baseline X exactly as ADVISE is compared above (same Holm family shape); "
        "in brackets the mean difference control − X. A CAM control is compared with its own method only: "
        "how much the oracle lifts it.",
        f"- CIs: percentile bootstrap ({stats.BOOTSTRAP_RESAMPLES:,} resamples, seeded); p: two-sided Wilcoxon.", "",
    ]
    return "\n".join(lines)
