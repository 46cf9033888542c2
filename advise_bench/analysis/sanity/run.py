"""The check's run: every series explains the images under each cascade step, and one row per (image,
series, step) is written as soon as it is computed, on the runner's store, so a folder resumes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import UserError
from ...metrics.similarity import spearman, ssim
from .cascade import check_steps, clone_loaded, reinitialize_layer, step_label
from .files import IMAGES_FILE, MANIFEST_FILE, ROW_KEY, dedupe, load_image_rows, write_outputs
from .series import Series, sanity_series

DEFAULT_CHUNK_SIZE = 8
TRAINED = "none (trained)"  # step 0's ``randomized``: the trained maps computed a second time
# Settings that change a row's values: a resumed run must use the same ones.
GUARDED_SETTINGS = ("model", "weights", "seed", "protocol", "cascade")


def sanity(
    loaded,
    images: np.ndarray,
    methods,
    config=None,
    steps: int | list[list[str]] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    progress: bool = False,
    image_ids=None,
    advise_selections=None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    provenance: dict | None = None,
) -> pd.DataFrame:
    """Cascading randomisation; returns one row per (image, series, step).

    ``steps``: the number of cascade steps (default 7) or explicit lists of layer names per step.
    ``config``: a :class:`~advise_bench.config.RunConfig` whose method options and protocol apply.
    ``advise_selections``: ADVISE's selections, one series each (default: ``config.advise_selection``).
    ``image_ids``: one id per image (default ``0, 1, ...``); rows and resumption are keyed by them.
    With ``out``, rows are appended to ``sanity_images.csv`` there (images already complete are skipped;
    ``sanity.json`` records the settings, and a resume with other settings is refused), and
    ``sanity.csv``, ``sanity_verdicts.csv`` and ``sanity.png`` are rebuilt from all rows.
    """
    from ...config import RunConfig
    from ...explainers import check_methods

    config = config or RunConfig()
    series = sanity_series(check_methods(methods), advise_selections or (config.advise_selection,))
    images, ids = _checked_images(images, image_ids, chunk_size)
    layer_steps = check_steps(loaded.model, steps)
    store = _RowStore(out, _settings(loaded, config, series, layer_steps, seed), provenance)
    todo = store.todo(ids, series, len(layer_steps))
    if progress:
        print(f"sanity: {len(todo)} of {len(ids)} images to do", flush=True)
    if todo:
        _Cascade(loaded, series, config, layer_steps, seed, progress).run(
            images[todo], [ids[i] for i in todo], chunk_size, store.write)
    rows = store.rows()
    if out is not None:
        write_outputs(out)
    return rows


def _checked_images(images, image_ids, chunk_size: int) -> tuple[np.ndarray, list[str]]:
    """The images as a batch and their ids as text; one line and exit 2 for what cannot be run."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if len(images) == 0:
        raise UserError("sanity check: no images")
    ids = [str(i) for i in (range(len(images)) if image_ids is None else image_ids)]
    if len(ids) != len(images) or len(set(ids)) != len(ids):
        raise UserError("sanity check: need one distinct image id per image")
    if chunk_size < 1:
        raise UserError("--chunk-size must be >= 1")
    return images, ids


def _settings(loaded, config, series, layer_steps, seed) -> dict:
    """What ``sanity.json`` records as the check's configuration."""
    from ...explainers import method_class

    methods = dict.fromkeys(s.method for s in series)
    options = {m: {attr: getattr(config, attr) for attr in method_class(m).config_options if attr != "advise_selection"}
               for m in methods}
    return {"model": loaded.name, "weights": loaded.weights_source, "seed": seed, "protocol": config.protocol,
            "cascade": [{"step": k, "randomized": step_label(layers), "layers": layers}
                        for k, layers in enumerate(layer_steps, start=1)],
            "method_options": options, "series": [s.label for s in series]}


def _check_resumable(manifest: Path, settings: dict) -> None:
    """Refuse to add rows made with other settings to a folder (its rows would mix two experiments)."""
    from ...runner.manifest import as_recorded, changed_settings, recorded_config

    old, new = recorded_config(manifest), as_recorded(settings)
    changed = changed_settings(old, new, GUARDED_SETTINGS)
    old_options, new_options = old.get("method_options", {}), new["method_options"]
    changed += [f"{m} options" for m in changed_settings(old_options, new_options, new_options)]
    if changed:
        raise UserError(f"{manifest.parent}: its rows were made with other settings ({', '.join(changed)}); "
                        "use another --out")


