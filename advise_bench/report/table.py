"""Table I: per-image rows -> one row per architecture x protocol x method (Markdown, CSV, LaTeX), next to the
paper's values. The report is composed in :mod:`.build`; this module knows nothing of the other sections."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import EXTRA_RATES, OPTIONAL_METRICS, TABLE_METRICS, metric_columns, numeric
from ..method_kinds import KINDS, REFERENCE_MAPS, display_name, method_kind, method_order
from ..metrics.core import METRICS, STATUS_DEGENERATE_IMAGE, STATUS_DEGENERATE_MAP, STATUS_OK, avx_zero_causes
from ..metrics.summary import MeanCI
from ..runner.results import is_untrained, untrained_mask
from .format import format_mean_ci, format_number, markdown_table
from .paper import PAPER_TIE_FOOTNOTE, paper_architecture, paper_table

TIME_COLUMNS = ("time_gpu_s", "time_cpu_s")
UNTRAINED_NOTE = "untrained: timing only"

CI_FOOTNOTE = ("± is the half-width of the 95% confidence interval of the mean over the n images (Student t); "
               "it is not a standard deviation.")
PAPER_FOOTNOTE = ("(paper x) is the value published in the paper's Table I (made with the authors' reference code), "
                  "shown only for architectures the paper reports and never for untrained weights.")
STATUS_FOOTNOTE = ("n counts the images scored (status ok). Means use those only: error rows, constant input images "
                   "(degenerate image) and constant maps (degenerate map) are counted, never averaged.")
TIME_FOOTNOTE = "Time: mean seconds per image (top-1 map) on GPU / CPU; — where no row ran on that device."
NOT_MEASURED = "not measured"
NOT_MEASURED_FOOTNOTE = (f"Time '{NOT_MEASURED}': maps computed elsewhere and scored with `advise-bench score`; "
                         "their cost is unknown.")
NO_CS_FOOTNOTE = ("CS pass — for {methods}: no Class Sensitivity was measured (maps scored with `advise-bench score` "
                  "without a top-2 map). On a miss their metrics were scaled by d as if the CS check had passed, "
                  "since it could not be made.")
CHANCE_BLOCK = "chance and probes"
CHANCE_FOOTNOTE = ("Chance and probes: maps that know nothing of the image ('Random', seeded noise at the explained "
                   "layer's resolution; 'Centre', a centred Gaussian prior) and a probe built to game the metrics "
                   "('Keep-all', the whole image kept). A method's row is only worth reading against them: see the "
                   "report's metric-validity section.")
AVX_ZERO_TERM_FOOTNOTE = ("AVX is 0 without the penalty on {detail} (avx_zero_term in table1.csv): one of its terms "
                          "(SSIM, FSIM, 1 - MSE, 1 - AD) is <= 0 there; SSIM lies in [-1, 1] and can be slightly "
                          "negative. The maps the penalty zeroed are counted apart (avx_zero_penalty).")
UNTRAINED_FOOTNOTE = (f"'{UNTRAINED_NOTE}': the run used --weights random; its metric values say nothing about the "
                      "methods, only its times are meaningful.")


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    metrics = metric_columns(rows)
    for (model, protocol, method), g in rows.groupby(["model", "protocol", "method"], sort=False):
        ok = g[g["status"] == STATUS_OK]
        weights = g["weights"].iloc[0] if "weights" in g else ""
        status = g["status"].astype(str)
        rec = {"architecture": model, "protocol": protocol, "method": display_name(method),
               "kind": method_kind(str(method)), "_reference": REFERENCE_MAPS.index(method) if method in REFERENCE_MAPS
               else -1, "n": len(ok),
               "errors": int((~status.isin([STATUS_OK, STATUS_DEGENERATE_IMAGE, STATUS_DEGENERATE_MAP])).sum()),
               "degenerate_images": int((status == STATUS_DEGENERATE_IMAGE).sum()),
               "degenerate_maps": int((status == STATUS_DEGENERATE_MAP).sum()),
               "weights": weights, "note": UNTRAINED_NOTE if is_untrained(weights) else ""}
        rec["peak_range"] = (
            f"{int(ok['peak_min'].min())}–{int(ok['peak_max'].max())}" if "peak_min" in ok and ok["peak_min"].notna().any()
            else "N/A"
        )
        for m in metrics + EXTRA_RATES:
            acc = MeanCI()
            for v in numeric(ok, m):
                acc.update(v)
            s = acc.summary()
            rec[m], rec[f"{m}_ci95"] = s["mean"], s["ci95"]
        for kind in ("scaled", "zeroed"):
            rec[f"penalty_{kind}"] = int((ok.get("penalty", pd.Series(dtype=str)) == kind).sum())
        by_penalty, by_term = avx_zero_causes(numeric(ok, "AVX"), ok.get("penalty", pd.Series("", index=ok.index)))
        rec["avx_zero_penalty"], rec["avx_zero_term"] = int(by_penalty.sum()), int(by_term.sum())
        rec["blank_masks"] = int(ok.get("blank_mask", pd.Series(dtype=bool)).astype(str).eq("True").sum())
        dev = ok["device"].astype(str) if "device" in ok else pd.Series("", index=ok.index)
        for kind in ("gpu", "cpu"):
            t = numeric(ok, "time_s")[dev.str.startswith(kind)]
            rec[f"time_{kind}_s"] = float(t.mean()) if t.notna().any() else np.nan
        timed = numeric(ok, "time_s").notna()
        backend = ok["backend"].astype(str) if "backend" in ok else pd.Series("", index=ok.index)
        rec["time_sources"] = "; ".join(sorted({f"{d} ({b})" for d, b in zip(dev[timed], backend[timed],
                                                                                strict=True)}))
        out.append(rec)
    table = pd.DataFrame(out)
    position = {m: i for i, m in enumerate(method_order(table["method"]))}
    table["_position"] = table["method"].map(position)
    table["_kind"] = table["kind"].map(KINDS.index)  # the methods, then the reference maps, then the controls
    return (table.sort_values(["architecture", "protocol", "_kind", "_reference", "_position"])
            .drop(columns=["_position", "_kind", "_reference"]).reset_index(drop=True))


def with_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Our numbers, the paper's, and (ours - paper) for each metric and time; NaN where the paper has no row
    and for untrained weights, whose metrics must not be set beside the paper's."""
    paper = paper_table().rename(columns=lambda c: c if c in ("method",) else f"paper_{c}")
    merged = table.assign(paper_architecture=table["architecture"].map(paper_architecture)).merge(
        paper, on=["paper_architecture", "method"], how="left").drop(columns="paper_architecture")
    merged.loc[untrained_mask(merged), [c for c in paper.columns if c.startswith("paper_")]] = np.nan
    for m in TABLE_METRICS + TIME_COLUMNS:
        merged[f"delta_{m}"] = merged[m] - merged[f"paper_{m}"]
    return merged


