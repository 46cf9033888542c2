#!/usr/bin/env python
"""Convert a torchvision AlexNet checkpoint into Keras weights for ``advise_bench.models.alexnet``.

    python scripts/convert_alexnet.py alexnet.pth out.weights.h5 [--input-size 227]

``alexnet.pth`` is a torchvision ``alexnet`` state_dict (e.g. ``alexnet-owt-7be5be79.pth``); reading
it needs torch, which is imported only here. A ``.npz`` holding the same keys is read with NumPy
alone (no torch). The conversion itself is
:func:`advise_bench.models.alexnet.load_torchvision_state_dict` (pure NumPy).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def load_state_dict(path: Path) -> dict:
    """Read a state_dict as ``{key: np.ndarray}`` from ``.npz`` (NumPy) or a torch checkpoint."""
    import numpy as np

    if path.suffix == ".npz":
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    try:
        import torch
    except ImportError:
        raise SystemExit(
            f"error: reading {path.name} needs PyTorch (pip install torch), or pass a .npz of the state_dict"
        ) from None
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise SystemExit(f"error: {path} does not hold a state_dict (got {type(obj).__name__})")
    return {k: v.detach().cpu().numpy() for k, v in obj.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, help="torchvision alexnet state_dict (.pth) or .npz")
    ap.add_argument("output", type=Path, help="Keras weights file to write (must end in .weights.h5)")
    ap.add_argument("--input-size", type=int, default=227, help="model input side length (default 227)")
    args = ap.parse_args(argv)

    if not args.output.name.endswith(".weights.h5"):
        ap.error("output must end in .weights.h5")
    if not args.checkpoint.is_file():
        ap.error(f"checkpoint not found: {args.checkpoint}")

    state_dict = load_state_dict(args.checkpoint)

    from advise_bench.models.alexnet import convert_state_dict

    try:
        model = convert_state_dict(state_dict, input_size=args.input_size)
    except (KeyError, ValueError) as e:
        raise SystemExit(f"error: {e.args[0] if e.args else e}") from None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(args.output))
    print(f"wrote {args.output} ({model.count_params():,} parameters, input {args.input_size})")
    return 0


if __name__ == "__main__":
    # Run from a checkout without installing the package: the checkout this file is in comes first. Only here, so
    # that importing this module (tests/test_alexnet_convert.py calls main()) leaves sys.path alone.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