class _RowStore:
    """The rows: with ``out``, appended crash-safely to ``sanity_images.csv`` there (the runner's store) under
    ``sanity.json`` (the runner's manifest, which a resume with other settings is refused by); without,
    kept in memory."""

    def __init__(self, out, settings: dict, provenance: dict | None):
        self.memory: list[dict] = []
        self.writer = None
        self.done: set[tuple[str, ...]] = set()  # (image_id, series, step) of every row written, as text
        if out is None:
            return
        from ...runner.manifest import write_manifest
        from ...runner.store import RowWriter, done_keys

        out = Path(out)
        self.path = out / IMAGES_FILE
        _check_resumable(out / MANIFEST_FILE, settings)
        write_manifest(out / MANIFEST_FILE, settings, **(provenance or {}))
        self.writer = RowWriter(self.path)  # repairs a torn last line before the file is read
        self.done = done_keys(self.path, ROW_KEY)

    def todo(self, ids: list[str], series: list[Series], n_steps: int) -> list[int]:
        """The positions of the images that lack a row. Their rows of these series are dropped: they are
        redone from step 0 (an image cut short mid-cascade would otherwise have its first steps twice)."""
        expected = [(s.label, str(k)) for s in series for k in range(n_steps + 1)]
        todo = [i for i, image_id in enumerate(ids) if any((image_id, *key) not in self.done for key in expected)]
        if self.writer is not None:
            from ...runner.store import drop_rows

            redo, labels = {ids[i] for i in todo}, {s.label for s in series}
            drop_rows(self.path, lambda r: r["image_id"] in redo and r["series"] in labels)
        return todo

    def write(self, row: dict) -> None:
        if self.writer is None:
            self.memory.append(row)
        else:
            self.writer.write(row)

    def rows(self) -> pd.DataFrame:
        return dedupe(pd.DataFrame(self.memory)) if self.writer is None else load_image_rows(self.path)


class _Cascade:
    """The models and explainers of one check; :meth:`run` explains a batch of images chunk by chunk. Each
    chunk resets a clone of the model to the trained weights and runs the cascade again (the caller's model
    is never touched; re-initialisation is seeded per layer, so the rows do not depend on the chunking)."""

    def __init__(self, loaded, series, config, layer_steps, seed, progress):
        from ...explainers import explainer_from_config
        from ...metrics.protocol import get_protocol

        self.trained_weights = loaded.model.get_weights()
        self.work = clone_loaded(loaded)
        self.series, self.layer_steps, self.seed, self.progress = series, layer_steps, seed, progress
        self.steps = [(0, TRAINED, [])] + [(k, step_label(layers), layers)
                                           for k, layers in enumerate(layer_steps, start=1)]
        self.protocol = get_protocol(config.protocol)
        self.layer_index = {layer.name: i for i, layer in enumerate(self.work.model.layers)}
        self.explainers = {
            s: explainer_from_config(s.method, self.work,
                                     dataclasses.replace(config, advise_selection=s.selection or config.advise_selection))
            for s in series}
        self.by_method: dict[str, list[Series]] = {}
        for s in series:
            self.by_method.setdefault(s.method, []).append(s)

    def maps(self, images, targets) -> dict[Series, np.ndarray]:
        """Each series' top-1 map per image, explained by the clone's current weights. A method's
        candidates are computed once and every series of the method selects among them (a scoring
        selection scores with the model under test)."""
        from ...metrics.protocol import MapScorer

        probs = self.work.predict(images)
        scorers = [MapScorer(x, p, self.work.predict, self.protocol) for x, p in zip(images, probs, strict=True)]
        out = {}
        for members in self.by_method.values():
            per_image = self.explainers[members[0]].explain_candidates(images, targets)
            for s in members:
                select = self.explainers[s].select
                out[s] = np.stack([select(row, scorer).maps[0] for row, scorer in zip(per_image, scorers, strict=True)])
        return out

    def run(self, images, ids, chunk_size, write) -> None:
        for start in range(0, len(images), chunk_size):
            chunk = images[start : start + chunk_size]
            where = f"images {start + 1}-{start + len(chunk)} of {len(images)}"
            self._run_chunk(chunk, ids[start : start + chunk_size], write, where)

    def _run_chunk(self, chunk, chunk_ids, write, where: str) -> None:
        """The cascade over one chunk: the trained maps (the targets: the trained model's top-1 and top-2
        classes), then after every step each series' maps against them."""
        self.work.model.set_weights(self.trained_weights)
        targets = np.argsort(-self.work.predict(chunk), axis=1)[:, :2]
        trained = self.maps(chunk, targets)
        for k, label, layers in self.steps:
            for name in layers:
                reinitialize_layer(self.work.model.get_layer(name), self.seed, self.layer_index[name])
            maps = self.maps(chunk, targets)
            for s in self.series:
                for i, image_id in enumerate(chunk_ids):
                    write({"image_id": image_id, "series": s.label, "method": s.method, "selection": s.selection,
                           "step": k, "randomized": label, "layers": len(layers), "target": int(targets[i, 0]),
                           "spearman": spearman(trained[s][i], maps[s][i]), "ssim": ssim(trained[s][i], maps[s][i])})
            if self.progress:
                print(f"sanity: {where}: step {k}/{len(self.layer_steps)} done", flush=True)
