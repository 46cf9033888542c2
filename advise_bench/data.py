"""Image sources: manifest CSV, ImageNet-layout folder, plain folder, or scikit-image's bundled photos.

Every source yields :class:`ImageRecord` rows; pixels are loaded lazily by :func:`load_image`, so a
corrupt file becomes an error record for that image instead of stopping a run.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from .errors import ImageError, UserError
from .paths import RESOURCES, shared_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm"}
RESIZE_MODES = ("stretch", "center-crop")
UNKNOWN_LABEL = -1
# Photos bundled with scikit-image (no download needed); camera is greyscale on purpose.
SKIMAGE_SAMPLES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "camera.png")


@dataclass(frozen=True)
class ImageRecord:
    image_id: str
    path: Path
    label: int = UNKNOWN_LABEL
    extra: dict = field(default_factory=dict, compare=False, hash=False)


# ---------------------------------------------------------------- class index
@lru_cache(maxsize=1)
def class_index() -> dict[int, tuple[str, str]]:
    """ImageNet class index {i: (wnid, name)}, shipped with the package (Keras' copy needs a download)."""
    raw = json.loads((RESOURCES / "imagenet_class_index.json").read_text())
    return {int(k): (v[0], v[1]) for k, v in raw.items()}


def class_name(i: int) -> str:
    return class_index().get(int(i), ("", f"class_{i}"))[1]


@lru_cache(maxsize=1)
def _wnid_to_label() -> dict[str, int]:
    return {wnid: i for i, (wnid, _) in class_index().items()}


def decode_top_k(probs: np.ndarray, k: int = 5) -> list[tuple[int, str, float]]:
    """Offline equivalent of keras' decode_predictions for one probability vector."""
    top = np.argsort(-probs)[:k]
    return [(int(i), class_name(i), float(probs[i])) for i in top]


# ---------------------------------------------------------------- pixel loading
def load_image(path: Path | str, size: int, resize: str = "stretch") -> np.ndarray:
    """Decode ``path`` to an RGB uint8 array of shape (size, size, 3).

    Greyscale, palette, CMYK, alpha and 16-bit images are converted to RGB uint8; an undecodable or
    truncated file raises :class:`ImageError` with the reason. ``stretch`` resizes the whole image
    (what the reference does); ``center-crop`` resizes the short side then crops the centre.
    """
    if resize not in RESIZE_MODES:
        raise UserError(f"unknown resize mode {resize!r}; choose one of {', '.join(RESIZE_MODES)}")
    path = Path(path)
    try:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                img.load()
                rgb = _to_rgb(img)
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except Exception as exc:  # PIL raises many types for bad files
        raise ImageError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from None
    return _resize(rgb, size, resize)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale the full range to 8 bits instead of clipping.
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite on white so transparent pixels do not turn into arbitrary colours.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def _resize(img: Image.Image, size: int, resize: str) -> np.ndarray:
    if resize == "center-crop":
        w, h = img.size
        scale = size / min(w, h)
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
        w, h = img.size
        left, top = (w - size) // 2, (h - size) // 2
        img = img.crop((left, top, left + size, top + size))
    elif img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8).copy()


