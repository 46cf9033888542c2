"""The Keras backend: what differs between TensorFlow, JAX and PyTorch lives in one small module each.

Everything the models and explainers compute on the device goes through ``keras.ops``, except two things
``keras.ops`` does not offer, which each backend module provides with the same signatures:

* ``compile(fn, signature, networks)``: ``fn`` (calling ``keras.ops`` and the given Keras networks) as a
  compiled function of NumPy arrays with a free batch dimension, returning NumPy arrays. The networks'
  weights are read at every call, never frozen into the compiled function (``sanity`` re-initialises
  them in place).
* ``class_gradient_fn(head)``: for a head network (explained layer's activations -> class scores), a
  function ``(acts, targets) -> (scores, grads)``: each image's score of its target class and its
  gradient with respect to the activations.

plus device handling (``use_cpu``, ``use_gpu``, ``gpu_name``) and ``COMPILES_PER_SHAPE`` (whether a new batch
size costs a compilation, so that callers may pad batches to a few sizes). The backend is chosen the Keras way,
through ``KERAS_BACKEND`` (default ``tensorflow``), or by :func:`choose` before Keras is imported (the
CLI's ``--backend``). Nothing outside this package names a backend.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

from ..errors import UserError

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT = "tensorflow"


def requested() -> str:
    """The backend Keras will use (or uses): ``KERAS_BACKEND``, else TensorFlow (Keras's own default)."""
    name = os.environ.get("KERAS_BACKEND", DEFAULT)
    if name not in BACKENDS:
        raise UserError(f"KERAS_BACKEND={name!r}: choose one of {', '.join(BACKENDS)}")
    return name


def choose(name: str | None) -> str:
    """Select the backend before Keras is imported (``None`` keeps ``KERAS_BACKEND`` or the default)."""
    if name is None:
        return requested()
    if name not in BACKENDS:
        raise UserError(f"--backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != name:
        active = sys.modules["keras"].backend.backend()
        raise UserError(f"--backend {name}: Keras already started with the {active} backend in this process")
    os.environ["KERAS_BACKEND"] = name
    return name


def installed() -> list[str]:
    """The backends whose library is installed (found, not imported)."""
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


NO_BACKEND = "no Keras backend is installed: pip install 'advise-bench[tensorflow]' (or [jax], [torch])"


def not_installed(name: str) -> str:
    """One line for a requested backend whose library is missing: which extra to install, or which to choose."""
    others = [b for b in installed() if b != name]
    if not others:
        return NO_BACKEND
    return (f"the {name} backend is not installed (pip install 'advise-bench[{name}]'); installed: "
            f"{', '.join(others)}, chosen with --backend {others[0]} or KERAS_BACKEND={others[0]}")


def current() -> ModuleType:
    """The active backend's module (imports Keras, and quietly its backend library, on first use)."""
    name = requested()
    if importlib.util.find_spec(name) is None:
        raise UserError(not_installed(name))
    try:
        module = importlib.import_module(f".{name}", __name__)
    except ImportError as exc:
        raise UserError(f"the {name} backend needs {exc.name or name}, which is not installed "
                        f"(pip install 'advise-bench[{name}]', or choose another --backend)") from None
    module.import_quietly()
    import keras

    if keras.backend.backend() != name:
        raise UserError(f"Keras runs on {keras.backend.backend()}, but {name} was requested; "
                        "set KERAS_BACKEND before anything imports Keras")
    return module


def name() -> str:
    return current().NAME


DEVICES = ("cpu", "gpu")
# Set before the backend's library starts: the only reliable way to keep each of them off the GPU.
_CPU_ONLY_ENV = {"tensorflow": {"CUDA_VISIBLE_DEVICES": "-1"}, "jax": {"JAX_PLATFORMS": "cpu"},
                 "torch": {"CUDA_VISIBLE_DEVICES": "-1"}}
# JAX would otherwise reserve most GPU memory up front (TensorFlow's equivalent is set in its module).
_GPU_ENV = {"tensorflow": {}, "jax": {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}, "torch": {}}


def select_device(device: str) -> ModuleType:
    """Run on the CPU only, or on the GPU (which must exist), before the backend library starts when
    possible; returns the backend module."""
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; choose cpu or gpu")
    backend = requested()
    if backend not in sys.modules:  # each backend's library is the module of its name
        os.environ.update(_CPU_ONLY_ENV[backend] if device == "cpu" else _GPU_ENV[backend])
    module = current()
    (module.use_cpu if device == "cpu" else module.use_gpu)()
    return module


def device_name(device: str) -> str:
    """What a results row records: ``gpu:<name>`` or ``cpu:<processor> x<cores>``."""
    import platform

    if device == "gpu":
        return f"gpu:{current().gpu_name()}"
    return f"cpu:{platform.processor() or platform.machine()} x{os.cpu_count()}"
