"""What ``report`` prints on the terminal: Table I narrow enough for a 100-column terminal, ADVISE's AVX verdicts,
the paper's rows on request, and where the files are.

One table per model x protocol (its heading names them), with Method, n, AD, SSIM, FSIM, MSE, AVX (mean ± the
95% CI half-width), time, Hit and CS pass; ``wide`` gives every column of ``table1.md`` instead. Rendered with
rich (Typer ships it): coloured on a terminal, plain text for pipes and files. The files (``table1.md``,
``report.md``) keep the full Markdown tables and notes.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pandas as pd
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..columns import TABLE_METRICS
from ..metrics.core import METRICS
from .chance import metric_info
from .format import MISSING, format_difference_ci, format_number, format_p
from .paper import paper_architecture, paper_architectures, paper_table
from .table import (
    CHANCE_BLOCK,
    UNTRAINED_NOTE,
    table_lines,
)

WIDTH = 100  # the narrow summary fits a terminal this wide
BLOCK = ["architecture", "protocol"]


def _mean_ci(mean, ci) -> str:
    """``0.34±0.01``: the narrow table's cell (the files write ``0.34 ± 0.01``)."""
    text = format_number(mean)
    return text if text == MISSING or ci is None or pd.isna(ci) else f"{text}±{ci:.2f}"


def _time(r) -> str:
    if r["n"] > 0 and pd.isna(r.get("time_gpu_s")) and pd.isna(r.get("time_cpu_s")):
        return "n/m"  # maps scored with `score`: not measured
    value = r.get("time_gpu_s") if pd.notna(r.get("time_gpu_s")) else r.get("time_cpu_s")
    return format_number(value)


def _table(heads: list[str], rows: list[list[str]], right_from: int = 1) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0, 0, 1), header_style="bold")
    for i, head in enumerate(heads):
        table.add_column(head, justify="right" if i >= right_from else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _device_of_times(block: pd.DataFrame) -> str:
    gpu = block.get("time_gpu_s", pd.Series(dtype=float)).notna().any()
    cpu = block.get("time_cpu_s", pd.Series(dtype=float)).notna().any()
    return "GPU, else CPU" if gpu and cpu else "GPU" if gpu else "CPU"


def narrow_block(block: pd.DataFrame) -> Table:
    """One model x protocol: Method, n, the five metrics, time, Hit, CS pass; the reference maps in a section of
    their own under the methods (chance and probes)."""
    heads = ["Method", "n"] + [f"{m} {METRICS[m].arrow}" for m in TABLE_METRICS] + ["time s", "Hit", "CS pass"]
    table = _table(heads, [], right_from=1)
    previous = "method"
    for _, r in block.iterrows():
        kind = r.get("kind", "method")
        if kind == "reference" and previous != "reference":
            table.add_section()
            table.add_row(Text(CHANCE_BLOCK, style="italic"), *[""] * (len(heads) - 1))
        previous = kind
        table.add_row(*[str(r["method"]), str(r["n"])] + [_mean_ci(r[m], r.get(f"{m}_ci95")) for m in TABLE_METRICS]
                      + [_time(r), format_number(r.get("Hit")), format_number(r.get("CS_pass"))])
    return table


def validity_table(validity: pd.DataFrame | None, architecture: str, protocol: str) -> Table | None:
    """One line per metric: can it tell an explanation from noise (random), and can a probe game it (keep-all)?"""
    if validity is None or validity.empty:
        return None
    rows = validity[(validity["model"] == architecture) & (validity["protocol"] == protocol)]
    if rows.empty:
        return None
    cells = [[f"{r['metric']} {metric_info(r['metric']).arrow}", str(r["verdict"]),
              format_number(r.get("random_mean"), 3), format_number(r.get("keep-all_mean"), 3),
              format_number(r.get("best_mean"), 3)] for _, r in rows.iterrows()]
    return _table(["Metric", "Validity (chance: random; probe: keep-all)", "random", "keep-all", "best method"],
                  cells, right_from=2)


def wide_table(merged: pd.DataFrame) -> Table:
    """Every column of ``table1.md`` (its Markdown rows as cells)."""
    lines = table_lines(merged)
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if not line.startswith("|---")]
    return _table(cells[0], cells[1:], right_from=3)


