"""The model zoo: every architecture by name, with its input size, preprocessing and explanation layer.

Weights are resolved by :func:`load_model`:

* ``imagenet`` -- a matching file in the shared models folder when there is one, else the Keras download
  (cached under ``~/.keras``). A failed download becomes one line telling the user to pass ``--weights PATH``.
* a path -- ``.weights.h5`` / ``.h5`` weights for the zoo architecture, or a whole ``.keras`` model.
* ``random`` -- untrained weights for smoke tests and timing; maps from them mean nothing.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import backend
from ..errors import UserError
from ..paths import shared_path
from .preprocessing import get_preprocessor

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_size: int
    preprocess: str
    default_layer: str
    build: Callable  # build(weights: str | None, input_size: int) -> keras.Model
    imagenet_source: str  # where ``--weights imagenet`` comes from, for ``advise-bench models``
    shared_weights: str | None = None  # file name in the shared models folder, if one exists
    notes: str = ""


def _keras_app(constructor: str, **kwargs):
    def build(weights, input_size):
        import keras

        fn = getattr(keras.applications, constructor)
        return fn(weights=weights, input_shape=(input_size, input_size, 3), **kwargs)

    return build


def _alexnet(weights, input_size):
    if weights == "imagenet":
        raise UserError(
            "alexnet has no Keras ImageNet download: convert torchvision's weights with "
            "scripts/convert_alexnet.py and pass --weights PATH"
        )
    from .alexnet import build_alexnet

    return build_alexnet(weights=weights, input_size=input_size)


ZOO: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("vgg16", 224, "caffe", "block5_conv3", _keras_app("VGG16"), "keras download"),
        ModelSpec("resnet50", 224, "caffe", "conv5_block3_out", _keras_app("ResNet50"), "keras download"),
        ModelSpec("xception", 299, "tf", "block14_sepconv2_act", _keras_app("Xception"), "keras download"),
        ModelSpec(
            "alexnet", 227, "torch", "conv5", _alexnet,
            "convert torchvision weights (scripts/convert_alexnet.py)",
            notes="torchvision layer shapes; conv5 is taken before its ReLU",
        ),
        ModelSpec(
            "mobilenet_v2", 224, "tf", "out_relu", _keras_app("MobileNetV2"), "keras download",
            shared_weights="mobilenet_v2_1.0_224.weights.h5",
        ),
        ModelSpec(
            "mobilenet", 224, "tf", "conv_pw_13_relu", _keras_app("MobileNet", alpha=0.25), "keras download",
            shared_weights="mobilenet_0.25_224.weights.h5", notes="alpha 0.25",
        ),
    )
}


SCORES = ("probability", "logit")  # what an explainer differentiates or weighs: softmax output or logits


@dataclass
class LoadedModel:
    """A classifier ready to explain: softmax output, named explanation layer, preprocessing.

    Every prediction goes through one compiled forward per output kind (:meth:`forward`), traced once
    for any batch size, so hot loops (Score-CAM, LIME, metrics) never pay ``model.predict``'s overhead
    or a retrace. Explainers keep their compiled functions here too (:meth:`compiled`), so an explainer
    built again on the same model (each of ``ablate``'s runs) does not trace again.
    """

    name: str
    model: object  # keras.Model whose output is a softmax over classes
    layer: str
    input_size: int
    preprocess_name: str
    weights_source: str
    preprocess: Callable[[np.ndarray], np.ndarray] = field(init=False, repr=False)
    _networks: dict = field(init=False, repr=False, default_factory=dict)
    _functions: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        self.preprocess = get_preprocessor(self.preprocess_name)

    @property
    def is_random(self) -> bool:
        return self.weights_source == "random"

    def network(self, score: str = "probability"):
        """The Keras network whose output an explainer uses: the model (softmax) or its logits."""
        if score not in SCORES:
            raise UserError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")
        if score not in self._networks:
            self._networks[score] = self.model if score == "probability" else logits_model(self.model)
        return self._networks[score]

    def forward(self, inputs, score: str = "probability") -> np.ndarray:
        """Outputs (softmax or logits) for *preprocessed* float32 inputs (N, S, S, 3), as NumPy."""
        return self._network_fn(score, lambda: self.network(score))(inputs)

    def feature_map(self, inputs) -> np.ndarray:
        """The explained layer's activations (N, h, w, C) for *preprocessed* inputs."""
        import keras

        def build():
            return keras.Model(self.model.inputs, self.model.get_layer(self.layer).output)

        return self._network_fn("features", build)(inputs)

    @property
    def feature_grid(self) -> tuple[int, int]:
        """(h, w) of the explained layer's feature map, read from the graph (no forward pass)."""
        shape = self.model.get_layer(self.layer).output.shape
        return int(shape[1]), int(shape[2])

    def head(self, score: str = "probability"):
        """The network from the explained layer's activations to the output (softmax or logits): what a
        gradient CAM differentiates. It exists only when the layer's output separates the graph."""
        import keras

        network = self.network(score)
        key = ("head", score)
        if key not in self._networks:
            try:
                self._networks[key] = keras.Model(self.model.get_layer(self.layer).output, network.output)
            except ValueError:
                raise UserError(
                    f"layer {self.layer!r} of {self.name} does not separate the network (a skip connection "
                    "passes around it), so the output is not a function of its activations alone; explain a "
                    "layer every path goes through, e.g. a block's output") from None
        return self._networks[key]

    def class_gradients(self, acts, targets, score: str = "probability") -> tuple[np.ndarray, np.ndarray]:
        """Each image's score of its target class (softmax probability or logit) and its gradient with
        respect to the explained layer's activations ``acts`` (N, h, w, C): (N,), (N, h, w, C) float32."""
        fn = self.compiled(("class_gradients", score), lambda: backend.current().class_gradient_fn(self.head(score)))
        return fn(acts, targets)

    def input_gradients(self, inputs, targets, score: str = "probability") -> tuple[np.ndarray, np.ndarray]:
        """Each image's score of its target class and its gradient with respect to the *preprocessed* input
        (N, S, S, 3): one forward and one backward pass of the whole network, on any backend."""
        fn = self.compiled(("input_gradients", score), lambda: backend.current().class_gradient_fn(self.network(score)))
        return fn(inputs, targets)

    def compiled(self, key: Hashable, make: Callable[[], Callable]) -> Callable:
        """``make()``'s function (compiled over this model), made once per key and kept with the model."""
        if key not in self._functions:
            self._functions[key] = make()
        return self._functions[key]

    def compile(self, key: Hashable, fn: Callable, signature, networks) -> Callable:
        """``fn`` compiled by the backend (see :mod:`advise_bench.backend`) once per key: NumPy in, NumPy out."""
        return self.compiled(key, lambda: backend.current().compile(fn, signature, networks))

    def _network_fn(self, key: str, build: Callable):
        """``build()``'s network as a compiled function of any batch size, built and traced once per key."""
        def make():
            net = build()
            spec = [((None, *self.model.input_shape[1:]), "float32")]
            return backend.current().compile(lambda x: net(x, training=False), spec, [net])

        return self.compiled(("forward", key), make)

    def predict(self, images: np.ndarray, batch_size: int = 32, score: str = "probability") -> np.ndarray:
        """Softmax probabilities (or logits) for RGB 0..255 images (N,H,W,3), in batches."""
        images = np.asarray(images)
        outs = [self.forward(self.preprocess(images[i : i + batch_size]), score)
                for i in range(0, len(images), batch_size)]
        return np.concatenate(outs, axis=0) if outs else np.zeros((0, self.model.output_shape[-1]), np.float32)


def get_spec(name: str) -> ModelSpec:
    try:
        return ZOO[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(ZOO)} or pass --model-file") from None


def _weights_kind(weights: str) -> str:
    if weights in ("imagenet", "random"):
        return weights
    if not any(str(weights).endswith(s) for s in WEIGHT_SUFFIXES):
        raise UserError(f"--weights {weights}: expected 'imagenet', 'random' or a {'/'.join(WEIGHT_SUFFIXES)} file")
    if not Path(weights).expanduser().is_file():
        raise UserError(f"--weights {weights}: no such file")
    return "file"


def resolve_weights(spec: ModelSpec, weights: str) -> tuple[str, str]:
    """(weights, kind) with kind imagenet | random | file; ``imagenet`` becomes the shared file when there is one."""
    kind = _weights_kind(weights)
    if kind == "imagenet" and spec.shared_weights and shared_path("models", spec.shared_weights):
        return str(shared_path("models", spec.shared_weights)), "file"
    return weights, kind


def load_model(
    name: str | None = None,
    weights: str = "imagenet",
    *,
    model_file: str | None = None,
    layer: str | None = None,
    input_size: int | None = None,
    preprocess: str | None = None,
) -> LoadedModel:
    """Load a zoo model (or any Keras model file) and check its explanation layer."""
    backend.current()  # the backend library starts quietly, before Keras builds anything
    if model_file is not None:
        return _load_model_file(model_file, layer, input_size, preprocess)
    if name is None:
        raise UserError("pass --model NAME or --model-file FILE")
    spec = get_spec(name)
    size = input_size or spec.input_size
    weights, kind = resolve_weights(spec, weights)
    if kind == "random":
        warnings.warn(
            f"{name}: random weights -- maps and metrics from an untrained network mean nothing "
            "(use them for smoke tests and timing only)",
            stacklevel=2,
        )
    model, source = _build(spec, weights, kind, size)
    return _finish(LoadedModel(name, model, layer or spec.default_layer, size, preprocess or spec.preprocess, source))


@functools.lru_cache(maxsize=2)
def _load_model_once(name, weights, options: tuple) -> LoadedModel:
    return load_model(name, weights, **dict(options))


def load_model_shared(name: str | None = None, weights: str = "imagenet", **options) -> LoadedModel:
    """:func:`load_model` (same arguments), kept for the process: runs that load the same network again
    (``ablate``'s, the tests') reuse it and its traced functions. Random weights are drawn afresh every
    time, as :func:`load_model` does. Callers must not change the model's weights in place."""
    if options.get("model_file") is None and name is not None:
        weights, kind = resolve_weights(get_spec(name), weights)  # the key is the file actually loaded
        if kind == "random":
            return load_model(name, weights, **options)
    return _load_model_once(name, weights, tuple(sorted(options.items())))


def _build(spec: ModelSpec, weights: str, kind: str, size: int):
    if kind == "file" and weights.endswith(".keras"):
        return _load_keras_file(weights), weights
    if kind == "random":
        return spec.build(None, size), "random"
    if kind == "file":
        try:
            model = spec.build(None, size)
            model.load_weights(str(Path(weights).expanduser()))
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"--weights {weights}: cannot load into {spec.name} ({_short(exc)})") from None
        return model, str(weights)
    try:  # imagenet: the real Keras download path, cached under ~/.keras/models
        return spec.build("imagenet", size), "imagenet"
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"{spec.name}: could not download the ImageNet weights ({_short(exc)}); "
            f"pass --weights PATH to a local {'/'.join(WEIGHT_SUFFIXES)} file"
        ) from None


