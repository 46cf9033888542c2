"""Score-CAM (Wang et al., CVPR-W 2020) in TensorFlow, at the cost of its forward passes.

For one image x with feature map A (h, w, C) at the explained layer:

    mask_k = minmax(up(A_k))                      bilinear upsampling on scipy ``zoom``'s grid (order 1)
    w_k(c) = softmax(f(x * mask_k))[c]            one forward pass per channel, x preprocessed
    cam_c  = ReLU(sum_k w_k(c) A_k)

This is tf-keras-vis 0.8.7's ``Scorecam`` (the tests use it as the oracle) with three differences that
change the cost, not the maps: the masked images are built on the device in batches (never all at once);
the masked predictions keep every class, so all targets of a call share them; a channel whose activation
map is constant gets weight 0 without a forward pass (tf-keras-vis feeds it a blank image, and its
constant contribution is zero for the dead ReLU channels where it occurs).

``max_n`` is Faster-Score-CAM: only the ``max_n`` channels with the largest spatial standard deviation
are used. tf-keras-vis takes the union of those channels over a batch; here each image uses its own.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .. import backend
from ..errors import UserError
from .base import CAMExplainer
from .registry import register

# tf-keras-vis normalises each mask with (x - min) / (max - min + keras epsilon).
_EPSILON = 1e-7


@cache
def zoom_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) linear operator of ``scipy.ndimage.zoom(order=1)`` along one axis (grid_mode off:
    the first and last samples map onto each other). 2-D zoom is R_h @ A @ R_w.T."""
    if n_in == 1:
        return np.ones((n_out, 1), np.float32)
    pos = np.arange(n_out) * (n_in - 1) / (n_out - 1)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
    frac = pos - lo
    out = np.zeros((n_out, n_in))
    out[np.arange(n_out), lo] = 1 - frac
    out[np.arange(n_out), lo + 1] += frac
    return out.astype(np.float32)


@register
class ScoreCAM(CAMExplainer):
    """Score-CAM, full by default as in the paper; Faster-Score-CAM with ``max_n``.

    Weights are the target's softmax probability on the masked image (so there is no ``score`` option).
    """

    name = "scorecam"
    config_options = {**CAMExplainer.config_options, "scorecam_batch_size": "batch_size", "scorecam_max_n": "max_n"}

    def __init__(self, model, relu: bool = True, batch_size: int = 32, max_n: int | None = None,
                 groups: str = "none", seed: int = 0, activation_noise: float = 0.0):
        super().__init__(model, relu, groups, seed, activation_noise)
        if batch_size < 1:
            raise UserError("--scorecam-batch-size must be >= 1")
        if max_n is not None and max_n < 1:
            raise UserError("--scorecam-max-n must be >= 1")
        self.batch_size, self.max_n = batch_size, max_n

    # ------------------------------------------------------------ shared by every target
    def prepare_state(self, inputs, acts):
        """Per image: the softmax of every channel's masked image, (C, classes)."""
        return [self._channel_probs(x, a) for x, a in zip(inputs, acts, strict=True)]

    def used_channels(self, acts: np.ndarray) -> np.ndarray:
        """Indices of the channels that get a forward pass: all, or the ``max_n`` most varied;
        constant channels never do (their weight stays 0)."""
        c = acts.shape[-1]
        if self.max_n is None:
            chosen = np.arange(c)
        else:
            if self.max_n > c:
                raise UserError(f"--scorecam-max-n {self.max_n} exceeds the layer's {c} channels")
            import keras

            std = keras.ops.std(acts, axis=(0, 1))  # float32, as tf-keras-vis ranks them
            chosen = keras.ops.convert_to_numpy(keras.ops.top_k(std, self.max_n)[1])
        flat = acts.reshape(-1, c)[:, chosen]
        return chosen[flat.max(axis=0) > flat.min(axis=0)]

    def _channel_probs(self, x: np.ndarray, acts: np.ndarray) -> np.ndarray:
        h, w, c = acts.shape
        probs = np.zeros((c, self.model.model.output_shape[-1]), np.float32)
        channels = self.used_channels(acts)
        masked_probs = self._masked_probs_fn()
        size = x.shape[0]
        zh, zw = zoom_matrix(h, size), zoom_matrix(w, size)
        pad = backend.current().COMPILES_PER_SHAPE
        for start in range(0, len(channels), self.batch_size):
            idx = channels[start : start + self.batch_size]
            # Where each batch size costs a compilation (JAX), a short last batch is padded (repeating its
            # channels) to a power of two: a handful of sizes, not one per image.
            padded = np.resize(idx, min(self.batch_size, 1 << (len(idx) - 1).bit_length())) if pad else idx
            probs[idx] = masked_probs(x, acts[..., padded], zh, zw)[: len(idx)]
        return probs

    def _masked_probs_fn(self):
        """Compiled once: upsample, min-max normalise and apply a batch of masks, then predict."""
        import keras

        ops = keras.ops
        net = self.model.network("probability")

        def masked_probs(x, acts, zh, zw):
            up = ops.einsum("ih,hwb,jw->bij", zh, acts, zw)
            lo = ops.min(up, axis=(1, 2), keepdims=True)
            hi = ops.max(up, axis=(1, 2), keepdims=True)
            masks = (up - lo) / (hi - lo + _EPSILON)
            return net(x[None] * masks[..., None], training=False)

        # The image side is static: a network may need it when traced (AlexNet's adaptive pooling does).
        f32, side = "float32", self.model.input_size
        signature = [((side, side, 3), f32), ((None, None, None), f32), ((side, None), f32), ((side, None), f32)]
        return self.model.compile("scorecam.masked_probs", masked_probs, signature, [net])

    def warm_up(self, images, targets):
        """Trace the masked-prediction function with one channel instead of running every channel."""
        inputs = self.model.preprocess(np.asarray(images)[:1])
        acts = self.model.feature_map(inputs)[0]
        size = inputs.shape[1]
        self._masked_probs_fn()(inputs[0], acts[..., :1], zoom_matrix(acts.shape[0], size),
                                zoom_matrix(acts.shape[1], size))

    # ------------------------------------------------------------ per target
    def channel_terms(self, prepared, targets):
        weights = np.stack([p[:, int(t)] for p, t in zip(prepared.state, targets, strict=True)])  # (N, C)
        return prepared.acts * weights[:, None, None, :]
