"""TensorFlow backend: ``tf.function`` over a free batch dimension, ``GradientTape`` for class gradients."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np

from ..errors import UserError

NAME = "tensorflow"
COMPILES_PER_SHAPE = False  # a tf.function with a free batch dimension is traced once
log = logging.getLogger(__name__)


def import_quietly():
    """Import TensorFlow with C-level stderr muted: TF 2.21 prints oneDNN/CUDA notices before its
    logging is initialised, which TF_CPP_MIN_LOG_LEVEL cannot silence."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tf


def _to_numpy(value):
    return tuple(v.numpy() for v in value) if isinstance(value, tuple | list) else value.numpy()


def compile(fn, signature, networks=()):
    """``signature``: one (shape, dtype) per argument, ``None`` for free dimensions. Variables are
    captured by reference, so weights changed in place are seen by later calls."""
    import tensorflow as tf

    compiled = tf.function(fn, input_signature=[tf.TensorSpec(shape, dtype) for shape, dtype in signature])
    return lambda *args: _to_numpy(compiled(*args))


def class_gradient_fn(head):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None, *head.input_shape[1:]), tf.float32),
                                  tf.TensorSpec((None,), tf.int32)])
    def scores_and_grads(acts, targets):
        with tf.GradientTape() as tape:
            tape.watch(acts)
            scores = tf.gather(head(acts, training=False), targets, axis=1, batch_dims=1)
        return scores, tape.gradient(scores, acts)

    return lambda acts, targets: _to_numpy(scores_and_grads(np.asarray(acts, np.float32),
                                                            np.asarray(targets, np.int32)))


def use_cpu() -> None:
    """Hide the GPU from TensorFlow (before it starts, or at once if it has not touched a GPU yet)."""
    if "tensorflow" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        import_quietly()
        return
    tf = sys.modules["tensorflow"]
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TF already initialised its devices
        if tf.config.get_visible_devices("GPU"):
            raise UserError("--device cpu: TensorFlow already started on the GPU") from None


def use_gpu() -> None:
    tf = import_quietly()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise UserError("--device gpu: TensorFlow sees no GPU on this machine (use --device cpu)")
    # float32 means float32: no TensorFloat-32 convolutions and products (on by default on Ampere and later).
    tf.config.experimental.enable_tensor_float_32_execution(False)
    # Memory growth instead of TensorFlow's default (reserve nearly all GPU memory), so several
    # processes, e.g. array tasks or ablation runs, can share one GPU.
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # this process already used the GPU: growth is fixed from then on
            log.warning("--device gpu: TensorFlow already initialised the GPU; memory growth not set")
            break


def gpu_name() -> str:
    tf = import_quietly()
    gpus = tf.config.list_physical_devices("GPU")
    details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
    return details.get("device_name", "GPU")
