"""``advise-bench``: a thin Typer layer over data -> models -> explainers -> metrics -> runner -> report."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .errors import UserError

# Quiet TensorFlow's start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Reproduce and extend Table I of the ADVISE paper.")

METHOD_HELP = "methods to run (repeat the option); default: all of advise, gradcam, gradcam++, scorecam, layercam, lime"


def _version(value: bool):
    if value:
        typer.echo(f"advise-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")] = False,
):
    """Reproduce and extend Table I of the ADVISE paper."""


@app.command()
def models():
    """List the model zoo: input size, default layer, preprocessing and weights source."""
    from .models.zoo import describe_zoo

    rows = describe_zoo()
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    typer.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        typer.echo("  ".join(str(r[c]).ljust(widths[c]) for c in cols))


@app.command()
def run(
    model: Annotated[str, typer.Option(help="zoo model (see `advise-bench models`)")] = "mobilenet_v2",
    weights: Annotated[str, typer.Option(help="imagenet | random | PATH (.weights.h5/.h5/.keras)")] = "imagenet",
    model_file: Annotated[str | None, typer.Option(help="any Keras model file instead of --model")] = None,
    layer: Annotated[str | None, typer.Option(help="feature layer to explain (default: the zoo's)")] = None,
    input_size: Annotated[int | None, typer.Option(help="input size for --model-file")] = None,
    preprocess: Annotated[str | None, typer.Option(help="caffe | tf | torch | none (for --model-file)")] = None,
    methods: Annotated[list[str] | None, typer.Option("--methods", "-m", help=METHOD_HELP)] = None,
    data: Annotated[str, typer.Option(help="auto | skimage | manifest.csv | image folder")] = "auto",
    ground_truth: Annotated[str | None, typer.Option(help="labels for a flat ImageNet val folder")] = None,
    limit: Annotated[int | None, typer.Option(help="use at most N images")] = None,
    subset_seed: Annotated[int | None, typer.Option(help="seeded class-stratified subset instead of the first N")] = None,
    resize: Annotated[str, typer.Option(help="stretch (reference) | center-crop")] = "stretch",
    protocol: Annotated[str, typer.Option(help="reference (default, the authors' code) | corrected")] = "reference",
    device: Annotated[str, typer.Option(help="cpu | gpu")] = "cpu",
    batch_size: Annotated[int, typer.Option(help="images per explainer call")] = 1,
    shard: Annotated[str | None, typer.Option(help="K/N: run the K-th of N shards (default: Slurm array vars)")] = None,
    out: Annotated[str, typer.Option(help="results folder")] = "results",
    seed: Annotated[int, typer.Option(help="seed for LIME sampling")] = 0,
    score: Annotated[str, typer.Option(help="probability (reference) | logit")] = "probability",
    advise_selection: Annotated[str, typer.Option(help="oracle-avx (reference) | max-peaks | all")] = "oracle-avx",
    advise_source: Annotated[str, typer.Option(help="activations (reference) | gradients (paper text)")] = "activations",
    lime_samples: Annotated[int, typer.Option(help="LIME perturbation samples")] = 1000,
    scorecam_batch_size: Annotated[int, typer.Option(help="Score-CAM masked images per forward pass")] = 32,
    scorecam_max_n: Annotated[int | None, typer.Option(help="Faster-Score-CAM: keep the N most varied channels")] = None,
    config: Annotated[Path | None, typer.Option(help="a preset from configs/ (its values are defaults)")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
):
    """Run every method over the images; write one CSV row per (image, method). Resumable."""
    from .runner.run import RunConfig, parse_shard
    from .runner.run import run as run_all

    cfg = RunConfig(
        model=None if model_file else model, weights=weights, model_file=model_file, layer=layer,
        input_size=input_size, preprocess=preprocess, methods=tuple(methods or ()), data=data,
        ground_truth=ground_truth, limit=limit, subset_seed=subset_seed, resize=resize, protocol=protocol,
        device=device, batch_size=batch_size, shard=parse_shard(shard), out=out, seed=seed, score=score,
        advise_selection=advise_selection, advise_source=advise_source, lime_samples=lime_samples,
        scorecam_batch_size=scorecam_batch_size, scorecam_max_n=scorecam_max_n,
    )
    if config is not None:
        from .runner.presets import apply_preset

        cfg = apply_preset(cfg, config, explicit=_explicit_options())
    if advise_selection not in ("oracle-avx", "max-peaks", "all"):
        raise UserError(f"unknown ADVISE selection {advise_selection!r}")
    counts = run_all(cfg, progress=not quiet)
    typer.echo(
        f"{counts['images']} images: {counts['ok']} rows ok, {counts['error']} error rows, "
        f"{counts['skipped_done']} images already done; results in {Path(cfg.out)}"
    )


@app.command()
def report(
    results: Annotated[Path, typer.Argument(help="results folder written by `run`")] = Path("results"),
    out: Annotated[Path | None, typer.Option(help="where to write the report files (default: RESULTS)")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="also write report.png: mean ± CI per method and metric")] = False,
    paper: Annotated[bool, typer.Option("--paper", help="also print the paper's whole Table I")] = False,
    bootstrap_resamples: Annotated[int, typer.Option(help="bootstrap resamples for the paired CIs")] = 10_000,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
):
    """Table I with 95% CIs, paired ADVISE-vs-baseline tests, method ranks; the paper's values where it has them."""
    from .report.table import build_report

    if bootstrap_resamples < 1000:
        raise UserError("--bootstrap-resamples must be at least 1000")
    _, paths = build_report(results, out, plot=plot, paper=paper, n_resamples=bootstrap_resamples, seed=seed)
    typer.echo(paths["report"].read_text())
    typer.echo("written: " + ", ".join(str(p) for p in paths.values()))


def _register_analysis_commands() -> None:
    from .analysis.commands import ablate_command, sanity_command, show_command

    app.command("ablate", help="Salt-and-pepper noise ablation, with and without ReLU; AVX per density + plot.")(
        ablate_command)
    app.command("sanity", help="Cascading parameter-randomisation sanity check (Adebayo et al.).")(sanity_command)
    app.command("show", help="One figure: the image, every method's map, ADVISE's groups and unit scores.")(
        show_command)


_register_analysis_commands()


def _explicit_options() -> set[str]:
    """Option names given on the command line (they win over a preset)."""
    return {a[2:].split("=")[0].replace("-", "_") for a in sys.argv if a.startswith("--")}


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    warnings.filterwarnings("default", category=UserWarning, module="advise_bench")
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
