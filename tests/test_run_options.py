"""One home for each option: advise_bench/run_options.py declares every option of a run, and RunConfig, the
commands (run, score, ablate, sanity, slurm, show), the paper's settings and the docs' option table agree with it."""

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main

from advise_bench import run_options
from advise_bench.run_options import BY_NAME, COMMANDS, OPTIONS, Override, options_of

ROOT = Path(__file__).resolve().parents[1]


def _click_commands(app) -> dict:
    return typer.main.get_command(app).commands


@pytest.fixture(scope="module")
def commands():
    from advise_bench.cli import app

    return _click_commands(app)


def _expected_opts(option) -> tuple[list[str], list[str]]:
    """The (opts, secondary_opts) Click gives the option: --x and --no-x for a bool without names of its own."""
    if option.flags:
        return list(option.flags), []
    flag = "--" + option.name.replace("_", "-")
    return [flag], ([f"--no-{flag[2:]}"] if option.type is bool else [])


def mismatches(command, name: str) -> list[str]:
    """How the Click command ``command`` (the CLI's ``name``) differs from the declarations: undeclared or missing
    options, and declared ones whose names, help or default are not the declared ones."""
    declared = {o.name: o for o in options_of(name)}
    params = {p.name: p for p in command.params if p.name in BY_NAME}
    problems = [f"{name}: --{n} is not declared for {name}" for n in sorted(set(params) - set(declared))]
    problems += [f"{name}: declared --{n} is missing" for n in sorted(set(declared) - set(params))]
    for n in sorted(set(params) & set(declared)):
        p, o = params[n], declared[n]
        if (list(p.opts), list(p.secondary_opts)) != _expected_opts(o):
            problems.append(f"{name} {n}: names {p.opts + p.secondary_opts}")
        if p.help != o.help:
            problems.append(f"{name} {n}: help {p.help!r}, declared {o.help!r}")
        if p.default != o.default and not (p.default is None and o.default is None):
            problems.append(f"{name} {n}: default {p.default!r}, declared {o.default!r}")
    return problems


# ------------------------------------------------------------------ RunConfig
def test_run_config_is_the_declared_fields_in_order_with_their_defaults():
    from advise_bench.config import RunConfig

    fields = dataclasses.fields(RunConfig)
    assert [f.name for f in fields] == [o.name for o in OPTIONS if o.is_field]
    assert all(f.default == BY_NAME[f.name].default and f.type == BY_NAME[f.name].type for f in fields)
    assert RunConfig.__module__ == "advise_bench.config" and RunConfig().advise_selection == "oracle-avx"


def test_every_run_config_field_is_a_run_option_or_says_where_it_is_set(commands):
    from advise_bench.config import RunConfig

    run_params = {p.name for p in commands["run"].params}
    for f in dataclasses.fields(RunConfig):
        option = BY_NAME[f.name]
        if "run" in option.commands:
            assert f.name in run_params, f.name
        else:  # e.g. relu: set by ablate; advise_kde_input: a preset key
            assert option.note and f.name not in run_params, f.name


def test_every_override_says_why_and_changes_something():
    for option in OPTIONS:
        run = option.for_command("run") if "run" in option.commands else None
        for command, override in option.per_command.items():
            assert isinstance(override, Override) and len(override.reason) > 20, (option.name, command)
            mine = option.for_command(command)
            assert run is None or (mine.type, mine.default, mine.help, mine.in_run_config) != (
                run.type, run.default, run.help, run.in_run_config), (option.name, command)


def test_paper_settings_and_defaults_come_from_the_declarations():
    from advise_bench.config import PAPER_SETTINGS
    from advise_bench.explainers.advise import DEFAULT_SELECTION
    from advise_bench.explainers.selection import SELECTIONS

    assert PAPER_SETTINGS["lime_samples"] == (1000, "LIME samples")
    assert PAPER_SETTINGS["scorecam_max_n"] == (None, "Score-CAM channels")
    assert all(BY_NAME[name].is_field for name in PAPER_SETTINGS)
    assert DEFAULT_SELECTION is run_options.DEFAULT_SELECTION and DEFAULT_SELECTION in SELECTIONS


def test_every_explainer_reads_declared_fields():
    from advise_bench.explainers import EXPLAINERS

    for cls in EXPLAINERS.values():
        assert all(BY_NAME[name].is_field for name in cls.config_options), cls.name


def test_declared_parsers_resolve():
    from advise_bench.cli_options import _parser

    for option in OPTIONS:
        if option.parse:
            assert callable(_parser(option.parse)), option.name


