"""Stability: how often ADVISE's groups, and each method's scores, change when the explained layer's non-zero
activations move by absolute Gaussian noise at the scale that separates two machines' float32 kernels.

Runs the methods (default ADVISE and the gradient CAMs; Score-CAM on request: it costs one forward pass per
channel) on the first --limit images of the seeded subset (the preset's settings otherwise) without noise and
with each --noise level (``--activation-noise``), each into its own folder under --out (resumable), then prints
per method and level: the share of images whose ADVISE group sizes change, whose discrete outcome (Hit or the
class-sensitivity pass) changes, and the AVX change (mean |dAVX|, largest, share above 1e-5).

Usage: python scripts/stability.py [--model mobilenet] [--limit 20] [--noise 1e-6,1e-5,1e-4]
                                   [--methods advise,gradcam,gradcam++,layercam] [--out results/stability]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advise_bench.config import RunConfig  # noqa: E402
from advise_bench.method_kinds import ADVISE  # noqa: E402
from advise_bench.paths import shared_path  # noqa: E402
from advise_bench.runner.run import method_file, run  # noqa: E402
from advise_bench.runner.verify import _group_sizes, _read  # noqa: E402

DEFAULT_METHODS = "advise,gradcam,gradcam++,layercam"


def _rows(folder: Path, stem: str) -> pd.DataFrame:
    rows = _read(folder, stem)
    return rows.drop_duplicates("image_id", keep="last").set_index("image_id") if len(rows) else rows


def compare(base: Path, noisy: Path, method: str) -> dict:
    """One method's rows in two folders: images whose discrete outcome (Hit, CS pass) or, for ADVISE, group
    sizes differ, and the AVX changes."""
    a, b = _rows(base, method_file(method)), _rows(noisy, method_file(method))
    images = sorted(set(a.index) & set(b.index)) if len(a) and len(b) else []
    out = {"images": len(images), "groups_changed": None}
    if method == ADVISE:
        ga, gb = _read(base, "advise_groups"), _read(noisy, "advise_groups")
        out["groups_changed"] = sum(_group_sizes(ga, i, "peaks") != _group_sizes(gb, i, "peaks") for i in images)
    flipped = np.zeros(len(images), dtype=bool)
    for column in ("Hit", "CS_pass"):
        flipped |= a.loc[images, column].astype(str).to_numpy() != b.loc[images, column].astype(str).to_numpy()
    d = (pd.to_numeric(b.loc[images, "AVX"]) - pd.to_numeric(a.loc[images, "AVX"])).abs().to_numpy()
    out.update(outcome_changed=int(flipped.sum()), mean_abs_dAVX=float(np.nanmean(d)) if len(d) else 0.0,
               max_abs_dAVX=float(np.nanmax(d)) if len(d) else 0.0, dAVX_above_1e_5=int(np.sum(d > 1e-5)))
    return out


def _share(count: int | None, total: int) -> str:
    return "-" if count is None else f"{count} ({count / max(total, 1):.1%})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenet")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--noise", default="1e-6,1e-5,1e-4")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--out", type=Path, default=Path("results/stability"))
    ap.add_argument("--selection", default="oracle-avx")
    args = ap.parse_args()
    manifest = shared_path("ilsvrc3000", "manifest.csv")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    # no reference maps, no shuffled controls: the noise does not reach them
    base = dict(model=args.model, data=str(manifest) if manifest else "auto", limit=args.limit, subset_seed=0,
                methods=methods, advise_selection=args.selection, reference_maps=False, shuffled_control=False)
    folders = {}
    for level in [0.0] + [float(v) for v in args.noise.split(",") if v.strip()]:
        out = args.out / f"noise-{level:g}"
        run(RunConfig(**base, activation_noise=level, out=str(out)), progress=False)
        folders[level] = out / args.model
    print(f"{args.model}, first {args.limit} images; explained layer's non-zero activations + N(0, s.d.^2); "
          f"ADVISE selection {args.selection}")
    print(f"{'method':10s} {'s.d.':>6s} {'images':>6s} {'groups changed':>15s} {'Hit/CS changed':>15s} "
          f"{'mean |dAVX|':>11s} {'max |dAVX|':>10s} {'dAVX>1e-5':>9s}")
    for method in methods:
        for level, folder in folders.items():
            if level == 0.0:
                continue
            r = compare(folders[0.0], folder, method)
            n = r["images"]
            print(f"{method:10s} {level:6.0e} {n:6d} {_share(r['groups_changed'], n):>15s} "
                  f"{_share(r['outcome_changed'], n):>15s} {r['mean_abs_dAVX']:11.5f} {r['max_abs_dAVX']:10.4f} "
                  f"{r['dAVX_above_1e_5']:9d}")


if __name__ == "__main__":
    main()
