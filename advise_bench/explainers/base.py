"""One interface for every method, batched and multi-target.

* ``explainer(images, targets) -> maps``: ``images`` are RGB pixels in 0..255, shape (N, S, S, 3) at the
  model's input size; ``targets`` are class indices, shape (N,) or (N, K). ``maps`` has shape (N, S, S) or
  (N, K, S, S), float32 in [0, 1].
* ``explainer.explain_candidates(images, targets)`` is the full output: per image, one
  :class:`Explanation` per target, each holding one or more *candidate* maps with their metadata.
  Ordinary methods return one candidate; ADVISE returns one per unit group.
* ``explainer.select(explanations, scorer)`` turns one image's explanations into one map per target:
  the map chosen for the first target and its counterparts for the others (what a run scores;
  ``explain_selected`` does it for a batch).

:class:`Explainer` is the extension point for methods outside the package too: found through the
``advise_bench.explainers`` entry-point group or given as ``-m package.module:ClassName`` (the registry below).

A method implements two hooks: :meth:`Explainer.prepare` (work shared by every target of a call: the
masked predictions of Score-CAM, LIME's perturbation sample, ADVISE's unit scores) and
:meth:`Explainer.explain_target`. The base class times both, so ``Explanation.seconds`` of the first
target is the cold cost of one explanation and later targets carry only their own extra cost.

CAM-style methods implement :meth:`CAMExplainer.channel_terms` (per-channel terms whose sum over channels
is the map before ReLU; channel groups, ``--cam-groups``, then come for free) or only
:meth:`CAMExplainer.low_res_maps` (maps at the feature-layer resolution after ReLU); the shared
:func:`finalize_maps` does what the reference does to every map: rescale to [0, 1], bicubic upsampling to
the input size, then clip.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import UserError, one_line
from ..models.zoo import LoadedModel
from .explanation import Explanation, Scorer, Selection, counterparts, rescale01
from .grouping import group_maps, unit_scores
from .selection import get_selection

# --------------------------------------------------------------------------- the registry
# Built-in methods register themselves on import; a method from outside the package is found when it is asked
# for (``-m name`` through the entry-point group below, or ``-m package.module:ClassName``), never before, so an
# installed plugin that cannot be imported only matters to a command that asks for it. Built-in names win.

ENTRY_POINT_GROUP = "advise_bench.explainers"
EXPLAINERS: dict[str, type[Explainer]] = {}  # the built-in methods, by name
PLUGINS: dict[str, type[Explainer]] = {}  # methods from outside the package looked up so far, by name
PLUGIN_SOURCES: dict[str, str] = {}  # where each of PLUGINS came from: "entry point ..." or "module ..."
# A method's name becomes a file name (<method>.csv) and a CSV value.
METHOD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def register(cls):
    """Class decorator: make a method reachable by name (CLI choices come from this registry)."""
    EXPLAINERS[cls.name] = cls
    return cls


def _entry_points(name: str | None = None) -> list:
    """The installed entry points of the group (metadata only: nothing is imported)."""
    from importlib.metadata import entry_points

    return [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if name is None or ep.name == name]


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
    found = _entry_points(name)
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
    if _entry_points(method):
        return _load_entry_point(method)
    raise UserError(f"unknown method {method!r}; {_choices()}")


def method_names() -> tuple[str, ...]:
    """Every name ``-m`` knows now: the built-in methods, plugins looked up so far and installed entry points
    (their metadata only: nothing is imported)."""
    return tuple(dict.fromkeys([*EXPLAINERS, *PLUGINS, *(ep.name for ep in _entry_points())]))


def _choices() -> str:
    return f"choose from {', '.join(method_names())}, or give package.module:ClassName"


def check_methods(methods: Iterable[str] | None) -> tuple[str, ...]:
    """Method names from the user (repeated options or comma lists), as the methods' own names; the built-in
    methods when none are given. A plugin given as package.module:ClassName is looked up here, once."""
    names = tuple(m.strip() for item in (methods or ()) for m in str(item).split(",") if m.strip())
    if not names:
        return tuple(EXPLAINERS)
    unknown = [m for m in dict.fromkeys(names)
               if ":" not in m and m not in EXPLAINERS and m not in PLUGINS and not _entry_points(m)]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; {_choices()}")
    return tuple(dict.fromkeys(method_class(m).name for m in names))


def method_source(method: str) -> str:
    """Where a method comes from: ``built-in``, or the entry point or module it was loaded from."""
    return "built-in" if method in EXPLAINERS else PLUGIN_SOURCES.get(method, "unknown")


def list_methods() -> list[dict]:
    """Every built-in method and every installed entry point: name, display name, where it comes from, the
    run options it reads; an entry point that cannot be used has ``error`` instead (the others still list)."""
    rows = [{"name": name, "display_name": cls.display_name, "source": f"built-in ({cls.__module__})",
             "options": tuple(cls.config_options)} for name, cls in EXPLAINERS.items()]
    for name in dict.fromkeys(ep.name for ep in _entry_points()):
        try:
            cls = _load_entry_point(name) if name not in PLUGINS else PLUGINS[name]
        except UserError as exc:
            rows.append({"name": name, "display_name": "", "source": "; ".join(
                _entry_point_source(ep) for ep in _entry_points(name)), "options": (), "error": str(exc)})
            continue
        rows.append({"name": name, "display_name": cls.display_name, "source": PLUGIN_SOURCES[name],
                     "options": tuple(cls.config_options)})
    return rows


def display_name(method: str) -> str:
    """The paper's name of a method (``gradcam++`` -> ``Grad-CAM++``), a plugin's own display name (an
    installed one is looked up quietly); any other name passes through."""
    cls = EXPLAINERS.get(method) or PLUGINS.get(method)
    return cls.display_name if cls else _installed_display_name(method)


@functools.cache
def _installed_display_name(method: str) -> str:
    if ":" in method or not _entry_points(method):
        return method
    try:
        return _load_entry_point(method).display_name
    except UserError:  # a name in a results file: the report still shows it, by its name
        return method


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


# --------------------------------------------------------------------------- maps


_TABLE_SIZE = 1024  # TensorFlow samples the cubic kernel at 1/1024 steps


@functools.cache
def bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) linear operator of TensorFlow's bicubic resize along one axis (``tf.image.resize``,
    ``antialias=False``): half-pixel centres, Keys' kernel with a = -0.5 read from its table of 1,024 steps,
    taps outside the input dropped and the others renormalised. Every backend then upsamples alike (Keras's
    own resize differs: PyTorch's bicubic uses a = -0.75)."""
    a = -0.5
    x = np.arange(_TABLE_SIZE + 1, dtype=np.float64) / _TABLE_SIZE
    near = (((a + 2) * x - (a + 3)) * x * x + 1).astype(np.float32)  # |d| in [0, 1]
    x1 = x + 1.0
    far = ((((a * x1 - 5 * a) * x1 + 8 * a) * x1) - 4 * a).astype(np.float32)  # |d| in [1, 2]
    scale = np.float32(n_in) / np.float32(n_out)
    out = np.zeros((n_out, n_in), np.float32)
    for o in range(n_out):
        loc = (np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5)
        base = int(np.floor(loc))
        offset = int(np.rint((loc - np.float32(base)) * np.float32(_TABLE_SIZE)))
        taps = (base - 1, base, base + 1, base + 2)
        weights = np.array([far[offset], near[offset], near[_TABLE_SIZE - offset], far[_TABLE_SIZE - offset]],
                           np.float32)
        weights[[not 0 <= t < n_in for t in taps]] = 0
        weights /= weights.sum(dtype=np.float32)
        for t, w in zip(taps, weights, strict=True):
            out[o, min(max(t, 0), n_in - 1)] += w
    return out