# ---------------------------------------------------------------- sources
def from_manifest(csv_path: Path) -> list[ImageRecord]:
    """A CSV with columns ``file,label`` (paths relative to the CSV); other columns are kept in ``extra``."""
    csv_path = Path(csv_path)
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise UserError(f"{csv_path}: a manifest needs a 'file' column (and optionally 'label')")
        records = []
        for row in reader:
            label = row.get("label", "")
            records.append(
                ImageRecord(
                    image_id=Path(row["file"]).stem,
                    path=(csv_path.parent / row["file"]),
                    label=int(label) if label not in ("", None) else UNKNOWN_LABEL,
                    extra={k: v for k, v in row.items() if k not in ("file", "label")},
                )
            )
    return records


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def from_imagenet_folder(folder: Path, ground_truth: Path | None = None) -> list[ImageRecord]:
    """``val/<wnid>/*.JPEG`` (label from the folder), or a flat folder plus a ground-truth file.

    The ground-truth file holds one label per line in sorted file-name order (ILSVRC devkit style,
    0-based Keras order), or ``file label`` pairs per line.
    """
    folder = Path(folder)
    wnids = _wnid_to_label()
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and d.name in wnids)
    if subdirs:
        return [
            ImageRecord(p.stem, p, wnids[d.name], {"wnid": d.name}) for d in subdirs for p in _images_in(d)
        ]
    files = _images_in(folder)
    if ground_truth is None:
        return [ImageRecord(p.stem, p) for p in files]
    lines = [ln.split() for ln in Path(ground_truth).read_text().splitlines() if ln.strip()]
    if all(len(parts) >= 2 for parts in lines):
        by_name = {Path(parts[0]).name: int(parts[1]) for parts in lines}
        return [ImageRecord(p.stem, p, by_name.get(p.name, UNKNOWN_LABEL)) for p in files]
    if len(lines) != len(files):
        raise UserError(f"{ground_truth}: {len(lines)} labels for {len(files)} images in {folder}")
    return [ImageRecord(p.stem, p, int(parts[0])) for p, parts in zip(files, lines, strict=True)]


def skimage_samples() -> list[ImageRecord]:
    """The embedded default: photographs bundled with scikit-image (labels unknown)."""
    from skimage import data as skdata

    root = Path(skdata.data_dir)
    return [ImageRecord(Path(n).stem, root / n, extra={"source": "skimage"}) for n in SKIMAGE_SAMPLES]


def resolve_source(data: str | None = "auto", ground_truth: Path | None = None) -> tuple[str, list[ImageRecord]]:
    """Turn the ``--data`` argument into (description, records).

    ``auto``: the shared ILSVRC subset when the shared folder has it, else scikit-image's photos.
    ``skimage``: scikit-image's photos. A ``.csv`` path: a manifest. A folder: ImageNet layout or plain images.
    """
    if data in (None, "", "auto"):
        manifest = shared_path("ilsvrc3000", "manifest.csv")
        if manifest is not None:
            return f"shared ILSVRC subset ({manifest})", from_manifest(manifest)
        return "scikit-image sample photos (embedded default)", skimage_samples()
    if data == "skimage":
        return "scikit-image sample photos (embedded default)", skimage_samples()
    path = Path(data).expanduser()
    if not path.exists():
        raise UserError(f"--data {data}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise UserError(f"--data {data}: expected a manifest .csv, a folder, 'auto' or 'skimage'")
        return f"manifest {path}", from_manifest(path)
    records = from_imagenet_folder(path, ground_truth)
    if not records:
        raise UserError(f"--data {data}: no images found")
    return f"folder {path}", records


# ---------------------------------------------------------------- subsets
def select_subset(records: list[ImageRecord], limit: int | None, seed: int | None = None) -> list[ImageRecord]:
    """First ``limit`` records, or, with a seed, a deterministic class-stratified random subset.

    Stratification: classes are visited round-robin in a seeded random order, each class's images in
    a seeded random order, so e.g. 3,000 of 50,000 spreads evenly over the 1,000 classes.
    """
    if limit is not None and limit < 0:
        raise UserError("--limit must be >= 0")
    if seed is None:
        return records if limit is None else records[:limit]
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[ImageRecord]] = defaultdict(list)
    for r in records:
        by_class[r.label].append(r)
    queues = []
    for label in sorted(by_class):
        members = sorted(by_class[label], key=lambda r: r.image_id)
        queues.append([members[i] for i in rng.permutation(len(members))])
    order = [queues[i] for i in rng.permutation(len(queues))]
    n = len(records) if limit is None else min(limit, len(records))
    picked: list[ImageRecord] = []
    depth = 0
    while len(picked) < n:
        for q in order:
            if depth < len(q):
                picked.append(q[depth])
                if len(picked) == n:
                    break
        depth += 1
    return picked

