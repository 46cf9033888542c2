"""End to end: run -> CSVs -> report; kill -9 and resume; shards; corrupt images."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from advise_bench.runner.run import RunConfig, parse_shard, run
from advise_bench.runner.store import RowWriter, done_ids

pytestmark = pytest.mark.slow

FAST = {"lime_samples": 60, "scorecam_max_n": 16}
MODEL = "mobilenet"  # MobileNet 0.25: real weights, and the cheapest to load and trace
TIME_COLS = ["time_s", "time_top2_s", "kde_s"]  # wall times differ from run to run


@pytest.fixture(scope="module")
def manifest(ilsvrc_dir, tmp_path_factory):
    """5 real images plus a corrupt one, via a manifest with absolute-ish relative paths."""
    folder = tmp_path_factory.mktemp("data")
    rows = list(csv.DictReader(open(ilsvrc_dir / "manifest.csv")))[:5]
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with open(folder / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        for r in rows[:2]:
            w.writerow([os.path.relpath(ilsvrc_dir / r["file"], folder), r["label"]])
        w.writerow(["corrupt.jpg", 0])
        for r in rows[2:]:
            w.writerow([os.path.relpath(ilsvrc_dir / r["file"], folder), r["label"]])
    return folder / "manifest.csv"


def _cfg(manifest, out, **kw):
    base = dict(model=MODEL, data=str(manifest), out=str(out), **FAST)
    base.update(kw)
    return RunConfig(**base)


def _rows(out, method="gradcam"):
    files = [*Path(out, MODEL).glob(f"{method}.csv"), *Path(out, MODEL).glob(f"{method}.shard-*.csv")]
    frames = [pd.read_csv(p, dtype={"image_id": str}) for p in sorted(files)]
    return pd.concat(frames).sort_values("image_id").reset_index(drop=True)


def test_end_to_end_all_methods_and_report(manifest, tmp_path):
    from advise_bench.report.build import build_report

    out = tmp_path / "res"
    counts = run(_cfg(manifest, out, limit=3), progress=False)
    # The corrupt image: one error row per method, per shuffled control and per reference map (6 + 6 + 3).
    assert counts["images"] == 3 and counts["error"] == 15
    folder = out / MODEL
    for m in ("advise", "gradcam", "gradcampp", "scorecam", "layercam", "lime"):
        df = pd.read_csv(folder / f"{m}.csv", dtype={"image_id": str})
        assert len(df) == 3 and set(df["status"]) == {"ok", "error"}
        ok = df[df.status == "ok"]
        for col in ("image_id", "label", "top5", "top5_probs", "AD", "SSIM", "FSIM", "MSE", "AVX", "CS_r", "Hit",
                    "penalty", "time_s", "device"):
            assert col in df.columns and ok[col].notna().all(), (m, col)
        assert ok[["AD", "SSIM", "FSIM", "MSE", "AVX"]].apply(lambda s: s.between(0, 1)).all().all()
    assert "corrupt.jpg" in df.loc[df.status == "error", "error"].iloc[0]
    groups = pd.read_csv(folder / "advise_groups.csv")
    assert len(groups) >= 2 and {"peaks", "units", "AVX"} <= set(groups.columns)
    assert len(list((folder / "advise_units").glob("*.npz"))) == 2
    assert (folder / "run.json").exists()
    for m in ("random", "centre", "keep-all", "advise-shuffled", "gradcampp-shuffled", "lime-shuffled"):
        df = pd.read_csv(folder / f"{m}.csv", dtype={"image_id": str})
        assert len(df) == 3 and (df.status == "ok").sum() == 2, m
        # A shuffled control costs only the scoring: no explainer time. A reference map is an explainer.
        assert df["time_s"].isna().all() if m.endswith("-shuffled") else df["time_s"].notna().sum() == 2
    table, paths = build_report(out)
    # Table I: the six methods, then the three reference maps; the shuffled controls are in chance.csv.
    assert len(table) == 9 and all(p.exists() for p in paths.values())
    assert list(table["kind"]) == ["method"] * 6 + ["reference"] * 3
    assert "chance and probes" in paths["markdown"].read_text()
    validity = pd.read_csv(paths["validity"])
    assert set(validity["metric"]) >= {"AD", "SSIM", "FSIM", "MSE", "AVX", "Hit", "CS_pass"}
    chance = pd.read_csv(paths["chance"])
    assert set(chance["against"]) == {"chance", "shuffled"} and chance["method"].nunique() == 6
    assert "ADVISE" in paths["markdown"].read_text() and "AD ↓" in paths["markdown"].read_text()
    adv = table[table.method == "ADVISE"].iloc[0]
    assert adv["n"] == 2 and adv["errors"] == 1 and adv["peak_range"] != "N/A"
    # Resuming a finished run does nothing.
    again = run(_cfg(manifest, out, limit=3), progress=False)
    assert again["skipped_done"] == 3 and again["ok"] == 0
    # Killed between an image's candidate rows and its row: the resume redoes it and writes its candidates once.
    lines = (folder / "advise.csv").read_text().splitlines(keepends=True)
    victim = next(line.split(",")[0] for line in lines[1:] if line.rstrip("\n").endswith(",ok,"))
    (folder / "advise.csv").write_text("".join(line for line in lines if not line.startswith(victim + ",")))
    before = pd.read_csv(folder / "advise_groups.csv", dtype={"image_id": str})
    run(_cfg(manifest, out, limit=3, methods=("advise",)), progress=False)
    after = pd.read_csv(folder / "advise_groups.csv", dtype={"image_id": str})
    assert len(after) == len(before) and not after.duplicated(["image_id", "target", "peaks"]).any()


def test_shards_merge_to_the_unsharded_run(manifest, tmp_path):
    from advise_bench.runner.results import load_rows

    full, sharded = tmp_path / "full", tmp_path / "sharded"
    methods = ("gradcam", "advise")
    run(_cfg(manifest, full, methods=methods, advise_selection="max-peaks"), progress=False)
    # The sharded folder starts as an unsharded run of the first two images; each shard holds one of them
    # and must take it as done (read from the unsharded files), not redo it.
    run(_cfg(manifest, sharded, methods=methods, limit=2, advise_selection="max-peaks"), progress=False)
    for k in (0, 1):
        counts = run(_cfg(manifest, sharded, methods=methods, shard=(k, 2), advise_selection="max-peaks"),
                     progress=False)
        assert counts["images"] == 3 and counts["skipped_done"] == 1
    for m in methods:
        assert sum(len(pd.read_csv(p)) for p in (sharded / MODEL).glob(f"{m}.*csv")) == 6  # no image twice
    a = load_rows(full).drop(columns=TIME_COLS + ["shard"], errors="ignore").sort_values(["method", "image_id"])
    b = load_rows(sharded).drop(columns=TIME_COLS + ["shard"], errors="ignore").sort_values(["method", "image_id"])
    # The reference maps and the shuffled controls too: identical in any shard, resume or rerun.
    assert {"random", "centre", "keep-all", "gradcam-shuffled", "advise-shuffled"} <= set(b["method"])
    rerun = tmp_path / "rerun"
    run(_cfg(manifest, rerun, methods=("gradcam",)), progress=False)
    c = load_rows(rerun).drop(columns=TIME_COLS + ["shard"], errors="ignore").sort_values(["method", "image_id"])
    chance = ["random", "centre", "keep-all", "gradcam-shuffled"]
    c = c[c.method.isin(chance)].dropna(axis=1, how="all").reset_index(drop=True)
    pd.testing.assert_frame_equal(a.loc[a.method.isin(chance), list(c.columns)].reset_index(drop=True), c,
                                  check_dtype=False)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def test_kill_minus_nine_then_resume_equals_uninterrupted(manifest, tmp_path):
    ref_out, out = tmp_path / "ref", tmp_path / "killed"
    # The methods' rows only: the chance rows would double the scoring and add nothing to what is tested here.
    run(_cfg(manifest, ref_out, methods=("gradcam", "layercam"), reference_maps=False, shuffled_control=False),
        progress=False)
    cmd = [sys.executable, "-m", "advise_bench.cli", "run", "--model", MODEL, "--data", str(manifest), "--out", str(out),
           "-m", "gradcam", "-m", "layercam", "--no-reference-maps", "--no-shuffled-control", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = out / MODEL / "layercam.csv"
    deadline = time.time() + 240
    while time.time() < deadline and (not target.exists() or len(done_ids(target)) < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(done_ids(target)) < 6, "the run finished before it could be killed"
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    for m in ("gradcam", "layercam"):
        got, want = _rows(out, m), _rows(ref_out, m)
        assert got["image_id"].is_unique and len(got) == 6
        pd.testing.assert_frame_equal(got.drop(columns=TIME_COLS, errors="ignore"),
                                      want.drop(columns=TIME_COLS, errors="ignore"), check_dtype=False)


def test_torn_last_line_is_repaired(tmp_path):
    p = tmp_path / "x.csv"
    w = RowWriter(p)
    w.write({"image_id": "a", "v": 1})
    w.write({"image_id": "b", "v": 2})
    with open(p, "ab") as fh:
        fh.write(b"c,3")  # a write cut short by kill -9
    # Another process's file is only read: the torn row is not counted and the file is left as it is.
    assert done_ids(p, repair=False) == {"a", "b"} and p.read_text().endswith("b,2\nc,3")
    assert done_ids(p) == {"a", "b"}
    RowWriter(p).write({"image_id": "c", "v": 3})
    assert p.read_text() == "image_id,v\na,1\nb,2\nc,3\n"


def test_drop_rows_keeps_the_other_rows_byte_for_byte(tmp_path):
    from advise_bench.runner.store import drop_rows

    p = tmp_path / "x.csv"
    w = RowWriter(p)
    for image_id, v in (("a", 0.1 + 0.2), ("b", "x, y"), ("a", 1e-17), ("c", None)):
        w.write({"image_id": image_id, "v": v})
    before = p.read_text().splitlines(keepends=True)
    assert drop_rows(p, lambda r: r["image_id"] == "a") == 2
    assert p.read_text() == "".join(before[:1] + before[2:3] + before[4:])
    assert drop_rows(p, lambda r: False) == 0 and drop_rows(tmp_path / "none.csv", lambda r: True) == 0


def test_parse_shard(monkeypatch):
    assert parse_shard("1/4") == (1, 4)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "8")
    assert parse_shard(None) == (3, 8)
    from advise_bench.errors import UserError

    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(UserError):
            parse_shard(bad)


def test_report_compares_with_the_paper():
    import numpy as np

    from advise_bench.report.paper import paper_table
    from advise_bench.report.table import paper_markdown, with_paper

    paper = paper_table()
    assert len(paper) == 24 and set(paper.architecture) == {"alexnet", "vgg16", "resnet50", "xception"}
    ours = pd.DataFrame([{"architecture": "vgg16", "method": "ADVISE", "AD": 0.30, "SSIM": 0.10, "FSIM": 0.5,
                          "MSE": 0.2, "AVX": 0.3, "time_gpu_s": np.nan, "time_cpu_s": 1.0}])
    merged = with_paper(ours).iloc[0]
    assert merged["paper_AD"] == 0.26 and merged["delta_AD"] == pytest.approx(0.04)
    assert merged["delta_time_cpu_s"] == pytest.approx(1.0 - 6.91)
    assert "| vgg16 | ADVISE | 0-7 | 0.26 |" in paper_markdown()


def test_the_runner_names_no_method():
    """Every method goes through the same path: no method name appears in the runner's code."""
    import re

    import advise_bench.runner as runner_pkg
    from advise_bench.explainers import EXPLAINERS
    from advise_bench.runner.manifest import PACKAGES

    names = set(EXPLAINERS) | {c.display_name.lower() for c in EXPLAINERS.values()}
    names -= {"random"}  # the reference map's name is also --weights random's
    for path in Path(runner_pkg.__file__).parent.glob("*.py"):
        text = path.read_text().lower().replace("advise-bench", "").replace("advise_bench", "")  # the tool's name
        for package in PACKAGES:  # the version manifest lists packages, e.g. "lime"
            text = text.replace(f'"{package}"', "")
        for name in names:
            assert not re.search(rf"(?<![\w]){re.escape(name)}(?![\w+])", text), (path.name, name)


