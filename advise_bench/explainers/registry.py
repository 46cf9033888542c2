"""The methods by name: the built-in ones (registered when their modules are imported) and methods from
outside the package, looked up when asked for: an installed entry point of the group
:data:`ENTRY_POINT_GROUP`, or ``-m package.module:ClassName``. An installed plugin that cannot be imported
only matters to a command that asks for it; built-in names always win."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

from ..errors import UserError, one_line
from ..method_kinds import BUILTIN, REFERENCE_FAMILY, REFERENCE_MAPS, installed_entry_points
from ..models.zoo import LoadedModel
from .base import Explainer

EXPLAINERS: dict[str, type[Explainer]] = {}  # the built-in methods, by name
PLUGINS: dict[str, type[Explainer]] = {}  # methods from outside the package looked up so far, by name
PLUGIN_SOURCES: dict[str, str] = {}  # where each of PLUGINS came from: "entry point ..." or "module ..."
# A method's name becomes a file name (<method>.csv) and a CSV value.
METHOD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def register(cls):
    """Class decorator: make a built-in method reachable by name (CLI choices come from this registry). Its Table
    I name and family come from ``method_kinds.BUILTIN``, their one home (the report reads them there)."""
    if cls.name not in BUILTIN:
        raise TypeError(f"built-in method {cls.name!r}: add its display name and family to method_kinds.BUILTIN")
    cls.display_name, cls.family = BUILTIN[cls.name]
    EXPLAINERS[cls.name] = cls
    return cls


def _entry_point_source(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"entry point {ep.value}" + (f" ({dist.name} {dist.version})" if dist is not None else "")


def _adopt(obj, source: str, default_name: str, entry_point: str | None = None) -> type[Explainer]:
    """Check a class from outside the package and register it in PLUGINS under its name."""
    if not (isinstance(obj, type) and issubclass(obj, Explainer)):
        what = f"class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise UserError(f"{source}: {what}, not a subclass of advise_bench.explainers.Explainer")
    if obj in EXPLAINERS.values():  # a built-in class named by its module path: nothing to adopt
        return obj
    if inspect.isabstract(obj):
        raise UserError(f"{source}: {obj.__name__} does not implement {', '.join(sorted(obj.__abstractmethods__))}")
    name = getattr(obj, "name", None) or default_name
    if not isinstance(name, str) or not METHOD_NAME.fullmatch(name):
        raise UserError(f"{source}: method name {name!r} must be letters, digits and _.+- only")
    if entry_point is not None and name != entry_point:
        raise UserError(f"{source}: the entry point is named {entry_point!r} but its class's name is {name!r}; "
                        "make them the same")
    if name in EXPLAINERS:
        builtin = EXPLAINERS[name]
        raise UserError(f"{source}: method name {name!r} clashes with the built-in {name!r} "
                        f"({builtin.__module__}.{builtin.__qualname__}); rename the plugin's method")
    if PLUGINS.get(name, obj) is not obj:
        raise UserError(f"{source}: method name {name!r} clashes with {name!r} from {PLUGIN_SOURCES[name]}")
    options = getattr(obj, "config_options", {})
    if not (isinstance(options, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in options.items())):
        raise UserError(f"{source}: config_options must map run options to keyword names, e.g. {{'seed': 'seed'}}")
    obj.name = name
    if not isinstance(getattr(obj, "display_name", None), str):
        obj.display_name = name
    PLUGINS[name], PLUGIN_SOURCES[name] = obj, source
    return obj


def _load_entry_point(name: str) -> type[Explainer]:
    found = installed_entry_points(name)
    if len({ep.value for ep in found}) > 1:
        raise UserError(f"method {name!r} is claimed by {len(found)} installed entry points: "
                        + "; ".join(_entry_point_source(ep) for ep in found))
    source = _entry_point_source(found[0])
    try:
        obj = found[0].load()
    except Exception as exc:  # a plugin's import may fail in any way; the user gets the cause in one line
        raise UserError(f"method {name!r} ({source}) cannot be imported: {one_line(exc)}") from None
    return _adopt(obj, source, name, entry_point=name)


def _load_spec(spec: str) -> type[Explainer]:
    """``package.module:ClassName``, imported as ``python -m`` would from the current folder."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr.isidentifier():
        raise UserError(f"method {spec!r}: expected a name or package.module:ClassName")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # as above: any failure of the user's module is one line
        raise UserError(f"method {spec!r}: cannot import {module_name}: {one_line(exc)}") from None
    if not hasattr(module, attr):
        raise UserError(f"method {spec!r}: module {module_name} has no {attr}")
    return _adopt(getattr(module, attr), f"module {spec}", attr.lower())


