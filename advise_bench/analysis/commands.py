"""Typer commands ``ablate``, ``sanity`` and ``show`` (registered by :mod:`advise_bench.cli`).

They only parse options and call :mod:`.ablation`, :mod:`.sanity` and :mod:`.figures`; bad input
raises :class:`~advise_bench.errors.UserError`, which the CLI prints as one line (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cli_options import GivenOptions, takes_options
from ..errors import UserError
from ..run_options import fields_kept_out


def parse_densities(text: str | None) -> tuple[float, ...]:
    """``"0.05,0.1"`` -> (0.05, 0.1); None -> the paper's nine densities."""
    from .ablation import DENSITIES

    if text is None or not text.strip():
        return DENSITIES
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"--densities {text!r}: expected a comma list of numbers, e.g. 0.05,0.1") from None
    if not values:
        raise UserError(f"--densities {text!r}: no density given")
    bad = [v for v in values if not 0 <= v < 1]
    if bad:
        raise UserError(f"--densities {text!r}: densities must lie in [0, 1)")
    return values


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserError(f"--{name} must be >= 1")


@takes_options("ablate")
def ablate_command(
    ctx: typer.Context,
    options: GivenOptions = None,
    densities: Annotated[str | None, typer.Option(help="comma list (default 0.025..0.225)")] = None,
    no_relu_off: Annotated[bool, typer.Option("--no-relu-off", help="skip the arm without ReLU")] = False,
    no_relu_on: Annotated[bool, typer.Option("--no-relu-on", help="skip the arm with ReLU")] = False,
    control: Annotated[list[Path] | None, typer.Option(
        help="folder of a control ablation (same layout: DIR/ablation/relu-*/); its series join the summary; "
             "repeatable")] = None,
    summary_only: Annotated[bool, typer.Option(
        "--summary-only", help="run nothing: rebuild the summary, comparisons and figure from OUT/ablation")] = False,
):
    """AVX under salt-and-pepper noise, with and without ReLU (the paper's Fig. 5), with CIs. Resumable."""
    from .ablation import (
        AVX_FILE,
        COMPARISONS_FILE,
        CONTROLS_FILE,
        FIGURE_FILE,
        ablate,
        ablation_dir,
        summarize_ablation,
    )

    _positive("limit", options["limit"])
    _positive("lime-samples", options["lime_samples"])
    cfg = options.run_config()
    if options["config"] is not None:
        from ..runner.presets import apply_preset, explicit_options

        cfg = apply_preset(cfg, options["config"], explicit=explicit_options(ctx))
    root = ablation_dir(cfg)
    if summary_only:
        if not root.is_dir():
            raise UserError(f"{root}: no ablation folder to summarise")
        table = summarize_ablation(root, control or ())
    else:
        relu_modes = tuple(mode for mode, skip in ((True, no_relu_on), (False, no_relu_off)) if not skip)
        table = ablate(cfg, parse_densities(densities), relu_modes, progress=not options["quiet"],
                       controls=control or ())
    cols = [c for c in ("method", "relu", "density", "n", "AVX", "AVX_ci_low", "AVX_ci_high", "zero_fraction")
            if c in table.columns]
    typer.echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    written = [root / name for name in (AVX_FILE, COMPARISONS_FILE, CONTROLS_FILE, FIGURE_FILE)]
    typer.echo("written: " + ", ".join(str(p) for p in written if p.exists()))


def load_images(data: str, limit: int | None, size: int, subset_seed: int | None = None) -> tuple[list[str], object]:
    """The first ``limit`` readable images of ``--data`` (in the seeded class-stratified order of
    ``data.select_subset`` with ``subset_seed``) as a uint8 batch; unreadable ones are skipped."""
    import numpy as np

    from ..data import load_image, resolve_source, select_subset
    from ..errors import ImageError

    _, records = resolve_source(data)
    ids, images = [], []
    for r in select_subset(records, None, subset_seed):
        if limit is not None and len(images) >= limit:
            break
        try:
            images.append(load_image(r.path, size))
        except ImageError as exc:
            typer.echo(f"warning: skipped {exc}", err=True)
            continue
        ids.append(r.image_id)
    if not images:
        raise UserError(f"--data {data}: no readable images")
    return ids, np.stack(images)


# Preset fields a sanity check does not take: its own size and folder, and its list of ADVISE selections (the
# RunConfig fields that are its options but not its RunConfig's: run_options.py says why).
SANITY_IGNORES_FROM_PRESET = fields_kept_out("sanity")


