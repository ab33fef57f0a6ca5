"""How long `edgedigits train` takes to generate its extras (non-digits, photo-path digits), in this process and in
parallel, and whether both give the same images (issue 13: the README pipeline's time).

Usage (from the repository root; full size by default, as a default run makes them)::

    python benchmarks/figures/extras_speed.py [--seed 0] [--limit N] [--data-dir DIR] [--skip-serial]

Prints one JSON line per way (the default: in parallel for a full-size run on 2+ cores; then all in this process):
wall seconds, CPU seconds of this process and its children, and whether both gave byte-identical images.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import time


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="training digits (default: all 55,000)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--skip-serial", action="store_true", help="only the parallel way")
    args = parser.parse_args()

    from edgedigits.data import load_splits
    from edgedigits.train import extras
    from edgedigits.train.config import TrainConfig

    splits = load_splits(args.data_dir, limit=args.limit)
    config = TrainConfig(seed=args.seed)  # the defaults' shares: --negatives 0.5 --photo-digits 1.0 --photo-negatives 0.33
    digests = {}
    ways = [("default", extras.PARALLEL_MIN_IMAGES)] + ([] if args.skip_serial else [("in-process", 10**12)])
    from edgedigits.train.negatives import generate

    generate(50, seed=1, digits=splits.x_train)  # warm this process's caches (fonts' character sets) for both ways
    for way, threshold in ways:
        extras.PARALLEL_MIN_IMAGES = threshold
        lines = []
        t0, c0 = time.perf_counter(), _cpu()
        x, y = extras.with_negatives(splits, config, lines.append)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        digests[way] = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
        print(json.dumps({"way": way, "images": int(len(x)), "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                          "parallel": any("(in parallel)" in line for line in lines),
                          "cores": extras.cores(), "load_average": os.getloadavg(), "sha256": digests[way][:16],
                          "log": lines}), flush=True)
    if len(digests) == 2:
        print(json.dumps({"same_images": len(set(digests.values())) == 1}))


if __name__ == "__main__":
    main()
