"""Where the optional shared assets (real weights, the ILSVRC subset, the paper) live.

The project never copies those assets; it finds them through ``ADVISE_BENCH_SHARED``
(default: ``../shared`` next to the repository checkout).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SHARED_ENV = "ADVISE_BENCH_SHARED"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = Path(__file__).resolve().parent / "resources"


def shared_dir() -> Path:
    """The shared-assets folder: ``$ADVISE_BENCH_SHARED`` or ``<repo>/../shared``. May not exist."""
    env = os.environ.get(SHARED_ENV)
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared").resolve()


def shared_path(*parts: str) -> Path | None:
    """A path inside the shared folder, or None when it does not exist."""
    p = shared_dir().joinpath(*parts)
    return p if p.exists() else None


SHARED_TOKEN = "${SHARED}"


def portable_path(text) -> str:
    """A path (or a text naming paths) as results record it: the shared folder is written ``${SHARED}``
    (what presets expand), so committed results name no machine's folders and resolve wherever it is."""
    root = re.escape(str(shared_dir()))
    return re.sub(root + r"(?=[/\\\s\"']|$)", lambda _: SHARED_TOKEN, str(text))