def _with_paper_value(ours: str, paper) -> str:
    return ours if paper is None or pd.isna(paper) else f"{ours} (paper {format_number(paper)})"


def table_metrics_of(merged: pd.DataFrame) -> tuple[str, ...]:
    """Table I's metrics, then the opt-in ones that a real method measured (not the reference maps alone)."""
    methods = merged[merged["kind"] == "method"] if "kind" in merged else merged
    return TABLE_METRICS + tuple(m for m in OPTIONAL_METRICS if m in methods and methods[m].notna().any())


def _time_cell(gpu, cpu) -> str:
    return f"{format_number(gpu)} / {format_number(cpu)}"


def _architecture_cell(r) -> str:
    return f"{r['architecture']} ({r['note']})" if r.get("note") else str(r["architecture"])


def _time_not_measured(r) -> bool:
    """Rows were scored but none has a time: every scored row is on some device, so a measured time shows."""
    return r["n"] > 0 and pd.isna(r["time_gpu_s"]) and pd.isna(r["time_cpu_s"])


def _no_cs(merged: pd.DataFrame) -> pd.Series:
    return (merged["n"] > 0) & merged["CS_pass"].isna()


def time_sources_note(merged: pd.DataFrame) -> str:
    """Which device and Keras backend each architecture's times come from."""
    sources = {}
    for architecture, g in merged.groupby("architecture", sort=True):
        found = sorted({s for cell in g.get("time_sources", pd.Series(dtype=str)).dropna() for s in str(cell).split("; ")
                        if s})
        sources[architecture] = ", ".join(found) or NOT_MEASURED
    return "Times measured on (device, Keras backend): " + "; ".join(f"{a}: {s}" for a, s in sources.items()) + "."


