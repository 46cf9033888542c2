"""Explainers, one registry: ``get_explainer(name, model, **options)(images, targets) -> maps``."""

from . import advise, cam, lime, scorecam  # noqa: F401  (import registers the methods)
from .base import (
    EXPLAINERS,
    Explainer,
    Explanation,
    Selection,
    check_methods,
    display_name,
    explainer_from_config,
    get_explainer,
)

METHOD_NAMES = tuple(EXPLAINERS)

__all__ = ["EXPLAINERS", "METHOD_NAMES", "Explainer", "Explanation", "Selection", "check_methods", "display_name",
           "explainer_from_config", "get_explainer"]
