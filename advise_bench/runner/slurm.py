"""``advise-bench slurm``: a preset as a Slurm job array, plus a ``report`` job that runs when it ends.

Everything that can fail is checked before anything is queued: the preset, the shard count, the images,
the weights (fetched into the Keras cache here, once, instead of by every task at the same moment) and
``sbatch`` itself. The log folder is created, since Slurm cannot start a task whose log folder is missing.
Each task runs ``advise-bench run`` on its own shard (``SLURM_ARRAY_TASK_ID`` / ``COUNT``, see
:func:`~advise_bench.runner.run.parse_shard`) and is requeueable: a requeued task resumes its shard's CSVs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError
from ..paths import REPO_ROOT

if TYPE_CHECKING:
    from .run import RunConfig

# Options the command sets itself; passing them through would break the array or its report job.
RESERVED_OPTIONS = ("--array", "-a", "--dependency", "-d", "--wrap")
# GPU requests are dropped from the report job, which only reads CSVs.
GPU_OPTIONS = ("--gres", "--gpus", "-G", "--gpus-per-node", "--gpus-per-task")


def resolve_preset(preset: str) -> Path:
    """A preset name (``configs/<name>.toml`` in the current folder or the checkout) or a ``.toml`` path."""
    if preset.endswith(".toml"):
        path = Path(preset)
        if not path.is_file():
            raise UserError(f"preset {preset}: no such file")
        return path.resolve()
    for folder in (Path("configs"), REPO_ROOT / "configs"):
        if (folder / f"{preset}.toml").is_file():
            return (folder / f"{preset}.toml").resolve()
    names = sorted(p.stem for p in (REPO_ROOT / "configs").glob("*.toml"))
    raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(names)} or pass a .toml file")


def _option(arg: str) -> tuple[str, bool]:
    """(name, value attached?) of an sbatch option: ``--name=value``, ``--name``, ``-Xvalue``, ``-X``."""
    if arg.startswith("--"):
        name, eq, _ = arg.partition("=")
        return name, bool(eq)
    return arg[:2], len(arg) > 2


def option_names(args: list[str] | tuple[str, ...]) -> set[str]:
    """The name of every option in an sbatch argument list."""
    return {_option(a)[0] for a in args if a.startswith("-")}


def without_options(args: tuple[str, ...], names: tuple[str, ...]) -> list[str]:
    """``args`` less the options in ``names``, with their separate value when they have one."""
    kept, skip_value = [], False
    for a in args:
        if skip_value:
            skip_value = False
            if not a.startswith("-"):
                continue
        name, attached = _option(a) if a.startswith("-") else (a, False)
        if name in names:
            skip_value = not attached
            continue
        kept.append(a)
    return kept


def advise_bench_command() -> list[str]:
    """The same installation that submits runs the jobs: its console script, else ``python -m``."""
    script = Path(sys.executable).with_name("advise-bench")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "advise_bench.cli"]


@dataclass
class SlurmSubmission:
    """One preset as an N-task array and its dependent report job; builds the two sbatch command lines."""

    preset: Path
    shards: int
    out: str
    run_config: RunConfig | None = None  # the preset's, with --out/--weights applied
    device: str = "cpu"
    backend: str = "tensorflow"  # the Keras backend every task uses
    weights: str | None = None  # passed to every task; None: the preset's
    logs: Path = Path("logs")
    workdir: Path = field(default_factory=Path.cwd)
    sbatch_args: tuple[str, ...] = ()
    command: list[str] = field(default_factory=advise_bench_command)

    @property
    def name(self) -> str:
        return f"advise-bench-{self.preset.stem}"

    @property
    def table(self) -> Path:
        return Path(self.out) / "table1.md"

    def _wrap(self, *args: str) -> str:
        # cd: relative paths in presets (out = "results/...") are relative to the submit folder.
        return f"cd {shlex.quote(str(self.workdir))} && exec {shlex.join([*self.command, *args])}"

    def array_argv(self) -> list[str]:
        run = ["run", "--config", str(self.preset), "--device", self.device, "--backend", self.backend,
               "--out", self.out, "--quiet"]
        if self.weights:
            run += ["--weights", self.weights]
        gpu = ["--gres=gpu:1"] if self.device == "gpu" and not option_names(self.sbatch_args) & set(GPU_OPTIONS) else []
        return [
            "sbatch", "--parsable", f"--job-name={self.name}", f"--array=0-{self.shards - 1}",
            # requeue: a preempted task starts again and resumes its shard; append keeps both attempts' logs
            "--requeue", "--open-mode=append", f"--output={self.logs}/%x-%A_%a.out",
            *gpu, *self.sbatch_args, f"--wrap={self._wrap(*run)}",
        ]

    def report_argv(self, array_id: str) -> list[str]:
        return [
            "sbatch", "--parsable", f"--job-name={self.name}-report", f"--dependency=afterany:{array_id}",
            f"--output={self.logs}/%x-%j.out", *without_options(self.sbatch_args, GPU_OPTIONS),
            f"--wrap={self._wrap('report', self.out)}",
        ]


def plan_submission(preset: str, shards: int | None, device: str = "cpu", weights: str | None = None,
                    out: str | None = None, logs: Path = Path("logs"),
                    sbatch_args: tuple[str, ...] = ()) -> SlurmSubmission:
    """Check the arguments, the preset and its images; nothing is submitted or downloaded yet."""
    from ..backend import requested
    from .device import DEVICES
    from .presets import apply_preset
    from .run import RunConfig, prepare

    if shards is None:
        raise UserError("--shards N is required (the number of array tasks)")
    if shards < 1:
        raise UserError(f"--shards {shards}: need at least 1")
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; choose cpu or gpu")
    if shutil.which("sbatch") is None:
        raise UserError("sbatch is not on the PATH: run this on a Slurm login node")
    reserved = option_names(sbatch_args) & set(RESERVED_OPTIONS)
    if reserved:
        raise UserError(f"{', '.join(sorted(reserved))}: set by `advise-bench slurm` itself (use --shards)")
    path = resolve_preset(preset)
    cfg = apply_preset(RunConfig(), path, explicit=set())
    cfg = replace(cfg, shard=(0, 1), out=out or cfg.out, weights=weights or cfg.weights)
    _, _, records = prepare(cfg)
    if shards > len(records):
        raise UserError(f"--shards {shards}: the preset has only {len(records)} images")
    return SlurmSubmission(preset=path, shards=shards, out=cfg.out, run_config=cfg, device=device, backend=requested(),
                           weights=_absolute(weights), logs=Path(logs).resolve(), sbatch_args=tuple(sbatch_args))


def _absolute(weights: str | None) -> str | None:
    if weights in (None, "imagenet", "random"):
        return weights
    return str(Path(weights).expanduser().resolve())


def ensure_weights(cfg) -> str:
    """Make sure every task finds its weights without downloading; returns where they come from.

    A file (``--weights PATH``, ``model_file``) must exist; ``imagenet`` is the shared folder's file when there
    is one, else the Keras download, fetched here once into the Keras cache that the tasks then read.
    """
    from ..models.zoo import get_spec, load_model, resolve_weights
    from .device import select_device

    if cfg.model_file:
        if not Path(cfg.model_file).expanduser().is_file():
            raise UserError(f"model_file {cfg.model_file}: no such file")
        return cfg.model_file
    weights, kind = resolve_weights(get_spec(cfg.model), cfg.weights)
    if kind != "imagenet":
        return weights
    select_device("cpu")  # the submit host only downloads; it must not take a GPU
    load_model(cfg.model, "imagenet")
    return "the Keras cache (~/.keras/models)"


def _sbatch(argv: list[str], env: dict, what: str) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        lines = (res.stderr or res.stdout).strip().splitlines()
        raise UserError(f"sbatch refused the {what}: {lines[-1] if lines else f'exit code {res.returncode}'}")
    return res.stdout.strip().split(";")[0]


def submit(sub: SlurmSubmission) -> dict:
    """Fetch the weights, create the log folder, submit the array then the report job; returns their ids."""
    env = dict(os.environ)  # before ensure_weights hides the GPU from this process, not from the jobs
    source = ensure_weights(sub.run_config)
    sub.logs.mkdir(parents=True, exist_ok=True)
    array_id = _sbatch(sub.array_argv(), env, "array job")
    report_id = _sbatch(sub.report_argv(array_id), env,
                        f"report job (array job {array_id} is queued; run `advise-bench report {sub.out}` after it)")
    return {"array": array_id, "report": report_id, "weights": source}