def sanity_run_config(options: dict, explicit: set[str], config: Path | None):
    """The sanity check's RunConfig: ``options`` as given (sanity's quick defaults included); with a
    preset, RunConfig's defaults (the paper's method settings), then the preset, then the ``explicit``
    options (those typed on the command line) -- ``run --config``'s rule, minus the preset's
    ``SANITY_IGNORES_FROM_PRESET``."""
    from ..config import RunConfig
    from ..runner.presets import apply_preset

    if config is None:
        return RunConfig(**options)
    cfg = RunConfig(**{k: v for k, v in options.items() if k in explicit})
    return apply_preset(cfg, config, explicit=explicit | SANITY_IGNORES_FROM_PRESET)


@takes_options("sanity")
def sanity_command(
    ctx: typer.Context,
    options: GivenOptions = None,
    steps: Annotated[int, typer.Option(help="cascade steps (layers re-initialised from the top)")] = 7,
    chunk_size: Annotated[int, typer.Option(help="images per cascade (rows are saved as each step ends)")] = 8,
    summary_only: Annotated[bool, typer.Option(
        "--summary-only", help="explain nothing: rebuild sanity.csv, the verdicts and the figure from OUT")] = False,
):
    """Adebayo et al.'s cascading model-parameter randomisation: do the maps depend on the weights? Resumable.

    Without --config the method settings are quick ones (Score-CAM on 64 channels, LIME 300 samples); with
    --config they start from RunConfig's defaults (the paper's: full Score-CAM, LIME 1000), then the preset.
    """
    from ..models.zoo import load_model
    from ..runner.device import device_name, select_device
    from .sanity import IMAGES_FILE, output_paths, parse_selections, sanity, write_outputs

    out, limit, device = options["out"], options["limit"], options["device"]
    if summary_only:
        paths = write_outputs(out)
    else:
        _positive("limit", limit)
        _positive("steps", steps)
        _positive("lime-samples", options["lime_samples"])
        _positive("chunk-size", chunk_size)
        selections = parse_selections(options["advise_selection"])
        from ..runner.presets import explicit_options

        cfg = sanity_run_config(options.config_values(), explicit_options(ctx), options["config"])
        backend_module = select_device(device)
        loaded = load_model(cfg.model, cfg.weights)
        ids, images = load_images(cfg.data, limit, loaded.input_size, cfg.subset_seed)
        provenance = {"data": cfg.data, "subset_seed": cfg.subset_seed, "limit": limit, "images": len(ids),
                      "device": device_name(device), "backend": backend_module.NAME}
        sanity(loaded, images, cfg.methods, cfg, steps=steps, seed=cfg.seed, out=out, progress=not options["quiet"],
               image_ids=ids, advise_selections=selections, chunk_size=chunk_size, provenance=provenance)
        paths = {"images": Path(out) / IMAGES_FILE, **output_paths(out)}  # sanity() has written them
    import pandas as pd

    summary, verdict_table = pd.read_csv(paths["csv"]), pd.read_csv(paths["verdicts"])
    typer.echo(summary.pivot(index=["step", "randomized"], columns="series", values="spearman").to_string(
        float_format=lambda v: f"{v:.3f}"))
    cols = ["series", "n", "spearman_full_cascade", "spearman_full_cascade_ci_low", "spearman_full_cascade_ci_high",
            "recovery_wilcoxon_p", "verdict"]
    typer.echo(verdict_table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo("written: " + ", ".join(str(p) for p in paths.values()))


@takes_options("show")
def show_command(
    image: Annotated[Path, typer.Argument(help="image file to explain")],
    options: GivenOptions = None,
):
    """One figure: the image, every method's map, ADVISE's groups and its unit-score histogram."""
    from ..data import load_image
    from ..models.zoo import get_spec, load_model
    from .figures import show

    _positive("lime-samples", options["lime_samples"])
    config = options.run_config()
    out = options["out"] or Path(f"{Path(image).stem}_explained.png")
    if out.suffix.lower() != ".png":  # checked before the (slow) model load
        raise UserError(f"--out {out}: expected a .png path")
    if not Path(image).is_file():
        raise UserError(f"{image}: no such image file")
    pixels = load_image(image, get_spec(config.model).input_size)  # ImageError (a UserError) on a bad file
    loaded = load_model(config.model, config.weights)
    path = show(loaded, pixels, config.methods, out, config)
    typer.echo(f"written: {path}")
