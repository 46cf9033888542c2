"""Grad-CAM, Grad-CAM++ and Layer-CAM from tf-keras-vis 0.8.7, behind our interface.

Every call passes ``seek_penultimate_conv_layer=False``: tf-keras-vis otherwise silently swaps a
non-Conv layer (e.g. MobileNetV2 ``out_relu``, ResNet50 ``conv5_block3_out``) for an earlier Conv
layer, and the methods would no longer explain the layer the zoo names.
"""

from __future__ import annotations

import importlib
import warnings
from typing import ClassVar

import numpy as np

from .base import CAMExplainer, register

# tf-keras-vis passes inputs as a list to single-input Keras 3 models; harmless, but Keras warns.
warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")


class GradientCAM(CAMExplainer):
    """Wraps one tf-keras-vis gradient visualizer class; subclasses only name it.

    ``score``: differentiate the softmax output (reference) or the logits. ``relu``: False keeps the
    negative evidence (the ablation without ReLU in map formation).
    """

    visualizer: ClassVar[str]  # "module:Class" inside tf_keras_vis
    config_options = {"score": "score", "relu": "relu"}

    def __init__(self, model, score: str = "probability", relu: bool = True):
        super().__init__(model)
        self.network = model.network(score)  # checks the name
        self.score, self.relu = score, relu
        module, cls = self.visualizer.split(":")
        self._vis = getattr(importlib.import_module(f"tf_keras_vis.{module}"), cls)(self.network, clone=False)

    def low_res_maps(self, prepared, targets):
        from tf_keras_vis.utils.scores import CategoricalScore

        cam = self._vis(
            CategoricalScore([int(t) for t in targets]),
            prepared,
            penultimate_layer=self.model.layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
            normalize_cam=False,
            **({} if self.relu else {"activation_modifier": None}),
        )
        return np.asarray(cam, dtype=np.float32).reshape((len(prepared),) + np.shape(cam)[-2:])


@register
class GradCAM(GradientCAM):
    name, display_name, visualizer = "gradcam", "Grad-CAM", "gradcam:Gradcam"


@register
class GradCAMPlusPlus(GradientCAM):
    name, display_name, visualizer = "gradcam++", "Grad-CAM++", "gradcam_plus_plus:GradcamPlusPlus"


@register
class LayerCAM(GradientCAM):
    name, display_name, visualizer = "layercam", "Layer-CAM", "layercam:Layercam"