def method_class(method: str) -> type[Explainer]:
    """The class of a method given by name (built-in, or an installed entry point) or as package.module:Class."""
    if method in EXPLAINERS:
        return EXPLAINERS[method]
    if method in PLUGINS:
        return PLUGINS[method]
    if ":" in method:
        return _load_spec(method)
    if installed_entry_points(method):
        return _load_entry_point(method)
    raise UserError(f"unknown method {method!r}; {_choices()}")


def method_names() -> tuple[str, ...]:
    """Every name ``-m`` knows now: the built-in methods, plugins looked up so far and installed entry points
    (their metadata only: nothing is imported)."""
    return tuple(dict.fromkeys([*EXPLAINERS, *PLUGINS, *(ep.name for ep in installed_entry_points())]))


def _choices() -> str:
    return f"choose from {', '.join(method_names())}, or give package.module:ClassName"


def check_methods(methods: Iterable[str] | None) -> tuple[str, ...]:
    """Method names from the user (repeated options or comma lists), as the methods' own names; the built-in
    methods when none are given. A plugin given as package.module:ClassName is looked up here, once."""
    names = tuple(m.strip() for item in (methods or ()) for m in str(item).split(",") if m.strip())
    if not names:
        return explainer_names()
    unknown = [m for m in dict.fromkeys(names)
               if ":" not in m and m not in EXPLAINERS and m not in PLUGINS and not installed_entry_points(m)]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; {_choices()}")
    return tuple(dict.fromkeys(method_class(m).name for m in names))


def explainer_names() -> tuple[str, ...]:
    """The built-in explainers, without the reference maps (chance and probes), which a run adds on its own."""
    return tuple(name for name, cls in EXPLAINERS.items() if getattr(cls, "family", "") != REFERENCE_FAMILY)


def with_reference_maps(methods: Iterable[str], add: bool = True) -> tuple[str, ...]:
    """``methods`` followed by the reference maps not already among them (none when ``add`` is False)."""
    methods = tuple(methods)
    return methods + tuple(m for m in REFERENCE_MAPS if add and m not in methods)


def method_source(method: str) -> str:
    """Where a method comes from: ``built-in``, or the entry point or module it was loaded from."""
    return "built-in" if method in EXPLAINERS else PLUGIN_SOURCES.get(method, "unknown")


def list_methods() -> list[dict]:
    """Every built-in method and every installed entry point: name, display name, where it comes from, the
    run options it reads; an entry point that cannot be used has ``error`` instead (the others still list)."""
    rows = [{"name": name, "display_name": cls.display_name, "family": getattr(cls, "family", ""),
             "source": f"built-in ({cls.__module__})", "options": tuple(cls.config_options)}
            for name, cls in sorted(EXPLAINERS.items(), key=lambda kv: kv[0] in REFERENCE_MAPS)]
    for name in dict.fromkeys(ep.name for ep in installed_entry_points()):
        try:
            cls = _load_entry_point(name) if name not in PLUGINS else PLUGINS[name]
        except UserError as exc:
            rows.append({"name": name, "display_name": "", "source": "; ".join(
                _entry_point_source(ep) for ep in installed_entry_points(name)), "options": (), "error": str(exc)})
            continue
        rows.append({"name": name, "display_name": cls.display_name, "family": getattr(cls, "family", "plugin"),
                     "source": PLUGIN_SOURCES[name],
                     "options": tuple(cls.config_options)})
    return rows


def get_explainer(name: str, model: LoadedModel, **options) -> Explainer:
    return method_class(name)(model, **options)


def explainer_from_config(name: str, model: LoadedModel, config: Any) -> Explainer:
    """Build a method from a run configuration: each class names the config fields it reads
    (:attr:`Explainer.config_options`), so a caller never needs to know which method takes what."""
    cls = method_class(name)
    missing = [attr for attr in cls.config_options if not hasattr(config, attr)]
    if missing:
        raise UserError(f"method {name!r}: config_options names {', '.join(missing)}, which the run has not "
                        "(choose among the fields of advise_bench.config.RunConfig)")
    return cls(model, **{kw: getattr(config, attr) for attr, kw in cls.config_options.items()})
