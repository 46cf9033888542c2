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


def earlier_sessions(path: Path) -> list[dict]:
    """What an existing manifest says about the sessions that wrote the folder's rows before this one."""
    try:
        old = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    return [*old.get("earlier_sessions", []),
            {k: old.get(k) for k in ("created", "git_commit", "versions", "config")}]


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
