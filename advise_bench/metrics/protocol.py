"""The evaluation protocol: which of the reference code's choices (or their fixes) are in force.

``reference`` reproduces the authors' MATLAB code that produced Table I, bugs included;
``corrected`` follows the paper's text and fixes them. Each difference is one named field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UserError
from . import core


@dataclass(frozen=True)
class Protocol:
    name: str
    mask: str  # "binary": image .* uint8(map), rounds at 0.5 | "soft": image * map
    average_drop: str  # "max-class": o = max of the masked softmax (bug) | "target-class": o = p_c(masked)
    penalty: str  # "reference": d scales all four metrics (improves AD/MSE) | "never-improves"
    ssim: str  # "volume": MATLAB on an HxWx3 volume | "per-channel": scikit-image per channel, averaged
    cs_threshold: float = 0.55

    def describe(self) -> dict:
        return asdict(self)


PROTOCOLS: dict[str, Protocol] = {
    "reference": Protocol("reference", mask="binary", average_drop="max-class", penalty="reference", ssim="volume"),
    "corrected": Protocol(
        "corrected", mask="soft", average_drop="target-class", penalty="never-improves", ssim="per-channel"
    ),
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UserError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}") from None


def masked_image(image: np.ndarray, saliency: np.ndarray, protocol: Protocol) -> np.ndarray:
    return core.binary_mask(image, saliency) if protocol.mask == "binary" else core.soft_mask(image, saliency)


def confidence_after(probs_masked: np.ndarray, target: int, protocol: Protocol) -> float:
    """The ``o`` of Average Drop: the masked image's max class probability (reference) or p_target."""
    return float(probs_masked.max() if protocol.average_drop == "max-class" else probs_masked[target])


def penalise(values: dict, hit: bool, cs_pass: bool, y_c: float, o: float, protocol: Protocol) -> tuple[dict, str, float]:
    """Apply the penalty rule on a miss. Returns (values, penalty name, d).

    * hit: nothing changes ("none").
    * miss, CS check fails: AD=1, SSIM=0, FSIM=0, MSE=1 ("zeroed") in both protocols.
    * miss, CS check passes: d = 1 - |y_c - o| ("scaled").
      reference: AD, SSIM, FSIM and MSE are all multiplied by d (which *improves* AD and MSE);
      corrected: the goodness terms SSIM, FSIM, 1-AD and 1-MSE are multiplied by d, so nothing improves.
    """
    if hit:
        return dict(values), "none", 1.0
    if not cs_pass:
        return {"AD": 1.0, "SSIM": 0.0, "FSIM": 0.0, "MSE": 1.0}, "zeroed", 0.0
    d = 1.0 - abs(y_c - o)
    if protocol.penalty == "reference":
        return {k: v * d for k, v in values.items()}, "scaled", d
    return (
        {
            "AD": 1.0 - d * (1.0 - values["AD"]),
            "SSIM": values["SSIM"] * d,
            "FSIM": values["FSIM"] * d,
            "MSE": 1.0 - d * (1.0 - values["MSE"]),
        },
        "scaled",
        d,
    )


def score_explanation(
    image: np.ndarray,
    masked: np.ndarray,
    map_top1: np.ndarray,
    map_top2: np.ndarray | None,
    probs: np.ndarray,
    probs_masked: np.ndarray,
    protocol: Protocol,
    target: int | None = None,
) -> dict:
    """Every Table I metric for one image and one map (the top-1 map; the top-2 map is for CS).

    ``probs`` is the softmax of the image, ``probs_masked`` of ``masked`` (the caller runs the model).
    ``target``: the class the map explains, in place of the top-1 class (``score --targets``).
    ``map_top2`` None (maps scored without a second one): Class Sensitivity is not measured (CS_r NaN,
    CS_pass None), and a miss is penalised as when the check passes, since the check cannot be made.
    """
    target = int(np.argmax(probs)) if target is None else int(target)
    y_c = float(probs[target])
    o = confidence_after(probs_masked, target, protocol)
    raw = {
        "AD": core.average_drop(y_c, o),
        "SSIM": core.ssim_volume(image, masked) if protocol.ssim == "volume" else core.ssim_channels(image, masked),
        "FSIM": core.fsim(image, masked),
        "MSE": core.mse(image, masked),
    }
    if map_top2 is None:
        r, cs_pass = float("nan"), None
    else:
        r = core.class_sensitivity(map_top1, map_top2)
        constant = core.is_constant(map_top1) or core.is_constant(map_top2)
        cs_pass = core.cs_passes(r, constant, protocol.cs_threshold)
    is_hit = core.hit(target, probs_masked)
    values, penalty, d = penalise(raw, is_hit, cs_pass is not False, y_c, o, protocol)
    return {
        **values,
        "AVX": core.avx(values["AD"], values["SSIM"], values["FSIM"], values["MSE"]),
        "CS_r": r,
        "CS_pass": cs_pass,
        "Hit": is_hit,
        "penalty": penalty,
        "penalty_d": d,
        "blank_mask": bool(masked.max() == 0),
        **{f"raw_{k}": v for k, v in raw.items()},
    }


class MapScorer:
    """Every Table I metric for maps of one image: ``scorer(maps) -> dict``, ``maps`` (K, S, S) with the
    map for the top-1 class (or ``target``) first and for the top-2 class second (for Class Sensitivity;
    K = 1: not measured, see :func:`score_explanation`).

    It masks the image, predicts the masked image with ``predict`` (RGB 0..255 batch -> softmax) and
    applies the protocol. Results are memoised by map content, so a candidate map scored for its own
    row is not scored again when a selection rule asks for it.
    """

    def __init__(self, image: np.ndarray, probs: np.ndarray, predict, protocol: Protocol, target: int | None = None):
        self.image, self.probs, self.predict, self.protocol, self.target = image, probs, predict, protocol, target
        self._memo: dict[bytes, dict] = {}

    def __call__(self, maps: np.ndarray) -> dict:
        maps = np.asarray(maps, np.float32)
        if maps.ndim != 3 or len(maps) < 1:
            raise ValueError("MapScorer needs the top-1 map and, for Class Sensitivity, the top-2 map: (2, S, S)")
        key = maps[:2].tobytes()
        if key not in self._memo:
            masked = masked_image(self.image, maps[0], self.protocol)
            probs_masked = self.predict(masked[None])[0]
            self._memo[key] = score_explanation(self.image, masked, maps[0], maps[1] if len(maps) > 1 else None,
                                                self.probs, probs_masked, self.protocol, self.target)
        return dict(self._memo[key])
