"""Every option of a run, declared once: its name, type, default, help, command-line form, the paper's value
and which commands take it.

Everything else is made from :data:`OPTIONS`: :class:`~advise_bench.config.RunConfig`'s fields (the options
with ``is_field``, in this order), the paper's settings that ``run`` compares against
(:func:`paper_settings`), and the Typer options of ``run``, ``score``, ``ablate``, ``sanity``, ``slurm`` and
``show`` (:mod:`advise_bench.cli_options` builds them). Adding an option is one entry here; the tests in
``tests/test_run_options.py`` check the commands, RunConfig and the docs' option table against it.

A command that gives an option another meaning, default or help says so in the option's ``per_command``,
with the reason. This module is the bottom layer: it imports no explainer, model, runner, report or analysis
module and nothing heavy (the backend package's ``__init__`` is standard library only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .backend import BACKENDS
from .backend import DEFAULT as DEFAULT_BACKEND
from .errors import UserError

DEFAULT_SELECTION = "oracle-avx"  # the ADVISE reference code's rule (a name of explainers/selection.py's SELECTIONS)

# The commands that take declared options; the others (models, methods, report) take only --backend.
COMMANDS = ("run", "score", "ablate", "sanity", "slurm", "show")
ALL_COMMANDS = (*COMMANDS, "models", "methods", "report")

_SAME = object()  # "as declared for run" in an Override; "the default" for Option.paper_value


@dataclass(frozen=True)
class Override:
    """How one command takes an option differently from ``run``, and why (``reason``, required)."""

    reason: str
    type: object = _SAME  # the command-line type
    default: object = _SAME  # the command-line default
    help: str | None = None  # "{help}" stands for run's
    in_run_config: bool = True  # False: the command uses the value itself; it is not its RunConfig's field


@dataclass(frozen=True)
class Option:
    """One option. ``type``/``default``: the RunConfig field's (for a non-field, the command line's).
    ``cli_type``/``cli_default``: the command line's, where they differ from the field's (``--shard 0/4`` is
    the field ``(0, 4)``), and ``parse`` turns the typed value into the field's: ``"module:function"``
    (imported when called, so that heavy modules stay out of this one) or a function.
    ``paper``: the paper's setting's label in ``run``'s "Settings that differ from the paper's" (its value:
    ``paper_value``, else ``default``). ``note``: where a field no command takes is set."""

    name: str
    type: object
    default: object
    help: str
    commands: tuple[str, ...] = ("run",)
    flags: tuple[str, ...] = ()  # the option's names when not just --name (--x/--no-x for a bool): ("--methods", "-m")
    cli_type: object = _SAME
    cli_default: object = _SAME
    parse: object = None
    is_field: bool = True  # a RunConfig field
    paper: str | None = None
    paper_value: object = _SAME
    note: str = ""
    per_command: dict[str, Override] = field(default_factory=dict)

    @property
    def flag(self) -> str:
        """The long option, e.g. ``--lime-samples``."""
        return self.flags[0] if self.flags else "--" + self.name.replace("_", "-")

    def for_command(self, command: str) -> CommandOption:
        """This option as ``command`` takes it (its override applied)."""
        if command not in self.commands:
            raise KeyError(f"{command} takes no --{self.name.replace('_', '-')}")
        o = self.per_command.get(command, Override(reason=""))
        cli_type = self.type if self.cli_type is _SAME else self.cli_type
        cli_default = self.default if self.cli_default is _SAME else self.cli_default
        return CommandOption(
            name=self.name, command=command, flags=self.flags,
            type=cli_type if o.type is _SAME else o.type, default=cli_default if o.default is _SAME else o.default,
            help=(o.help or "{help}").format(help=self.help), in_run_config=self.is_field and o.in_run_config,
            parse=self.parse, reason=o.reason)


@dataclass(frozen=True)
class CommandOption:
    """An option as one command takes it: what its Typer option is built from."""

    name: str
    command: str
    flags: tuple[str, ...]
    type: object
    default: object
    help: str
    in_run_config: bool
    parse: object
    reason: str  # why it differs from run's (empty when it does not)


def scorecam_channels(value: int | None) -> int | None:
    """``--scorecam-max-n``: N >= 1 keeps the N most varied channels; 0 means all of them (full Score-CAM)."""
    if value is not None and value < 0:
        raise UserError("--scorecam-max-n must be >= 0 (0: every channel)")
    return None if value == 0 else value


QUICK = ("without --config a sanity check is a quick look (the cascade explains every image once per step and "
         "series); --config brings the preset's, else RunConfig's (the paper's) settings")
PRESET_DECIDES = "a submission runs the preset as it is unless told otherwise"

OPTIONS: tuple[Option, ...] = (
    # the model
    Option("model", str | None, "mobilenet_v2", "zoo model (see `advise-bench models`)",
           ("run", "score", "ablate", "sanity", "show"), cli_type=str),  # the field is None with --model-file
    Option("weights", str, "imagenet", "imagenet | random | PATH (.weights.h5/.h5/.keras)",
           ("run", "score", "ablate", "sanity", "slurm", "show"),
           per_command={"slurm": Override(PRESET_DECIDES, type=str | None, default=None,
                                          help="weights file for every task (default: the preset's)")}),
    Option("model_file", str | None, None, "any Keras model file instead of --model"),
    Option("layer", str | None, None, "feature layer to explain (default: the zoo's)"),
    Option("input_size", int | None, None, "input size for --model-file"),
    Option("preprocess", str | None, None, "caffe | tf | torch | none (for --model-file)"),
    # the methods
    Option("methods", tuple[str, ...], (),
           "methods to run (repeat the option or give a comma list): a name from `advise-bench methods` or "
           "package.module:ClassName; default: all of advise, gradcam, gradcam++, scorecam, layercam, lime",
           ("run", "ablate", "sanity", "show"), flags=("--methods", "-m"), cli_type=list[str] | None,
           cli_default=None, parse="advise_bench.explainers:check_methods"),
    # the images and how they are scored
    Option("data", str, "auto", "auto | skimage | manifest.csv | image folder", ("run", "score", "ablate", "sanity")),
    Option("ground_truth", str | None, None, "labels for a flat ImageNet val folder", ("run", "score")),
    Option("limit", int | None, None, "use at most N images", ("run", "score", "ablate", "sanity"),
           per_command={"sanity": Override(
               "the check's own number of images, not its RunConfig's (a few by default: the cascade explains each "
               "image once per step and series)", type=int, default=4, help="number of images", in_run_config=False)}),
    Option("subset_seed", int | None, None, "seeded class-stratified subset instead of the first N",
           ("run", "score", "ablate", "sanity")),
    Option("resize", str, "stretch", "stretch (reference) | center-crop", ("run", "score"), paper="resize"),
    Option("protocol", str, "reference", "reference (default, the authors' code) | corrected",
           ("run", "score", "ablate", "sanity", "show"), paper="protocol"),
    Option("device", str, "cpu", "cpu | gpu", ("run", "score", "sanity", "slurm"),
           per_command={"slurm": Override("on a cluster the device is also what each task asks Slurm for",
                                          help="{help} (gpu requests --gres=gpu:1 per task)")}),
    Option("batch_size", int, 1, "images per explainer call"),
    Option("overlap", str, "auto", "auto (on with --device gpu) | on | off: begin each batch before the previous one "
           "is scored, so ADVISE's KDE (CPU) runs beside the device's work; the same rows, other times"),
    Option("shard", tuple[int, int], (0, 1), "K/N: run the K-th of N shards (default: Slurm array vars)",
           ("run", "ablate"), cli_type=str | None, cli_default=None, parse="advise_bench.runner.run:parse_shard"),
    Option("out", str, "results", "results folder", ("run", "score", "ablate", "sanity", "slurm", "show"),
           per_command={
               "ablate": Override("an ablation is one run per density and ReLU mode, each in a folder of its own",
                                  help="{help} (runs go to OUT/ablation/<tag>/)"),
               "sanity": Override("the check writes its own files (sanity*.csv, sanity.png), not a run's folder",
                                  default="results/sanity", help="output folder (resumes the check found there)",
                                  in_run_config=False),
               "slurm": Override(PRESET_DECIDES, type=str | None, default=None,
                                 help="results folder (default: the preset's)"),
               "show": Override("show writes one figure, not a results folder", type=Path | None, default=None,
                                help="PNG to write (default: <image stem>_explained.png)", in_run_config=False)}),
    Option("seed", int, 0, "seed of LIME's sampling and the random-grouping control", ("run", "ablate", "sanity"),
           per_command={"ablate": Override("the noise is seeded per image with it", help="{help}, and of the noise"),
                        "sanity": Override("the cascade re-initialises the layers with it",
                                           help="{help}, and of the re-initialisation")}),
    Option("score", str, "probability", "probability (reference) | logit", paper="score"),
    # ADVISE
    Option("advise_selection", str, DEFAULT_SELECTION, "ADVISE's scored map: oracle-avx (reference: the best AVX) "
           "| max-peaks | all", ("run", "ablate", "sanity", "show"), paper="ADVISE selection", per_command={
               "sanity": Override("the check compares ADVISE's selections, one series each",
                                  default="max-peaks,oracle-avx", in_run_config=False,
                                  help="ADVISE's selections, one series each (comma list): max-peaks, oracle-avx, "
                                       "all")}),
    Option("advise_source", str, "activations", "activations (reference) | gradients (paper text)",
           paper="ADVISE KDE input"),
    Option("advise_grouping", str, "kde", "kde | random (control: permuted unit scores)", ("run", "ablate"),
           paper="ADVISE grouping"),
    Option("advise_last_g_quirk", bool, True, "KDE density at the last bandwidth evaluated, as the MATLAB code"),
    Option("advise_kde_arithmetic", str, "fast", "fast | reference | compiled (same unit scores; compiled needs numba)"),
    Option("advise_kde_input", str, "float32",
           "float64: ADVISE's KDE scores the explained layer computed in float64 (a float64 copy of the network up "
           "to it); its maps stay float32. Makes the groups the same across float32 kernel paths", (),
           note="preset key"),
    # the baselines
    Option("cam_groups", str, "none", "none | like-advise (control: CAM maps over random groups of ADVISE's sizes, "
           "the best AVX kept)", ("run", "ablate"), paper="CAM groups"),
    Option("lime_samples", int, 1000, "LIME perturbation samples", ("run", "ablate", "sanity", "show"),
           paper="LIME samples", per_command={"sanity": Override(QUICK, default=300)}),
    Option("lime_batch_size", int, 100, "LIME perturbed images per forward pass"),
    Option("lime_continuous", bool, False, "LIME map = superpixel weights, not the top-5 mask"),
    Option("lime_hide_color", float | None, None, "LIME hidden superpixels: this value, not the mean"),
    Option("scorecam_batch_size", int, 32, "Score-CAM masked images per forward pass"),
    Option("scorecam_max_n", int | None, None, "Faster-Score-CAM: keep the N most varied channels; 0: all "
           "(full Score-CAM)", ("run", "ablate", "sanity", "show"), parse=scorecam_channels,
           paper="Score-CAM channels", per_command={"sanity": Override(QUICK, default=64)}),
    # the stability measurement (docs/methods.md, "Same numbers on every machine"; scripts/stability.py)
    Option("activation_noise", float, 0.0,
           "stability: absolute Gaussian noise of this s.d. on the explained layer's non-zero activations, seeded "
           "per image, seen by ADVISE and the CAM family (1e-5 separates two machines' float32 kernels); 0 = none",
           paper="activation noise"),
    # what a run scores besides Table I
    Option("extra_metrics", tuple[str, ...], (), "opt-in metrics, comma list: deletion,insertion", ("run", "score"),
           cli_type=str | None, cli_default=None, parse="advise_bench.metrics.faithfulness:parse_extra_metrics"),
    Option("reference_maps", bool, True, "also score the reference maps random, centre and keep-all (chance and "
           "probes; scoring cost only)"),
    Option("shuffled_control", bool, True, "also score each map with its cells shuffled (<method>-shuffled; "
           "scoring cost only)", ("run", "score")),
    # set by ablate, one value per arm
    Option("noise_density", float, 0.0, "salt-and-pepper noise on the images; 0 = clean images", (),
           paper="salt-and-pepper noise", note="set by ablate"),
    Option("relu", bool, True, "ReLU in map formation (False: the ablation's arm without it)", (),
           paper="ReLU in map formation", note="set by ablate"),
    # not RunConfig fields: how a command runs
    Option("config", Path | None, None, "a preset from configs/ (its values are defaults; options given here win)",
           ("run", "ablate", "sanity"), is_field=False, per_command={"sanity": Override(
               "a sanity check keeps its own size, folder and selections (the options not in its RunConfig)",
               help="{help} (not its limit or out)")}),
    Option("quiet", bool, False, "no progress output", ("run", "score", "ablate", "sanity"), is_field=False),
    Option("backend", str | None, None, f"Keras backend: {' | '.join(BACKENDS)} (default: $KERAS_BACKEND, else "
           f"{DEFAULT_BACKEND})", ALL_COMMANDS, flags=("--backend",), is_field=False),
)

BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
assert len(BY_NAME) == len(OPTIONS), "an option declared twice"
assert all(set(o.commands) <= set(ALL_COMMANDS) and set(o.per_command) <= set(o.commands) for o in OPTIONS)
assert all(o.commands or o.note for o in OPTIONS), "an option no command takes says where it is set (note)"


def run_config_fields() -> tuple[Option, ...]:
    """The options that are RunConfig fields, in RunConfig's order."""
    return tuple(o for o in OPTIONS if o.is_field)


def options_of(command: str) -> tuple[CommandOption, ...]:
    """The options ``command`` takes, as it takes them, in declaration order."""
    return tuple(o.for_command(command) for o in OPTIONS if command in o.commands)


def fields_kept_out(command: str) -> set[str]:
    """The RunConfig fields ``command`` takes as options of its own, not as its RunConfig's (sanity's limit)."""
    return {o.name for o in options_of(command) if BY_NAME[o.name].is_field and not o.in_run_config}


def default(name: str):
    """The declared default of option ``name`` (RunConfig's)."""
    return BY_NAME[name].default


def paper_settings() -> dict[str, tuple[object, str]]:
    """The paper's settings (Table I, made with the authors' reference code): field -> (value, label)."""
    return {o.name: (o.default if o.paper_value is _SAME else o.paper_value, o.paper) for o in OPTIONS if o.paper}


def where_set(name: str) -> str:
    """How a user sets RunConfig field ``name``: ``--lime-samples``, or its note (``relu (set by ablate)``)."""
    option = BY_NAME.get(name)
    if option is None or not option.is_field:
        return f"{name} (not a run option)"
    return option.flag if "run" in option.commands else f"{name} ({option.note})"
