"""``run.json``: what produced a results folder (versions, device, configuration, seed, commit)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from ..paths import REPO_ROOT, portable_path

PACKAGES = ("advise-bench", "tensorflow", "jax", "jaxlib", "torch", "keras", "numpy", "scipy", "scikit-image",
            "lime", "pandas")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except Exception:
        return "unknown"


def _read(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def earlier_sessions(path: Path) -> list[dict]:
    """What an existing manifest says about the sessions that wrote the folder's rows before this one."""
    old = _read(path)
    if old is None:
        return []
    return [*old.get("earlier_sessions", []),
            {k: old.get(k) for k in ("created", "git_commit", "versions", "config")}]


def recorded_config(path: Path) -> dict:
    """The configuration an existing manifest records ({} when there is none or it cannot be read)."""
    old = _read(path)
    return old.get("config", {}) if isinstance(old, dict) else {}


def as_recorded(config) -> dict:
    """``config`` as :func:`write_manifest` records it (JSON values, shared paths portable), to compare with
    :func:`recorded_config`."""
    cfg = asdict(config) if is_dataclass(config) else dict(config)
    return json.loads(portable_path(json.dumps(cfg, default=str)))


def changed_settings(recorded: dict, config: dict, keys) -> list[str]:
    """The ``keys`` that ``recorded`` (a folder's manifest) has with another value than ``config``: a resume
    with them would mix rows of two experiments in one folder. Keys either side lacks are not compared."""
    return [k for k in keys if k in recorded and k in config and recorded[k] != config[k]]


def write_manifest(path: Path, config, **extra) -> None:
    """Write ``run.json``. A resumed run keeps the earlier sessions' commit, versions and settings under
    ``earlier_sessions``, since their rows stay in the folder."""
    cfg = asdict(config) if is_dataclass(config) else dict(config)
    doc = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "versions": package_versions(),
        "config": cfg,
        **extra,
        "earlier_sessions": earlier_sessions(path),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # Paths into the shared folder are written shared-relative, like the rows' ``file``.
    tmp.write_text(portable_path(json.dumps(doc, indent=2, default=str)))
    tmp.replace(path)
