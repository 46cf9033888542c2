"""LIME (Ribeiro et al., 2016) for images, as ``lime_image.LimeImageExplainer.explain_instance`` does it,
with the perturbed images built by array operations and one perturbation sample shared by every label.

Per image (``lime`` 0.2.0.1 semantics, kept exactly; the tests compare with ``lime_image``):

1. quickshift superpixels (kernel_size 4, max_dist 200, ratio 0.2, seeded), via lime's wrapper;
2. the "hidden" image: each superpixel painted with its mean colour (or ``hide_color``);
3. ``num_samples`` binary rows from ``RandomState(seed).randint(0, 2)``, the first row all ones; row r
   keeps superpixel z where ``row[z] == 1`` and hides it elsewhere;
4. the classifier's outputs for every perturbed image, predicted in batches of ``batch_size``;
5. per label, ``lime_base.LimeBase.explain_instance_with_data`` (cosine distances, exponential kernel
   of width 0.25, Ridge): the superpixel weights.

Preprocessing is per pixel, so a perturbed image's preprocessed pixels are those of the preprocessed
image or of the preprocessed hidden image: each batch is selected from those two arrays on the device,
in the same compiled function that predicts it.

The reference keeps the top-5 superpixels (by LIME weight, most positive first) as a binary map;
``continuous=True`` paints every superpixel with its weight instead (negative weights clipped, rescaled
to [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .base import Explainer
from .explanation import Explanation, rescale01
from .registry import register


@dataclass
class LimeSample:
    """What every label of one image shares: superpixels, the perturbation rows, the outputs."""

    segments: np.ndarray  # (S, S) superpixel labels
    data: np.ndarray  # (num_samples, n_superpixels) 0/1 rows
    outputs: np.ndarray  # (num_samples, classes) classifier outputs
    distances: np.ndarray  # (num_samples,) cosine distance of each row to the all-ones row


@register
class LIME(Explainer):
    name = "lime"  # Table I name and family: method_kinds.BUILTIN
    config_options = {"score": "score", "lime_samples": "num_samples", "lime_batch_size": "batch_size",
                      "seed": "seed", "lime_continuous": "continuous", "lime_hide_color": "hide_color"}

    def __init__(
        self,
        model,
        score: str = "probability",
        num_samples: int = 1000,
        num_features: int = 5,
        batch_size: int = 100,
        seed: int = 0,
        continuous: bool = False,
        hide_color: float | None = None,
    ):
        super().__init__(model)
        if num_samples < 1 or num_features < 1 or batch_size < 1:
            raise UserError("LIME num_samples, num_features and batch_size must be >= 1")
        model.network(score)  # checks the name
        self.score = score
        self.num_samples, self.num_features, self.batch_size = num_samples, num_features, batch_size
        self.seed, self.continuous, self.hide_color = seed, continuous, hide_color

    # ------------------------------------------------------------ shared by every label
    def prepare(self, images):
        return [self.sample(image) for image in images]

    def sample(self, image: np.ndarray) -> LimeSample:
        from lime import lime_image
        from lime.wrappers.scikit_image import SegmentationAlgorithm
        from sklearn.metrics import pairwise_distances

        # Fresh, seeded objects per image: the map of an image never depends on earlier images.
        random_state = lime_image.LimeImageExplainer(random_state=self.seed).random_state
        image = image.astype(np.float64)
        segments = SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2,
                                         random_seed=self.seed)(image)
        hidden = self.hidden_image(image, segments)
        n_features = np.unique(segments).shape[0]
        data = random_state.randint(0, 2, self.num_samples * n_features).reshape((self.num_samples, n_features))
        data[0, :] = 1
        outputs = self.perturbed_outputs(image, hidden, segments, data)
        distances = pairwise_distances(data, data[0].reshape(1, -1), metric="cosine").ravel()
        return LimeSample(segments, data, outputs, distances)

    def hidden_image(self, image: np.ndarray, segments: np.ndarray) -> np.ndarray:
        """lime's ``fudged_image``: each superpixel's mean colour (its own loop, for identical means)."""
        hidden = image.copy()
        if self.hide_color is not None:
            hidden[:] = self.hide_color
            return hidden
        for x in np.unique(segments):
            inside = segments == x
            hidden[inside] = tuple(np.mean(image[inside][:, c]) for c in range(3))
        return hidden

    def perturbed_outputs(self, image, hidden, segments, data) -> np.ndarray:
        """Classifier outputs of every perturbed image, in lime's batches; the images are selected on the
        device from the preprocessed image and hidden image, never built one by one on the host."""
        shown, hid = self.model.preprocess(image[None])[0], self.model.preprocess(hidden[None])[0]
        # lime hides segment label z for feature z; labels beyond the features (none for quickshift) stay.
        keep = np.ones((len(data), max(int(segments.max()) + 1, data.shape[1])), bool)
        keep[:, : data.shape[1]] = data == 1
        outputs = self._outputs_fn()
        segments = segments.astype(np.int32)
        return np.concatenate([outputs(keep[start : start + self.batch_size], segments, shown, hid)
                               for start in range(0, len(data), self.batch_size)])

    def _outputs_fn(self):
        """Compiled once: select each perturbed image's pixels, then predict the batch."""
        import keras

        net = self.model.network(self.score)

        def outputs(keep, segments, shown, hidden):
            mask = keras.ops.take(keep, segments, axis=1)  # (B, S, S): is the pixel's superpixel kept?
            return net(keras.ops.where(mask[..., None], shown, hidden), training=False)

        # Static image sides: a network whose layers need them (AlexNet's adaptive pooling) traces too.
        size = self.model.input_size
        signature = [((None, None), "bool"), ((size, size), "int32"), ((size, size, 3), "float32"),
                     ((size, size, 3), "float32")]
        return self.model.compile(("lime.outputs", self.score), outputs, signature, [net])

    def warm_up(self, images, targets):
        """Trace the classifier on one perturbed image; a full call would cost as much as a real image."""
        shown = self.model.preprocess(np.asarray(images)[:1])[0]
        segments = np.zeros(shown.shape[:2], np.int32)
        self._outputs_fn()(np.ones((1, 1), bool), segments, shown, shown)

    # ------------------------------------------------------------ per label
    def explain_target(self, images, targets, prepared):
        return [self._explain_one(s, int(t)) for s, t in zip(prepared, targets, strict=True)]

    def superpixel_weights(self, sample: LimeSample, target: int) -> dict[int, float]:
        """LIME's weight of every superpixel for ``target`` (``explanation.local_exp[target]``)."""
        from lime import lime_base, lime_image

        explainer = lime_image.LimeImageExplainer(random_state=self.seed)  # its kernel, Ridge and settings
        base: lime_base.LimeBase = explainer.base
        _, local_exp, _, _ = base.explain_instance_with_data(
            sample.data, sample.outputs, sample.distances, target, 100000,
            model_regressor=None, feature_selection=explainer.feature_selection,
        )
        return dict(local_exp)

    def _explain_one(self, sample: LimeSample, target: int) -> Explanation:
        weights = self.superpixel_weights(sample, target)
        if self.continuous:
            lut = np.zeros(int(sample.segments.max()) + 1, np.float32)
            for s, w in weights.items():
                lut[s] = w
            heat = rescale01(np.maximum(lut[sample.segments], 0)[None])[0]
        else:
            top = sorted(weights, key=lambda s: -weights[s])[: self.num_features]
            heat = np.isin(sample.segments, top).astype(np.float32)
        return Explanation(target, heat[None])
