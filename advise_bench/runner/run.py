"""``advise-bench run``: every method over every image, one CSV row per (image, method).

Rows go to ``<out>/<model>/<method>[.shard-K-of-N].csv``; ADVISE also writes its per-group rows
(``advise_groups*.csv``) and every unit's relevance score (``advise_units/<image>.npz``).
Runs resume: (image, method) pairs already in a CSV are skipped.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ImageError, UserError

log = logging.getLogger(__name__)

ADVISE_DEFAULT_SELECTION = "oracle-avx"


@dataclass
class RunConfig:
    model: str | None = "mobilenet_v2"
    weights: str = "imagenet"
    model_file: str | None = None
    layer: str | None = None
    input_size: int | None = None
    preprocess: str | None = None
    methods: tuple[str, ...] = ()
    data: str = "auto"
    ground_truth: str | None = None
    limit: int | None = None
    subset_seed: int | None = None
    resize: str = "stretch"
    protocol: str = "reference"
    device: str = "cpu"
    batch_size: int = 1
    shard: tuple[int, int] = (0, 1)
    out: str = "results"
    seed: int = 0
    score: str = "probability"
    advise_selection: str = ADVISE_DEFAULT_SELECTION
    advise_source: str = "activations"
    lime_samples: int = 1000
    lime_batch_size: int = 100
    scorecam_batch_size: int = 32
    scorecam_max_n: int | None = None
    noise_density: float = 0.0  # salt-and-pepper ablation; 0 = clean images
    relu: bool = True  # False: ablation without ReLU in map formation


def parse_shard(text: str | None) -> tuple[int, int]:
    """``K/N`` (0 <= K < N); else Slurm's array variables; else the whole set (0/1)."""
    if not text:
        k, n = os.environ.get("SLURM_ARRAY_TASK_ID"), os.environ.get("SLURM_ARRAY_TASK_COUNT")
        if k is None or n is None:
            return 0, 1
        text = f"{int(k) - int(os.environ.get('SLURM_ARRAY_TASK_MIN', 0))}/{n}"
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected K/N, e.g. 0/4") from None
    if not 0 <= k < n:
        raise UserError(f"--shard {text!r}: need 0 <= K < N")
    return k, n


def shard_suffix(shard: tuple[int, int]) -> str:
    return "" if shard[1] == 1 else f".shard-{shard[0]}-of-{shard[1]}"


def method_file(name: str) -> str:
    return name.replace("+", "p")  # gradcam++ -> gradcampp.csv


def build_explainers(cfg: RunConfig, loaded) -> dict:
    from ..explainers import get_explainer

    opts = {
        "advise": {"relevance_source": cfg.advise_source,
                   "selection": cfg.advise_selection if cfg.advise_selection != "oracle-avx" else "max-peaks"},
        "lime": {"num_samples": cfg.lime_samples, "batch_size": cfg.lime_batch_size, "seed": cfg.seed},
        "scorecam": {"batch_size": cfg.scorecam_batch_size, "max_n": cfg.scorecam_max_n},
    }
    return {m: get_explainer(m, loaded, score=cfg.score, relu=cfg.relu, **opts.get(m, {})) for m in cfg.methods}


def prepare(cfg: RunConfig):
    """Validate everything cheap before the model loads, so bad arguments fail fast."""
    from ..data import RESIZE_MODES, resolve_source, select_subset
    from ..explainers import METHOD_NAMES
    from ..metrics.protocol import get_protocol

    unknown = [m for m in cfg.methods if m not in METHOD_NAMES]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_NAMES)}")
    if cfg.resize not in RESIZE_MODES:
        raise UserError(f"unknown resize mode {cfg.resize!r}")
    if cfg.batch_size < 1:
        raise UserError("--batch-size must be >= 1")
    protocol = get_protocol(cfg.protocol)
    desc, records = resolve_source(cfg.data, Path(cfg.ground_truth) if cfg.ground_truth else None)
    records = select_subset(records, cfg.limit, cfg.subset_seed)
    k, n = cfg.shard
    return protocol, desc, records[k::n]


