"""``advise-bench score``: saliency maps computed elsewhere, scored like a run's into ``<out>/<model>/<name>.csv``.

MAPS is a folder with one ``<image id>.npy`` per image, or one ``.npz`` whose keys are image ids. Each array is
(H, W) or (1, H, W) (a plugin's maps are (1, S, S)), the map for the top-1 class, or (2, H, W), the maps for the
top-1 and the top-2 class; the second is only used for Class Sensitivity, which is not measured without it (see
``metrics.protocol.score_explanation``; the row's ``CS_r``, ``CS_pass`` and ``target2`` are then empty).

A map at the model's input size with every value in [0, 1] is scored as it is, as a run scores its maps. Any
other map (another size, or values outside [0, 1]) goes through the rule every CAM map of a run goes through,
``explainers.base.finalize_maps``: min-max rescaled to [0, 1] (per map; negative values are not clipped first),
bicubic resized to the input size, clipped to [0, 1].

With ``--targets`` (a CSV ``image_id,target[,target2]``) the first map is scored for ``target`` in place of the
model's top-1 class: Average Drop, Hit and the penalty use that class; the row's ``target2`` says which class the
second map explains (empty when the CSV does not say, and then CS is the correlation of two maps of unknown
classes). The rows are a run's rows (:meth:`~.run.Run.scored_row`); the time columns are empty (not measured).
Bad input is a row, never a crash: a missing, unreadable, misshapen, non-numeric or non-finite map is an
``error`` row with a one-line message, a constant map a ``degenerate_map`` row.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import RunConfig
from ..errors import UserError, one_line
from ..paths import portable_path
from .run import MapSource, Run, method_file

NPY_MAGIC = b"\x93NUMPY"  # the first bytes of every .npy file (NumPy's format, version 1 to 3)


class MapError(Exception):
    """One image's map cannot be scored; the message becomes its error row."""


class MapFiles:
    """The maps of a MAPS folder (``<image id>.npy``) or ``.npz`` file, read one image at a time."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._npz = None
        if self.path.is_dir():
            self.ids = {p.stem for p in self.path.glob("*.npy")}
        elif self.path.is_file() and self.path.suffix == ".npz":
            try:
                self._npz = np.load(self.path, allow_pickle=False)
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                raise UserError(f"{self.path}: not a readable .npz file ({one_line(exc)})") from None
            self.ids = set(self._npz.files)
        elif self.path.exists():
            raise UserError(f"{self.path}: expected a folder of <image id>.npy files or one .npz file")
        else:
            raise UserError(f"{self.path}: no such maps folder or .npz file")
        if not self.ids:
            raise UserError(f"{self.path}: no maps in it (expected <image id>.npy files or .npz keys)")

    def read(self, image_id: str) -> np.ndarray:
        if image_id not in self.ids:
            raise MapError(f"no map for image {image_id} in {self.path.name}")
        try:
            if self._npz is not None:
                return self._npz[image_id]
            path = self.path / f"{image_id}.npy"
            with open(path, "rb") as fh:
                if fh.read(len(NPY_MAGIC)) != NPY_MAGIC:  # NumPy would suggest unpickling: say it ourselves
                    raise MapError(f"{path.name}: not a NumPy array file (np.save writes one)")
            return np.load(path, allow_pickle=False)
        except MapError:
            raise
        except ValueError as exc:
            if "allow_pickle" in str(exc):  # an array of Python objects: never unpickled
                raise MapError(f"{image_id}: the map holds Python objects, not numbers; save a numeric array") from None
            raise MapError(f"cannot read the map of image {image_id}: {one_line(exc)}") from None
        except Exception as exc:  # a corrupt or truncated file: that image's row
            raise MapError(f"cannot read the map of image {image_id}: {one_line(exc)}") from None


def maps_to_score(array: np.ndarray, size: int) -> np.ndarray:
    """A map file's array as the (K, size, size) float32 maps in [0, 1] that are scored, K = 1 or 2 (the
    module docstring says which maps are resized); :class:`MapError` says why an array cannot be scored."""
    from ..explainers.base import finalize_maps

    array = np.asarray(array)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise MapError(f"the map is not real numbers (dtype {array.dtype})")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[0] in (1, 2))) or array.size == 0:
        raise MapError(f"the map has shape {array.shape}; expected (H, W), (1, H, W) or (2, H, W)")
    maps = array.astype(np.float32).reshape((-1, *array.shape[-2:]))
    if not np.isfinite(maps).all():
        raise MapError("the map has NaN or Inf values")
    if maps.shape[1:] == (size, size) and maps.min() >= 0 and maps.max() <= 1:
        return maps
    return finalize_maps(maps, size)


def read_targets(path: Path | str) -> dict[str, tuple[int, int | None]]:
    """``--targets``: image id -> (target, target2 or None), from a CSV with columns image_id, target[, target2]."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--targets {path}: no such file")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"image_id", "target"} <= set(reader.fieldnames or ()):
            raise UserError(f"--targets {path}: expected the columns image_id,target (and optionally target2)")
        targets = {}
        for line, row in enumerate(reader, start=2):
            try:
                second = (row.get("target2") or "").strip()
                targets[row["image_id"].strip()] = (int(row["target"]), int(second) if second else None)
            except (TypeError, ValueError):
                raise UserError(f"--targets {path}, line {line}: classes must be integers") from None
    return targets


