"""AlexNet in Keras (channels-last) with torchvision's ``alexnet`` layer shapes, plus a pure-NumPy
converter from a torchvision ``state_dict``.

Architecture (torchvision ``AlexNet``, reproduced layer for layer)::

    conv1_pad  ZeroPadding2D(2)        conv1  Conv2D(64, 11, stride 4)   conv1_relu  pool1  MaxPool(3, 2)
    conv2_pad  ZeroPadding2D(2)        conv2  Conv2D(192, 5)             conv2_relu  pool2  MaxPool(3, 2)
    conv3_pad  ZeroPadding2D(1)        conv3  Conv2D(384, 3)             conv3_relu
    conv4_pad  ZeroPadding2D(1)        conv4  Conv2D(256, 3)             conv4_relu
    conv5_pad  ZeroPadding2D(1)        conv5  Conv2D(256, 3)             conv5_relu  pool5  MaxPool(3, 2)
    avgpool    adaptive average pool to 6x6 (PyTorch ``AdaptiveAvgPool2d`` semantics)
    flatten    Flatten (NHWC order, see below)
    fc6_dropout Dropout(0.5)  fc6 Dense(4096, relu)
    fc7_dropout Dropout(0.5)  fc7 Dense(4096, relu)
    predictions Dense(1000) (logits)    probs  Softmax  <- model output

Notes:

* PyTorch pads symmetrically; Keras ``padding="same"`` does not for stride 4, so every convolution
  is an explicit ``ZeroPadding2D`` followed by a ``"valid"`` ``Conv2D``.
* All convolutions are linear; each has its own ReLU layer (``convN_relu``). ``conv5`` is therefore
  the pre-ReLU conv5 output, the ADVISE explanation layer (:data:`EXPLANATION_LAYER`).
* There are only three max pools; they are named after the conv they follow (Caffe style):
  ``pool1``, ``pool2``, ``pool5``.
* Spatial sizes: 227 -> conv1 56 -> pool1 27 -> conv2 27 -> pool2 13 -> conv3..conv5 13 -> pool5 6;
  224 -> conv1 55 -> pool1 27 -> ... -> pool5 6 as well. For both the adaptive pool is an exact
  identity (the layer returns its input unchanged); for other input sizes it is computed generally.
* Flatten order: torchvision flattens NCHW (channel-major, index ``c*36 + h*6 + w``) while Keras'
  ``Flatten`` on NHWC gives index ``h*6*256 + w*256 + c``. The model keeps the plain Keras Flatten
  and the *converter* permutes the input rows of ``fc6``'s kernel instead
  (:func:`_fc6_kernel_from_torch`), so the model has no extra Permute layer.
* The model does no preprocessing. torchvision's weights expect RGB scaled to [0, 1] then
  normalised with ImageNet mean/std; the zoo's ``torch`` preprocessing (models/preprocessing.py) does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

DEFAULT_INPUT_SIZE = 227
NUM_CLASSES = 1000
EXPLANATION_LAYER = "conv5"
LOGITS_LAYER = "predictions"

# (keras layer, torchvision prefix, kind, torchvision weight shape)
TORCHVISION_LAYERS: tuple[tuple[str, str, str, tuple[int, ...]], ...] = (
    ("conv1", "features.0", "conv", (64, 3, 11, 11)),
    ("conv2", "features.3", "conv", (192, 64, 5, 5)),
    ("conv3", "features.6", "conv", (384, 192, 3, 3)),
    ("conv4", "features.8", "conv", (256, 384, 3, 3)),
    ("conv5", "features.10", "conv", (256, 256, 3, 3)),
    ("fc6", "classifier.1", "fc6", (4096, 256 * 6 * 6)),
    ("fc7", "classifier.4", "linear", (4096, 4096)),
    ("predictions", "classifier.6", "linear", (NUM_CLASSES, 4096)),
)

# (name, filters, kernel, stride, padding)
_CONVS = (
    ("conv1", 64, 11, 4, 2),
    ("conv2", 192, 5, 1, 2),
    ("conv3", 384, 3, 1, 1),
    ("conv4", 256, 3, 1, 1),
    ("conv5", 256, 3, 1, 1),
)
_POOL_AFTER = {"conv1": "pool1", "conv2": "pool2", "conv5": "pool5"}
_POOLED_SIZE = 6


def _adaptive_pool_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(in_size, out_size) averaging matrix with PyTorch's AdaptiveAvgPool bins:
    bin i covers ``[floor(i*in/out), ceil((i+1)*in/out))``."""
    m = np.zeros((in_size, out_size), dtype=np.float64)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        m[start:end, i] = 1.0 / (end - start)
    return m


