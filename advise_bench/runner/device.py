"""CPU/GPU selection and timing. ``cpu`` hides the GPU from TensorFlow, so it must run before TF starts."""

from __future__ import annotations

import logging
import os
import platform
import sys
import time

from .._tf import import_tensorflow_quietly
from ..errors import UserError

log = logging.getLogger(__name__)

DEVICES = ("cpu", "gpu")


def select_device(device: str) -> None:
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; choose cpu or gpu")
    if device == "cpu":
        if "tensorflow" in sys.modules:
            import tensorflow as tf

            try:
                tf.config.set_visible_devices([], "GPU")
            except RuntimeError:  # TF already initialised its devices
                if tf.config.get_visible_devices("GPU"):
                    raise UserError("--device cpu: TensorFlow already started on the GPU") from None
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
            import_tensorflow_quietly()
        return
    tf = import_tensorflow_quietly()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise UserError("--device gpu: TensorFlow sees no GPU on this machine (use --device cpu)")
    # Memory growth instead of TensorFlow's default (reserve nearly all GPU memory), so several
    # processes, e.g. array tasks or ablation runs, can share one GPU.
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # this process already used the GPU: growth is fixed from then on
            log.warning("--device gpu: TensorFlow already initialised the GPU; memory growth not set")
            break


def device_name(device: str) -> str:
    if device == "gpu":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        return f"gpu:{details.get('device_name', 'GPU')}"
    return f"cpu:{platform.processor() or platform.machine()} x{os.cpu_count()}"


class Timer:
    """Wall time of a block. Callers convert results to NumPy inside the block, which waits for the device."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False
