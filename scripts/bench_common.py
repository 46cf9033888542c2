"""Shared pieces of the benchmark scripts: real images, zoo models, layer activations, median-time helpers, and
the one computation of each method's floor (:class:`Floors`) that ``bench_methods.py`` and ``bench_backends.py``
time the registry's methods against.

A benchmark runs from the repository root (``python scripts/bench_kde.py``) with the package installed; Python puts
this folder first on the path of a script run from it, so ``from bench_common import ...`` needs nothing more."""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*random weights.*")

import numpy as np  # noqa: E402

from advise_bench.data import load_image, resolve_source  # noqa: E402
from advise_bench.models.zoo import load_model  # noqa: E402


def images(n: int, size: int) -> np.ndarray:
    """The first n images of the shared ILSVRC subset (or the embedded photos), stretched to size."""
    _, records = resolve_source("auto")
    return np.stack([load_image(r.path, size) for r in records[:n]])


def model(name: str):
    """Real shared weights where they exist (MobileNets), seeded random weights otherwise (timing only)."""
    try:
        return load_model(name, "imagenet")
    except Exception:
        import keras

        keras.utils.set_random_seed(0)  # the same random network, hence the same activations, every run
        return load_model(name, "random")


def model_images_targets(name: str, n: int):
    """The zoo model, its first n images and their top-1 classes: what every benchmark starts from."""
    loaded = model(name)
    x = images(n, loaded.input_size)
    return loaded, x, loaded.predict(x).argmax(1)


def layer_features(loaded, x: np.ndarray) -> np.ndarray:
    """The explained layer's activations of the first image of ``x``, as the KDE takes them: (C, Z)."""
    import keras

    sub = keras.Model(loaded.model.inputs, loaded.model.get_layer(loaded.layer).output)
    a = np.asarray(sub.predict(loaded.preprocess(x[:1]), verbose=0))[0]
    return a.reshape(-1, a.shape[-1]).T


def seconds(fn) -> float:
    """Wall time of one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_seconds(fn, items, warmup: int = 1) -> float:
    """Median wall time of fn(item) over items, after ``warmup`` untimed calls on the first item."""
    for _ in range(warmup):
        fn(items[0])
    times = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def forward_seconds(loaded, x, batch: int) -> float:
    """Seconds per image of the compiled forward at this batch size (median of 3 after a warm-up)."""
    xb = loaded.preprocess(np.repeat(x[:1], batch, axis=0))
    return median_seconds(lambda _: loaded.forward(xb), [0, 1, 2]) / batch


def top2(loaded, x: np.ndarray) -> np.ndarray:
    """Each image's top-1 and top-2 classes, (N, 2): the two maps a run makes per image."""
    return np.argsort(-loaded.predict(x), axis=1)[:, :2]


# The settings every method is timed with: the paper's (full Score-CAM at batch 32, LIME 1,000 samples at batch
# 100: the defaults, stated), ADVISE with max-peaks selection (the oracle's scoring is evaluation, not method time).
PAPER_OPTIONS = {"advise": {"selection": "max-peaks"}, "scorecam": {"batch_size": 32},
                 "lime": {"num_samples": 1000, "batch_size": 100}}


def paper_explainers(loaded) -> dict:
    """The package's methods (the registry's built-in explainers, ``advise_bench.explainers.METHOD_NAMES``), each
    built with :data:`PAPER_OPTIONS`, by name."""
    from advise_bench.explainers import METHOD_NAMES, get_explainer

    return {m: get_explainer(m, loaded, **PAPER_OPTIONS.get(m, {})) for m in METHOD_NAMES}


FLOORS_NOTE = ("floors: gradient CAMs one forward + backward pass of the network (batch 1); Score-CAM the image's "
               "channels x forward (at its batch size); LIME its samples x forward (at its batch size) + quickshift; "
               "ADVISE none. ratio: the median over calls of (call / its floor timed right after it on the same image).")