def test_row_writer_widens_the_header_when_later_rows_bring_columns(tmp_path):
    p = tmp_path / "m.csv"
    w = RowWriter(p)
    w.write({"image_id": "bad", "status": "error", "error": "cannot decode"})
    w.write({"image_id": "good", "status": "ok", "error": "", "AVX": 0.5})
    rows = list(csv.DictReader(open(p)))
    assert [r["image_id"] for r in rows] == ["bad", "good"]
    assert rows[0]["AVX"] == "" and rows[1]["AVX"] == "0.5"
    RowWriter(p).write({"image_id": "next", "status": "ok", "error": "", "AVX": 0.25})  # reopened: header kept
    assert done_ids(p) == {"bad", "good", "next"}


def test_constant_images_are_degenerate_and_stay_out_of_the_means(ilsvrc_dir, tmp_path):
    """A folder with black, white and real images: the constant ones get `degenerate_image` for every method,
    the table's means are those of the real images, and the opt-in faithfulness metrics are recorded."""
    import shutil

    import numpy as np
    from PIL import Image

    from advise_bench.report.build import build_report

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "a_black.png")
    Image.fromarray(np.full((64, 64, 3), 255, np.uint8)).save(folder / "b_white.png")
    real = sorted((ilsvrc_dir / "images").glob("*.JPEG"))[:2]
    for p in real:
        shutil.copy(p, folder / p.name)
    out = tmp_path / "res"
    counts = run(RunConfig(model=MODEL, data=str(folder), out=str(out), methods=("gradcam", "layercam"),
                           extra_metrics=("deletion", "insertion"), reference_maps=False, shuffled_control=False),
                 progress=False)
    assert counts["degenerate_image"] == 4 and counts["ok"] + counts["degenerate_map"] == 4
    rows = _rows(out, "gradcam").set_index("image_id")
    assert rows.loc["a_black", "status"] == rows.loc["b_white", "status"] == "degenerate_image"
    normal = rows[rows["status"] == "ok"]
    assert len(normal) == 2 and normal[["deletion_auc", "insertion_auc"]].notna().all().all()
    table, _ = build_report(out)
    gc = table[table["method"] == "Grad-CAM"].iloc[0]
    assert gc["n"] == 2 and gc["AVX"] == pytest.approx(normal["AVX"].mean())
    assert gc["insertion_auc"] == pytest.approx(normal["insertion_auc"].mean())


