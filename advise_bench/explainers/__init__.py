"""Explainers, one registry: ``get_explainer(name, model, **options)(images, targets) -> maps``; the built-in six,
and methods from outside the package (an entry point, or ``package.module:ClassName``)."""

from ..method_kinds import ENTRY_POINT_GROUP, display_name
from . import advise, cam, lime, reference, scorecam  # noqa: F401  (import registers the methods)
from .base import CAMExplainer, Explainer
from .explanation import Explanation, Selection, rescale01
from .registry import (
    EXPLAINERS,
    PLUGINS,
    check_methods,
    explainer_from_config,
    explainer_names,
    get_explainer,
    list_methods,
    method_class,
    method_names,
    method_source,
    with_reference_maps,
)

METHOD_NAMES = explainer_names()  # the six explainers; the reference maps are listed by `methods` too

__all__ = ["ENTRY_POINT_GROUP", "EXPLAINERS", "METHOD_NAMES", "PLUGINS", "CAMExplainer", "Explainer", "Explanation",
           "Selection", "check_methods", "display_name", "explainer_from_config", "explainer_names", "get_explainer",
           "list_methods", "method_class", "method_names", "method_source", "rescale01", "with_reference_maps"]
