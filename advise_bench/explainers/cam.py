"""Grad-CAM, Grad-CAM++ and Layer-CAM: our own, compiled and batched on any Keras backend.

Each needs one forward pass to the explained layer (shared by every target of a call, in
:meth:`CAMExplainer.prepare`) and, per target, the gradient of the target's score with respect to the
layer's activations through the network's head (:meth:`LoadedModel.class_gradients`). A variant is its
:meth:`GradientCAM.gradient_terms`: the per-channel terms T (N, h, w, C) of the map ReLU(sum_k T_k).
The formulas are tf-keras-vis 0.8.7's (the tests compare with it on real weights); they explain the
named layer itself (tf-keras-vis would, by default, swap a non-Conv layer for the Conv layer before it).
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from .base import CAMExplainer, CAMInputs
from .registry import register


class GradientCAM(CAMExplainer):
    """A CAM from the class gradient. ``score``: differentiate the softmax output (reference) or the
    logits. ``relu``: False keeps the negative evidence (the ablation without ReLU in map formation)."""

    config_options = {**CAMExplainer.config_options, "score": "score"}

    def __init__(self, model, score: str = "probability", relu: bool = True, groups: str = "none", seed: int = 0,
                 activation_noise: float = 0.0):
        super().__init__(model, relu, groups, seed, activation_noise)
        model.head(score)  # checks the score name and that the layer separates the network
        self.score = score

    def channel_terms(self, prepared: CAMInputs, targets: np.ndarray) -> np.ndarray:
        scores, grads = self.model.class_gradients(prepared.acts, targets, self.score)
        return self.gradient_terms(prepared.acts, grads, scores)

    @abstractmethod
    def gradient_terms(self, acts: np.ndarray, grads: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """(N, h, w, C) terms from the activations A, the gradients dy/dA (both (N, h, w, C)) and the
        target scores y (N,)."""


@register
class GradCAM(GradientCAM):
    """alpha_k = mean_ij dy/dA^k_ij; T_k = alpha_k A^k (Selvaraju et al., 2017)."""

    name = "gradcam"  # Table I names and families: method_kinds.BUILTIN

    def gradient_terms(self, acts, grads, scores):
        return acts * grads.mean(axis=(1, 2), keepdims=True)


@register
class GradCAMPlusPlus(GradientCAM):
    """Chattopadhay et al. (2018) with the exponential of the score, as tf-keras-vis computes it:
    with g = dy/dA and s = exp(y), alpha_ij = s g^2 / (2 s g^2 + s g^3 sum_ij A) (1 where s g^2 = 0),
    normalised to sum 1 over ij; w_k = sum_ij alpha_ij ReLU(s g_ij); T_k = w_k A^k. Without ReLU the
    first derivative is not clipped."""

    name = "gradcam++"

    def gradient_terms(self, acts, grads, scores):
        first = np.exp(scores, dtype=np.float32)[:, None, None, None] * grads
        second = first * grads
        third = second * grads
        global_sum = acts.sum(axis=(1, 2), keepdims=True)
        denominator = second * 2.0 + third * global_sum
        alphas = second / (denominator + (second == 0.0))
        norm = alphas.sum(axis=(1, 2), keepdims=True)
        alphas = alphas / (norm + (norm == 0.0))
        weights = ((np.maximum(first, 0) if self.relu else first) * alphas).sum(axis=(1, 2), keepdims=True)
        return weights * acts


@register
class LayerCAM(GradientCAM):
    """T_k = ReLU(dy/dA^k) A^k, element-wise (Jiang et al., 2021)."""

    name = "layercam"

    def gradient_terms(self, acts, grads, scores):
        return np.maximum(grads, 0) * acts
