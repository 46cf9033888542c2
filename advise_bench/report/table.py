"""``advise-bench report``: per-image CSVs -> Table I (Markdown, CSV, LaTeX), next to the paper's values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..metrics.core import METRICS
from ..metrics.summary import MeanCI
from ..paths import RESOURCES

TABLE_METRICS = ("AD", "SSIM", "FSIM", "MSE", "AVX")
EXTRA_RATES = ("Hit", "CS_pass")


def display_name(method: str) -> str:
    from ..explainers import EXPLAINERS

    cls = EXPLAINERS.get(method)
    return cls.display_name if cls else method


def load_rows(results_dir: Path) -> pd.DataFrame:
    """Every per-image row under ``results_dir`` (``<model>/<method>[.shard-*].csv``), shards merged."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"{results_dir}: no such results folder (run `advise-bench run` first)")
    frames = []
    for csv in sorted(results_dir.glob("*/*.csv")):
        if csv.name.startswith(("advise_groups", "table", "ablation", "sanity")):
            continue
        df = pd.read_csv(csv, dtype={"image_id": str})
        if {"image_id", "method", "status"} <= set(df.columns):
            frames.append(df)
    if not frames:
        raise UserError(f"{results_dir}: no result CSVs found")
    rows = pd.concat(frames, ignore_index=True)
    # A re-run of a shard may repeat an image; keep its last row.
    return rows.drop_duplicates(subset=["model", "protocol", "method", "image_id"], keep="last")


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (model, protocol, method), g in rows.groupby(["model", "protocol", "method"], sort=False):
        ok = g[g["status"] == "ok"]
        rec = {"architecture": model, "protocol": protocol, "method": display_name(method), "n": len(ok),
               "errors": int((g["status"] != "ok").sum())}
        rec["peak_range"] = (
            f"{int(ok['peak_min'].min())}–{int(ok['peak_max'].max())}" if "peak_min" in ok and ok["peak_min"].notna().any()
            else "N/A"
        )
        for m in TABLE_METRICS + EXTRA_RATES:
            acc = MeanCI()
            for v in pd.to_numeric(ok.get(m, pd.Series(dtype=float)).astype(float), errors="coerce"):
                acc.update(v)
            s = acc.summary()
            rec[m], rec[f"{m}_ci95"] = s["mean"], s["ci95"]
        for kind in ("scaled", "zeroed"):
            rec[f"penalty_{kind}"] = int((ok.get("penalty", pd.Series(dtype=str)) == kind).sum())
        rec["blank_masks"] = int(ok.get("blank_mask", pd.Series(dtype=bool)).astype(str).eq("True").sum())
        dev = ok.get("device", pd.Series(dtype=str)).astype(str)
        for kind in ("gpu", "cpu"):
            t = ok.loc[dev.str.startswith(kind), "time_s"] if "time_s" in ok else pd.Series(dtype=float)
            rec[f"time_{kind}_s"] = float(t.mean()) if len(t) else np.nan
        out.append(rec)
    return pd.DataFrame(out)


def paper_table() -> pd.DataFrame:
    return pd.read_csv(RESOURCES / "paper_table1.csv")


def with_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Our numbers, the paper's, and (ours - paper) for each metric and time; NaN where the paper has no row."""
    paper = paper_table().rename(columns=lambda c: c if c in ("architecture", "method") else f"paper_{c}")
    merged = table.merge(paper, on=["architecture", "method"], how="left")
    for m in TABLE_METRICS + ("time_gpu_s", "time_cpu_s"):
        merged[f"delta_{m}"] = merged[m] - merged[f"paper_{m}"]
    return merged


def _fmt(v, ci=None, digits=2) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    s = f"{v:.{digits}f}"
    return s + (f" ± {ci:.{digits}f}" if ci is not None and not np.isnan(ci) else "")


def to_markdown(merged: pd.DataFrame) -> str:
    heads = ["Architecture", "Protocol", "Method", "n", "Peak range"]
    heads += [f"{m} {METRICS[m].arrow}" for m in TABLE_METRICS]
    heads += ["Time GPU / CPU (s)", "Hit", "CS pass", "errors", "penalties (scaled/zeroed)"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for _, r in merged.iterrows():
        cells = [r["architecture"], r["protocol"], r["method"], str(r["n"]), r["peak_range"]]
        cells += [f"{_fmt(r[m], r[f'{m}_ci95'])} (paper {_fmt(r.get(f'paper_{m}'))})" for m in TABLE_METRICS]
        cells += [f"{_fmt(r['time_gpu_s'])} / {_fmt(r['time_cpu_s'])} (paper {_fmt(r.get('paper_time_gpu_s'))} / "
                  f"{_fmt(r.get('paper_time_cpu_s'))})",
                  _fmt(r["Hit"]), _fmt(r["CS_pass"]), str(r["errors"]),
                  f"{r['penalty_scaled']}/{r['penalty_zeroed']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_latex(merged: pd.DataFrame) -> str:
    latex_arrow = {True: r"$\uparrow$", False: r"$\downarrow$"}
    cols = ["Architecture", "Method", "Peak range"]
    cols += [f"{m} {latex_arrow[METRICS[m].higher_is_better]}" for m in TABLE_METRICS] + ["GPU (s)", "CPU (s)"]
    lines = [r"\begin{tabular}{lll" + "r" * (len(cols) - 3) + "}", r"\toprule", " & ".join(cols) + r" \\", r"\midrule"]
    for _, r in merged.iterrows():
        cells = [str(r["architecture"]), str(r["method"]), str(r["peak_range"]).replace("–", "--")]
        cells += [_fmt(r[m]) for m in TABLE_METRICS] + [_fmt(r["time_gpu_s"]), _fmt(r["time_cpu_s"])]
        lines.append(" & ".join(cells).replace("—", "--") + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def build_report(results_dir: Path, out_dir: Path | None = None) -> tuple[pd.DataFrame, dict[str, Path]]:
    rows = load_rows(results_dir)
    merged = with_paper(aggregate(rows))
    out_dir = Path(out_dir or results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "table1.md", "csv": out_dir / "table1.csv", "latex": out_dir / "table1.tex"}
    paths["markdown"].write_text(to_markdown(merged))
    merged.to_csv(paths["csv"], index=False)
    paths["latex"].write_text(to_latex(merged))
    return merged, paths


def paper_markdown() -> str:
    """The published Table I (shipped with the package), for side-by-side reading."""
    paper = paper_table()
    heads = ["Architecture", "Method", "Peak range"] + [f"{m} {METRICS[m].arrow}" for m in TABLE_METRICS]
    heads += ["Time GPU / CPU (s)"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for _, r in paper.iterrows():
        peak = r["peak_range"] if isinstance(r["peak_range"], str) else "N/A"
        cells = [r["architecture"], r["method"], peak] + [_fmt(r[m]) for m in TABLE_METRICS]
        cells.append(f"{_fmt(r['time_gpu_s'])} / {_fmt(r['time_cpu_s'])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
