"""``advise-bench run``: every method over every image, one CSV row per (image, method).

A :class:`Run` scores the maps of a :class:`MapSource`, its one collaborator that knows where maps come from:
:class:`ExplainedMaps` (``run``: the explainers) or ``score``'s maps read from files (:mod:`.score`). Everything
else (images, predictions, rows, statuses, files, resuming) is the run's.

With the explainers, each method explains the top-1 and the top-2 class in one call (``explain_candidates``), so
work that does not depend on the class is done once. Every method goes through the same path: the explainer's
selection picks one map per target (a method with several candidate maps may hand them to the
evaluation's scorer), and the chosen map is scored.

Rows go to ``<out>/<model>/<method>[.shard-K-of-N].csv``. A method that can return several candidate
maps also writes one row per candidate (``<method>_groups*.csv``) and its per-image arrays
(``<method>_units/<image>.npz``). Runs resume: (image, method) pairs already in a CSV are skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..columns import CANDIDATE_METRICS, make_row
from ..config import RunConfig
from ..errors import ImageError, UserError
from ..method_kinds import method_kind, shuffled_name
from ..paths import portable_path

log = logging.getLogger(__name__)

__all__ = ["ExplainedMaps", "MapSource", "Run", "RunConfig", "parse_shard", "run", "salt_and_pepper"]


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


def backend_suffix(backend: str) -> str:
    """Files of a run on another backend than the default carry its name (``<method>.jax.csv``), so runs of
    one folder on several backends resume and report apart; TensorFlow's keep the plain names."""
    from ..backend import DEFAULT

    return "" if backend == DEFAULT else f".{backend}"


def method_file(name: str) -> str:
    return name.replace("+", "p")  # "+" is not welcome in file names: "x++" -> "xpp.csv"


def prepare(cfg: RunConfig):
    """Validate everything cheap before the model loads, so bad arguments fail fast."""
    from ..explainers import check_methods, with_reference_maps

    cfg.methods = with_reference_maps(check_methods(cfg.methods), cfg.reference_maps)
    return prepare_images(cfg)


def prepare_images(cfg: RunConfig):
    """The protocol, the data source's description and this shard's images; ``cfg.methods`` is not checked."""
    from ..data import RESIZE_MODES, resolve_source, select_subset
    from ..metrics.faithfulness import parse_extra_metrics
    from ..metrics.protocol import get_protocol

    if cfg.resize not in RESIZE_MODES:
        raise UserError(f"unknown resize mode {cfg.resize!r}")
    if cfg.batch_size < 1:
        raise UserError("--batch-size must be >= 1")
    protocol = get_protocol(cfg.protocol)
    cfg.extra_metrics = parse_extra_metrics(cfg.extra_metrics)
    desc, records = resolve_source(cfg.data, Path(cfg.ground_truth) if cfg.ground_truth else None)
    records = select_subset(records, cfg.limit, cfg.subset_seed)
    k, n = cfg.shard
    return protocol, desc, records[k::n]


class MapSource:
    """Where a :class:`Run`'s maps come from; the run calls these, in this order.

    * :meth:`prepare` ``(cfg)``: check the options and select the images, before the model loads (bad input fails
      fast): ``(protocol, data source description, this shard's image records)``;
    * :meth:`bind` ``(run)``: the model is loaded (``run.model``); build what the maps need;
    * :meth:`method_sources`, :attr:`manifest_stem`: what ``run.json`` (``<manifest_stem>.json``) records;
    * :meth:`candidate_keys`: the methods that also write candidate rows (``<method>_groups.csv``), with the field
      that matches candidates across targets;
    * :meth:`warm_up` ``(image, targets)``: one untimed call, so tracing is not billed to the first image;
    * :meth:`rows` ``(method, records, images, probs)``: the rows of ``method`` (and of its shuffled control)
      for images that loaded, built with the run's :meth:`Run.scored_row` and :meth:`Run.shuffled_rows`. The run
      calls it through :meth:`begin`, which may start the work and return a function that returns the rows (with
      ``--overlap`` the run begins the next batch before it calls that function for this one).
    """

    manifest_stem = "run"

    def prepare(self, cfg: RunConfig):
        return prepare_images(cfg)

    def bind(self, run: Run) -> None:
        self.run = run

    def method_sources(self) -> dict[str, str]:
        return {}

    def candidate_keys(self) -> dict[str, str]:
        return {}

    def warm_up(self, image: np.ndarray, targets: np.ndarray) -> None:
        return None

    def rows(self, method: str, records, images: np.ndarray, probs: np.ndarray) -> list[dict]:
        raise NotImplementedError

    def begin(self, method: str, records, images: np.ndarray, probs: np.ndarray) -> Callable[[], list[dict]]:
        """:meth:`rows` in two steps; by default all the work is done in the second."""
        return lambda: self.rows(method, records, images, probs)