def _load_keras_file(path: str):
    import keras

    try:
        return keras.saving.load_model(str(Path(path).expanduser()), compile=False)
    except Exception as exc:
        raise UserError(f"{path}: cannot load Keras model ({_short(exc)})") from None


def _load_model_file(path, layer, input_size, preprocess) -> LoadedModel:
    if not Path(path).expanduser().is_file():
        raise UserError(f"--model-file {path}: no such file")
    if layer is None:
        raise UserError("--model-file needs --layer NAME (the feature layer to explain)")
    model = _load_keras_file(path)
    shape = model.input_shape
    size = input_size or (shape[1] if shape[1] == shape[2] and shape[1] else None)
    if not size:
        raise UserError(f"{path}: input size is not fixed; pass --input-size N")
    loaded = LoadedModel(Path(path).stem, model, layer, int(size), preprocess or "none", str(path))
    return _finish(loaded)


def _finish(loaded: LoadedModel) -> LoadedModel:
    """Check the layer and make sure the model ends in a softmax (the reference explains probabilities)."""
    import keras

    model = loaded.model
    names = [layer.name for layer in model.layers]
    if loaded.layer not in names:
        hint = ", ".join(n for n in names[-8:])
        raise UserError(f"layer {loaded.layer!r} not found in {loaded.name}; last layers are: {hint}")
    if not ends_in_softmax(model):
        probs = keras.layers.Softmax(name="advise_bench_softmax")(model.outputs[0])
        loaded.model = keras.Model(model.input, probs, name=model.name)
        log.info("%s: output is not a softmax; appended one (the benchmark explains probabilities)", loaded.name)
    return loaded


