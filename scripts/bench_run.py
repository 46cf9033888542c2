"""Cost of a paper-setting run: wall seconds per image of ``advise-bench run`` with a preset (all six
methods, both maps, all metrics), and every method's ``time_s`` (top-1 map, cold) and ``time_top2_s``
(the top-2 map's extra cost), read back from the CSVs.

``--old-tree DIR`` runs the same command with another checkout's code (e.g. a worktree of an older
commit) right after, and prints both side by side.

Usage: python scripts/bench_run.py [--presets mobilenet_v2 mobilenet] [--images 3] [--old-tree DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def time_command(tree: Path, preset: str, n: int, out: Path) -> float:
    """Wall seconds of ``advise-bench run`` with the preset on n images, with the code in ``tree``."""
    cmd = [sys.executable, "-m", "advise_bench.cli", "run", "--config", str(ROOT / "configs" / f"{preset}.toml"),
           "--limit", str(n), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def timed_run(tree: Path, preset: str, n: int, out: Path) -> tuple[float, pd.DataFrame]:
    """Run the preset on n images with the code in ``tree``; wall seconds and the per-method times."""
    wall = time_command(tree, preset, n, out)
    rows = pd.concat(pd.read_csv(p) for p in (out).glob("*/*.csv")
                     if not p.name.startswith(("advise_groups", "table")))
    return wall, rows.groupby("method")[["time_s", "time_top2_s"]].mean()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["mobilenet_v2", "mobilenet"])
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--old-tree", type=Path)
    args = ap.parse_args()
    trees = {"new": ROOT} | ({"old": args.old_tree.resolve()} if args.old_tree else {})
    for preset in args.presets:
        results, startup = {}, {}
        for label, tree in trees.items():
            with tempfile.TemporaryDirectory() as tmp:
                results[label] = timed_run(tree, preset, args.images, Path(tmp))
            with tempfile.TemporaryDirectory() as tmp:  # the same command on no image: start-up only
                startup[label] = time_command(tree, preset, 0, Path(tmp))
        print(f"\n{preset}, {args.images} images, paper settings (configs/{preset}.toml):")
        table = pd.concat({label: times for label, (_, times) in results.items()}, axis=1).round(3)
        print(table.to_string())
        for label, (wall, times) in results.items():
            per_image = (wall - startup[label]) / args.images
            print(f"{label}: whole run {wall:.0f} s wall, start-up (model load, no image) {startup[label]:.0f} s: "
                  f"{per_image:.1f} s/image after start-up (warm-up tracing included); "
                  f"sum of method times {times.sum().sum():.1f} s/image")


if __name__ == "__main__":
    main()
