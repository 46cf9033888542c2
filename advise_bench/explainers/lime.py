"""LIME (``lime`` package) with quickshift superpixels, seeded and batched.

The reference keeps the top-5 superpixels (by LIME weight, most positive first) as a binary map;
``continuous=True`` paints every superpixel with its weight instead (rescaled to [0, 1]).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .base import Explainer, register, rescale01


@register
class LIME(Explainer):
    name, display_name, family = "lime", "LIME", "perturbation"

    def __init__(
        self,
        model,
        score: str = "probability",
        relu: bool = True,
        num_samples: int = 1000,
        num_features: int = 5,
        batch_size: int = 100,
        seed: int = 0,
        continuous: bool = False,
        hide_color: float | None = None,
    ):
        super().__init__(model, score, relu)  # LIME forms no CAM: ``relu`` has no effect on it
        if num_samples < 1 or num_features < 1 or batch_size < 1:
            raise UserError("LIME num_samples, num_features and batch_size must be >= 1")
        self.num_samples, self.num_features, self.batch_size = num_samples, num_features, batch_size
        self.seed, self.continuous, self.hide_color = seed, continuous, hide_color

    def _classifier(self, batch: np.ndarray) -> np.ndarray:
        if self.score == "logit":
            from ..models.zoo import logits_model

            return np.asarray(logits_model(self.model.model)(self.model.preprocess(batch), training=False))
        return self.model.predict(batch, batch_size=self.batch_size)

    def _explain(self, images, targets):
        from lime import lime_image
        from lime.wrappers.scikit_image import SegmentationAlgorithm

        # lime 0.2.0.1 wraps its sampling loop in tqdm unconditionally; keep the run's output clean.
        lime_image.tqdm = lambda iterable, **_: iterable

        maps = []
        for image, target in zip(images, targets, strict=True):
            # Fresh, seeded objects per image: the map of an image never depends on earlier images.
            explainer = lime_image.LimeImageExplainer(random_state=self.seed)
            segmenter = SegmentationAlgorithm(
                "quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=self.seed
            )
            exp = explainer.explain_instance(
                image.astype(np.float64),
                self._classifier,
                labels=(int(target),),
                top_labels=None,
                hide_color=self.hide_color,
                num_samples=self.num_samples,
                batch_size=self.batch_size,
                segmentation_fn=segmenter,
                random_seed=self.seed,
            )
            maps.append(self._map(exp.segments, dict(exp.local_exp[int(target)])))
        return np.stack(maps).astype(np.float32)

    def _map(self, segments: np.ndarray, weights: dict[int, float]) -> np.ndarray:
        if self.continuous:
            painted = np.vectorize(lambda s: weights.get(s, 0.0), otypes=[np.float32])(segments)
            return rescale01(np.maximum(painted, 0)[None])[0]
        top = sorted(weights, key=lambda s: -weights[s])[: self.num_features]
        return np.isin(segments, top).astype(np.float32)
