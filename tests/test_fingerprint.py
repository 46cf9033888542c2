"""The numerics fingerprint (advise_bench.runner.fingerprint) and the report's warning on mixed folders."""

from __future__ import annotations

import pandas as pd

from advise_bench.report.build import build_report, terminal_summary
from advise_bench.report.fingerprints import fingerprint_note
from advise_bench.runner import fingerprint as fp

from .test_report import _control_folder, offset_rows, write_results


def test_fingerprint_records_the_machine_and_is_stable():
    a, b = fp.numerics_fingerprint(), fp.numerics_fingerprint()
    assert a == b and len(a["id"]) == 12
    assert a["cpu"]["model"] and isinstance(a["cpu"]["isa_flags"], list)
    assert {"name", "version", "kernel_library", "kernel_isa"} <= set(a["backend"])
    assert {"numpy", "pillow", "keras", a["backend"]["name"]} <= set(a["versions"])
    assert "baseline" in a["numpy_simd"] and "features" in a["numpy_simd"]


def test_onednn_isa_follows_the_cpu_flags_and_its_cap(monkeypatch):
    flags = ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "sse4_1"]
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    assert fp.onednn_isa(flags) == "avx512_core_vnni"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert fp.onednn_isa(flags) == "avx2"
    assert fp.onednn_isa(["sse4_1"]) == "sse41"


def test_probe_hash_tells_computations_apart(tiny_cnn):
    """The probe hashes depend on the model's numbers: a changed weight changes them."""
    from advise_bench.models.zoo import LoadedModel

    loaded = LoadedModel("tiny", tiny_cnn.build(seed=3), "feat_relu", 12, "none", "random")
    assert set(fp.numerics_fingerprint(loaded)["probe"]) == {"input", "output", "activations"}
    first = fp.probe_hashes(loaded)
    assert first == fp.probe_hashes(loaded)
    w = loaded.model.get_weights()
    loaded.model.set_weights([w[0] * (1 + 1e-6), *w[1:]])
    try:
        assert fp.probe_hashes(loaded)["output"] != first["output"]
    finally:
        loaded.model.set_weights(w)


def test_fingerprint_counts():
    rows = pd.DataFrame({"fingerprint": ["a", "a", "b", None]})
    assert fp.fingerprint_counts(rows) == {"a": 2, "b": 1, "unrecorded": 1}
    assert fp.fingerprint_counts(pd.DataFrame({"x": [1, 2]})) == {"unrecorded": 2}
    assert fp.fingerprint_counts([{"fingerprint": "a"}, {}]) == {"a": 1, "unrecorded": 1}


def _with_fingerprints(rows, first: str, second: str, n_second: int):
    """Rows of every method: image i's rows carry ``second`` for the last ``n_second`` images, else ``first``."""
    images = sorted({r["image_id"] for r in rows})
    late = set(images[len(images) - n_second:])
    return [{**r, "fingerprint": second if r["image_id"] in late else first} for r in rows]


def test_report_warns_on_a_folder_of_two_fingerprints(tmp_path):
    rows = _with_fingerprints(offset_rows({"advise": {"AVX": 0.05}}, n_images=8), "aaaaaaaaaaaa", "bbbbbbbbbbbb", 3)
    write_results(tmp_path, "mobilenet", rows)
    merged, paths = build_report(tmp_path, n_resamples=200)
    note = merged.attrs["fingerprint_note"]
    assert "2 numerics fingerprints" in note
    assert "aaaaaaaaaaaa: 30 rows" in note and "bbbbbbbbbbbb: 18 rows" in note  # 6 methods x 5 / x 3 images
    assert note in paths["report"].read_text()
    assert sum(note in line for line in terminal_summary(merged, paths).splitlines()) == 1


def test_report_is_quiet_on_one_fingerprint_and_on_old_folders(tmp_path):
    write_results(tmp_path / "one", "mobilenet", _with_fingerprints(offset_rows({}, n_images=6), "a", "a", 0))
    merged, paths = build_report(tmp_path / "one", n_resamples=200)
    assert merged.attrs["fingerprint_note"] is None and "fingerprints" not in paths["report"].read_text()
    write_results(tmp_path / "old", "mobilenet", offset_rows({}, n_images=6))  # no fingerprint column
    merged, _ = build_report(tmp_path / "old", n_resamples=200)
    assert merged.attrs["fingerprint_note"] is None


def test_report_counts_the_controls_fingerprints(tmp_path):
    write_results(tmp_path / "main", "mobilenet", _with_fingerprints(offset_rows({}, n_images=6), "a", "a", 0))
    control = _with_fingerprints(offset_rows({}, n_images=6), "b", "b", 0)
    _control_folder(tmp_path / "random", "mobilenet", control, grouping="random")
    merged, paths = build_report(tmp_path / "main", controls=[tmp_path / "random"], n_resamples=200)
    note = merged.attrs["fingerprint_note"]
    assert "this folder and its controls" in note and "a: 36 rows" in note and "b: 6 rows" in note
    assert fingerprint_note(pd.DataFrame({"fingerprint": ["a"]})) is None
