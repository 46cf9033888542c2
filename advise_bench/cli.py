"""``advise-bench``: a thin Typer layer over data -> models -> explainers -> metrics -> runner -> report."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .cli_options import BackendOption, GivenOptions, takes_options
from .errors import UserError

# Quiet TensorFlow's start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Reproduce and extend Table I of the ADVISE paper.")


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
def models(backend: BackendOption = None):
    """List the model zoo: input size, default layer, preprocessing and weights source."""
    from .models.zoo import describe_zoo

    _echo_columns(describe_zoo())


@app.command()
def methods(backend: BackendOption = None):
    """List every method: the built-in six, the reference maps (family "reference": chance and probes) and those
    installed as plugins (entry point group advise_bench.explainers), with where each comes from and the run options
    it reads."""
    from .explainers import list_methods
    from .run_options import where_set

    rows = []
    for m in list_methods():
        options = ", ".join(where_set(o) for o in m["options"])
        rows.append({"method": m["name"], "display name": m["display_name"] or "—", "family": m.get("family") or "—",
                     "from": m["source"],
                     "options": f"cannot be used: {m['error']}" if "error" in m else options or "—"})
    _echo_columns(rows)


def _echo_columns(rows: list[dict]) -> None:
    """Rows of equal keys as aligned text columns under a header."""
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    typer.echo("  ".join(c.ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        typer.echo("  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip())


@app.command()
@takes_options("run")
def run(ctx: typer.Context, options: GivenOptions):
    """Run every method over the images; write one CSV row per (image, method). Resumable."""
    from .config import differences_from_paper
    from .runner.run import run as run_all

    cfg = options.run_config(model=None if options["model_file"] else options["model"])
    if options["config"] is not None:
        from .runner.presets import apply_preset, explicit_options

        cfg = apply_preset(cfg, options["config"], explicit=explicit_options(ctx))
    counts = run_all(cfg, progress=not options["quiet"])
    typer.echo(_counts_line(counts, Path(cfg.out)))
    differences = differences_from_paper(cfg, counts["images"] if cfg.shard[1] == 1 else None)
    if differences:
        import textwrap  # a 100-column terminal, like the report's table

        typer.echo(textwrap.fill("Settings that differ from the paper's: " + "; ".join(differences) + ".", 100,
                                 subsequent_indent="  ", break_on_hyphens=False))


def _counts_line(counts: dict, results: Path) -> str:
    return (f"{counts['images']} images: {counts['ok']} rows ok, {counts['error']} error rows, "
            f"{counts['degenerate_image'] + counts['degenerate_map']} degenerate rows (constant image or map), "
            f"{counts['skipped_done']} images already done; results in {results}")


@app.command()
@takes_options("score")
def score(
    maps: Annotated[Path, typer.Argument(help="folder of <image id>.npy maps, or one .npz keyed by image id")],
    name: Annotated[str, typer.Option(help="the maps' method name: rows go to OUT/<model>/<name>.csv")],
    options: GivenOptions = None,
    targets: Annotated[Path | None, typer.Option(
        help="CSV image_id,target[,target2]: the classes the maps explain (default: the model's top-1, top-2)")] = None,
):
    """Score saliency maps computed elsewhere with the run's protocol: rows like a run's, time not measured.

    A map is (H, W) or (1, H, W) for the top-1 class, or (2, H, W) with the top-2 map that Class Sensitivity
    needs. Resumable.
    docs/your-own-method.md: how maps are resized, bad maps, --targets."""
    from .runner.score import score as score_maps

    cfg = options.run_config(reference_maps=False)
    counts, scored = score_maps(cfg, maps, name, targets, progress=not options["quiet"])
    unmatched = scored.maps.unmatched(scored.records)
    typer.echo(_counts_line(counts, scored.path(scored.cfg.methods[0]))
               + (f"; {unmatched} maps name no image of this selection" if unmatched else ""))


@app.command()
def report(
    results: Annotated[Path, typer.Argument(help="results folder written by `run`")] = Path("results"),
    out: Annotated[Path | None, typer.Option(help="where to write the report files (default: RESULTS)")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="also write report.png: mean ± CI per method and metric")] = False,
    paper: Annotated[bool, typer.Option(
        "--paper", help="also print the paper's Table I rows of these architectures (all when it has none of them), "
                        "and add the whole of it to report.md")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="print every column of Table I, not the 100-column summary")] = False,
    bootstrap_resamples: Annotated[int, typer.Option(help="bootstrap resamples for the paired CIs")] = 10_000,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    control: Annotated[list[Path] | None, typer.Option(
        help="folder of an ADVISE-only control run (other --advise-selection / --advise-grouping); repeatable")] = None,
    backend: BackendOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="print the whole report.md, not its summary")] = False,
):
    """Table I with 95% CIs, paired ADVISE-vs-baseline tests, method ranks; the paper's values where it has them.

    Prints Table I (fits 100 columns; --wide: every column), ADVISE's AVX verdict against each baseline and the
    files written; report.md has the rest."""
    from .report.build import build_report, terminal_summary

    if bootstrap_resamples < 1000:
        raise UserError("--bootstrap-resamples must be at least 1000")
    merged, paths = build_report(results, out, plot=plot, paper=paper, controls=control or (),
                                 n_resamples=bootstrap_resamples, seed=seed)
    if verbose:
        typer.echo(paths["report"].read_text())
        typer.echo("written: " + ", ".join(str(p) for p in paths.values()))
    else:
        color = sys.stdout.isatty()
        typer.echo(terminal_summary(merged, paths, wide=wide, paper=paper, color=color,
                                    width=shutil.get_terminal_size().columns if color else None))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@takes_options("slurm")
def slurm(
    ctx: typer.Context,
    preset: Annotated[str, typer.Argument(help="preset name (configs/NAME.toml) or a .toml file")],
    shards: Annotated[int | None, typer.Option(help="array tasks; each runs one shard of the images")] = None,
    options: GivenOptions = None,
    logs: Annotated[Path, typer.Option(help="folder for the jobs' logs (created)")] = Path("logs"),
):
    """Submit a preset as a Slurm job array plus a `report` job that runs when the array ends.

    Options after the preset that are not listed here go to sbatch (e.g. --partition=X --time=12:00:00).
    """
    from .runner.slurm import plan_submission, submit

    sub = plan_submission(preset, shards, device=options["device"], weights=options["weights"], out=options["out"],
                          logs=logs, sbatch_args=tuple(ctx.args))
    ids = submit(sub)
    typer.echo(f"weights: {ids['weights']}")
    typer.echo(f"array job {ids['array']}: {sub.shards} tasks of preset {sub.preset.stem} on {sub.device}; "
               f"logs: {sub.logs}/{sub.name}-{ids['array']}_<task>.out")
    typer.echo(f"report job {ids['report']}: runs when job {ids['array']} ends; table: {sub.table}")


def _register_analysis_commands() -> None:
    from .analysis.commands import ablate_command, sanity_command, show_command

    app.command("ablate", help="Salt-and-pepper noise ablation, with and without ReLU; AVX per density + plot.")(
        ablate_command)
    app.command("sanity", help="Cascading parameter-randomisation sanity check (Adebayo et al.).")(sanity_command)
    app.command("show", help="One figure: the image, every method's map, ADVISE's groups and unit scores.")(
        show_command)
    from .runner.verify import verify_command

    app.command("verify")(verify_command)


_register_analysis_commands()


def main() -> None:
    from . import backend

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    warnings.filterwarnings("default", category=UserWarning, module="advise_bench")
    asks_for_help = not sys.argv[1:] or {"--help", "-h", "--version"} & set(sys.argv[1:])
    if not asks_for_help and not backend.installed():
        typer.echo(f"error: {backend.NO_BACKEND}", err=True)
        sys.exit(2)
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as exc:  # Keras imported directly, its backend's library missing
        if exc.name not in backend.BACKENDS:
            raise
        typer.echo(f"error: {backend.not_installed(exc.name)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
