"""The numerics fingerprint: what, on this machine, decides the last bits of a run's numbers.

A method whose unit scores are integer peak counts (the KDE grouping) can change its groups when float32
kernels differ by ~1e-5, on a few percent of images (docs/methods.md, "Same numbers on every machine"). A run records, in ``run.json`` and as
the ``fingerprint`` column of every row, a short id of:

* the CPU model and its instruction-set flags;
* the backend, its version and its CPU kernel library with that library's instruction set (TensorFlow on
  x86: oneDNN, whose ISA is the best the CPU offers below ``ONEDNN_MAX_CPU_ISA``; inferred from the CPU
  flags and the environment, as oneDNN exposes it only in its verbose log);
* NumPy's SIMD dispatch (baseline and the dispatched features this CPU has);
* the versions of NumPy, Pillow, Keras and the backend;
* a hash of the model's float32 output (and of the explained layer's activations) on a fixed seeded probe
  image: two processes that compute differently are told apart even where everything above matches.

Rows with the same id were computed by the same numerics; :func:`fingerprint_counts` tells the report and
``verify`` how many rows each id has.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata

import numpy as np

FINGERPRINT_COLUMN = "fingerprint"
_PROBE_SEED = 0
# the instruction-set flags of /proc/cpuinfo worth recording (the rest are features such as "ht" or "pse")
_ISA_PREFIXES = ("sse", "ssse", "avx", "fma", "f16c", "amx", "bmi", "popcnt", "aes", "sha", "vnni", "adx",
                 "asimd", "sve", "neon", "fp", "vaes", "vpclmul", "gfni")
# oneDNN's CPU ISAs, best first, with the cpuinfo flags each needs
_ONEDNN_ISAS = (
    ("avx10_1_512_amx_fp16", ("amx_fp16", "avx512_fp16")),
    ("avx512_core_amx", ("amx_tile", "amx_int8", "amx_bf16")),
    ("avx512_core_fp16", ("avx512_fp16", "avx512_bf16")),
    ("avx512_core_bf16", ("avx512_bf16", "avx512_vnni")),
    ("avx512_core_vnni", ("avx512_vnni", "avx512bw", "avx512vl", "avx512dq")),
    ("avx512_core", ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
    ("avx2_vnni_2", ("avx_vnni", "avx_vnni_int8", "avx2")),
    ("avx2_vnni", ("avx_vnni", "avx2")),
    ("avx2", ("avx2", "fma")),
    ("avx", ("avx",)),
    ("sse41", ("sse4_1",)),
)


def short_hash(obj) -> str:
    """12 hex digits of the SHA-256 of ``obj`` (bytes, or anything JSON can write with sorted keys)."""
    data = obj if isinstance(obj, bytes) else json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:12]


def cpu_info() -> dict:
    """CPU model and instruction-set flags (from /proc/cpuinfo where it exists, else platform and NumPy)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "cpu model", "hardware") and model in ("", platform.machine()):
                    model = value.strip()
                elif key in ("flags", "features") and not flags:
                    flags = set(value.split())
    except OSError:
        flags = {k.lower() for k, v in numpy_simd()["features"].items() if v}
    isa = sorted(f for f in flags if f.startswith(_ISA_PREFIXES))
    return {"model": model, "machine": platform.machine(), "isa_flags": isa}