def ends_in_softmax(model) -> bool:
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    act = getattr(last, "activation", None)
    return act is keras.activations.softmax or getattr(act, "__name__", "") == "softmax"


def logits_model(model):
    """The same network without its final softmax (shares weights; used by the logit score option
    and by Score-CAM, whose tf-keras-vis implementation applies softmax itself)."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and getattr(last.activation, "__name__", "") == "softmax"
    ):
        return keras.Model(model.input, last.input)
    if ends_in_softmax(model):
        # Dense(..., activation="softmax"): re-apply the same kernel without the activation.
        kernel, *bias = last.weights
        z = keras.ops.matmul(last.input, kernel)
        if bias:
            z = z + bias[0]
        return keras.Model(model.input, z)
    return model


def _short(exc: Exception) -> str:
    """First line of an exception, without the URL Keras puts in download errors."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line.split(" on http")[0][:200]


def describe_zoo() -> list[dict]:
    return [
        {
            "model": s.name,
            "input": f"{s.input_size}x{s.input_size}",
            "layer": s.default_layer,
            "preprocess": s.preprocess,
            "imagenet weights": s.imagenet_source
            + (" (shared file found)" if s.shared_weights and shared_path("models", s.shared_weights) else ""),
            "notes": s.notes,
        }
        for s in ZOO.values()
    ]
