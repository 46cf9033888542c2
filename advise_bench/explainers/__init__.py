"""Explainers, one registry: ``get_explainer(name, model, **options)(images, targets) -> maps``."""

from . import advise, cam, lime  # noqa: F401  (import registers the methods)
from .base import EXPLAINERS, Explainer, get_explainer

METHOD_NAMES = tuple(EXPLAINERS)

__all__ = ["EXPLAINERS", "METHOD_NAMES", "Explainer", "get_explainer"]