class ExplainedMaps(MapSource):
    """``run``'s maps: each method's explainer explains the top-1 and top-2 class, selects, and the run scores."""

    def prepare(self, cfg: RunConfig):
        return prepare(cfg)

    def bind(self, run: Run) -> None:
        from ..explainers import explainer_from_config

        super().bind(run)
        self.explainers = {m: explainer_from_config(m, run.model, run.cfg) for m in run.cfg.methods}

    def method_sources(self) -> dict[str, str]:
        """Where each method comes from: built-in, or the plugin's entry point or module."""
        from ..explainers import method_source

        return {m: method_source(m) for m in self.run.cfg.methods}

    def candidate_keys(self) -> dict[str, str]:
        return {m: e.candidate_key for m, e in self.explainers.items() if e.candidate_key is not None}

    def warm_up(self, image, targets) -> None:
        """Explainers keep no per-image state, so nothing of this call makes a later one cheaper."""
        for exp in self.explainers.values():
            exp.warm_up(image, targets)

    def begin(self, method, records, images, probs) -> Callable[[], list[dict]]:
        """Explain the top-1 and top-2 class (the explainer's ``prepare`` now, the targets later), select, score."""
        order = np.argsort(-probs, axis=1)
        finish = self.explainers[method].begin_candidates(images, order[:, :2])
        return lambda: self._scored_rows(method, records, images, probs, order, finish())

    def _scored_rows(self, method, records, images, probs, order, per_image) -> list[dict]:
        from ..metrics.protocol import MapScorer

        run = self.run
        exp = self.explainers[method]
        rows = []
        for i, r in enumerate(records):
            explanations = per_image[i]
            scorer = MapScorer(images[i], probs[i], run.model.predict, run.protocol)
            # A method already written (a resume that only lacks its shuffled control) keeps its candidate rows.
            if method in run.candidate_writers and r.image_id not in run.done.get(method, ()):
                run.write_candidates(method, r, explanations, scorer, exp.candidate_key)
            selection = exp.select(explanations, scorer)
            run.save_arrays(method, r, explanations[0])
            rows.append(run.scored_row(
                r, method, images[i], probs[i], order[i, :2], selection.maps,
                selection.scores or scorer(selection.maps), (explanations[0].seconds, explanations[1].seconds),
                {**explanations[0].info, **selection.info},
            ))
            rows += run.shuffled_rows(method, r, images[i], probs[i], order[i, :2], selection.maps, scorer)
        return rows


