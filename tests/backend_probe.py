"""What one Keras backend computes for the cross-backend tests (``test_backends.py``): every method's maps,
selections and Table I metrics on the first 4 ILSVRC images with real MobileNet 0.25 weights.

Run as a script under ``KERAS_BACKEND=<name>`` (one process per backend: Keras cannot switch backends
in a process), it writes an ``.npz``; the tests also call :func:`probe` in their own TensorFlow process.
"""

from __future__ import annotations

import sys

import numpy as np

METHODS = ("advise", "gradcam", "gradcam++", "layercam", "scorecam", "lime")
N_IMAGES = 4
SETTINGS = {"scorecam_max_n": 16, "lime_samples": 60, "lime_batch_size": 60}  # small: JAX is slow on CPU


def probe() -> dict[str, np.ndarray]:
    from advise_bench.config import RunConfig
    from advise_bench.data import load_image, resolve_source, select_subset
    from advise_bench.explainers import explainer_from_config
    from advise_bench.metrics.protocol import MapScorer, get_protocol
    from advise_bench.models.zoo import load_model

    model = load_model("mobilenet")
    _, records = resolve_source("auto")
    images = np.stack([load_image(r.path, model.input_size) for r in select_subset(records, N_IMAGES, 0)])
    probs = model.predict(images)
    targets = np.argsort(-probs, axis=1)[:, :2]
    config = RunConfig(**SETTINGS)
    protocol = get_protocol("reference")
    out = {"targets": targets}
    for method in METHODS:
        explainer = explainer_from_config(method, model, config)
        per_image = explainer.explain_candidates(images, targets)
        chosen, metrics = [], []
        for image, p, explanations in zip(images, probs, per_image, strict=True):
            scorer = MapScorer(image, p, model.predict, protocol)
            selection = explainer.select(explanations, scorer)
            scores = selection.scores or scorer(selection.maps)
            chosen.append(selection.maps)
            metrics.append([scores[k] for k in ("AD", "SSIM", "FSIM", "MSE", "AVX", "CS_r")])
            if method == "advise":
                out.setdefault("advise_selected", []).append(selection.info["selected_peaks"])
                out.setdefault("advise_units", []).append(explanations[0].arrays["unit_scores"])
        out[f"{method}_maps"] = np.stack(chosen)
        out[f"{method}_metrics"] = np.asarray(metrics, np.float64)
        if method == "lime":
            out["lime_segments"] = np.stack([s.segments for s in explainer.prepare(images)])
    out["tensorflow_imported"] = np.array("tensorflow" in sys.modules)
    return {k: np.asarray(v) for k, v in out.items()}


if __name__ == "__main__":
    np.savez(sys.argv[1], **probe())