@keras.saving.register_keras_serializable(package="advise_bench")
class AdaptiveAveragePooling2DTorch(keras.layers.Layer):
    """Channels-last adaptive average pooling with PyTorch ``AdaptiveAvgPool2d`` semantics.

    Needs static spatial dimensions. Identity when the input already has ``output_size``.
    (Own implementation rather than ``keras.layers.AdaptiveAveragePooling2D``, which only exists in
    recent Keras releases.)
    """

    def __init__(self, output_size: int | tuple[int, int], **kwargs):
        super().__init__(**kwargs)
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.output_size = tuple(int(s) for s in output_size)

    def _mats(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        return (
            _adaptive_pool_matrix(h, self.output_size[0]),
            _adaptive_pool_matrix(w, self.output_size[1]),
        )

    def call(self, inputs):
        h, w = inputs.shape[1], inputs.shape[2]
        if h is None or w is None:
            raise ValueError(f"{self.name}: adaptive pooling needs static spatial dims, got {inputs.shape}")
        if (h, w) == self.output_size:
            return inputs
        mh, mw = self._mats(h, w)
        mh = keras.ops.convert_to_tensor(mh, dtype=inputs.dtype)
        mw = keras.ops.convert_to_tensor(mw, dtype=inputs.dtype)
        return keras.ops.einsum("bhwc,hi,wj->bijc", inputs, mh, mw)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}


def feature_map_sizes(input_size: int) -> dict[str, int]:
    """Spatial side length after each stage for a square ``input_size`` input."""
    sizes: dict[str, int] = {}
    s = int(input_size)
    for name, _filters, k, stride, pad in _CONVS:
        s = (s + 2 * pad - k) // stride + 1
        if s < 1:
            raise ValueError(f"input_size={input_size} is too small for AlexNet (at {name})")
        sizes[name] = s
        if name in _POOL_AFTER:
            s = (s - 3) // 2 + 1
            if s < 1:
                raise ValueError(f"input_size={input_size} is too small for AlexNet (at {_POOL_AFTER[name]})")
            sizes[_POOL_AFTER[name]] = s
    sizes["avgpool"] = _POOLED_SIZE
    return sizes


def build_alexnet(weights: str | Path | None = None, input_size: int = DEFAULT_INPUT_SIZE) -> keras.Model:
    """Keras AlexNet (channels-last, softmax output ``probs``; logits at layer ``predictions``).

    ``weights``: None for random (Keras default) initialisation, or the path of a ``.weights.h5``
    file written by ``scripts/convert_alexnet.py`` (or ``model.save_weights`` of this architecture).
    """
    feature_map_sizes(input_size)  # validates input_size early with a clear message
    L = keras.layers
    inputs = keras.Input(shape=(input_size, input_size, 3), name="input")
    x = inputs
    for name, filters, k, stride, pad in _CONVS:
        x = L.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        x = L.Conv2D(filters, k, strides=stride, padding="valid", name=name)(x)
        x = L.ReLU(name=f"{name}_relu")(x)
        if name in _POOL_AFTER:
            x = L.MaxPooling2D(3, strides=2, padding="valid", name=_POOL_AFTER[name])(x)
    x = AdaptiveAveragePooling2DTorch(_POOLED_SIZE, name="avgpool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dropout(0.5, name="fc6_dropout")(x)
    x = L.Dense(4096, activation="relu", name="fc6")(x)
    x = L.Dropout(0.5, name="fc7_dropout")(x)
    x = L.Dense(4096, activation="relu", name="fc7")(x)
    x = L.Dense(NUM_CLASSES, name=LOGITS_LAYER)(x)
    outputs = L.Softmax(name="probs")(x)
    model = keras.Model(inputs, outputs, name="alexnet")
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"AlexNet weights file not found: {path}")
        model.load_weights(str(path))
    return model


