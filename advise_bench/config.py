"""The run configuration: every option of a run, as one dataclass made from :mod:`advise_bench.run_options`.

Each field is an option declared there (name, type, default, help), so a field cannot exist without its
declaration. Presets (``configs/*.toml``) set the same fields. Method options are plain fields here; each
explainer class names the fields it reads (``Explainer.config_options``), so the runner never needs to.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass

from .run_options import paper_settings, run_config_fields

RunConfig = make_dataclass(
    "RunConfig", [(o.name, o.type, field(default=o.default)) for o in run_config_fields()],
    namespace={"__module__": __name__, "__doc__": "Every option of a run (advise_bench/run_options.py declares "
                                                  "each field: its type, default and meaning)."})


# The paper's settings (Table I, made with the authors' reference code), field by field, with how to say them.
PAPER_ARCHITECTURES = ("vgg16", "resnet50", "xception", "alexnet")
PAPER_SETTINGS: dict[str, tuple[object, str]] = paper_settings()


def differences_from_paper(cfg: RunConfig, n_images: int | None = None) -> list[str]:
    """What of ``cfg`` differs from the paper's Table I settings, e.g. ``LIME samples 300 (paper 1000)``."""
    def show(value) -> str:
        if value is None:  # Score-CAM's channels: all of them
            return "all"
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    out = [f"{label} {show(getattr(cfg, name))} (paper {show(paper)})"
           for name, (paper, label) in PAPER_SETTINGS.items() if getattr(cfg, name) != paper]
    if cfg.model not in PAPER_ARCHITECTURES:
        out.insert(0, f"model {cfg.model or cfg.model_file} (paper {', '.join(PAPER_ARCHITECTURES)})")
    if cfg.data == "skimage" or (n_images is not None and n_images < 3000):
        out.append(f"{n_images if n_images is not None else 'a few'} {'embedded photos' if cfg.data == 'skimage' else 'images'}"
                   " (paper 3,000 ILSVRC validation images)")
    return out