def test_run_options_and_config_import_nothing_heavy():
    code = ("import sys, advise_bench.config, advise_bench.run_options; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('keras', 'tensorflow', 'jax', 'torch', 'scipy', 'numpy', 'pandas', 'typer') "
            "or m.startswith(('advise_bench.explainers', 'advise_bench.models', 'advise_bench.runner', "
            "'advise_bench.report', 'advise_bench.analysis')))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "", res.stdout + res.stderr


# ------------------------------------------------------------------ the commands
@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_takes_its_declared_options_as_declared(commands, name):
    assert mismatches(commands[name], name) == []


def test_every_option_run_help_shows_is_declared(commands):
    for param in commands["run"].params:
        assert param.name in BY_NAME and "run" in BY_NAME[param.name].commands, param.name


def test_score_ablate_and_sanity_share_runs_help_and_defaults(commands):
    """The same Typer option in every command, unless the declaration overrides it for that command."""
    run = {p.name: p for p in commands["run"].params}
    for name in ("score", "ablate", "sanity", "show", "slurm"):
        for param in commands[name].params:
            option = BY_NAME.get(param.name)
            if option is None or name not in option.commands or param.name not in run:
                continue
            if name in option.per_command:
                continue
            assert (param.help, param.default, param.opts) == (run[param.name].help, run[param.name].default,
                                                             run[param.name].opts), (name, param.name)


def test_the_check_fails_on_an_undeclared_or_changed_option():
    """The command check above can fail: an option typed into a command by hand, or a changed default."""
    from typing import Annotated

    from advise_bench.cli_options import GivenOptions, takes_options

    app = typer.Typer()

    @app.command("score")
    @takes_options("score")
    def fake_score(
        options: GivenOptions = None,
        batch_size: Annotated[int, typer.Option(help="images per explainer call")] = 1,  # not score's
    ):
        pass

    @app.command("ablate")
    def fake_ablate(model: Annotated[str, typer.Option(help="zoo model")] = "vgg16"):  # not the declared one
        pass

    found = _click_commands(app)
    assert any("--batch_size is not declared" in p for p in mismatches(found["score"], "score"))
    problems = mismatches(found["ablate"], "ablate")
    assert any("default 'vgg16'" in p for p in problems) and any("help 'zoo model'" in p for p in problems)
    assert any("declared --limit is missing" in p for p in problems)


# ------------------------------------------------------------------ what the commands do with them
@pytest.fixture
def invoke():
    from typer.testing import CliRunner

    from advise_bench.cli import app

    def call(*args):
        res = CliRunner().invoke(app, [str(a) for a in args])
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        assert res.exit_code == 0, res.output
        return res

    return call


def test_run_config_parses_the_command_line_forms(monkeypatch, invoke, tmp_path):
    import pandas as pd

    import advise_bench.analysis.ablation as ablation

    seen = []
    monkeypatch.setattr(ablation, "ablate", lambda cfg, *a, **k: seen.append(cfg) or pd.DataFrame())
    invoke("ablate", "--shard", "1/4", "-m", "gradcam,advise", "--scorecam-max-n", "0", "--out", tmp_path, "--quiet")
    cfg = seen[0]
    assert (cfg.shard, cfg.methods, cfg.scorecam_max_n, cfg.out) == ((1, 4), ("gradcam", "advise"), None, str(tmp_path))
    assert cfg.lime_samples == 1000 and cfg.advise_selection == "oracle-avx"  # run's defaults


def test_score_takes_runs_options_and_scores_no_reference_maps(monkeypatch, invoke, tmp_path):
    import advise_bench.runner.score as score

    seen = {}

    class Scored:
        cfg = type("C", (), {"methods": ("mine",)})
        records = ()
        maps = type("M", (), {"unmatched": staticmethod(lambda records: 0)})

        def path(self, method):
            return tmp_path / f"{method}.csv"

    def fake_score(cfg, maps, name, targets, progress):
        seen.update(cfg=cfg, progress=progress)
        return {k: 0 for k in ("images", "ok", "error", "degenerate_image", "degenerate_map", "skipped_done")}, Scored()

    monkeypatch.setattr(score, "score", fake_score)
    invoke("score", tmp_path, "--name", "mine", "--extra-metrics", "deletion", "--no-shuffled-control", "--limit", 3,
           "--quiet")
    cfg = seen["cfg"]
    assert (cfg.extra_metrics, cfg.shuffled_control, cfg.reference_maps, cfg.limit) == (("deletion",), False, False, 3)
    assert seen["progress"] is False and cfg.out == "results"


def test_slurm_defaults_to_the_presets_weights_and_folder(monkeypatch, invoke):
    import advise_bench.runner.slurm as slurm

    seen = {}

    def stop(preset, shards, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(slurm, "plan_submission", stop)
    invoke("slurm", "ci", "--shards", 2)
    assert (seen["device"], seen["weights"], seen["out"]) == ("cpu", None, None)


# ------------------------------------------------------------------ the documentation
def test_the_docs_option_table_names_every_run_option():
    """docs/command-line.md's table of `run` options: every option of run (a bool by either form), and no other."""
    page = (ROOT / "docs" / "command-line.md").read_text()
    table = page[page.index("| option", page.index("The options of `run`")):]
    table = table[:table.index("\n\n")]
    named = set(re.findall(r"`[^`]*`", table))
    named = {flag for cell in named for flag in re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", cell)}
    run_flags = {}
    for option in options_of("run"):
        opts, secondary = _expected_opts(option)
        run_flags[option.name] = {*opts, *secondary}
    missing = [name for name, flags in run_flags.items() if not flags & named]
    assert missing == [], f"not in the docs' table of run options: {missing}"
    assert named <= set().union(*run_flags.values()), named - set().union(*run_flags.values())
