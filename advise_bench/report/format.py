"""How the report writes numbers and tables: one place for every module of ``report/``.

A missing value (None, NaN) is written "—" everywhere, so a blank cell always means "nothing measured".
"""

from __future__ import annotations

import pandas as pd

MISSING = "—"


def format_number(value, digits: int = 2, signed: bool = False) -> str:
    """``value`` with ``digits`` decimals (``+`` in front of positive values when ``signed``)."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def format_mean_ci(mean, ci=None, digits: int = 2) -> str:
    """``mean ± ci`` (the CI's half-width), or the mean alone when there is no CI."""
    text = format_number(mean, digits)
    if text == MISSING or ci is None or pd.isna(ci):
        return text
    return f"{text} ± {ci:.{digits}f}"


def format_p(value) -> str:
    """A p-value: three decimals, or "< 0.001"."""
    if value is None or pd.isna(value):
        return MISSING
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def markdown_table(heads: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of one Markdown table: header, rule, one line per row of cells."""
    return ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)] + ["| " + " | ".join(r) + " |" for r in rows]


def format_difference_ci(difference, low, high, digits: int = 3) -> str:
    """A signed difference with its CI: ``+0.012 [-0.002, +0.026]``."""
    return (f"{format_number(difference, digits, True)} "
            f"[{format_number(low, digits, True)}, {format_number(high, digits, True)}]")
