"""Methods from outside the package: the registry's rules on hand-made plugins, then the example package
(tests/example_pkg) installed with pip and found through its entry point, or given as module:Class, going
through run, report, resume, show, sanity, ablate and slurm like a built-in method."""

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import advise_bench.explainers.registry as registry
import advise_bench.method_kinds as method_kinds
from advise_bench.errors import UserError
from advise_bench.explainers import (
    EXPLAINERS,
    check_methods,
    display_name,
    explainer_names,
    list_methods,
    method_source,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "tests" / "example_pkg"
SPEC = "tests.example_pkg.gradient_input:GradientTimesInput"
CLI = [sys.executable, "-m", "advise_bench.cli"]

PLUGIN_MODULES = {
    "plug_ok": """
        from advise_bench.explainers import Explainer

        class CentreBias(Explainer):  # declares nothing: named after the class
            def explain_target(self, images, targets, prepared):
                raise NotImplementedError
    """,
    "plug_bad": """
        from advise_bench.explainers import Explainer

        class Clash(Explainer):
            name = "gradcam"
            def explain_target(self, images, targets, prepared): ...

        class Abstract(Explainer):
            name = "abstract"

        class NotAnExplainer:
            name = "plain"

        class BadName(Explainer):
            name = "no/slashes"
            def explain_target(self, images, targets, prepared): ...
    """,
    "plug_raises": "raise RuntimeError('boom')",
    "plug_entry": """
        from advise_bench.explainers import Explainer

        class GridSaliency(Explainer):
            name, display_name = "gridsal", "Grid saliency"
            config_options = {"seed": "seed"}
            def explain_target(self, images, targets, prepared): ...

        class Impostor(Explainer):
            name = "gradcam"
            def explain_target(self, images, targets, prepared): ...

        class Other(Explainer):
            name = "other"
            def explain_target(self, images, targets, prepared): ...
    """,
    "plug_broken": "raise ImportError('this plugin needs torch')",
}
# Installed distributions (dist-info folders on sys.path) and their entry points.
DISTRIBUTIONS = {
    "good_plugin": {"gridsal": "plug_entry:GridSaliency"},
    "broken_plugin": {"broken": "plug_broken:Method"},
    "clashing_plugin": {"gradcam": "plug_entry:Impostor", "misnamed": "plug_entry:Other"},
}


def _write_site(folder: Path, distributions: dict) -> Path:
    folder.mkdir(parents=True)
    for module, source in PLUGIN_MODULES.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    for dist, entries in distributions.items():
        info = folder / f"{dist}-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = [f"{name} = {target}" for name, target in entries.items()]
        (info / "entry_points.txt").write_text("[advise_bench.explainers]\n" + "\n".join(lines) + "\n")
    return folder


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """A folder on sys.path with plugin modules and installed-looking distributions; a fresh registry."""
    monkeypatch.setattr(registry, "PLUGINS", {})
    monkeypatch.setattr(registry, "PLUGIN_SOURCES", {})
    method_kinds._installed_display_name.cache_clear()
    monkeypatch.syspath_prepend(str(_write_site(tmp_path / "site", DISTRIBUTIONS)))
    yield tmp_path / "site"
    method_kinds._installed_display_name.cache_clear()
    for module in PLUGIN_MODULES:
        sys.modules.pop(module, None)


def test_a_module_class_is_looked_up_when_asked_for_and_named_after_its_class(plugins):
    # The default: the six explainers, never a plugin; the reference maps are added by a run, not here.
    assert check_methods(None) == explainer_names() and len(explainer_names()) == 6
    assert check_methods(["advise", "plug_ok:CentreBias", "plug_ok:CentreBias"]) == ("advise", "centrebias")
    assert display_name("centrebias") == "centrebias" and method_source("centrebias") == "module plug_ok:CentreBias"
    assert check_methods(["centrebias"]) == ("centrebias",)  # found again by its name in this process


@pytest.mark.parametrize("spec,cause", [
    ("plug_bad:Clash", "method name 'gradcam' clashes with the built-in 'gradcam' (advise_bench.explainers.cam.GradCAM)"),
    ("plug_bad:Abstract", "Abstract does not implement explain_target"),
    ("plug_bad:NotAnExplainer", "class NotAnExplainer, not a subclass of advise_bench.explainers.Explainer"),
    ("plug_bad:BadName", "method name 'no/slashes' must be letters, digits and _.+- only"),
    ("plug_bad:Missing", "module plug_bad has no Missing"),
    ("plug_raises:Anything", "cannot import plug_raises: RuntimeError: boom"),
    ("no_such_module_here:X", "cannot import no_such_module_here: ModuleNotFoundError"),
])
def test_a_bad_module_class_is_one_line_naming_the_cause(plugins, spec, cause):
    with pytest.raises(UserError) as info:
        check_methods([spec])
    assert cause in str(info.value) and "\n" not in str(info.value)


def test_entry_points_are_found_listed_and_never_break_an_unrelated_command(plugins):
    listed = list_methods()
    built_in = len(EXPLAINERS)  # the six explainers, then the reference maps, then the plugins
    assert [r["name"] for r in listed[:built_in]] == [*explainer_names(), "random", "centre", "keep-all"]
    assert all(r["source"].startswith("built-in") and "error" not in r for r in listed[:built_in])
    # This test's distributions, beside whatever plugins the environment has installed (a user's own, say).
    rows = {r["name"]: r for r in listed[built_in:] if any(f"({dist} 0.1)" in r["source"] for dist in DISTRIBUTIONS)}
    assert set(rows) == {"gridsal", "broken", "gradcam", "misnamed"}
    good = rows["gridsal"]
    assert good["display_name"] == "Grid saliency" and good["options"] == ("seed",) and "error" not in good
    assert good["source"] == "entry point plug_entry:GridSaliency (good_plugin 0.1)"
    assert "ImportError: this plugin needs torch" in rows["broken"]["error"]
    assert "misnamed" in rows["misnamed"]["error"] and "'other'" in rows["misnamed"]["error"]
    # A plugin named like a built-in: the built-in wins; the listing shows the clash, naming both.
    assert check_methods(["gradcam"]) == ("gradcam",) and method_source("gradcam") == "built-in"
    assert "plug_entry:Impostor" in rows["gradcam"]["source"]
    assert "clashes with the built-in 'gradcam' (advise_bench.explainers.cam.GradCAM)" in rows["gradcam"]["error"]
    # The broken plugin matters only to whoever asks for it.
    assert check_methods(["advise", "gridsal"]) == ("advise", "gridsal")
    with pytest.raises(UserError, match=r"'broken' \(entry point plug_broken:Method \(broken_plugin 0.1\)\) cannot be "
                                        r"imported: ImportError: this plugin needs torch"):
        check_methods(["broken"])
    with pytest.raises(UserError, match="unknown method.*choose from advise.*gridsal.*package.module:ClassName"):
        check_methods(["nosuch"])


def test_the_report_shows_an_installed_plugin_by_its_display_name(plugins):
    assert display_name("gridsal") == "Grid saliency"  # not looked up yet in this process: found quietly
    assert display_name("broken") == "broken" and display_name("never-installed") == "never-installed"


def test_two_distributions_claiming_one_name_is_an_error_naming_both(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "PLUGINS", {})
    site = _write_site(tmp_path / "site", {"good_plugin": {"gridsal": "plug_entry:GridSaliency"},
                                           "twin_plugin": {"gridsal": "plug_entry:Other"}})
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(UserError) as info:
        check_methods(["gridsal"])
    assert "claimed by 2" in str(info.value) and "good_plugin" in str(info.value) and "twin_plugin" in str(info.value)


def test_cli_asking_for_a_broken_plugin_is_one_line_and_exit_2(tmp_path):
    site = _write_site(tmp_path / "site", DISTRIBUTIONS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    res = subprocess.run([*CLI, "run", "-m", "broken", "--data", "skimage"], capture_output=True, text=True,
                         env=env, timeout=240)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "this plugin needs torch" in res.stderr, res.stderr
    listed = subprocess.run([*CLI, "methods"], capture_output=True, text=True, env=env, timeout=240)
    assert listed.returncode == 0 and "cannot be used: " in listed.stdout and "Grid saliency" in listed.stdout


# --------------------------------------------------------------------------- the example package, for real


@pytest.fixture(scope="module")
def manifest(ilsvrc_dir, tmp_path_factory):
    """Two real images."""
    folder = tmp_path_factory.mktemp("data")
    rows = list(csv.DictReader(open(ilsvrc_dir / "manifest.csv")))[:2]
    with open(folder / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        for r in rows:
            w.writerow([ilsvrc_dir / r["file"], r["label"]])
    return folder / "manifest.csv"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example package pip-installed into a folder of its own (a copy is built: no build files in the
    checkout); the environment of a process that has it installed, like a fresh virtual environment would."""
    root = tmp_path_factory.mktemp("installed")
    shutil.copytree(EXAMPLE, root / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                          "--target", str(root / "site"), str(root / "src")], capture_output=True, text=True, timeout=240)
    assert pip.returncode == 0, pip.stderr[-2000:]  # offline build: needs setuptools and wheel (the dev extras)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "site"), str(REPO)])}


@pytest.fixture(scope="module")
def installed_run(installed, manifest, tmp_path_factory):
    """run -m gradxinput -m advise -m gradcam, then report, in a process where the example is installed."""
    out = tmp_path_factory.mktemp("plugin-run")
    command = [*CLI, "run", "--model", "mobilenet", "--data", str(manifest), "--out", str(out), "-m", "gradxinput",
               "-m", "advise", "-m", "gradcam", "--quiet"]

    def cli(*args):
        res = subprocess.run(args, capture_output=True, text=True, env=installed, cwd=out, timeout=600)
        assert res.returncode == 0, res.stderr
        return res.stdout

    return {"out": out, "run": cli(*command), "report": cli(*CLI, "report", str(out), "--bootstrap-resamples", "1000"),
            "methods": cli(*CLI, "methods")}


@pytest.mark.slow
def test_the_installed_example_is_listed_run_and_reported(installed_run):
    out = installed_run["out"]
    line = next(ln for ln in installed_run["methods"].splitlines() if ln.startswith("gradxinput "))
    assert "Gradient × Input" in line and "--score" in line
    assert "entry point advise_bench_example.gradient_input:GradientTimesInput (advise-bench-example 0.1.0)" in line
    rows = pd.read_csv(out / "mobilenet" / "gradxinput.csv")
    assert len(rows) == 2 and (rows["status"] == "ok").all() and rows["AVX"].between(0, 1).all()
    sources = json.loads((out / "mobilenet" / "run.json").read_text())["method_sources"]
    assert sources["gradcam"] == "built-in" and sources["gradxinput"].startswith("entry point advise_bench_example")
    # Table I, the paired comparisons with ADVISE and the ranks all carry it by its display name.
    printed = installed_run["report"].splitlines()
    assert any(ln.split()[:4] == ["Gradient", "×", "Input", "2"] and "±" in ln for ln in printed)  # Table I
    assert any(ln.startswith("Gradient × Input ") and "[" in ln and "±" not in ln for ln in printed)  # AVX verdict
    comparisons = pd.read_csv(out / "comparisons.csv")
    assert set(comparisons["baseline"]) == {"Grad-CAM", "Gradient × Input"} and len(comparisons) == 2 * 5
    ranks = pd.read_csv(out / "ranks.csv")
    assert set(ranks["method"]) == {"ADVISE", "Grad-CAM", "Gradient × Input"}


@pytest.mark.slow
def test_module_class_without_installing_gives_the_installed_run_s_rows_and_resumes(installed_run, manifest,
                                                                                     tmp_path, monkeypatch):
    """-m tests.example_pkg.module:Class from a checkout: the same method, the same rows; run again, it resumes."""
    from advise_bench.config import RunConfig
    from advise_bench.runner.run import run

    monkeypatch.chdir(REPO)
    cfg = {"model": "mobilenet", "data": str(manifest), "out": str(tmp_path)}
    cfg.update(reference_maps=False, shuffled_control=False)  # the plugin's own rows only
    assert run(RunConfig(methods=(SPEC,), **cfg), progress=False)["ok"] == 2
    again = run(RunConfig(methods=(SPEC,), **cfg), progress=False)
    assert again["skipped_done"] == 2 and again["ok"] == 0
    ours = pd.read_csv(tmp_path / "mobilenet" / "gradxinput.csv").drop(columns=["time_s", "time_top2_s"])
    installed = pd.read_csv(installed_run["out"] / "mobilenet" / "gradxinput.csv").drop(columns=["time_s", "time_top2_s"])
    pd.testing.assert_frame_equal(ours, installed)
    sources = json.loads((tmp_path / "mobilenet" / "run.json").read_text())["method_sources"]
    assert sources == {"gradxinput": f"module {SPEC}"}


@pytest.mark.slow
def test_show_sanity_and_ablate_take_a_module_class(manifest, ilsvrc_dir, tmp_path):
    from typer.testing import CliRunner

    from advise_bench.cli import app

    image = ilsvrc_dir / next(csv.DictReader(open(ilsvrc_dir / "manifest.csv")))["file"]
    runner = CliRunner()
    shown = runner.invoke(app, ["show", str(image), "--model", "mobilenet", "-m", SPEC, "-m", "gradcam",
                                "--out", str(tmp_path / "show.png")])
    assert shown.exit_code == 0 and (tmp_path / "show.png").stat().st_size > 0, shown.output
    sanity = runner.invoke(app, ["sanity", "--model", "mobilenet", "-m", SPEC, "--data", str(manifest), "--limit", "1",
                                 "--steps", "2", "--out", str(tmp_path / "sanity"), "--quiet"])
    assert sanity.exit_code == 0, sanity.output
    assert set(pd.read_csv(tmp_path / "sanity" / "sanity.csv")["method"]) == {"gradxinput"}
    ablate = runner.invoke(app, ["ablate", "--model", "mobilenet", "-m", SPEC, "--data", str(manifest), "--limit", "1",
                                 "--densities", "0.05", "--no-relu-off", "--out", str(tmp_path / "abl"), "--quiet"])
    assert ablate.exit_code == 0, ablate.output
    table = pd.read_csv(tmp_path / "abl" / "ablation" / "ablation_avx.csv")
    assert table["method"].tolist() == ["gradxinput"] and table["n"].tolist() == [1]


def test_slurm_checks_a_plugin_method_of_the_preset_before_submitting(tmp_path, monkeypatch):
    """The preset names the plugin; the login node resolves it once, every task runs the preset."""
    from advise_bench.runner.slurm import plan_submission

    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(REPO)
    preset = tmp_path / "plugin.toml"
    preset.write_text(f'[run]\nmodel = "mobilenet"\nweights = "random"\ndata = "skimage"\nmethods = ["{SPEC}", "gradcam"]\n')
    sub = plan_submission(str(preset), 2)
    assert sub.run_config.methods == ("gradxinput", "gradcam", "random", "centre", "keep-all")
    assert f" run --config {preset} " in sub.array_argv()[-1]
    preset.write_text('[run]\nmodel = "mobilenet"\nweights = "random"\ndata = "skimage"\nmethods = ["tests.nope:X"]\n')
    with pytest.raises(UserError, match="cannot import tests.nope"):
        plan_submission(str(preset), 2)
