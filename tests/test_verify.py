"""``advise-bench verify``: a tiny real run (MobileNet 0.25, 2 images, Grad-CAM and ADVISE) rerun and compared."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from advise_bench.runner.run import RunConfig, run
from advise_bench.runner.verify import compare_folders, verify

pytestmark = pytest.mark.slow

MODEL = "mobilenet"


@pytest.fixture(scope="module")
def tiny_run(ilsvrc_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("verify")
    run(RunConfig(model=MODEL, data=str(ilsvrc_dir / "manifest.csv"), limit=2, methods=("gradcam", "advise"),
                  advise_selection="max-peaks", out=str(out)), progress=False)
    return out


def test_verify_agrees_with_a_run_of_this_machine(tiny_run):
    (check,) = verify(tiny_run, sample=2)
    assert check.same_fingerprint and check.ok
    by_method = {m.method: m for m in check.methods}
    assert by_method["gradcam"].rows == by_method["gradcam"].agree == 2
    advise = by_method["advise"]
    assert advise.grouped and advise.agree == advise.same_groups == 2


def test_the_methods_of_every_session_are_verified(tiny_run, ilsvrc_dir, tmp_path):
    """A folder resumed with other methods (the main runs got their reference maps in a later session): verify
    takes the methods of every session its run.json records, not only the last one's."""
    import shutil

    from advise_bench.runner.verify import recorded_config

    folder = tmp_path / "resumed"
    shutil.copytree(tiny_run, folder)
    run(RunConfig(model=MODEL, data=str(ilsvrc_dir / "manifest.csv"), limit=2, methods=("centre",),
                  reference_maps=False, shuffled_control=False, out=str(folder)), progress=False)
    methods = recorded_config(folder / MODEL).methods
    assert {"gradcam", "advise", "centre"} <= set(methods) and len(methods) == len(set(methods))


def _copy(src, dst):
    dst.mkdir(parents=True)
    for p in src.glob("*.csv"):
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_disagreements_are_explained_only_by_another_fingerprint(tiny_run, tmp_path):
    folder = tiny_run / MODEL
    here = pd.read_csv(folder / "gradcam.csv")["fingerprint"].iloc[0]
    images = sorted(pd.read_csv(folder / "gradcam.csv", dtype={"image_id": str})["image_id"])
    old = _copy(folder, tmp_path / "old")
    rows = pd.read_csv(old / "gradcam.csv", dtype={"image_id": str})
    rows.loc[0, "AVX"] += 1e-4  # a small change
    rows.to_csv(old / "gradcam.csv", index=False)
    (check,) = compare_folders(old, folder, images, ["gradcam"], here, 1e-5, 1e-3)
    assert check.agree == 1 and check.unexplained == [rows.loc[0, "image_id"]]  # same machine: unexplained
    rows["fingerprint"] = "another"
    rows.to_csv(old / "gradcam.csv", index=False)
    (check,) = compare_folders(old, folder, images, ["gradcam"], here, 1e-5, 1e-3)
    assert check.agree == 1 and not check.unexplained  # another machine, within 1e-3: explained
    rows.loc[0, "AVX"] += 0.1
    rows.to_csv(old / "gradcam.csv", index=False)
    (check,) = compare_folders(old, folder, images, ["gradcam"], here, 1e-5, 1e-3)
    assert check.unexplained  # another machine, but 0.1 on a map without groups: not explained
    # ADVISE: other group sizes on another machine explain any difference
    groups = pd.read_csv(old / "advise_groups.csv", dtype={"image_id": str})
    groups.loc[0, "units"] += 1
    groups.to_csv(old / "advise_groups.csv", index=False)
    advise = pd.read_csv(old / "advise.csv", dtype={"image_id": str})
    advise["fingerprint"] = "another"
    advise.loc[advise["image_id"] == groups.loc[0, "image_id"], "AVX"] += 0.2
    advise.to_csv(old / "advise.csv", index=False)
    (check,) = compare_folders(old, folder, images, ["advise"], here, 1e-5, 1e-3)
    assert check.same_groups == 1 and check.agree == 1 and not check.unexplained


def test_cli_verify_exit_status(tiny_run):
    from advise_bench.cli import app

    res = CliRunner().invoke(app, ["verify", str(tiny_run), "--sample", "1", "-m", "gradcam"])
    assert res.exit_code == 0, res.output
    assert "gradcam: 1/1 rows agree" in res.output and "same: yes" in res.output
    res = CliRunner().invoke(app, ["verify", str(tiny_run), "-m", "lime"])
    assert res.exit_code != 0
