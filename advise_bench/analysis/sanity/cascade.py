"""The cascade: which weighted layers each step re-initialises, and how (see docs/command-line.md#sanity).

Layers are grouped into architectural units by name (the block patterns below; a BatchNormalization layer
joins the layer it normalises); step 1 is the top unit, the rest are split into consecutive chunks, the
smaller ones at the top."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from ...errors import UserError

DEFAULT_STEPS = 7

_BLOCK_PATTERNS = (
    re.compile(r"^(conv\d+_block\d+)_"),  # ResNet50: conv5_block3_1_conv
    re.compile(r"^(block_?\d+)_"),  # MobileNetV2 block_16_*, VGG block5_*, Xception block14_*
    re.compile(r"^(expanded_conv)"),  # MobileNetV2 block 0
)
_MOBILENET_V1 = re.compile(r"^conv_(?:dw|pw|pad)_(\d+)")
_NORM = re.compile(r"(^bn_|_bn$)", re.IGNORECASE)


def _block_key(name: str) -> str:
    m = _MOBILENET_V1.match(name)
    if m:
        return f"conv_{m.group(1)}"
    for pat in _BLOCK_PATTERNS:
        m = pat.match(name)
        if m:
            return m.group(1)
    return name


def _units(model) -> list[list[str]]:
    """Weighted layers grouped into architectural units, forward order."""
    import keras

    units: list[list[str]] = []
    keys: list[str] = []
    for layer in model.layers:
        if not layer.weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization) and units:
            key = keys[-1]  # BN belongs to the layer it normalises
        else:
            key = _block_key(layer.name)
        if keys and keys[-1] == key:
            units[-1].append(layer.name)
        else:
            units.append([layer.name])
            keys.append(key)
    return units


def cascade_steps(model, n_steps: int = DEFAULT_STEPS) -> list[list[str]]:
    """Layer names re-initialised at each cascade step, output side first: the top unit (the logits), then
    the other units from the top down in ``n_steps - 1`` consecutive chunks, the smaller chunks at the top."""
    if n_steps < 1:
        raise UserError("--steps must be >= 1")
    units = _units(model)[::-1]
    if not units:
        raise UserError("the model has no weighted layers to randomise")
    if n_steps == 1 or len(units) == 1:
        return [sum(units, [])]
    first, rest = units[0], units[1:]
    k = min(n_steps - 1, len(rest))
    sizes = [len(c) for c in np.array_split(np.arange(len(rest)), k)][::-1]  # small chunks at the top
    steps, i = [list(first)], 0
    for s in sizes:
        steps.append(sum(rest[i : i + s], []))
        i += s
    return steps


def check_steps(model, steps: int | list[list[str]] | None) -> list[list[str]]:
    """The steps' layer names: :func:`cascade_steps` for a number of steps, else the lists given, checked."""
    layer_steps = steps if isinstance(steps, list) else cascade_steps(model, steps or DEFAULT_STEPS)
    names = {layer.name for layer in model.layers}
    missing = [n for s in layer_steps for n in s if n not in names]
    if missing:
        raise UserError(f"unknown layer(s) in cascade steps: {', '.join(missing[:5])}")
    return layer_steps


def step_label(layers: list[str]) -> str:
    """Short name of a step, e.g. ``predictions`` or ``Conv_1 .. block_15`` (full names are in the CSV)."""
    keys = [_block_key(n) for n in layers if not _NORM.search(n)] or [_block_key(n) for n in layers]
    keys = list(dict.fromkeys(keys))
    return keys[0] if len(keys) == 1 else f"{keys[0]} .. {keys[-1]}"


def reinitialize_layer(layer, seed: int, index: int) -> None:
    """Seeded fresh weights of the same shapes, as a freshly built layer has: Glorot normal kernels (a
    depthwise kernel counts only its window and multiplier), zero biases, BatchNorm's fresh vectors. The
    generator is seeded by (seed, layer index), so a layer's draw depends on nothing else."""
    import keras

    rng = np.random.default_rng([seed, index])
    depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
    for var in layer.weights:
        shape = tuple(var.shape)
        name = var.name.split("/")[-1]
        if len(shape) >= 2:
            rf = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
            if depthwise or "depthwise" in name:
                fan_in = fan_out = rf * shape[-1]
            else:
                fan_in, fan_out = rf * shape[-2], rf * shape[-1]
            value = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
        elif name in ("gamma", "moving_variance"):
            value = np.ones(shape)
        else:  # bias, beta, moving_mean
            value = np.zeros(shape)
        var.assign(value.astype(var.dtype))


def clone_loaded(loaded):
    """A LoadedModel on a weight-for-weight clone of ``loaded.model`` (the original stays untouched)."""
    import keras

    clone = keras.models.clone_model(loaded.model)
    clone.set_weights(loaded.model.get_weights())
    return dataclasses.replace(loaded, model=clone)
