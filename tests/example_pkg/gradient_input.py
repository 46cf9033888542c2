"""Gradient x input (Shrikumar et al., 2016), written as an advise-bench plugin.

For an image x (preprocessed) and a target class c with score s_c (softmax, or the logit with
``--score logit``), the map is |sum over the colour channels of x * ds_c/dx|, min-max rescaled to [0, 1].
The class reads one run option (``score``); everything else comes from the ``Explainer`` base class.
"""

from __future__ import annotations

import numpy as np

from advise_bench.explainers import Explainer, Explanation
from advise_bench.explainers.base import rescale01


class GradientTimesInput(Explainer):
    name = "gradxinput"
    display_name = "Gradient × Input"
    config_options = {"score": "score"}  # RunConfig field -> constructor keyword

    def __init__(self, model, score: str = "probability"):
        super().__init__(model)
        self.score = score
        self.network = model.network(score)  # the Keras model to differentiate (softmax or logits)

    # prepare() is the base class's: the preprocessed images, shared by every target of a call.
    def explain_target(self, images, targets, prepared):
        saliency = np.abs((prepared * self.input_gradients(prepared, targets)).sum(axis=-1))
        return [Explanation(int(t), m[None]) for t, m in zip(targets, rescale01(saliency), strict=True)]

    def input_gradients(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """d s_target / d inputs, (N, S, S, 3)."""
        import tensorflow as tf

        def make():
            network = self.network

            @tf.function(reduce_retracing=True)
            def gradients(x, t):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    score = tf.gather(network(x, training=False), t, axis=1, batch_dims=1)
                return tape.gradient(score, x)

            return gradients

        # Kept with the model, so building this method again on the same model does not trace again.
        gradients = self.model.compiled(("gradxinput", self.score), make)
        return gradients(tf.constant(inputs, tf.float32), tf.constant(targets, tf.int32)).numpy()
