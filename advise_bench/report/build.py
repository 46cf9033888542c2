"""``advise-bench report``: the report composed from its pieces, and the files written.

The pieces stand below this module and never import it or each other upwards: ``table`` (Table I),
``compare`` (paired comparisons with ADVISE, ranks), ``controls`` (ADVISE control runs), ``figure``
(``report.png``), on top of ``stats`` and ``format``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..runner.results import load_rows
from .chance import chance_comparisons, chance_markdown, has_chance_rows, metric_validity, validity_markdown
from .compare import compare_with_advise, comparisons_markdown, rank_methods, ranks_markdown
from .controls import compare_controls, controls_markdown, load_controls
from .fingerprints import fingerprint_note
from .table import aggregate, paper_markdown, table1_rows, to_latex, to_markdown, with_paper


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
    everything = with_paper(aggregate(rows))
    merged = table1_rows(everything)
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
    sections = ["# Table I\n", table_md]
    merged.attrs["fingerprint_note"] = note = fingerprint_note(rows, control_rows)
    if note:
        sections.insert(1, f"> {note}\n")
    if has_chance_rows(rows):
        chance = chance_comparisons(rows, **stats_options)
        validity = metric_validity(rows, chance, **stats_options)
        paths["chance"], paths["validity"] = out_dir / "chance.csv", out_dir / "validity.csv"
        chance.to_csv(paths["chance"], index=False)
        validity.to_csv(paths["validity"], index=False)
        sections += [validity_markdown(validity), chance_markdown(chance)]
    sections += [comparisons_markdown(comparisons, rows), ranks_markdown(ranks, rank_tests)]
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


def terminal_summary(merged: pd.DataFrame, paths: dict[str, Path], **options) -> str:
    """What ``report`` prints (``terminal.render``: a Table I that fits 100 columns with its block of reference
    maps, ADVISE's AVX verdicts, one line per metric with its validity verdict, the files written; ``wide``,
    ``paper``, ``color``, ``width``), after the warning when the rows come from more than one numerics
    fingerprint. The notes and the full statistics are in ``report.md`` (``report --verbose`` prints it)."""
    from .terminal import render

    validity = pd.read_csv(paths["validity"]) if "validity" in paths else None
    text = render(merged, pd.read_csv(paths["comparisons"]), paths, validity=validity, **options)
    note = merged.attrs.get("fingerprint_note")
    return f"{note}\n\n{text}" if note else text