def test_results_record_shared_paths_portably(tmp_path, monkeypatch):
    from advise_bench.paths import SHARED_ENV, portable_path
    from advise_bench.runner.presets import load_preset

    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    inside = tmp_path / "shared" / "ilsvrc3000" / "images" / "a.JPEG"
    assert portable_path(inside) == "${SHARED}/ilsvrc3000/images/a.JPEG"
    assert portable_path(tmp_path / "shared_other" / "a.JPEG") == str(tmp_path / "shared_other" / "a.JPEG")
    assert portable_path("imagenet") == "imagenet"
    assert portable_path(f"manifest {tmp_path / 'shared'}/m.csv") == "manifest ${SHARED}/m.csv"
    preset = tmp_path / "p.toml"
    preset.write_text('[run]\ndata = "${SHARED}/ilsvrc3000/manifest.csv"\n')
    expanded = load_preset(preset)["data"]  # presets expand the token; results write it back
    assert expanded == str(tmp_path / "shared" / "ilsvrc3000" / "manifest.csv")
    assert portable_path(expanded) == "${SHARED}/ilsvrc3000/manifest.csv"


def test_a_resumed_run_keeps_the_earlier_sessions_in_its_manifest(tmp_path):
    import json

    from advise_bench.config import RunConfig
    from advise_bench.runner.manifest import write_manifest

    path = tmp_path / "run.json"
    write_manifest(path, RunConfig(limit=10), images=10)
    first = json.loads(path.read_text())
    assert first["earlier_sessions"] == []
    write_manifest(path, RunConfig(limit=20), images=20)
    write_manifest(path, RunConfig(limit=30), images=30)
    last = json.loads(path.read_text())
    assert [s["config"]["limit"] for s in last["earlier_sessions"]] == [10, 20]
    assert last["config"]["limit"] == 30 and last["earlier_sessions"][0]["created"] == first["created"]