def footnotes(merged: pd.DataFrame) -> list[str]:
    notes = [CI_FOOTNOTE, STATUS_FOOTNOTE, TIME_FOOTNOTE, time_sources_note(merged)]
    if any(_time_not_measured(r) for _, r in merged.iterrows()):
        notes.append(NOT_MEASURED_FOOTNOTE)
    if _no_cs(merged).any():
        notes.append(NO_CS_FOOTNOTE.format(methods=", ".join(merged.loc[_no_cs(merged), "method"].unique())))
    if "paper_AVX" in merged and merged["paper_AVX"].notna().any():
        notes += [PAPER_FOOTNOTE, PAPER_TIE_FOOTNOTE]
    if "kind" in merged and merged["kind"].eq("reference").any():
        notes.append(CHANCE_FOOTNOTE)
    if "avx_zero_term" in merged and merged["avx_zero_term"].fillna(0).gt(0).any():
        zero = merged[merged["avx_zero_term"].fillna(0).gt(0)]
        notes.append(AVX_ZERO_TERM_FOOTNOTE.format(detail=", ".join(
            f"{int(r['avx_zero_term'])} {r['method']} image(s) ({r['architecture']}, {r['protocol']})"
            for _, r in zero.iterrows())))
    if "note" in merged and merged["note"].eq(UNTRAINED_NOTE).any():
        notes.append(UNTRAINED_FOOTNOTE)
    return notes


def to_markdown(merged: pd.DataFrame) -> str:
    """Table I with its notes."""
    lines = table_lines(merged) + ["", "Notes:", ""] + [f"- {note}" for note in footnotes(merged)]
    return "\n".join(lines) + "\n"


def table_lines(merged: pd.DataFrame) -> list[str]:
    """The lines of Table I's Markdown table, without its notes."""
    metrics = table_metrics_of(merged)
    heads = ["Architecture", "Protocol", "Method", "n", "Peak range"]
    heads += [f"{m} {METRICS[m].arrow}" for m in metrics]
    heads += ["Time GPU / CPU (s)", "Hit", "CS pass", "errors", "degenerate image / map", "penalties (scaled/zeroed)"]
    rows = []
    for _, r in merged.iterrows():
        if _starts_chance_block(merged, r.name):
            rows.append([_architecture_cell(r), r["protocol"], f"*{CHANCE_BLOCK}*"] + [""] * (len(heads) - 3))
        cells = [_architecture_cell(r), r["protocol"], r["method"], str(r["n"]), r["peak_range"]]
        cells += [_with_paper_value(format_mean_ci(r[m], r[f"{m}_ci95"]), r.get(f"paper_{m}")) for m in metrics]
        time = NOT_MEASURED if _time_not_measured(r) else _time_cell(r["time_gpu_s"], r["time_cpu_s"])
        if pd.notna(r.get("paper_time_gpu_s")):
            time += f" (paper {_time_cell(r['paper_time_gpu_s'], r['paper_time_cpu_s'])})"
        cells += [time, format_number(r["Hit"]), format_number(r["CS_pass"]), str(r["errors"]),
                  f"{r.get('degenerate_images', 0)} / {r.get('degenerate_maps', 0)}",
                  f"{r['penalty_scaled']}/{r['penalty_zeroed']}"]
        rows.append(cells)
    return markdown_table(heads, rows)


