"""The reader's fine-pen step (line.py ``_thickened``): the stroke-width measure per photo set, and its cost.

Usage:
  python benchmarks/figures/read_strokes.py [--seed 11] [--count 60] [--cache-scenes FILE] [--cache-tune FILE]
      [--time 60]

For every photo of read_conditions.py's scenes.py conditions (``--count`` per condition and no-digit kind) and of
tune_reader.py's sets (150 per set) at ``--seed``, the measure the line step decides on (``line._stroke_width`` of
the marks over the digits' height, before any thickening): per set its minimum, 5th percentile, median and
maximum, and how many photos fall below ``line._THIN`` (those are thickened). ``--time N``: CPU time of
``read_number`` p50 with the step on and off (``_THIN`` = 0), paired photo by photo in one process, on N photos.py
6-digit numbers and N scenes.py thin-pen photos (5 repeats). Seed 11 is the tuning seed. One thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "runtime"))


def measures(items) -> list[float]:
    """The stroke width over the digits' height the line step measures, per photo that has a line."""
    import cv2

    from edgedigits_runtime import line
    from edgedigits_runtime.errors import InputError
    from edgedigits_runtime.preprocess import find_ink, load_image_scaled

    seen = []
    original = line._thickened

    def spy(ink, marks, height):
        seen.append(line._stroke_width(ink, marks, cv2) / height)
        return original(ink, marks, height)

    out = []
    line._thickened = spy
    try:
        for photo, _ in items:
            seen.clear()
            try:
                line.normalise_line(find_ink(load_image_scaled(photo)[0]))
            except InputError:
                pass
            out.extend(seen[:1])
    finally:
        line._thickened = original
    return out


def paired_times(photos, reader, repeats: int = 5) -> tuple[float, float]:
    """CPU ms p50 of ``read_number`` with the fine-pen step off and on, alternating photo by photo."""
    from edgedigits_runtime import line, read_number

    kept, times = line._THIN, ([], [])
    try:
        for _ in range(repeats):
            for photo in photos:
                for on in (0, 1):
                    line._THIN = kept if on else 0.0
                    t0 = time.process_time()
                    read_number(photo, reader)
                    times[on].append(time.process_time() - t0)
    finally:
        line._THIN = kept
    return 1e3 * float(np.median(times[0])), 1e3 * float(np.median(times[1]))


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2
    import read_conditions
    import tune_reader

    from edgedigits_runtime import line
    from edgedigits_runtime.mnist import load_mnist
    from edgedigits_runtime.reader import load_reader

    cv2.setNumThreads(1)
    sets = dict(tune_reader.cached(args.cache_scenes, lambda: read_conditions.make_sets(args.seed, args.count,
                                                                                        args.count)))
    sets.update(tune_reader.cached(args.cache_tune, lambda: tune_reader.make_sets(args.seed, 150)))
    print(f"seed {args.seed}; stroke width / digit height where the line step decides (below {line._THIN}: "
          "thickened)\n")
    print("| set | photos with a line | min | 5th pct | median | max | below |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, items in sets.items():
        v = np.array(measures(items))
        if not len(v):
            continue
        print(f"| {name} | {len(v)} | {v.min():.3f} | {np.percentile(v, 5):.3f} | {np.median(v):.3f} | {v.max():.3f} "
              f"| {int((v < line._THIN).sum())} |", flush=True)
    if args.time:
        from photos import number_photos
        from scenes import scene

        images, labels = load_mnist("test")
        reader = load_reader(num_threads=1)
        six = [p for p, _, _ in number_photos(images, labels, args.time, seed=args.seed, lengths=(6, 6))]
        rng = np.random.default_rng([args.seed, 500])
        thin = [scene(images, labels, rng, "thin_pen")[0] for _ in range(args.time)]
        print("\n| photos | read_number CPU ms p50, step off | on |\n|---|---:|---:|")
        for name, photos in (("6-digit numbers (photos.py)", six), ("thin pen (scenes.py)", thin)):
            off, on = paired_times(photos, reader)
            print(f"| {name} | {off:.2f} | {on:.2f} |", flush=True)
    print("\n(command: python benchmarks/figures/read_strokes.py " + " ".join(argv if argv is not None else sys.argv[1:])
          + "; shared machine: times are indicative)")
    return 0


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=11, help="11 to tune; 2026 to report")
    p.add_argument("--count", type=int, default=60, help="scenes.py photos per condition and no-digit kind")
    p.add_argument("--cache-scenes", default=None, help="read_conditions.py's --cache file for these photos")
    p.add_argument("--cache-tune", default=None, help="tune_reader.py's --cache file for these photos")
    p.add_argument("--time", type=int, default=0, help="also time read_number on/off on this many photos of each kind")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