class ScoredMaps(MapSource):
    """``score``'s maps: read from MAPS (not explained), one method ``name``; the :class:`~.run.Run` does the rest."""

    def __init__(self, maps: Path | str, name: str, targets: Path | str | None = None):
        check_name(name)
        self.name = name
        self.files = MapFiles(maps)  # read before the model loads: bad input fails fast
        self.targets_file = targets
        self.targets = read_targets(targets) if targets is not None else None
        # Beside the run's own run.json (the report reads both for the weights), not over it.
        self.manifest_stem = f"run.score-{method_file(name)}"

    def bind(self, run: Run) -> None:
        super().bind(run)
        n_classes = int(run.model.model.output_shape[-1])
        bad = sorted({t for pair in (self.targets or {}).values() for t in pair if t is not None and not
                      0 <= t < n_classes})
        if bad:
            raise UserError(f"--targets {self.targets_file}: class {bad[0]} is not a class of {run.model.name} "
                            f"(0..{n_classes - 1})")

    def method_sources(self) -> dict[str, str]:
        source = f"scored maps {portable_path(self.files.path.resolve())}"
        if self.targets_file is not None:
            source += f", targets {portable_path(Path(self.targets_file).resolve())}"
        return {self.name: source}

    def rows(self, method, records, images, probs) -> list[dict]:
        from ..metrics.protocol import MapScorer

        run = self.run
        rows = []
        for i, r in enumerate(records):
            try:
                maps = maps_to_score(self.files.read(r.image_id), run.model.input_size)
                targets = self._targets(r.image_id, probs[i], len(maps))
            except MapError as exc:
                rows += run.error_rows([r], run.outputs_of(method), str(exc))
                continue
            scorer = MapScorer(images[i], probs[i], run.model.predict, run.protocol, target=targets[0])
            rows.append(run.scored_row(r, method, images[i], probs[i], targets, maps, scorer(maps)))
            rows += run.shuffled_rows(method, r, images[i], probs[i], targets, maps, scorer)
        return rows

    def _targets(self, image_id: str, probs: np.ndarray, n_maps: int) -> list[int]:
        """The class each map explains: the model's top-1 (and top-2), or the --targets file's."""
        if self.targets is None:
            return [int(c) for c in np.argsort(-probs)[:n_maps]]
        if image_id not in self.targets:
            raise MapError(f"no target for image {image_id} in --targets {Path(self.targets_file).name}")
        target, target2 = self.targets[image_id]
        return [target] if target2 is None or n_maps == 1 else [target, target2]

    def unmatched(self, records) -> int:
        """Maps whose name is no image of this run's selection (a typo in the ids, or another --limit)."""
        return len(self.files.ids - {r.image_id for r in records})


def check_name(name: str) -> None:
    """Scored maps need a name of their own: it is their rows' method and their CSV's file name."""
    from ..explainers.registry import METHOD_NAME, method_names
    from ..method_kinds import SHUFFLED_SUFFIX, method_kind

    if not METHOD_NAME.fullmatch(name or ""):
        raise UserError(f"--name {name!r}: use letters, digits and _.+- only (it names the CSV)")
    if method_kind(name) == "shuffled":
        raise UserError(f"--name {name}: names ending in {SHUFFLED_SUFFIX} are the shuffled controls' rows; "
                        "give the maps another name")
    if name in method_names():
        raise UserError(f"--name {name}: that is the name of a method (`advise-bench methods`); the rows would "
                        "mix with its rows, so give the maps a name of their own")


def score(cfg: RunConfig, maps: Path | str, name: str, targets: Path | str | None = None,
          progress: bool = True) -> tuple[dict, Run]:
    """Score MAPS as method ``name``; the row counts (as :func:`~.run.run`'s) and the run (its ``maps`` is the
    :class:`ScoredMaps`)."""
    source = ScoredMaps(maps, name, targets)
    scored = Run(replace(cfg, methods=(name,)), progress, maps=source)
    return scored.execute(), scored