def test_overlap_writes_the_same_rows_and_begins_the_next_batch_before_writing_one(manifest, tmp_path, monkeypatch):
    """--overlap on: each batch begins (the explainers' prepare: ADVISE's KDE starts) before the previous one is
    finished and written; the rows, the corrupt image's error rows included, equal those of --overlap off."""
    from advise_bench.explainers.base import Explainer
    from advise_bench.runner.results import load_rows

    events = []
    original = Explainer.begin_candidates

    def logged(self, images, targets):
        call = (self.name, len([e for e in events if e[0] == "begin"]))
        events.append(("begin", call))
        finish = original(self, images, targets)
        return lambda: (events.append(("finish", call)), finish())[1]

    monkeypatch.setattr(Explainer, "begin_candidates", logged)
    frames, orders = {}, {}
    for mode in ("off", "on"):
        events.clear()
        run(_cfg(manifest, tmp_path / mode, methods=("advise", "gradcam"), limit=4, reference_maps=False,
                 shuffled_control=False, advise_selection="max-peaks", overlap=mode), progress=False)
        frames[mode] = load_rows(tmp_path / mode).drop(columns=TIME_COLS).sort_values(["method", "image_id"])
        orders[mode] = list(events)
    pd.testing.assert_frame_equal(frames["off"].reset_index(drop=True), frames["on"].reset_index(drop=True))
    assert set(frames["on"]["status"]) == {"ok", "error"}  # the corrupt image, the third, between good ones
    # Two warm-up calls, then three good images, two methods, a batch each: without overlap every call finishes
    # before the next begins.
    off = orders["off"]
    assert len(off) == 16 and all(off[i][0] == "begin" and off[i + 1] == ("finish", off[i][1]) for i in range(0, 16, 2))
    on = orders["on"][4:]
    begun_before = {call: [e[1] for e in on[:on.index(("finish", call))] if e[0] == "begin"]
                    for kind, call in on if kind == "finish"}
    # Batch 0's calls finish after batch 1's began (without overlap: 1 and 2 calls begun); batch 1's before the
    # corrupt batch 2 (no call) is written; batch 3, the last, after all six.
    assert sorted(len(calls) for calls in begun_before.values()) == [4, 4, 4, 4, 6, 6]


def test_overlap_rejects_an_unknown_mode(manifest, tmp_path):
    from advise_bench.errors import UserError

    with pytest.raises(UserError, match="--overlap sometimes: choose auto, on, off"):
        run(_cfg(manifest, tmp_path, overlap="sometimes"), progress=False)
