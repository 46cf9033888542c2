"""Gradient x input (Shrikumar et al., 2016), written as an advise-bench plugin.

For an image x (preprocessed) and a target class c with score s_c (softmax, or the logit with
``--score logit``), the map is |sum over the colour channels of x * ds_c/dx|, min-max rescaled to [0, 1].
The class reads one run option (``score``); everything else comes from the ``Explainer`` base class.
"""

from __future__ import annotations

import numpy as np

from advise_bench.explainers import Explainer, Explanation, rescale01


class GradientTimesInput(Explainer):
    name = "gradxinput"
    display_name = "Gradient × Input"
    config_options = {"score": "score"}  # RunConfig field -> constructor keyword

    def __init__(self, model, score: str = "probability"):
        super().__init__(model)
        model.network(score)  # checks the name: "probability" (softmax) or "logit"
        self.score = score

    # prepare() is the base class's: the preprocessed images, shared by every target of a call.
    def explain_target(self, images, targets, prepared):
        # The model's compiled forward and backward pass, on whichever Keras backend runs.
        _, gradients = self.model.input_gradients(prepared, targets, self.score)
        saliency = np.abs((prepared * gradients).sum(axis=-1))
        return [Explanation(int(t), m[None]) for t, m in zip(targets, rescale01(saliency), strict=True)]
