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
    cam_groups: str = "none"  # "like-advise": the oracle control for every CAM method (explainers/base.py)
    lime_samples: int = 1000
    lime_batch_size: int = 100
    lime_continuous: bool = False
    lime_hide_color: float | None = None
    scorecam_batch_size: int = 32
    scorecam_max_n: int | None = None
    extra_metrics: tuple[str, ...] = ()  # opt-in metrics beyond Table I: "deletion", "insertion"
    noise_density: float = 0.0  # salt-and-pepper ablation; 0 = clean images
    relu: bool = True  # False: ablation without ReLU in map formation
