"""``advise-bench report``: the report composed from its pieces, and the files written.

The pieces stand below this module and never import it or each other upwards: ``table`` (Table I),
``compare`` (paired comparisons with ADVISE, ranks), ``controls`` (ADVISE control runs), ``figure``
(``report.png``), on top of ``stats`` and ``format``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .compare import compare_with_advise, comparisons_markdown, rank_methods, ranks_markdown, verdict_lines
from .controls import compare_controls, controls_markdown, load_controls
from .fingerprints import fingerprint_note
from .table import aggregate, load_rows, paper_markdown, table_lines, to_latex, to_markdown, with_paper


def build_report(
    results_dir: Path, out_dir: Path | None = None, plot: bool = False, paper: bool = False, controls=(),
    **stats_options
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Write Table I (``table1.{md,csv,tex}``), the paired comparisons and ranks (``comparisons.csv``,
    ``ranks.csv``, ``rank_tests.csv``), the whole Markdown report (``report.md``) and, with ``plot``,
    ``report.png``. ``paper`` appends the published Table I to ``report.md``. ``controls``: folders of
    ADVISE-only control runs, compared in ``controls.csv`` (see ``controls.py``)."""
    rows = load_rows(results_dir)
    control_rows = load_controls(controls)  # before the statistics: a bad control folder fails at once
    merged = with_paper(aggregate(rows))
    comparisons = compare_with_advise(rows, **stats_options)
    ranks, rank_tests = rank_methods(rows, merged)
    out_dir = Path(out_dir or results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "table1.md", "csv": out_dir / "table1.csv", "latex": out_dir / "table1.tex",
             "comparisons": out_dir / "comparisons.csv", "ranks": out_dir / "ranks.csv",
             "rank_tests": out_dir / "rank_tests.csv", "report": out_dir / "report.md"}
    table_md = to_markdown(merged)
    paths["markdown"].write_text(table_md)
    merged.to_csv(paths["csv"], index=False)
    paths["latex"].write_text(to_latex(merged))
    comparisons.to_csv(paths["comparisons"], index=False)
    ranks.to_csv(paths["ranks"], index=False)
    rank_tests.to_csv(paths["rank_tests"], index=False)
    sections = ["# Table I\n", table_md, comparisons_markdown(comparisons, rows), ranks_markdown(ranks, rank_tests)]
    merged.attrs["fingerprint_note"] = note = fingerprint_note(rows, control_rows)
    if note:
        sections.insert(1, f"> {note}\n")
    if control_rows:
        paths["controls"] = out_dir / "controls.csv"
        control_table = compare_controls(rows, control_rows, **stats_options)
        control_table.to_csv(paths["controls"], index=False)
        sections.append(controls_markdown(control_table))
    if plot:
        from .figure import plot_report  # matplotlib only when asked for

        paths["plot"] = plot_report(merged, out_dir / "report.png", control_rows)
        sections.append(f"## Figure\n\n![mean ± 95% CI per method]({paths['plot'].name})\n")
    if paper:
        sections.append("## The paper's Table I\n\n" + paper_markdown())
    paths["report"].write_text("\n".join(sections))
    return merged, paths


def terminal_summary(merged: pd.DataFrame, paths: dict[str, Path]) -> str:
    """What ``report`` prints: Table I, one line per baseline with ADVISE's AVX verdict and its CI, and the
    files written. The notes and the full statistics are in ``report.md`` (``report --verbose`` prints it)."""
    comparisons = pd.read_csv(paths["comparisons"])
    lines = ["Table I", "", *table_lines(merged), "", *verdict_lines(comparisons), "",
             *([merged.attrs["fingerprint_note"], ""] if merged.attrs.get("fingerprint_note") else []),
             f"Notes, every comparison and the ranks: {paths['report']}",
             "written: " + ", ".join(str(p) for p in paths.values())]
    return "\n".join(lines)