def numpy_simd() -> dict:
    """NumPy's SIMD dispatch: the compiled baseline, the dispatch targets, and what this CPU has."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    features = dict(getattr(umath, "__cpu_features__", {}))
    return {
        "baseline": list(getattr(umath, "__cpu_baseline__", [])),
        "dispatch": list(getattr(umath, "__cpu_dispatch__", [])),
        "features": {k: bool(v) for k, v in sorted(features.items())},
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def onednn_isa(flags: list[str]) -> str:
    """The ISA oneDNN dispatches to: the best of :data:`_ONEDNN_ISAS` the CPU flags allow, capped by
    ``ONEDNN_MAX_CPU_ISA`` (or ``DNNL_MAX_CPU_ISA``) where set."""
    have = set(flags)
    names = [name for name, needs in _ONEDNN_ISAS]
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").lower()
    start = names.index(cap) if cap in names else 0
    for name, needs in _ONEDNN_ISAS[start:]:
        if all(f in have for f in needs):
            return name
    return "none"


def backend_info(cpu: dict) -> dict:
    """The Keras backend, its version, and its CPU kernel library with that library's instruction set."""
    from ..backend import requested

    name = requested()
    dist = {"tensorflow": "tensorflow", "jax": "jaxlib", "torch": "torch"}[name]
    info = {"name": name, "version": _version(dist)}
    if name == "tensorflow":
        onednn = _tensorflow_onednn()
        info["kernel_library"] = "oneDNN" if onednn else "Eigen"
        info["kernel_isa"] = onednn_isa(cpu["isa_flags"]) if onednn else "eigen (compiled ISA)"
        info["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "")
    elif name == "torch":
        import torch

        info["kernel_library"] = "oneDNN" if torch.backends.mkldnn.is_available() else "ATen"
        info["kernel_isa"] = str(torch.backends.cpu.get_cpu_capability())
    else:
        info["kernel_library"] = "XLA:CPU"
        info["kernel_isa"] = os.environ.get("XLA_FLAGS", "") or "default"
    for var in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    return info


def _tensorflow_onednn() -> bool:
    """Whether TensorFlow runs its oneDNN kernels (on by default on x86 Linux; TF_ENABLE_ONEDNN_OPTS=0 off)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        if hasattr(_pywrap_util_port, "IsMklEnabled") and not _pywrap_util_port.IsMklEnabled():
            return False
    except Exception:
        pass
    flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if flag is not None:
        return flag.strip().lower() not in ("0", "false")
    return platform.machine().lower() in ("x86_64", "amd64") and platform.system() == "Linux"


def probe_hashes(model) -> dict:
    """Hashes of the model's float32 output and of the explained layer's activations on one seeded probe
    image (uniform pixels, seed :data:`_PROBE_SEED`, batch 1)."""
    size = model.input_size
    x = np.random.default_rng(_PROBE_SEED).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    inputs = model.preprocess(x)
    out = np.ascontiguousarray(np.asarray(model.forward(inputs), np.float32))
    acts = np.ascontiguousarray(np.asarray(model.feature_map(inputs), np.float32))
    return {"input": f"uniform(0, 255) pixels, seed {_PROBE_SEED}, {size}x{size}, batch 1",
            "output": short_hash(out.tobytes()), "activations": short_hash(acts.tobytes())}


def numerics_fingerprint(model=None) -> dict:
    """The fingerprint of this process (with ``model``'s probe hashes when given); its ``id`` is a short hash
    of everything else in it."""
    cpu = cpu_info()
    doc = {
        "cpu": cpu,
        "backend": backend_info(cpu),
        "numpy_simd": numpy_simd(),
        "versions": {k: _version(k) for k in ("numpy", "pillow", "keras")},
    }
    doc["versions"][doc["backend"]["name"]] = doc["backend"]["version"]
    if model is not None:
        doc["probe"] = probe_hashes(model)
    return {"id": short_hash(doc), **doc}


def fingerprint_counts(rows) -> dict[str, int]:
    """Rows per fingerprint id (``unrecorded`` for rows written before the column existed); ``rows`` is a
    DataFrame or an iterable of dicts."""
    if hasattr(rows, "columns"):
        if FINGERPRINT_COLUMN not in rows.columns:
            return {"unrecorded": len(rows)} if len(rows) else {}
        values = rows[FINGERPRINT_COLUMN].fillna("").astype(str).tolist()
    else:
        values = [str(r.get(FINGERPRINT_COLUMN) or "") for r in rows]
    counts: dict[str, int] = {}
    for v in values:
        key = v if v and v != "nan" else "unrecorded"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