def upsample_bicubic(maps: np.ndarray, size: int) -> np.ndarray:
    """Bicubic (Keys a=-0.5, half-pixel centres, like MATLAB imresize) upsampling of (N,h,w) maps."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == (size, size):
        return maps
    rows, cols = bicubic_matrix(maps.shape[1], size), bicubic_matrix(maps.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", rows, maps, cols, dtype=np.float32)


def finalize_maps(low_res: np.ndarray, size: int) -> np.ndarray:
    """rescale01 -> bicubic upsample -> clip to [0, 1].

    The reference does not clip; bicubic overshoot stays well below 1.5 and negative values saturate
    in its ``uint8(map)`` cast, so the reference's binary mask is the same with or without clipping.
    """
    maps = upsample_bicubic(rescale01(low_res), size)
    return np.clip(maps, 0.0, 1.0)


def check_batch(images, targets, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images as (N, S, S, 3) and targets as (N, K) int64."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise UserError(f"images must have shape (N, {size}, {size}, 3); got {images.shape}")
    targets = np.asarray(targets, dtype=np.int64)
    if targets.ndim <= 1:
        targets = np.atleast_1d(targets)[:, None]
    if targets.ndim != 2 or len(targets) != len(images) or targets.shape[1] < 1:
        raise UserError(f"need one target (or one row of targets) per image: {len(images)} images, "
                        f"targets of shape {targets.shape}")
    return images, targets


# --------------------------------------------------------------------------- explainers


class Explainer(ABC):
    """The extension point: every method, built-in or your own (README, "Your own method"), is a subclass.

    Implement
        :meth:`explain_target`: ``(images, targets (N,), prepared)`` -> one :class:`Explanation` per image,
        whose ``maps`` is (1, S, S) float in [0, 1] at the model's input size. Optionally :meth:`prepare`:
        ``images`` -> what every target of a call shares (default: the preprocessed images). A CAM-style
        method subclasses :class:`CAMExplainer` instead and implements only ``low_res_maps``.
    Declare (a plugin may leave any of these out)
        ``name``: the ``-m`` name, the rows' ``method`` and the CSV's file name (default: the entry point's
        name, or the class name in lower case); ``display_name``: Table I's (default: ``name``);
        ``config_options``: run option -> constructor keyword (e.g. ``{"seed": "seed", "score": "score"}``),
        the fields of :class:`~advise_bench.config.RunConfig` a run passes to the constructor;
        ``candidate_key`` with :meth:`select`: several candidate maps per target (ADVISE's groups).
    Get
        ``self.model``, a :class:`~advise_bench.models.zoo.LoadedModel`: ``preprocess(images)``,
        ``forward(inputs, score)`` (the compiled forward pass, traced once for any batch size),
        ``predict(images)``, ``feature_map(inputs)`` (the explained layer ``layer``), ``network(score)`` (the
        Keras model to differentiate with TensorFlow's ``GradientTape``, as the built-in gradient methods do),
        ``compiled(key, make)`` (keeps a function you trace with the model, so it is traced once), ``input_size``.
    The base class batches, times (``prepare`` plus the first target is ``time_s``), refuses non-finite maps
    and hands the maps to the run, which scores, writes, resumes and reports them as for a built-in method.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    family: ClassVar[str]
    # RunConfig field -> constructor keyword, for every option of this method a run can set.
    config_options: ClassVar[dict[str, str]] = {}
    candidate_key: ClassVar[str | None] = None  # metadata field that matches candidates across targets

    def __init__(self, model: LoadedModel):
        self.model = model

    # ------------------------------------------------------------ the two hooks
    def prepare(self, images: np.ndarray) -> Any:
        """Work that does not depend on the target class, shared by every target of a call."""
        return self.model.preprocess(images)

    @abstractmethod
    def explain_target(self, images: np.ndarray, targets: np.ndarray, prepared: Any) -> list[Explanation]:
        """One :class:`Explanation` per image for ``targets`` (N,), using :meth:`prepare`'s result."""

    # ------------------------------------------------------------ the public calls
    def explain_candidates(self, images, targets) -> list[list[Explanation]]:
        """Per image, one :class:`Explanation` per target (``targets`` of shape (N,) or (N, K))."""
        images, targets = check_batch(images, targets, self.model.input_size)
        n = len(images)
        start = time.perf_counter()
        prepared = self.prepare(images)
        shared = (time.perf_counter() - start) / n
        columns = []
        for k in range(targets.shape[1]):
            start = time.perf_counter()
            explanations = self.explain_target(images, targets[:, k], prepared)
            own = (time.perf_counter() - start) / n
            for e in explanations:
                if not np.all(np.isfinite(e.maps)):
                    raise FloatingPointError(f"{self.name}: the map contains NaN or inf")
                e.maps = e.maps.astype(np.float32, copy=False)
                e.seconds = own + (shared if k == 0 else 0.0)
            columns.append(explanations)
        return [list(per_image) for per_image in zip(*columns, strict=True)]

    def warm_up(self, images, targets) -> None:
        """An untimed call that traces the compiled functions; methods whose full call is costly override it."""
        self.explain_candidates(images, targets)

    def select(self, explanations: list[Explanation], scorer: Scorer | None = None) -> Selection:
        """One map per target. Ordinary methods have one candidate; ADVISE overrides this."""
        return Selection(counterparts(explanations, self.candidate_key)[0])

    def explain(self, images, targets) -> np.ndarray:
        """Maps (N, S, S) for targets (N,), or (N, K, S, S) for targets (N, K). Each target's map is the
        one a call for that target alone gives (no scorer: an evaluation-time selection refuses)."""
        one_target = np.ndim(targets) <= 1
        per_image = self.explain_candidates(images, targets)
        maps = np.stack([[self.select([e]).maps[0] for e in row] for row in per_image])
        return maps[:, 0] if one_target else maps

    def explain_selected(self, images, targets, scorers: list[Scorer] | None = None) -> np.ndarray:
        """What a run scores, (N, K, S, S): the map selected for the first target (a scoring selection
        may use ``scorers[i]`` for image i) and, for the other targets, its counterparts."""
        per_image = self.explain_candidates(images, targets)
        scorers = scorers or [None] * len(per_image)
        return np.stack([self.select(row, s).maps for row, s in zip(per_image, scorers, strict=True)])

    __call__ = explain


CAM_GROUPINGS = ("none", "like-advise")


@dataclass
class CAMInputs:
    """What every target of a CAM call shares: the preprocessed images, the explained layer's activations,
    the method's class-independent state (Score-CAM's masked predictions) and, with channel groups, each
    image's group label per channel."""

    inputs: np.ndarray  # (N, S, S, 3) preprocessed
    acts: np.ndarray  # (N, h, w, C)
    state: Any = None
    labels: list[np.ndarray] | None = None


class CAMExplainer(Explainer):
    """Class-activation-map family: a map is ReLU(sum_k T_k), the sum of per-channel terms T (h, w, C).

    A variant implements :meth:`channel_terms` (Grad-CAM: alpha_k A_k); one that needs class-independent
    work shared by its targets also implements :meth:`prepare_state`. With ``groups="like-advise"`` (a
    control), each image's channels are split at random into groups with the sizes of ADVISE's groups on
    that image (the KDE of the same activations, then a permutation seeded by ``seed``), one map per
    group becomes a candidate, and the ``oracle-avx`` selection keeps the best, as ADVISE's does.
    """

    family = "cam"
    config_options = {"relu": "relu", "cam_groups": "groups", "seed": "seed"}
    selection = get_selection("oracle-avx")

    def __init__(self, model: LoadedModel, relu: bool = True, groups: str = "none", seed: int = 0):
        super().__init__(model)
        if groups not in CAM_GROUPINGS:
            raise UserError(f"unknown CAM grouping {groups!r}; choose {', '.join(CAM_GROUPINGS)}")
        self.relu, self.groups, self.seed = relu, groups, seed
        # A grouped CAM has several candidates, matched across targets by their group label.
        self.candidate_key = "group" if groups == "like-advise" else None

    def prepare(self, images) -> CAMInputs:
        inputs = self.model.preprocess(images)
        acts = self.model.feature_map(inputs)
        labels = ([unit_scores(a, "random", self.seed) for a in acts] if self.groups == "like-advise" else None)
        return CAMInputs(inputs, acts, self.prepare_state(inputs, acts), labels)

    def prepare_state(self, inputs: np.ndarray, acts: np.ndarray) -> Any:
        """Class-independent work shared by every target of a call (none by default)."""
        return None

    def channel_terms(self, prepared: CAMInputs, targets: np.ndarray) -> np.ndarray:
        """(N, h, w, C) per-channel terms whose sum over channels is the map before ReLU."""
        raise NotImplementedError(f"{type(self).__name__} implements low_res_maps only: it has no channel terms "
                                  "to group (--cam-groups needs channel_terms)")

    def low_res_maps(self, prepared: CAMInputs, targets: np.ndarray) -> np.ndarray:
        """(N, h, w) maps at the feature layer's resolution, after ReLU (unless ``relu=False``)."""
        cam = self.channel_terms(prepared, targets).sum(axis=-1, dtype=np.float32)
        return np.maximum(cam, 0) if self.relu else cam

    def explain_target(self, images, targets, prepared):
        size = self.model.input_size
        if prepared.labels is None:
            maps = finalize_maps(self.low_res_maps(prepared, targets), size)
            return [Explanation(int(t), m[None]) for t, m in zip(targets, maps, strict=True)]
        out = []
        for terms, labels, t in zip(self.channel_terms(prepared, targets), prepared.labels, targets, strict=True):
            candidates, low = group_maps(terms, labels, self.relu, self.candidate_key)
            maps = finalize_maps(low, size) if len(low) else np.zeros((0, size, size), np.float32)
            out.append(Explanation(int(t), maps, candidates, {"groups": len(candidates)}))
        return out

    def select(self, explanations, scorer=None):
        if self.candidate_key is None:
            return super().select(explanations, scorer)
        return self.selection(explanations, scorer, self.candidate_key)
