"""Grad-CAM, Grad-CAM++, Layer-CAM and Score-CAM from tf-keras-vis 0.8.7, behind our interface.

Every call passes ``seek_penultimate_conv_layer=False``: tf-keras-vis otherwise silently swaps a
non-Conv layer (e.g. MobileNetV2 ``out_relu``, ResNet50 ``conv5_block3_out``) for an earlier Conv
layer, and the methods would no longer explain the layer the zoo names.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from ..errors import UserError
from ..models.zoo import logits_model
from .base import CAMExplainer, register

# tf-keras-vis passes inputs as a list to single-input Keras 3 models; harmless, but Keras warns.
warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")


def _quiet_predict(model):
    """tf-keras-vis calls ``model.predict`` (Score-CAM), which prints a Keras progress bar."""
    original = model.predict

    def predict(*args, **kwargs):
        kwargs.setdefault("verbose", 0)
        return original(*args, **kwargs)

    model.predict = predict
    return model


class TfKerasVisCAM(CAMExplainer):
    """Wraps one tf-keras-vis visualizer class; subclasses only name it and add call options."""

    visualizer: ClassVar[str]  # "module:Class" inside tf_keras_vis

    def __init__(self, model, score: str = "probability", relu: bool = True):
        super().__init__(model, score, relu)
        self._vis = None

    def network(self):
        """The network tf-keras-vis differentiates: softmax output (reference) or logits."""
        return logits_model(self.model.model) if self.score == "logit" else self.model.model

    def call_options(self) -> dict:
        return {}

    def _visualizer_instance(self):
        if self._vis is None:
            import importlib

            module, cls = self.visualizer.split(":")
            vis_cls = getattr(importlib.import_module(f"tf_keras_vis.{module}"), cls)
            self._vis = vis_cls(_quiet_predict(self.network()), clone=False)
        return self._vis

    def low_res_maps(self, inputs, targets):
        from tf_keras_vis.utils.scores import CategoricalScore

        cam = self._visualizer_instance()(
            CategoricalScore([int(t) for t in targets]),
            inputs,
            penultimate_layer=self.model.layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
            normalize_cam=False,
            **({} if self.relu else {"activation_modifier": None}),
            **self.call_options(),
        )
        return np.asarray(cam, dtype=np.float32).reshape((len(inputs),) + np.shape(cam)[-2:])


@register
class GradCAM(TfKerasVisCAM):
    name, display_name, visualizer = "gradcam", "Grad-CAM", "gradcam:Gradcam"


@register
class GradCAMPlusPlus(TfKerasVisCAM):
    name, display_name, visualizer = "gradcam++", "Grad-CAM++", "gradcam_plus_plus:GradcamPlusPlus"


@register
class LayerCAM(TfKerasVisCAM):
    name, display_name, visualizer = "layercam", "Layer-CAM", "layercam:Layercam"


@register
class ScoreCAM(TfKerasVisCAM):
    """Score-CAM (full by default, as in the paper) or Faster-Score-CAM with ``max_n``.

    tf-keras-vis applies softmax to the masked predictions itself, so it is handed the *logits*
    network: the channel weights are then exactly the target's softmax probability, not a softmax
    of probabilities. The weights are defined on probabilities, so ``score="logit"`` is refused.
    """

    name, display_name, visualizer = "scorecam", "Score-CAM", "scorecam:Scorecam"

    def __init__(
        self, model, score: str = "probability", relu: bool = True, batch_size: int = 32, max_n: int | None = None
    ):
        if score != "probability":
            raise UserError("Score-CAM weights are softmax probabilities; --score logit does not apply")
        super().__init__(model, score, relu)
        if batch_size < 1:
            raise UserError("--scorecam-batch-size must be >= 1")
        self.batch_size, self.max_n = batch_size, max_n

    def network(self):
        return logits_model(self.model.model)

    def call_options(self):
        return {"batch_size": self.batch_size, "max_N": self.max_n}