def _starts_chance_block(merged: pd.DataFrame, index) -> bool:
    """Whether row ``index`` is the first reference map of its architecture x protocol (Table I's last block)."""
    if "kind" not in merged or merged.loc[index, "kind"] != "reference":
        return False
    position = merged.index.get_loc(index)
    if position == 0:
        return True
    previous = merged.iloc[position - 1]
    same = (previous["architecture"], previous["protocol"]) == (merged.loc[index, "architecture"],
                                                               merged.loc[index, "protocol"])
    return not same or previous.get("kind") != "reference"


def table1_rows(merged: pd.DataFrame) -> pd.DataFrame:
    """Table I's rows: the methods, then the reference maps (the chance block); the shuffled controls are
    compared in the chance section, not listed here."""
    return merged if "kind" not in merged else merged[merged["kind"] != "shuffled"].reset_index(drop=True)


def _latex_text(s: str) -> str:
    return (str(s).replace("–", "--").replace("—", "--").replace("±", r"$\pm$").replace("_", r"\_")
            .replace("%", r"\%").replace("χ²", r"$\chi^2$"))


def to_latex(merged: pd.DataFrame) -> str:
    metrics = table_metrics_of(merged)
    latex_arrow = {True: r"$\uparrow$", False: r"$\downarrow$"}
    cols = ["Architecture", "Protocol", "Method", "n", "Peak range"]
    cols += [f"{_latex_text(m)} {latex_arrow[METRICS[m].higher_is_better]}" for m in metrics]
    cols += ["GPU (s)", "CPU (s)", "degenerate"]
    lines = [r"\begin{tabular}{lllrl" + "r" * (len(cols) - 5) + "}", r"\toprule", " & ".join(cols) + r" \\",
             r"\midrule"]
    for _, r in merged.iterrows():
        if _starts_chance_block(merged, r.name):
            lines.append(rf"\midrule \multicolumn{{{len(cols)}}}{{l}}{{\emph{{{CHANCE_BLOCK}}}}} \\")
        cells = [_architecture_cell(r), r["protocol"], r["method"], str(r["n"]), r["peak_range"]]
        cells += [_with_paper_value(format_mean_ci(r[m], r[f"{m}_ci95"]), r.get(f"paper_{m}")) for m in metrics]
        cells += [NOT_MEASURED if _time_not_measured(r) else _with_paper_value(format_number(r[t]), r.get(f"paper_{t}"))
                  for t in TIME_COLUMNS]
        cells.append(f"{r.get('degenerate_images', 0)} / {r.get('degenerate_maps', 0)}")
        lines.append(" & ".join(_latex_text(c) for c in cells) + r" \\")
    lines.append(r"\bottomrule")
    lines += [rf"\multicolumn{{{len(cols)}}}{{p{{\linewidth}}}}{{\footnotesize {_latex_text(n)}}} \\"
              for n in footnotes(merged)]
    lines.append(r"\end{tabular}")
    return "\n".join(lines) + "\n"


def paper_markdown() -> str:
    """The published Table I (shipped with the package), for side-by-side reading."""
    paper = paper_table()
    heads = ["Architecture", "Method", "Peak range"] + [f"{m} {METRICS[m].arrow}" for m in TABLE_METRICS]
    heads += ["Time GPU / CPU (s)"]
    rows = [[r["architecture"], r["method"], r["peak_range"] if isinstance(r["peak_range"], str) else "N/A"]
            + [format_number(r[m]) for m in TABLE_METRICS] + [_time_cell(r["time_gpu_s"], r["time_cpu_s"])]
            for _, r in paper.iterrows()]
    return "\n".join(markdown_table(heads, rows)) + "\n\n" + PAPER_TIE_FOOTNOTE + "\n"