class Run:
    """One model, one protocol, many methods; call :meth:`execute`.

    Where the maps come from is ``maps``, a :class:`MapSource` (default: :class:`ExplainedMaps`, the explainers);
    everything else (images, predictions, rows, statuses, files, resuming) is the run's."""

    def __init__(self, cfg: RunConfig, progress: bool = True, maps: MapSource | None = None):
        from ..models.zoo import load_model_shared
        from .device import device_name, select_device
        from .fingerprint import numerics_fingerprint

        self.cfg = cfg
        self.overlap = overlaps(cfg)
        self.maps = maps if maps is not None else ExplainedMaps()
        self.protocol, self.source, self.records = self.maps.prepare(cfg)
        self.backend = select_device(cfg.device).NAME
        self.device = device_name(cfg.device)
        self.model = load_model_shared(
            cfg.model, cfg.weights, model_file=cfg.model_file, layer=cfg.layer,
            input_size=cfg.input_size, preprocess=cfg.preprocess,
        )
        self.fingerprint = numerics_fingerprint(self.model)  # run.json and every row's ``fingerprint``
        # Each method's shuffled control (not the reference maps'): its own rows, written beside the method's.
        self.shuffled = {m: shuffled_name(m) for m in cfg.methods
                         if cfg.shuffled_control and method_kind(m) == "method"}
        self.outputs = (*cfg.methods, *self.shuffled.values())
        self.done: dict[str, set[str]] = {}  # per output, the images already written (set by execute)
        self.candidate_writers: dict = {}  # per method with candidates, its <method>_groups writer (set by execute)
        self.out_dir = Path(cfg.out) / self.model.name
        self.stem_suffix = backend_suffix(self.backend)
        self.suffix = self.stem_suffix + shard_suffix(cfg.shard)
        self.progress = progress
        self.maps.bind(self)

    def manifest_path(self) -> Path:
        return self.out_dir / f"{self.maps.manifest_stem}{self.suffix}.json"

    # ------------------------------------------------------------------ files
    def path(self, stem: str) -> Path:
        return self.out_dir / f"{method_file(stem)}{self.suffix}.csv"

    def done_ids(self, method: str) -> set[str]:
        """Images ``method`` already has in this folder: in this shard's file, and read-only in the other
        files of the method (the unsharded run's, other shards'), so a run can go on under another
        ``--shard`` split without redoing images. The report keeps one row per image."""
        from .store import done_ids

        own = self.path(method)
        stem = method_file(method) + self.stem_suffix
        others = [p for p in [self.out_dir / f"{stem}.csv", *sorted(self.out_dir.glob(f"{stem}.shard-*-of-*.csv"))]
                  if p != own]
        return done_ids(own).union(*(done_ids(p, repair=False) for p in others))

    def execute(self) -> dict:
        from tqdm import tqdm

        from ..metrics.core import STATUSES
        from .manifest import write_manifest
        from .store import RowWriter, drop_rows

        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_manifest(
            self.manifest_path(), self.cfg, device=self.device, data_source=self.source,
            backend=self.backend, weights=self.model.weights_source, layer=self.model.layer,
            protocol=self.protocol.describe(), images=len(self.records), method_sources=self.maps.method_sources(),
            fingerprint=self.fingerprint,
        )
        self.writers = {m: RowWriter(self.path(m)) for m in self.outputs}
        self.candidate_writers = {m: RowWriter(self.path(f"{m}_groups")) for m in self.maps.candidate_keys()}
        self.done = done = {m: self.done_ids(m) for m in self.outputs}
        for m, writer in self.candidate_writers.items():  # an image cut short: its candidates are written again
            drop_rows(writer.path, lambda r, m=m: r["image_id"] not in done[m])
        todo = [r for r in self.records if any(r.image_id not in done[m] for m in self.outputs)]
        counts = {"images": len(self.records), "skipped_done": len(self.records) - len(todo), **dict.fromkeys(STATUSES, 0)}
        bs = self.cfg.batch_size
        bar = tqdm(total=len(todo), desc=f"{self.model.name}", unit="img", disable=not self.progress, dynamic_ncols=True)
        self._warm_up(todo)
        begun = []  # batches begun and not yet written: with --overlap, the next one begins before one is written
        for start in range(0, len(todo), bs):
            begun.append(self._begin_batch(todo[start : start + bs], counts))
            while len(begun) > int(self.overlap):
                self._finish_batch(*begun.pop(0), counts, bar)
        while begun:
            self._finish_batch(*begun.pop(0), counts, bar)
        bar.close()
        return counts

    def _begin_batch(self, chunk, counts: dict) -> tuple[list, list[Callable[[], list[dict]]]]:
        """Load and predict one batch of records and begin each method's maps; returns the records and, per
        method, the function that returns its rows (:meth:`_finish_batch` calls them). Without overlap each
        method's rows are written before the next method begins, and none is left to finish."""
        done = self.done
        images, bad = self._load(chunk)
        good = [r for r in chunk if r.image_id in images]
        probs = dict(zip((r.image_id for r in good),
                         self.model.predict(np.stack([images[r.image_id] for r in good])) if good else [],
                         strict=True))
        begun = []
        for method in self.cfg.methods:
            pending = [r for r in chunk if any(r.image_id not in done[m] for m in self.outputs_of(method))]
            begun.append(self._begin_method(method, pending, images, bad, probs))
            if not self.overlap:
                self._write(begun.pop()(), counts)
        return chunk, begun

    def _finish_batch(self, chunk, begun, counts: dict, bar) -> None:
        """Write the rows of a begun batch."""
        for rows_of_method in begun:
            self._write(rows_of_method(), counts)
        bar.update(len(chunk))

    def _write(self, rows: list[dict], counts: dict) -> None:
        """Write the rows its outputs lack and count them in ``counts`` by status."""
        for row in rows:
            if row["image_id"] in self.done[row["method"]]:  # a resume that only lacked the other output
                continue
            self.writers[row["method"]].write(row)
            counts[row["status"]] += 1

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
        """One untimed call per method, so graph tracing is not billed to the first image."""
        images, _ = self._load(todo[:1])
        if not images:
            return
        x = next(iter(images.values()))[None]
        self.maps.warm_up(x, np.argsort(-self.model.predict(x), axis=1)[:, :2])

    def base_row(self, r, method: str) -> dict:
        """The columns every row of ``method`` for image record ``r`` has (columns.py's identity columns)."""
        return make_row(
            image_id=r.image_id, file=portable_path(r.path), label=r.label, method=method, model=self.model.name,
            protocol=self.protocol.name, device=self.device, backend=self.backend,
            shard=f"{self.cfg.shard[0]}/{self.cfg.shard[1]}", fingerprint=self.fingerprint["id"],
        )

    def error_rows(self, records, methods, reason: str, status: str | None = None) -> list[dict]:
        """An error (or degenerate) row of each method for each record, saying why in one line."""
        from ..metrics.core import STATUS_ERROR

        return [{**self.base_row(r, m), "status": status or STATUS_ERROR, "error": reason}
                for r in records for m in methods]

    def _begin_method(self, method: str, records, images: dict, bad: dict, probs: dict) -> Callable[[], list[dict]]:
        """Begin the rows of ``method`` (and of its shuffled control, if any) for ``records``; the returned
        function returns them."""
        from ..metrics.core import STATUS_DEGENERATE_IMAGE, STATUS_MESSAGES, is_degenerate_image

        names = self.outputs_of(method)
        rows = [row for r in records if r.image_id in bad for row in self.error_rows([r], names, bad[r.image_id])]
        # A constant image would score a meaningless perfect AVX with any map: not explained, not averaged.
        flat = [r for r in records if r.image_id in images and is_degenerate_image(images[r.image_id])]
        rows += self.error_rows(flat, names, STATUS_MESSAGES[STATUS_DEGENERATE_IMAGE], STATUS_DEGENERATE_IMAGE)
        flat_ids = {r.image_id for r in flat}
        ok = [r for r in records if r.image_id in images and r.image_id not in flat_ids]
        if not ok:
            return lambda: rows
        try:
            finish = self.maps.begin(
                method, ok, np.stack([images[r.image_id] for r in ok]), np.stack([probs[r.image_id] for r in ok])
            )
        except Exception as exc:
            failed = self._failure_rows(exc, ok, names)
            return lambda: rows + failed

        def all_rows() -> list[dict]:
            try:
                return rows + finish()
            except Exception as exc:
                return rows + self._failure_rows(exc, ok, names)

        return all_rows

    def _failure_rows(self, exc: Exception, records, names) -> list[dict]:
        """Error rows of ``records`` saying why, for an error one bad batch may have: one must not kill a
        3,000-image run. Any other error is raised again."""
        reason = _error_reason(exc)
        if reason is None:
            raise exc
        return self.error_rows(records, names, reason)

    def outputs_of(self, method: str) -> list[str]:
        """The rows' method names ``method`` writes: its own and its shuffled control's, if the run has one."""
        return [method, *([self.shuffled[method]] if method in self.shuffled else [])]

    def shuffled_rows(self, method: str, record, image, probs, targets, maps, scorer) -> list[dict]:
        """The row of ``method``'s shuffled control for one image (none when the run has no such control):
        the maps scored (``maps``, one per target) with the explained layer's cells permuted, seeded by
        (seed, image id). Its time columns are empty: it costs only the scoring."""
        from ..explainers.controls import shuffled_maps

        if method not in self.shuffled:
            return []
        shuffled = shuffled_maps(maps, self.model.feature_grid, self.cfg.seed, record.image_id)
        return [self.scored_row(record, self.shuffled[method], image, probs, targets, shuffled, scorer(shuffled))]

    def scored_row(self, record, method: str, image, probs, targets, maps, scores: dict, seconds=(None, None),
                    info: dict | None = None) -> dict:
        """One result row: the image's prediction, the classes the maps explain (``targets``: one per map),
        the times (None: not measured), the scores plus the opt-in metrics of ``maps[0]``, and the status."""
        from ..metrics.core import STATUS_MESSAGES, row_status
        from ..metrics.faithfulness import faithfulness_scores

        if self.cfg.extra_metrics:
            scores = {**scores, **faithfulness_scores(image, maps[0], int(targets[0]), self.model.predict,
                                                      kinds=self.cfg.extra_metrics)}
        if len(maps) == 1:  # no second map (scored maps): Class Sensitivity not measured, its columns left empty
            scores = {**scores, "CS_r": None, "CS_pass": None}
        top5 = np.argsort(-probs)[:5]
        status = row_status(image, maps[0])
        return make_row(
            **self.base_row(record, method),
            top5=";".join(str(int(c)) for c in top5), top5_probs=";".join(f"{probs[c]:.6g}" for c in top5),
            target=int(targets[0]), target2=int(targets[1]) if len(targets) > 1 else None,
            time_s=seconds[0], time_top2_s=seconds[1],
            **scores, **(info or {}), status=status, error=STATUS_MESSAGES.get(status, ""),
        )

    def write_candidates(self, method, record, explanations, scorer, key) -> None:
        from ..explainers.explanation import counterparts

        first = explanations[0]
        for meta, maps in zip(first.candidates, counterparts(explanations, key), strict=True):
            res = scorer(maps)
            self.candidate_writers[method].write({
                "image_id": record.image_id, "model": self.model.name, "protocol": self.protocol.name,
                "target": first.target, **meta, **{k: res[k] for k in CANDIDATE_METRICS},
            })

    def save_arrays(self, method, record, explanation) -> None:
        """The explanation's per-image arrays plus its candidates' metadata (``candidate_<field>``)."""
        if not explanation.arrays:
            return
        fields = dict.fromkeys(k for c in explanation.candidates for k in c)
        meta = {f"candidate_{k}": np.array([c.get(k) for c in explanation.candidates]) for k in fields}
        folder = self.out_dir / f"{method_file(method)}_units{self.stem_suffix}"
        folder.mkdir(exist_ok=True)
        tmp = folder / f"{record.image_id}.tmp.npz"
        np.savez_compressed(tmp, **explanation.arrays, **meta)
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


OVERLAP_MODES = ("auto", "on", "off")


def overlaps(cfg: RunConfig) -> bool:
    """Whether the run begins the next batch before it writes this one (``--overlap``; auto: on a GPU, where the
    CPU's work that an explainer's ``prepare`` leaves running, a KDE, then runs beside the device's)."""
    if cfg.overlap not in OVERLAP_MODES:
        raise UserError(f"--overlap {cfg.overlap}: choose {', '.join(OVERLAP_MODES)}")
    return cfg.overlap == "on" or (cfg.overlap == "auto" and cfg.device == "gpu")


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