class Run:
    """One model, one protocol, many methods; call :meth:`execute`."""

    def __init__(self, cfg: RunConfig, progress: bool = True):
        from ..models.zoo import load_model
        from .device import device_name, select_device

        self.cfg = cfg
        if not cfg.methods:
            from ..explainers import METHOD_NAMES

            cfg.methods = tuple(METHOD_NAMES)
        self.protocol, self.source, self.records = prepare(cfg)
        select_device(cfg.device)
        self.device = device_name(cfg.device)
        self.model = load_model(
            cfg.model, cfg.weights, model_file=cfg.model_file, layer=cfg.layer,
            input_size=cfg.input_size, preprocess=cfg.preprocess,
        )
        self.explainers = build_explainers(cfg, self.model)
        self.out_dir = Path(cfg.out) / self.model.name
        self.suffix = shard_suffix(cfg.shard)
        self.progress = progress

    # ------------------------------------------------------------------ files
    def path(self, stem: str) -> Path:
        return self.out_dir / f"{method_file(stem)}{self.suffix}.csv"

    def execute(self) -> dict:
        from tqdm import tqdm

        from .manifest import write_manifest
        from .store import RowWriter, done_ids

        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_manifest(
            self.out_dir / f"run{self.suffix}.json", self.cfg, device=self.device, data_source=self.source,
            weights=self.model.weights_source, layer=self.model.layer, protocol=self.protocol.describe(),
            images=len(self.records),
        )
        writers = {m: RowWriter(self.path(m)) for m in self.cfg.methods}
        done = {m: done_ids(self.path(m)) for m in self.cfg.methods}
        self.group_writer = RowWriter(self.path("advise_groups")) if "advise" in self.cfg.methods else None
        todo = [r for r in self.records if any(r.image_id not in done[m] for m in self.cfg.methods)]
        counts = {"images": len(self.records), "skipped_done": len(self.records) - len(todo), "ok": 0, "error": 0}
        bs = self.cfg.batch_size
        bar = tqdm(total=len(todo), desc=f"{self.model.name}", unit="img", disable=not self.progress, dynamic_ncols=True)
        self._warm_up(todo)
        for start in range(0, len(todo), bs):
            chunk = todo[start : start + bs]
            images, bad = self._load(chunk)
            good = [r for r in chunk if r.image_id in images]
            probs = dict(zip((r.image_id for r in good),
                             self.model.predict(np.stack([images[r.image_id] for r in good])) if good else [],
                             strict=True))
            for method in self.cfg.methods:
                pending = [r for r in chunk if r.image_id not in done[method]]
                for row in self._method_rows(method, pending, images, bad, probs):
                    writers[method].write(row)
                    counts["ok" if row["status"] == "ok" else "error"] += 1
            bar.update(len(chunk))
        bar.close()
        return counts

    # ------------------------------------------------------------------ work
    def _load(self, records):
        from ..data import load_image

        images, bad = {}, {}
        for r in records:
            try:
                image = load_image(r.path, self.model.input_size, self.cfg.resize)
            except ImageError as exc:
                bad[r.image_id] = str(exc)
                continue
            images[r.image_id] = salt_and_pepper(image, self.cfg.noise_density, self.cfg.seed, r.image_id)
        return images, bad

    def _warm_up(self, todo) -> None:
        """One untimed call per cheap method, so graph tracing is not billed to the first image.
        Score-CAM and LIME are skipped: their per-image cost dwarfs the one-off tracing."""
        images, _ = self._load(todo[:1])
        if not images:
            return
        x = next(iter(images.values()))[None]
        t = self.model.predict(x).argmax(1)
        for m, exp in self.explainers.items():
            if m not in ("scorecam", "lime"):
                exp(x, t)

    def _base_row(self, r, method: str) -> dict:
        return {
            "image_id": r.image_id, "file": str(r.path), "label": r.label, "method": method,
            "model": self.model.name, "protocol": self.protocol.name, "device": self.device,
            "shard": f"{self.cfg.shard[0]}/{self.cfg.shard[1]}",
        }

    def _method_rows(self, method: str, records, images: dict, bad: dict, probs: dict) -> list[dict]:
        rows = [{**self._base_row(r, method), "status": "error", "error": bad[r.image_id]}
                for r in records if r.image_id in bad]
        ok = [r for r in records if r.image_id in images]
        if not ok:
            return rows
        try:
            rows += self._explain_and_score(
                method, ok, np.stack([images[r.image_id] for r in ok]), np.stack([probs[r.image_id] for r in ok])
            )
        except Exception as exc:  # one bad batch must not kill a 3,000-image run
            reason = _error_reason(exc)
            if reason is None:
                raise
            rows += [{**self._base_row(r, method), "status": "error", "error": reason} for r in ok]
        return rows

    def _explain_and_score(self, method, records, images, probs) -> list[dict]:
        from ..metrics.protocol import masked_image, score_explanation
        from .device import Timer

        order = np.argsort(-probs, axis=1)
        top1, top2 = order[:, 0], order[:, 1]
        exp = self.explainers[method]
        n = len(images)
        if method == "advise":
            with Timer() as t1:
                groups1 = exp.groups(images, top1)
            with Timer() as t2:
                groups2 = exp.groups(images, top2)
        else:
            with Timer() as t1:
                maps1 = exp(images, top1)
            with Timer() as t2:
                maps2 = exp(images, top2)
        rows = []
        for i, r in enumerate(records):
            base = {
                **self._base_row(r, method),
                "top5": ";".join(str(int(c)) for c in order[i, :5]),
                "top5_probs": ";".join(f"{probs[i, c]:.6g}" for c in order[i, :5]),
                "target": int(top1[i]), "target2": int(top2[i]),
                "time_s": t1.seconds / n, "time_top2_s": t2.seconds / n,
            }
            if method == "advise":
                scores = self._score_advise(r, images[i], probs[i], groups1[i], groups2[i], base)
            else:
                masked = masked_image(images[i], maps1[i], self.protocol)
                pm = self.model.predict(masked[None])[0]
                scores = score_explanation(images[i], masked, maps1[i], maps2[i], probs[i], pm, self.protocol)
            rows.append({**base, **scores, "status": "ok", "error": ""})
        return rows

    def _score_advise(self, record, image, probs, g1, g2, base) -> dict:
        """Score every group; pick one by the configured rule (oracle-avx looks at AVX itself)."""
        from ..metrics.protocol import masked_image, score_explanation

        self._save_unit_scores(record, g1)
        lo, hi = g1.peak_range
        if len(g1.maps) == 0:  # every group's map was empty: nothing kept, score a blank map
            blank = np.zeros(image.shape[:2], np.float32)
            masked = masked_image(image, blank, self.protocol)
            pm = self.model.predict(masked[None])[0]
            res = score_explanation(image, masked, blank, blank, probs, pm, self.protocol)
            return {**res, "peak_min": lo, "peak_max": hi, "groups": 0, "selected_peaks": "", "selection": "none"}
        by_peak2 = dict(zip(g2.peak_counts.tolist(), g2.maps, strict=True))
        masked = np.stack([masked_image(image, m, self.protocol) for m in g1.maps])
        pm = self.model.predict(masked)
        results = []
        for j, (peaks, units, m) in enumerate(zip(g1.peak_counts, g1.unit_counts, g1.maps, strict=True)):
            m2 = by_peak2.get(int(peaks), np.zeros_like(m))
            res = score_explanation(image, masked[j], m, m2, probs, pm[j], self.protocol)
            results.append(res)
            self.group_writer.write({
                "image_id": record.image_id, "model": self.model.name, "protocol": self.protocol.name,
                "target": base["target"], "peaks": int(peaks), "units": int(units),
                **{k: res[k] for k in ("AD", "SSIM", "FSIM", "MSE", "AVX", "CS_r", "Hit", "penalty")},
            })
        if self.cfg.advise_selection == "oracle-avx":
            pick = int(np.argmax([r["AVX"] for r in results]))
        elif self.cfg.advise_selection == "max-peaks":
            pick = int(np.argmax(g1.peak_counts))
        else:  # "all": the explainer's combined map is scored as one more candidate
            combined, combined2 = g1.select("all"), g2.select("all")
            mk = masked_image(image, combined, self.protocol)
            pmk = self.model.predict(mk[None])[0]
            return {**score_explanation(image, mk, combined, combined2, probs, pmk, self.protocol),
                    "peak_min": lo, "peak_max": hi, "groups": len(results), "selected_peaks": "all",
                    "selection": "all"}
        return {**results[pick], "peak_min": lo, "peak_max": hi, "groups": len(results),
                "selected_peaks": int(g1.peak_counts[pick]), "selection": self.cfg.advise_selection}

    def _save_unit_scores(self, record, groups) -> None:
        folder = self.out_dir / "advise_units"
        folder.mkdir(exist_ok=True)
        tmp = folder / f"{record.image_id}.tmp.npz"
        np.savez_compressed(tmp, unit_scores=groups.unit_scores.astype(np.int16),
                            peak_counts=groups.peak_counts, unit_counts=groups.unit_counts)
        tmp.replace(folder / f"{record.image_id}.npz")


def salt_and_pepper(image: np.ndarray, density: float, seed: int, image_id: str) -> np.ndarray:
    """MATLAB ``imnoise(I, 'salt & pepper', d)``: each value becomes 0 or 255 with probability d.

    The generator is seeded by (seed, image id), so an image gets the same noise in any shard or order.
    """
    if density <= 0:
        return image
    import zlib

    rng = np.random.default_rng([seed, zlib.crc32(image_id.encode())])
    u = rng.random(image.shape)
    noisy = image.copy()
    noisy[u < density / 2] = 0
    noisy[(u >= density / 2) & (u < density)] = 255
    return noisy


def _error_reason(exc: Exception) -> str | None:
    """Errors that become an error row (the run goes on); None means a bug, which should surface."""
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, FloatingPointError):
        return f"non-finite map: {exc}"
    if type(exc).__name__ == "ResourceExhaustedError":
        return "out of memory (accelerator or host)"
    if isinstance(exc, UserError):
        return str(exc)
    return None


def run(cfg: RunConfig, progress: bool = True) -> dict:
    return Run(cfg, progress).execute()
