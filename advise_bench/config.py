"""The run configuration: every option of ``advise-bench run``, as one dataclass.

Presets (``configs/*.toml``) set the same fields. Method options are plain fields here; each explainer
class names the fields it reads (``Explainer.config_options``), so the runner never needs to.
"""

from __future__ import annotations

from dataclasses import dataclass

from .explainers.advise import DEFAULT_SELECTION


@dataclass
class RunConfig:
    model: str | None = "mobilenet_v2"
    weights: str = "imagenet"
    model_file: str | None = None
    layer: str | None = None
    input_size: int | None = None
    preprocess: str | None = None
    methods: tuple[str, ...] = ()
    data: str = "auto"
    ground_truth: str | None = None
    limit: int | None = None
    subset_seed: int | None = None
    resize: str = "stretch"
    protocol: str = "reference"
    device: str = "cpu"
    batch_size: int = 1
    shard: tuple[int, int] = (0, 1)
    out: str = "results"
    seed: int = 0  # LIME sampling, the random-grouping control, ablation noise
    score: str = "probability"
    advise_selection: str = DEFAULT_SELECTION
    advise_source: str = "activations"
    advise_grouping: str = "kde"
    advise_last_g_quirk: bool = True
    advise_kde_arithmetic: str = "fast"
    # ADVISE's stability: absolute Gaussian noise of this s.d. on the explained layer's non-zero activations
    # (README "Same numbers on every machine"); 0 = none
    advise_activation_noise: float = 0.0
    # "float64": ADVISE's KDE scores the explained layer computed in float64 (a float64 copy of the network up to
    # it); its maps stay float32. Makes the groups the same across float32 kernel paths; default: the reference's
    advise_kde_input: str = "float32"
    cam_groups: str = "none"  # "like-advise": the oracle control for every CAM method (explainers/base.py)
    lime_samples: int = 1000
    lime_batch_size: int = 100
    lime_continuous: bool = False
    lime_hide_color: float | None = None
    scorecam_batch_size: int = 32
    scorecam_max_n: int | None = None
    extra_metrics: tuple[str, ...] = ()  # opt-in metrics beyond Table I: "deletion", "insertion"
    reference_maps: bool = True  # also score random, centre and keep-all (chance and probes)
    shuffled_control: bool = True  # also score each method's map with its cells shuffled (<method>-shuffled)
    noise_density: float = 0.0  # salt-and-pepper ablation; 0 = clean images
    relu: bool = True  # False: ablation without ReLU in map formation


# The paper's settings (Table I, made with the authors' reference code), field by field, with how to say them.
PAPER_ARCHITECTURES = ("vgg16", "resnet50", "xception", "alexnet")
PAPER_SETTINGS: dict[str, tuple[object, str]] = {
    "lime_samples": (1000, "LIME samples"),
    "scorecam_max_n": (None, "Score-CAM channels"),
    "protocol": ("reference", "protocol"),
    "resize": ("stretch", "resize"),
    "score": ("probability", "score"),
    "advise_selection": (DEFAULT_SELECTION, "ADVISE selection"),
    "advise_source": ("activations", "ADVISE KDE input"),
    "advise_grouping": ("kde", "ADVISE grouping"),
    "cam_groups": ("none", "CAM groups"),
    "relu": (True, "ReLU in map formation"),
    "noise_density": (0.0, "salt-and-pepper noise"),
}


def differences_from_paper(cfg: RunConfig, n_images: int | None = None) -> list[str]:
    """What of ``cfg`` differs from the paper's Table I settings, e.g. ``LIME samples 300 (paper 1000)``."""
    def show(value) -> str:
        if value is None:  # Score-CAM's channels: all of them
            return "all"
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    out = [f"{label} {show(getattr(cfg, field))} (paper {show(paper)})"
           for field, (paper, label) in PAPER_SETTINGS.items() if getattr(cfg, field) != paper]
    if cfg.model not in PAPER_ARCHITECTURES:
        out.insert(0, f"model {cfg.model or cfg.model_file} (paper {', '.join(PAPER_ARCHITECTURES)})")
    if cfg.data == "skimage" or (n_images is not None and n_images < 3000):
        out.append(f"{n_images if n_images is not None else 'a few'} {'embedded photos' if cfg.data == 'skimage' else 'images'}"
                   " (paper 3,000 ILSVRC validation images)")
    return out
