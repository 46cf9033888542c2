"""PyTorch backend: eager calls without autograd (no compilation), ``torch.autograd.grad`` for class
gradients. Tensors live on Keras's torch device (the GPU when one is visible)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import UserError

NAME = "torch"
COMPILES_PER_SHAPE = False  # eager: nothing is compiled


def import_quietly():
    return torch


def _numpy(value):
    import keras

    if isinstance(value, tuple | list):
        return tuple(keras.ops.convert_to_numpy(v) for v in value)
    return keras.ops.convert_to_numpy(value)


def compile(fn, signature, networks=()):
    import keras

    def call(*args):
        with torch.no_grad():
            tensors = [keras.ops.convert_to_tensor(np.asarray(a, dtype))
                       for a, (_, dtype) in zip(args, signature, strict=True)]
            return _numpy(fn(*tensors))

    return call


def class_gradient_fn(head):
    import keras

    def call(acts, targets):
        acts = keras.ops.convert_to_tensor(np.asarray(acts, np.float32)).requires_grad_(True)
        targets = keras.ops.convert_to_tensor(np.asarray(targets, np.int64))
        scores = torch.gather(head(acts, training=False), 1, targets[:, None])[:, 0]
        (grads,) = torch.autograd.grad(scores.sum(), acts)
        return _numpy((scores.detach(), grads))

    return call


def use_cpu() -> None:
    import keras

    if keras.ops.convert_to_tensor(0.0).device.type != "cpu":
        raise UserError("--device cpu: Keras already placed its tensors on the GPU (set CUDA_VISIBLE_DEVICES=-1)")


def use_gpu() -> None:
    if not torch.cuda.is_available():
        raise UserError("--device gpu: PyTorch sees no GPU on this machine (use --device cpu)")
    # float32 means float32: cuDNN convolutions default to TensorFloat-32 on Ampere and later.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def gpu_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "GPU"
