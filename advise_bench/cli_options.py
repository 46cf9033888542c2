"""Typer options shared by several commands (``cli.py`` and ``analysis/commands.py``), declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from .backend import BACKENDS, choose


def _choose_backend(value: str | None) -> str | None:
    """Runs while the options are parsed, before any command imports Keras."""
    choose(value)
    return value


# --backend must take effect before Keras is imported: an eager callback does it during parsing.
BackendOption = Annotated[str | None, typer.Option(
    "--backend", callback=_choose_backend, is_eager=True,
    help=f"Keras backend: {' | '.join(BACKENDS)} (default: $KERAS_BACKEND, else tensorflow)")]
