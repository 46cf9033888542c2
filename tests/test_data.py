import numpy as np
import pytest
from PIL import Image

from advise_bench.data import (
    ImageRecord,
    class_name,
    decode_top_k,
    from_imagenet_folder,
    from_manifest,
    load_image,
    resolve_source,
    select_subset,
    skimage_samples,
)
from advise_bench.errors import ImageError, UserError


@pytest.fixture
def photo():
    from skimage import data

    return data.chelsea()  # 300x451x3 uint8


def test_greyscale_cmyk_alpha_and_16bit_become_rgb_uint8(tmp_path, photo):
    Image.fromarray(photo).convert("L").save(tmp_path / "grey.jpg")
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg")
    rgba = np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    grey16 = (np.asarray(Image.fromarray(photo).convert("L"), np.uint16) * 257)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    for name in ("grey.jpg", "cmyk.jpg", "alpha.png", "grey16.png"):
        x = load_image(tmp_path / name, 64)
        assert x.shape == (64, 64, 3) and x.dtype == np.uint8, name
        assert 20 < x.mean() < 235, name  # real content, not a blank or saturated image
    grey = load_image(tmp_path / "grey.jpg", 64)
    assert np.array_equal(grey[..., 0], grey[..., 1])  # grey replicated to RGB
    # 16-bit: the full range is scaled, so it matches the 8-bit greyscale version closely.
    assert np.abs(load_image(tmp_path / "grey16.png", 64).astype(int) - grey.astype(int)).mean() < 3


def test_truncated_and_garbage_files_raise_image_error(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    for name in ("trunc.jpg", "junk.jpg", "missing.jpg"):
        with pytest.raises(ImageError, match=name):
            load_image(tmp_path / name, 32)


def test_resize_modes(tmp_path):
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :50] = 255  # left quarter white
    Image.fromarray(img).save(tmp_path / "wide.png")
    stretched = load_image(tmp_path / "wide.png", 40, "stretch")
    cropped = load_image(tmp_path / "wide.png", 40, "center-crop")
    assert stretched[:, :8].mean() > 200  # stretch keeps the white quarter
    assert cropped[:, :8].mean() < 30  # the centre crop cuts it away
    with pytest.raises(UserError):
        load_image(tmp_path / "wide.png", 40, "squash")


def test_manifest_keeps_extra_columns(tmp_path):
    (tmp_path / "m.csv").write_text("file,label,wnid,split\nimgs/a.jpg,3,n1,val\nimgs/b.jpg,,n2,train\n")
    recs = from_manifest(tmp_path / "m.csv")
    assert [r.label for r in recs] == [3, -1]
    assert recs[0].path == tmp_path / "imgs" / "a.jpg"
    assert recs[1].extra == {"wnid": "n2", "split": "train"}
    (tmp_path / "bad.csv").write_text("path,label\nx.jpg,1\n")
    with pytest.raises(UserError, match="'file' column"):
        from_manifest(tmp_path / "bad.csv")


def test_imagenet_layouts(tmp_path, photo):
    for wnid in ("n01440764", "n02123045"):  # tench = 0, tabby = 281
        (tmp_path / "val" / wnid).mkdir(parents=True)
        Image.fromarray(photo).save(tmp_path / "val" / wnid / f"{wnid}_1.JPEG")
    recs = from_imagenet_folder(tmp_path / "val")
    assert sorted(r.label for r in recs) == [0, 281]
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        Image.fromarray(photo).save(flat / f"ILSVRC2012_val_{i:08d}.JPEG")
    (tmp_path / "gt.txt").write_text("5\n7\n9\n")
    assert [r.label for r in from_imagenet_folder(flat, tmp_path / "gt.txt")] == [5, 7, 9]
    assert [r.label for r in from_imagenet_folder(flat)] == [-1, -1, -1]


def test_subset_is_deterministic_and_stratified():
    recs = [ImageRecord(f"img{c}_{i}", None, c) for c in range(10) for i in range(50)]
    a = select_subset(recs, 30, seed=7)
    assert a == select_subset(recs, 30, seed=7)
    assert a != select_subset(recs, 30, seed=8)
    counts = np.bincount([r.label for r in a], minlength=10)
    assert counts.tolist() == [3] * 10  # 30 of 500 over 10 classes: exactly 3 each
    assert select_subset(recs, 5) == recs[:5]
    assert len(select_subset(recs, 10_000, seed=1)) == 500


def test_embedded_default_and_class_index():
    recs = skimage_samples()
    assert len(recs) >= 5 and all(r.path.exists() for r in recs)
    desc, recs2 = resolve_source("skimage")
    assert "scikit-image" in desc and recs2 == recs
    assert class_name(281) == "tabby"
    probs = np.zeros(1000)
    probs[[281, 285]] = [0.7, 0.3]
    assert [c for c, _, _ in decode_top_k(probs, 2)] == [281, 285]
    with pytest.raises(UserError, match="no such file"):
        resolve_source("/nonexistent/folder")
