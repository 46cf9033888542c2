"""One-off cross-check of advise_bench.metrics.fsim against piq's PyTorch ``fsim`` (FSIMc).

Needs an environment with torch, piq (0.8.0) and scikit-image; it is never imported by the tests
(tests/test_fsim.py runs it as a subprocess when piq is installed). piq's top-level package imports
torchvision; to avoid that dependency only ``piq.fsim`` (and the helpers it uses) is loaded.

Usage: python tests/tools/crosscheck_fsim_piq.py [--tol 1e-3]
Prints one row per image pair and exits non-zero when the largest |ours - piq| exceeds --tol.

Known, deliberate differences from piq (both small): piq uses YIQ constants .5959/-.2746/-.3213 and
.2115/-.5227/.3112 where FeatureSIM.m has .596/-.274/-.322 and .211/-.523/.312; piq takes the lower of
the two middle values as the median where MATLAB averages them; piq takes |S_I S_Q|^lambda where
MATLAB takes real((S_I S_Q)^lambda); piq downsamples by non-overlapping average pooling, which equals
FeatureSIM.m's conv2 'same' + decimation only for F = 1, or F = 2 with even sizes (the pairs below
stay in that range).

The one pair expected to disagree is a photo against an all-black image: for a flat image piq's
phase congruency is (0 + eps) / (0 + eps) = 1 everywhere, FeatureSIM.m's is 0/0 = NaN, and ours is
0. That row is printed but left out of the tolerance check.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np

# The checkout this file is in, ahead of any installed copy: the cross-check runs in an environment of its own
# (torch, piq), which need not have the package installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from advise_bench.metrics.fsim import fsim_pair  # noqa: E402


def _load_piq_fsim():
    """``piq.fsim.fsim`` without running piq/__init__.py (which needs torchvision)."""
    if "piq" not in sys.modules:
        spec = importlib.util.find_spec("piq")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("piq is not installed")
        pkg = types.ModuleType("piq")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["piq"] = pkg
    return importlib.import_module("piq.fsim").fsim


def _photo(name: str, size: int | None) -> np.ndarray:
    from skimage import data, transform

    img = getattr(data, name)()
    if size is not None:
        img = transform.resize(img, (size, size), anti_aliasing=True, preserve_range=True)
    return np.asarray(img, dtype=np.float64)


def _pairs():
    from skimage.filters import gaussian

    rng = np.random.default_rng(1234)
    astro = _photo("astronaut", 224)
    chelsea = _photo("chelsea", 224)
    coffee = _photo("coffee", 224)
    astro_full = _photo("astronaut", None)  # 512x512 -> F = 2
    coffee_crop = np.asarray(_photo("coffee", None)[:400, :600])  # 400x600 -> F = 2

    def noisy(x, sigma):
        return np.clip(x + rng.normal(0.0, sigma, x.shape), 0, 255)

    def blurred(x, sigma):
        return gaussian(x, sigma=sigma, channel_axis=-1, preserve_range=True)

    def masked(x, keep):
        h, w = x.shape[:2]
        cells = rng.random((h // 16 + 1, w // 16 + 1)) < keep
        m = np.kron(cells, np.ones((16, 16)))[:h, :w]
        return x * m[..., None]

    yield "astronaut224 noise s=10", astro, noisy(astro, 10)
    yield "astronaut224 noise s=40", astro, noisy(astro, 40)
    yield "chelsea224 blur s=1", chelsea, blurred(chelsea, 1)
    yield "chelsea224 blur s=3", chelsea, blurred(chelsea, 3)
    yield "coffee224 noise s=20", coffee, noisy(coffee, 20)
    yield "astronaut224 mask 50%", astro, masked(astro, 0.5)
    yield "chelsea224 mask 20%", chelsea, masked(chelsea, 0.2)
    yield "coffee224 mask 80%", coffee, masked(coffee, 0.8)
    yield "astronaut224 vs black*", astro, np.zeros_like(astro)
    yield "astronaut512 noise s=15", astro_full, noisy(astro_full, 15)
    yield "astronaut512 mask 30%", astro_full, masked(astro_full, 0.3)
    yield "coffee400x600 blur s=2", coffee_crop, blurred(coffee_crop, 2)


def run(tol: float = 1e-3) -> float:
    import torch

    piq_fsim = _load_piq_fsim()
    header = ("pair", "FSIMc ours", "FSIMc piq", "|diff|", "FSIM ours", "FSIM piq", "|diff|")
    print("{:<26} {:>11} {:>11} {:>9} {:>10} {:>10} {:>9}".format(*header))
    worst = 0.0
    for name, ref, dis in _pairs():
        ours, ours_c = fsim_pair(ref, dis)
        x = torch.from_numpy(np.ascontiguousarray(ref.transpose(2, 0, 1)))[None].double()
        y = torch.from_numpy(np.ascontiguousarray(dis.transpose(2, 0, 1)))[None].double()
        theirs_c = float(piq_fsim(x, y, data_range=255, reduction="none", chromatic=True)[0])
        theirs = float(piq_fsim(x, y, data_range=255, reduction="none", chromatic=False)[0])
        d_c, d = abs(ours_c - theirs_c), abs(ours - theirs)
        if not name.endswith("*"):
            worst = max(worst, d_c, d)
        print(f"{name:<26} {ours_c:11.6f} {theirs_c:11.6f} {d_c:9.2e} {ours:10.6f} {theirs:10.6f} {d:9.2e}")
    print("* flat image: piq sets its phase congruency to 1, ours to 0 (MATLAB: NaN); not compared")
    print(f"max |diff| over the compared pairs = {worst:.3e} (tolerance {tol:g})")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=1e-3)
    args = parser.parse_args(argv)
    return 0 if run(args.tol) <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
