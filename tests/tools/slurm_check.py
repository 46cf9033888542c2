"""Check a sharded run for `make slurm-test`: every (image, method) row exactly once across the shard CSVs,
each in its own shard, and a report table that counts every image. Exit 1 with one line when not.

    python tests/tools/slurm_check.py RESULTS --preset ci --shards 2            # the finished run and its table
    python tests/tools/slurm_check.py RESULTS --preset ci --shards 2 --partial 1  # shard 1 was stopped mid-run
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd

from advise_bench.explainers import METHOD_NAMES
from advise_bench.method_kinds import display_name, method_kind, shuffled_name
from advise_bench.runner.presets import apply_preset
from advise_bench.runner.run import RunConfig, method_file, prepare, shard_suffix
from advise_bench.runner.slurm import resolve_preset


def shard_rows(folder: Path, method: str, shard: tuple[int, int]) -> list[str]:
    """image_id of every row of one shard's CSV for one method, duplicates kept."""
    path = folder / f"{method_file(method)}{shard_suffix(shard)}.csv"
    return list(pd.read_csv(path, dtype={"image_id": str})["image_id"]) if path.exists() else []


def check(results: Path, preset: str, shards: int, partial: int | None) -> str:
    cfg = replace(apply_preset(RunConfig(), resolve_preset(preset), explicit=set()), shard=(0, 1))
    _, _, records = prepare(cfg)  # sets cfg.methods to what a run writes: the methods, then the reference maps
    methods = cfg.methods or tuple(METHOD_NAMES)
    folder = results / cfg.model
    if partial is not None:
        want = len(records[partial::shards]) * len(methods)
        got = sum(len(shard_rows(folder, m, (partial, shards))) for m in methods)
        if not 0 < got < want:
            raise AssertionError(f"shard {partial} has {got} of {want} rows: it was not stopped mid-run")
        return f"shard {partial} stopped mid-run with {got} of {want} rows"
    controls = [shuffled_name(m) for m in methods if method_kind(m) == "method"] if cfg.shuffled_control else []
    for method in [*methods, *controls]:
        for k in range(shards):
            mine = {r.image_id for r in records[k::shards]}
            counts = Counter(shard_rows(folder, method, (k, shards)))
            twice = sorted(i for i, c in counts.items() if c > 1)
            if twice or set(counts) != mine:
                raise AssertionError(f"{method}, shard {k}: duplicated {twice}, missing {sorted(mine - set(counts))}, "
                                     f"foreign {sorted(set(counts) - mine)}")
    table = pd.read_csv(results / "table1.csv")
    want_methods = sorted(display_name(m) for m in methods)
    if sorted(table["method"]) != want_methods:
        raise AssertionError(f"table1.csv has methods {sorted(table['method'])}, expected {want_methods}")
    wrong = table[(table["n"] != len(records)) | (table["errors"] != 0)]
    if len(wrong):
        raise AssertionError(f"table1.csv: n/errors wrong for {list(wrong['method'])} (expected n={len(records)})")
    return (f"{len(records)} images x {len(methods)} methods: every row exactly once across {shards} shards, "
            f"each in its own shard; table1.csv has n={len(records)}, 0 errors for each method")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--partial", type=int, help="only check that this shard is neither empty nor complete")
    args = parser.parse_args()
    try:
        print(check(args.results, args.preset, args.shards, args.partial))
    except (AssertionError, OSError) as exc:
        sys.exit(f"slurm-test: {args.results}: {exc}")


if __name__ == "__main__":
    main()
