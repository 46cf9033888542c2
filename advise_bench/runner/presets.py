"""Run presets (``configs/*.toml``): defaults for a model's run, overridden by explicit CLI options."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from pathlib import Path

from ..errors import UserError
from ..paths import SHARED_TOKEN, shared_dir


def load_preset(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--config {path}: no such file")
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"--config {path}: invalid TOML ({exc})") from None
    run = doc.get("run", doc)
    # ${SHARED} lets presets point at the shared assets wherever ADVISE_BENCH_SHARED puts them.
    return {k: v.replace(SHARED_TOKEN, str(shared_dir())) if isinstance(v, str) else v for k, v in run.items()}


def apply_preset(cfg, path: Path, explicit: set[str]):
    preset = load_preset(path)
    known = {f.name for f in fields(cfg)}
    unknown = set(preset) - known
    if unknown:
        raise UserError(f"--config {path}: unknown keys {', '.join(sorted(unknown))}")
    updates = {k: (tuple(v) if isinstance(v, list) else v) for k, v in preset.items() if k not in explicit}
    return replace(cfg, **updates)


def explicit_options(ctx) -> set[str]:
    """Options given on the command line of a Typer/Click command (they win over a preset), as Click
    records them. The enum is compared by name: Typer vendors its own Click, so the class is not
    importable from a stable place."""
    return {name for name in ctx.params if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"}
