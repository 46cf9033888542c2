"""Every script in scripts/ and tests/tools/ runs from the repository root, as the Makefile, CI and the docs run
them (``python scripts/bench_kde.py``, no ``cd``): a Python script with a parser answers ``--help`` there (which
also checks its imports, of the package and of its sibling modules), a module without one imports, a shell script
parses. And every script path that the Makefile, CI, the docs and the contributor guide name exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import advise_bench

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("scripts", "tests/tools")
PY_SCRIPTS = sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py")
SH_SCRIPTS = sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.sh"))
# Where the Makefile, CI and the documentation name scripts.
REFERRING = ["Makefile", ".ci/run", "README.md", "CONTRIBUTING.md", *(str(p.relative_to(ROOT)) for p in
             sorted((ROOT / "docs").rglob("*.md"))), *(str(p.relative_to(ROOT)) for p in PY_SCRIPTS + SH_SCRIPTS)]
SCRIPT_PATH = re.compile(r"(?<![\w/.-])(?:scripts|tests/tools)/[\w.-]+\.(?:py|sh)\b")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _env() -> dict:
    """The package under test importable (the checkout this suite belongs to), as an installed one would be."""
    package_root = str(Path(advise_bench.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}


def test_the_scripts_are_found():
    names = {_rel(p) for p in PY_SCRIPTS + SH_SCRIPTS}
    assert {"scripts/bench_common.py", "scripts/convert_alexnet.py", "tests/tools/backend_probe.py",
            "tests/tools/slurm_test.sh"} <= names


@pytest.mark.parametrize("script", PY_SCRIPTS, ids=_rel)
def test_a_python_script_runs_from_the_repository_root(script):
    source = script.read_text()
    compile(source, _rel(script), "exec")
    has_parser = "argparse" in source
    # a script without a parser would run for real here: only a module of helpers may lack one
    assert has_parser or "__main__" not in source, f"{_rel(script)} has a main but no --help"
    res = subprocess.run([sys.executable, _rel(script), *(["--help"] if has_parser else [])], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    if has_parser:
        assert res.stdout.startswith("usage:"), res.stdout[:500]


@pytest.mark.parametrize("script", SH_SCRIPTS, ids=_rel)
def test_a_shell_script_parses(script):
    res = subprocess.run(["bash", "-n", _rel(script)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr


def test_every_script_path_named_exists():
    named = {}
    for name in REFERRING:
        path = ROOT / name
        if path.exists():
            for found in SCRIPT_PATH.findall(path.read_text()):
                named.setdefault(found, name)
    missing = {script: where for script, where in named.items() if not (ROOT / script).is_file()}
    assert named and not missing, f"named but not there (script: where): {missing}"


def test_the_makefile_runs_the_benchmarks_from_the_root():
    makefile = (ROOT / "Makefile").read_text()
    assert "cd scripts" not in makefile
    bench = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    run = set(re.findall(r"scripts/(bench_\w+\.py)", bench))
    mains = {p.name for p in ROOT.glob("scripts/bench_*.py") if "__main__" in p.read_text()}
    assert run == mains, f"make bench runs {sorted(run)}, the benchmarks are {sorted(mains)}"
