"""What a method name in a results file is: a real explainer, a reference map (chance and probes) or a method's
shuffled control, and how tables name and order it. A bottom-layer module (it imports nothing of the package at
import time), so the runner and the report agree on names without loading the explainers.

* :data:`BUILTIN` is the one home of the built-in methods' Table I names and families, in the paper's order; the
  explainer classes take theirs from it when they register (``explainers/registry.py``).

* Reference maps (``explainers/reference.py``) know nothing of the image (``random``, ``centre``) or are built to
  game the metrics (``keep-all``); they give every table its chance level.
* ``<method>-shuffled`` is the method's own map with its cells permuted on the explained layer's grid
  (``explainers/controls.py``): the same values and kept area, placed at random.
"""

from __future__ import annotations

import functools
import sys

REFERENCE_MAPS = ("random", "centre", "keep-all")
REFERENCE_FAMILY = "reference"
SHUFFLED_SUFFIX = "-shuffled"
ADVISE = "advise"  # the method the paper proposes: the report compares every other method with it
CHANCE = "random"  # the map every method's skill over chance is measured against
PROBE = "keep-all"  # the map built to game the metrics
KINDS = ("method", "reference", "shuffled")
ENTRY_POINT_GROUP = "advise_bench.explainers"
CAM_GROUPS_SELECTION = "oracle-avx"  # how a grouped CAM control picks its map (explainers/base.py), named here for tables  # where installed plugins declare their methods

# name -> (Table I's name, family), the paper's six in its Table I order, then the reference maps.
BUILTIN: dict[str, tuple[str, str]] = {
    "advise": ("ADVISE", "cam"),
    "gradcam": ("Grad-CAM", "cam"),
    "gradcam++": ("Grad-CAM++", "cam"),
    "scorecam": ("Score-CAM", "cam"),
    "layercam": ("Layer-CAM", "cam"),
    "lime": ("LIME", "perturbation"),
    "random": ("Random", REFERENCE_FAMILY),
    "centre": ("Centre", REFERENCE_FAMILY),
    "keep-all": ("Keep-all (probe)", REFERENCE_FAMILY),
}


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


def display_name(method: str) -> str:
    """Table I's name of a method (``gradcam++`` -> ``Grad-CAM++``; a shuffled control ``Grad-CAM (shuffled)``).
    A plugin's own display name needs its class: only then is the registry imported (an installed entry point is
    looked up quietly); any other name passes through."""
    base = shuffled_of(method)
    if base is not None:
        return f"{display_name(base)} (shuffled)"
    if method in BUILTIN:
        return BUILTIN[method][0]
    registry = sys.modules.get("advise_bench.explainers.registry")  # plugins this process has looked up
    if registry is not None and method in registry.PLUGINS:
        return registry.PLUGINS[method].display_name
    return _installed_display_name(str(method))


def installed_entry_points(name: str | None = None) -> list:
    """The installed plugins' entry points of :data:`ENTRY_POINT_GROUP` (``name``'s only, if given); metadata
    only: nothing is imported."""
    from importlib.metadata import entry_points

    return [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if name is None or ep.name == name]


@functools.cache
def _installed_display_name(name: str) -> str:
    """An installed plugin's display name, from its class (loaded quietly); any other name as it is (scored maps,
    a name in an old results file, a plugin that cannot be imported)."""
    found = installed_entry_points(name)  # metadata first: nothing is imported for other names
    if ":" in name or not found:
        return name
    try:
        shown = getattr(found[0].load(), "display_name", None)
    except Exception:  # a plugin's import may fail in any way; the report still shows the name
        return name
    return shown if isinstance(shown, str) else name


def method_order(display_names) -> list:
    """Display names in Table I's order (ADVISE first, then the paper's baselines), then any other name (the
    reference maps included: tables place them in a block of their own) alphabetically."""
    rank = {shown: i for i, (shown, family) in enumerate(BUILTIN.values()) if family != REFERENCE_FAMILY}
    return sorted(dict.fromkeys(display_names), key=lambda m: (rank.get(m, len(rank)), str(m)))