def verdict_table(comparisons: pd.DataFrame, architecture: str, protocol: str, metric: str = "AVX") -> Table | None:
    rows = comparisons[(comparisons["model"] == architecture) & (comparisons["protocol"] == protocol)
                       & (comparisons["metric"] == metric)]
    if rows.empty:
        return None
    cells = [[str(r["baseline"]), str(r["verdict"]), format_difference_ci(r["mean_diff"], r["ci_low"], r["ci_high"]),
              format_p(r["holm_p"]), str(r["n_pairs"])] for _, r in rows.iterrows()]
    return _table(["Baseline", f"Does ADVISE beat it on {metric} {METRICS[metric].arrow}?", "ADVISE − it (95% CI)",
                   "Holm p", "n"], cells, right_from=2)


def paper_rows(architectures: set[str] | None = None) -> Table:
    """The published Table I rows of ``architectures`` (all when None or when the paper has none of them)."""
    paper = paper_table()
    if architectures and paper["architecture"].isin(architectures).any():
        paper = paper[paper["architecture"].isin(architectures)]
    heads = ["Architecture", "Method", "Peak range"] + [f"{m} {METRICS[m].arrow}" for m in TABLE_METRICS]
    heads += ["GPU s", "CPU s"]
    rows = [[r["architecture"], r["method"], r["peak_range"] if isinstance(r["peak_range"], str) else "N/A"]
            + [format_number(r[m]) for m in TABLE_METRICS]
            + [format_number(r["time_gpu_s"]), format_number(r["time_cpu_s"])] for _, r in paper.iterrows()]
    return _table(heads, rows, right_from=3)


def paper_line(architecture: str, paper: bool) -> str:
    """One line on whether the paper has a row for this model."""
    reported = sorted(paper_architectures())
    name = paper_architecture(architecture)
    if name not in reported:
        return f"The paper has no row for {name} (it reports {', '.join(reported)})."
    return (f"The paper's {name} rows: below." if paper else
            f"The paper reports {name}: its values are beside ours in table1.md; `report --paper` prints its rows.")


def renderables(merged: pd.DataFrame, comparisons: pd.DataFrame, paths: dict[str, Path], wide: bool = False,
                paper: bool = False, validity: pd.DataFrame | None = None) -> list:
    out: list = []
    if wide:
        out += [Text("Table I (every column; mean ± 95% CI half-width)", style="bold"), wide_table(merged)]
    for (architecture, protocol), block in merged.groupby(BLOCK, sort=True):
        untrained = "note" in block and block["note"].eq(UNTRAINED_NOTE).any()
        if not wide:
            out += [Text(f"{architecture}{f' ({UNTRAINED_NOTE})' if untrained else ''} · {protocol} protocol",
                         style="bold"),
                    Text(f"n = images scored; mean±95% CI half-width; time: s per image, {_device_of_times(block)}",
                         style="dim"),
                    narrow_block(block)]
        verdicts = verdict_table(comparisons, architecture, protocol)
        if verdicts is not None:
            out += [Text(""), verdicts] if not wide else [Text(f"{architecture} · {protocol}", style="bold"), verdicts]
        checks = validity_table(validity, architecture, protocol)
        if checks is not None:
            out += [Text(""), checks]
        out.append(Text("Untrained weights (--weights random): only the times mean anything; never set beside the "
                        "paper's." if untrained else paper_line(architecture, paper)))
        out.append(Text(""))
    if paper:
        shown = {paper_architecture(a) for a in merged["architecture"]} & paper_architectures()
        out += [Text("The paper's Table I" + ("" if shown else " (every architecture)"), style="bold"),
                paper_rows(shown or None), Text("")]
    out.append(Text(f"Notes, every comparison and the ranks: {paths['report']}"))
    if "plot" in paths:
        out.append(Text(f"Figure: {paths['plot']}"))
    folders = {p.parent for p in paths.values()}
    names = ", ".join(p.name if len(folders) == 1 else str(p) for p in paths.values())
    where = f"Written in {next(iter(folders))}: " if len(folders) == 1 else "Written: "
    out += [Text(line) for line in textwrap.wrap(where + names, WIDTH, subsequent_indent="  ", break_long_words=False,
                                                 break_on_hyphens=False)]
    return out


def render(merged: pd.DataFrame, comparisons: pd.DataFrame, paths: dict[str, Path], wide: bool = False,
           paper: bool = False, color: bool = False, width: int | None = None,
           validity: pd.DataFrame | None = None) -> str:
    """The summary as text: with ``color`` for a terminal ``width`` columns wide, else plain (pipes, files), each
    table at its natural width."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, color_system="standard" if color else None,
                      width=width if color and width else 10_000, highlight=False, emoji=False)
    console.print(Group(*renderables(merged, comparisons, paths, wide=wide, paper=paper, validity=validity)))
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())

