"""Rebuild every committed report, ablation summary and sanity summary from the committed rows (`make reports`).

No model is loaded: each job is `advise-bench report`, `ablate --summary-only` or `sanity --summary-only`. The jobs
are independent, so they run side by side (one per core by default); their outputs go to their own folders.

    python scripts/rebuild_reports.py [--jobs N] [--models mobilenet,mobilenet_v2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path("results") / "reference"
MODELS = ("mobilenet", "mobilenet_v2")


def _has_runs(folder: Path) -> bool:
    return any(folder.glob("*/run*.json"))


def report_jobs(model: str) -> list[tuple[str, list[str]]]:
    """(what, arguments of advise-bench) for one model's committed folders, the longest first."""
    base = REFERENCE / model
    jobs = []
    for folder, controls in [(base, base / "controls"), *((base / sub / model, base / sub / "controls")
                                                          for sub in ("corrected",))]:
        if not (ROOT / folder / "table1.csv").is_file():
            continue
        args = ["report", str(folder), "--plot"]
        for control in sorted(p for p in (ROOT / controls).glob("*") if p.is_dir() and _has_runs(p)):
            args += ["--control", str(control.relative_to(ROOT))]
        jobs.append((str(folder), args))
    if (ROOT / base / "ablation" / "ablation_avx.csv").is_file():
        args = ["ablate", "--summary-only", "--out", str(base)]
        for control in sorted(p for p in (ROOT / base / "controls").glob("*") if (p / "ablation").is_dir()):
            args += ["--control", str(control.relative_to(ROOT))]
        jobs.append((str(base / "ablation"), args))
    if (ROOT / base / "sanity" / "sanity_images.csv").is_file():
        jobs.append((str(base / "sanity"), ["sanity", "--summary-only", "--out", str(base / "sanity")]))
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="jobs side by side (default: cores)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma list of models under results/reference")
    args = parser.parse_args(argv)
    command = shutil.which("advise-bench", path=str(Path(sys.executable).parent)) or "advise-bench"
    jobs = [job for model in args.models.split(",") if model for job in report_jobs(model)]
    start = time.perf_counter()

    def run(job):
        what, cli = job
        done = subprocess.run([command, *cli], cwd=ROOT, capture_output=True, text=True)
        return what, done

    failed = 0
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for what, done in pool.map(run, jobs):
            if done.returncode:
                failed += 1
                print(f"FAILED {what}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}", file=sys.stderr)
            else:
                print(f"rebuilt {what}")
    print(f"{len(jobs) - failed} of {len(jobs)} rebuilt in {time.perf_counter() - start:.0f} s ({args.jobs} jobs)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
