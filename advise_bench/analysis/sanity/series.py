"""The series of the check: every method once, ADVISE once per selection that picks its map."""

from __future__ import annotations

import dataclasses

from ...errors import UserError

ADVISE = "advise"


@dataclasses.dataclass(frozen=True)
class Series:
    """One curve of the check: a method, and for ADVISE the selection that picks its map."""

    method: str
    selection: str = ""

    @property
    def label(self) -> str:
        return f"{self.method} ({self.selection})" if self.selection else self.method


def sanity_series(methods, advise_selections=()) -> list[Series]:
    """Every method once; ADVISE once per selection (default: its configured one, given by the caller)."""
    from ...explainers.advise import get_selection

    selections = list(dict.fromkeys(advise_selections))
    for name in selections:
        get_selection(name)  # unknown names: one line, exit 2
    out = []
    for m in methods:
        if m == ADVISE:
            if not selections:
                raise UserError("sanity check: ADVISE needs at least one selection")
            out += [Series(m, s) for s in selections]
        else:
            out.append(Series(m))
    return out


def parse_selections(text: str) -> tuple[str, ...]:
    """``"max-peaks,oracle-avx"`` -> ("max-peaks", "oracle-avx"), each checked."""
    from ...explainers.advise import get_selection

    names = tuple(dict.fromkeys(s.strip() for s in str(text).split(",") if s.strip()))
    if not names:
        raise UserError(f"--advise-selection {text!r}: no selection given")
    for name in names:
        get_selection(name)
    return names


def series_sort_key(method: str, selection: str):
    """Series in the registry's method order, unknown methods last, then by name and selection."""
    from ...explainers import EXPLAINERS

    known = list(EXPLAINERS)
    return (known.index(method) if method in known else len(known), method, selection)