def _fc6_kernel_from_torch(w: np.ndarray, channels: int = 256, size: int = _POOLED_SIZE) -> np.ndarray:
    """torch fc6 weight (out, C*H*W in NCHW flatten order) -> Keras kernel (H*W*C in NHWC order, out)."""
    out = w.shape[0]
    return w.reshape(out, channels, size, size).transpose(2, 3, 1, 0).reshape(size * size * channels, out)


def _as_numpy(v) -> np.ndarray:
    if hasattr(v, "detach"):  # a torch tensor, should one be passed in directly
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float32)


def torchvision_to_keras_weights(state_dict: Mapping[str, object]) -> dict[str, list[np.ndarray]]:
    """Validate a torchvision AlexNet state_dict and convert it to ``{keras layer: [kernel, bias]}``.

    Conv weights OIHW -> HWIO; Linear (out, in) -> (in, out), with fc6's input rows permuted from
    NCHW to NHWC flatten order. A ``module.`` prefix (DataParallel checkpoints) is stripped.
    Raises ``KeyError`` for missing/unexpected keys and ``ValueError`` for wrong shapes.
    """
    sd = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state_dict.items()}
    expected = {f"{prefix}.{p}" for _, prefix, _, _ in TORCHVISION_LAYERS for p in ("weight", "bias")}
    missing = sorted(expected - sd.keys())
    unexpected = sorted(sd.keys() - expected)
    if missing or unexpected:
        raise KeyError(
            "state_dict does not match torchvision alexnet: "
            f"missing keys {missing or 'none'}; unexpected keys {unexpected or 'none'}"
        )
    out: dict[str, list[np.ndarray]] = {}
    for layer, prefix, kind, wshape in TORCHVISION_LAYERS:
        w = _as_numpy(sd[f"{prefix}.weight"])
        b = _as_numpy(sd[f"{prefix}.bias"])
        if w.shape != wshape:
            raise ValueError(f"{prefix}.weight has shape {w.shape}, expected {wshape} (keras layer {layer})")
        if b.shape != (wshape[0],):
            raise ValueError(
                f"{prefix}.bias has shape {b.shape}, expected {(wshape[0],)} (keras layer {layer})"
            )
        if kind == "conv":
            kernel = w.transpose(2, 3, 1, 0)
        elif kind == "fc6":
            kernel = _fc6_kernel_from_torch(w)
        else:
            kernel = w.T
        out[layer] = [np.ascontiguousarray(kernel), b.copy()]
    return out


def load_torchvision_state_dict(model: keras.Model, state_dict: Mapping[str, object]) -> keras.Model:
    """Set a :func:`build_alexnet` model's weights from a torchvision AlexNet state_dict (NumPy
    arrays, or anything ``np.asarray`` accepts). Returns the model."""
    for layer_name, weights in torchvision_to_keras_weights(state_dict).items():
        layer = model.get_layer(layer_name)
        current = [tuple(v.shape) for v in layer.get_weights()]
        given = [tuple(v.shape) for v in weights]
        if current != given:
            raise ValueError(f"layer {layer_name}: model weight shapes {current} != converted {given}")
        layer.set_weights(weights)
    return model


def convert_state_dict(state_dict: Mapping[str, object], input_size: int = DEFAULT_INPUT_SIZE) -> keras.Model:
    """Build an AlexNet for ``input_size`` and load a torchvision state_dict into it (pure NumPy)."""
    return load_torchvision_state_dict(build_alexnet(None, input_size=input_size), state_dict)


__all__ = [
    "DEFAULT_INPUT_SIZE",
    "EXPLANATION_LAYER",
    "LOGITS_LAYER",
    "TORCHVISION_LAYERS",
    "AdaptiveAveragePooling2DTorch",
    "build_alexnet",
    "convert_state_dict",
    "feature_map_sizes",
    "load_torchvision_state_dict",
    "torchvision_to_keras_weights",
]