class Floors:
    """Each method's floor on one model and its images: the network passes the method cannot do without, timed
    on this machine, per image (``floor(i)``), so that a call and its floor can be timed side by side.

    * gradient CAMs (Grad-CAM, Grad-CAM++, Layer-CAM): one compiled forward and backward pass of the whole network
      (the gradient of the class score with respect to the input image), batch 1;
    * Score-CAM: the channels it puts through the network for image i x the forward time at its batch size;
    * LIME: its samples x the forward time at its batch size, plus quickshift on image i;
    * any other method (ADVISE, a plugin): none.
    """

    def __init__(self, loaded, x: np.ndarray, targets: np.ndarray):
        self.loaded, self.x, self.targets = loaded, x, np.asarray(targets).reshape(len(x), -1)
        self.inputs = loaded.preprocess(x)
        self._batches: dict[int, np.ndarray] = {}
        self._acts = None
        self.fwd_bwd(0)  # compiled before anything is timed

    def fwd_bwd(self, i: int) -> float:
        """Seconds of one forward and backward pass on image i (its first target)."""
        return seconds(lambda: self.loaded.input_gradients(self.inputs[i:i + 1], self.targets[i:i + 1, 0]))

    def forward(self, batch: int) -> float:
        """Seconds of one compiled forward call at this batch size (copies of the first image)."""
        if batch not in self._batches:
            self._batches[batch] = self.loaded.preprocess(np.repeat(self.x[:1], batch, axis=0))
            self.loaded.forward(self._batches[batch])  # traced before it is timed
        return seconds(lambda: self.loaded.forward(self._batches[batch]))

    def passes(self) -> dict:
        """Seconds per image of a forward pass at batch 1, 32 and 100 and of a forward + backward pass (batch 1)."""
        out = {f"forward_{b}": forward_seconds(self.loaded, self.x, b) for b in (1, 32, 100)}
        out["fwd_bwd"] = float(np.median([self.fwd_bwd(i) for i in range(len(self.x))]))
        return out

    def of(self, explainer) -> Callable[[int], float] | None:
        """The explainer's floor as a function of the image index, or None for a method without one."""
        from lime.wrappers.scikit_image import SegmentationAlgorithm

        from advise_bench.explainers.cam import GradientCAM
        from advise_bench.explainers.lime import LIME
        from advise_bench.explainers.scorecam import ScoreCAM

        if isinstance(explainer, GradientCAM):
            return self.fwd_bwd
        if isinstance(explainer, ScoreCAM):
            if self._acts is None:
                self._acts = self.loaded.feature_map(self.inputs)
            size = explainer.batch_size
            return lambda i: self.forward(size) * len(explainer.used_channels(self._acts[i])) / size
        if isinstance(explainer, LIME):  # the superpixels as LIME makes them (advise_bench/explainers/lime.py)
            quickshift = SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=0)
            size = explainer.batch_size
            return lambda i: (self.forward(size) * explainer.num_samples / size
                              + seconds(lambda: quickshift(self.x[i].astype(np.float64))))
        return None

    def measure(self, explainer, rounds: int = 2) -> dict:
        """Seconds of one call for both maps (``explain_candidates`` with every target), its floor, and their
        ratio, after an untimed warm-up call. Each call is timed right before its floor on the same image
        (``rounds`` passes over the images) and the ratio is the median of those pairs: a machine's speed drifts
        by 2x from minute to minute, a pair's ratio does not."""
        x, targets, floor = self.x, self.targets, self.of(explainer)
        explainer.warm_up(x[:1], targets[:1])
        both, floors = [], []
        for _ in range(rounds):
            for i in range(len(x)):
                both.append(seconds(lambda i=i: explainer.explain_candidates(x[i:i + 1], targets[i:i + 1])))
                floors.append(floor(i) if floor else float("nan"))
        ratio = float(np.median(np.divide(both, floors))) if floor else float("nan")
        return {"both": float(np.median(both)), "floor": float(np.median(floors)), "ratio": ratio}


def describe_passes(passes: dict) -> str:
    """One line of :meth:`Floors.passes`."""
    return (f"forward {passes['forward_1'] * 1e3:.1f} ms/img (batch 1), {passes['forward_32'] * 1e3:.1f} (batch 32), "
            f"{passes['forward_100'] * 1e3:.1f} (batch 100); forward + backward {passes['fwd_bwd'] * 1e3:.1f} ms/img "
            "(batch 1)")
