"""JAX backend: ``jax.jit`` of a stateless call (weights passed in at every call), ``jax.grad`` for class
gradients. XLA compiles once per input shape."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import UserError

NAME = "jax"
COMPILES_PER_SHAPE = True  # XLA compiles once per input shape


def import_quietly():
    return jax


def _variables(networks) -> list:
    """Every variable of the networks once (a logits network shares the softmax network's weights)."""
    return list({id(v): v for net in networks for v in net.variables}.values())


def _stateless(fn, variables):
    """``fn`` with the variables' values as its first argument: inside ``jit`` a variable read must be a
    traced argument, or XLA would freeze today's weights into the compiled function."""
    import keras

    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return fn(*args)

    return pure


def compile(fn, signature, networks=()):
    variables = _variables(networks)
    jitted = jax.jit(_stateless(fn, variables))

    def call(*args):
        arrays = [np.asarray(a, dtype) for a, (_, dtype) in zip(args, signature, strict=True)]
        return jax.tree.map(np.asarray, jitted([v.value for v in variables], *arrays))

    return call


def class_gradient_fn(head):
    variables = _variables([head])

    def total_score(acts, values, targets):
        out = _stateless(lambda a: head(a, training=False), variables)(values, acts)
        scores = jnp.take_along_axis(out, targets[:, None], axis=1)[:, 0]
        return scores.sum(), scores

    grad = jax.jit(jax.grad(total_score, has_aux=True))

    def call(acts, targets):
        grads, scores = grad(np.asarray(acts, np.float32), [v.value for v in variables],
                             np.asarray(targets, np.int32))
        return np.asarray(scores), np.asarray(grads)

    return call


def _gpus() -> list:
    try:
        return jax.devices("gpu")
    except RuntimeError:  # no GPU platform in this jaxlib
        return []


def use_cpu() -> None:
    if jax.default_backend() != "cpu":
        raise UserError("--device cpu: JAX already started on the GPU (set JAX_PLATFORMS=cpu)")


def use_gpu() -> None:
    if not _gpus():
        raise UserError("--device gpu: JAX sees no GPU on this machine (use --device cpu)")
    # float32 means float32: JAX's default precision lets the GPU compute float32 products in TensorFloat-32.
    jax.config.update("jax_default_matmul_precision", "highest")


def gpu_name() -> str:
    gpus = _gpus()
    return gpus[0].device_kind if gpus else "GPU"
