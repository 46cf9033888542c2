"""Peak counts of many rows at once: every image of a call in one estimate, split over processes.

:func:`peak_counts` is what ADVISE calls: the rows of all the images of a call, (R, Z), in one
estimate. Rows with the same outcome key -- whether the estimate runs, the grid length and the
histogram (:func:`~.histogram.bin_samples`) -- have the same peak count, so each distinct key is
estimated once (across images too: all-zero and sparse channels repeat). With more than one worker
the distinct rows are split into balanced parts (interleaved by grid length and non-empty bins, so
that each part keeps homogeneous chunks) and each part is estimated in a worker process: the
estimate of a row does not depend on the other rows, so the counts are the same as in one process.

Processes, not threads: on short grids (MobileNetV2 ``out_relu``: 1,280 channels of 49 samples)
the estimate is bound by the interpreter's overhead, which threads cannot share out. The workers
are plain Python subprocesses that import only this package (with one BLAS thread each), started
on first use and kept for the life of the process.

Workers: ``ADVISE_BENCH_KDE_WORKERS`` (default: the available cores, at most
:data:`_MAX_WORKERS`); 1 runs everything in this process. Inputs with fewer than
:data:`_PARALLEL_MIN_ROWS` distinct rows to estimate are not split (the hand-over would cost more
than it saves).
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import subprocess
import sys
import threading

import numpy as np

from .estimate import _ssvkernel_batch
from .histogram import bin_samples
from .options import KDEOptions, resolve_options
from .peaks import peak_counts_rows

_MAX_WORKERS = 4
_PARALLEL_MIN_ROWS = 256
_WORKERS_ENV = "ADVISE_BENCH_KDE_WORKERS"
_BLAS_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def kde_workers() -> int:
    """The number of processes the KDE uses (``ADVISE_BENCH_KDE_WORKERS``, default the available
    cores, at most :data:`_MAX_WORKERS`)."""
    value = os.environ.get(_WORKERS_ENV, "").strip()
    if value:
        return max(1, int(value))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, cores))


def peak_counts(samples: np.ndarray, options: KDEOptions, workers: int | None = None) -> np.ndarray:
    """Peak counts (R,) of the rows of ``samples`` (R, Z), as :func:`~.estimate.unit_peak_counts`
    gives them, each distinct row estimated once, split over ``workers`` processes (default
    :func:`kde_workers`)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"samples must be (R, Z) with Z >= 2, got shape {x.shape}")
    workers = kde_workers() if workers is None else workers
    binned = bin_samples(x, options)
    runs = binned.ok & ~binned.empty  # the others score 0
    key = np.concatenate([binned.L[:, None].astype(np.float64), binned.y_hist], axis=1)[runs]
    _, first, same_as = np.unique(key, axis=0, return_index=True, return_inverse=True)
    rows = np.flatnonzero(runs)[first]
    counts = np.zeros(len(x), dtype=np.int64)
    if not rows.size:
        return counts
    parts = _balanced_parts(rows, binned.L, binned.y_hist, workers if len(rows) >= _PARALLEL_MIN_ROWS else 1)
    if len(parts) == 1:
        distinct = _count_part(x[rows], options)
    else:
        distinct = np.empty(len(rows), dtype=np.int64)
        try:
            results = _run_parts([x[rows[p]] for p in parts], options)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:  # no worker could start or one died
            logging.getLogger(__name__).warning("KDE workers unavailable (%s); estimating in this process", exc)
            results = [_count_part(x[rows[p]], options) for p in parts]
        for p, c in zip(parts, results, strict=True):
            distinct[p] = c
    counts[np.flatnonzero(runs)] = distinct[same_as.reshape(-1)]
    return counts


def _count_part(x: np.ndarray, options: KDEOptions) -> np.ndarray:
    """Peak counts of the rows of ``x``: one batched estimate (in a worker, or here)."""
    return peak_counts_rows(_ssvkernel_batch(x, options).Y).astype(np.int64)


def _balanced_parts(rows, L, y_hist, n_parts: int) -> list[np.ndarray]:
    """Positions in ``rows`` split into ``n_parts`` parts of about equal work: rows sorted by grid
    length and non-empty bins, then dealt out in turn."""
    if n_parts <= 1:
        return [np.arange(len(rows))]
    nnz = (y_hist[rows] > 0).sum(axis=1)
    order = np.lexsort((nnz, L[rows]))
    return [np.sort(order[i::n_parts]) for i in range(n_parts)]


class _Worker:
    """One worker process: ``python -c`` running :func:`_serve`, fed pickled parts on its stdin.

    A plain subprocess, not ``multiprocessing``: its spawn and forkserver methods re-run the caller's
    ``__main__`` in every worker (an unguarded script would start its own run), and fork copies a
    process whose backend threads may hold locks.
    """

    def __init__(self):
        env = dict(os.environ, **{k: "1" for k in _BLAS_THREAD_ENV})
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # this process's packages
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import _serve; _serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )

    def send(self, x: np.ndarray, options: KDEOptions) -> None:
        pickle.dump((x, options), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def receive(self) -> np.ndarray:
        ok, value = pickle.load(self.proc.stdout)
        if not ok:
            raise RuntimeError(f"KDE worker failed:\n{value}")
        return value

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:  # already gone, or stuck: do not hang the caller's exit
            self.proc.kill()


def _serve() -> None:
    """A worker's loop: read (rows, options), answer (True, counts) or (False, traceback)."""
    import traceback

    from . import arithmetic

    arithmetic._max_threads = 1  # no inner threads: the workers already use the cores
    arithmetic._thread_pool.cache_clear()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the channel
    while True:
        try:
            x, options = pickle.load(inp)
        except EOFError:
            return
        try:
            reply = (True, _count_part(x, options))
        except Exception:
            reply = (False, traceback.format_exc())
        pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


_workers: list[_Worker] = []


_workers_lock = threading.Lock()  # one estimate at a time on the workers' channels (ADVISE's KDE thread, the main one)


def _run_parts(parts: list[np.ndarray], options: KDEOptions) -> list[np.ndarray]:
    """Counts of each part, one part per worker process, all at once (workers start on first use
    and are kept for the process)."""
    with _workers_lock:
        while len(_workers) < len(parts):
            _workers.append(_Worker())
        try:
            for w, x in zip(_workers, parts, strict=False):
                w.send(x, options)
            return [w.receive() for w, _ in zip(_workers, parts, strict=False)]
        except BaseException:  # a worker died or failed, or an interrupt: unread replies would desynchronise
            _shutdown()  # the channels, so start afresh next time
            raise


@atexit.register
def _shutdown() -> None:
    while _workers:
        _workers.pop().close()


def unit_peak_counts_batch(samples, *, options: KDEOptions | None = None, workers: int | None = None,
                           **overrides) -> np.ndarray:
    """:func:`unit_peak_counts` of every image at once: ``samples`` (N, C, Z) -> counts (N, C).

    One estimate for all the rows of all the images, each distinct row once, split over
    ``workers`` processes (default: ``ADVISE_BENCH_KDE_WORKERS`` or the available cores; see
    :mod:`.parallel`). The counts equal those of :func:`unit_peak_counts` image by image.
    """
    x = np.asarray(samples)
    if x.ndim != 3:
        raise ValueError(f"samples must be (N, C, Z), got shape {x.shape}")
    n, c, z = x.shape
    counts = peak_counts(x.reshape(n * c, z), resolve_options(options, overrides), workers)
    return counts.reshape(n, c)
