"""What a method name in a results file is: a real explainer, a reference map (chance and probes) or a method's
shuffled control. A bottom-layer module (it imports nothing of the package), so the runner and the report agree on
names without loading the explainers.

* Reference maps (``explainers/reference.py``) know nothing of the image (``random``, ``centre``) or are built to
  game the metrics (``keep-all``); they give every table its chance level.
* ``<method>-shuffled`` is the method's own map with its cells permuted on the explained layer's grid
  (``explainers/controls.py``): the same values and kept area, placed at random.
"""

from __future__ import annotations

REFERENCE_MAPS = ("random", "centre", "keep-all")
REFERENCE_FAMILY = "reference"
SHUFFLED_SUFFIX = "-shuffled"
CHANCE = "random"  # the map every method's skill over chance is measured against
PROBE = "keep-all"  # the map built to game the metrics
KINDS = ("method", "reference", "shuffled")


def shuffled_name(method: str) -> str:
    """The rows' method name of ``method``'s shuffled control."""
    return f"{method}{SHUFFLED_SUFFIX}"


def shuffled_of(name: str) -> str | None:
    """The method a shuffled control's name belongs to (None for any other name)."""
    return name[: -len(SHUFFLED_SUFFIX)] if str(name).endswith(SHUFFLED_SUFFIX) and len(name) > len(SHUFFLED_SUFFIX) else None


def method_kind(name: str) -> str:
    """``reference`` for a reference map, ``shuffled`` for a shuffled control, else ``method``."""
    if name in REFERENCE_MAPS:
        return "reference"
    return "shuffled" if shuffled_of(name) else "method"
