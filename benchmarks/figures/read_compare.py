"""Runtime settings of `read` compared photo by photo on every tuning set, and the 6-digit read's time (issue 10).

Usage:
  python benchmarks/figures/read_compare.py --variant NAME=MODULE.X=VALUE[;MODULE.Y=VALUE] [--variant ...]
      [--base MODULE.X=VALUE ...] [--seed 11] [--count 150] [--cache-prefix PREFIX] [--timing 100]

Each variant is a set of runtime constants (as ``read_conditions.py --set``), e.g. ``--variant
"share=read.MARK_SHARE=0.2;read.MARK_SHARE_SHORT=0.15"`` (the tenth session compared its candidates, branch
``reader10-candidates``, with ``read.RENDERINGS=...`` and ``preprocess._UNEVEN=3.0``: RESULTS.md). Every photo of
read_no_digit.py's sets at ``--seed`` (scenes.py letters and objects, 300 each; every read_conditions.py condition
and no-digit kind, 60 each; read_errors.py's 3-6 digit numbers (600), 6-digit (200), wide apart and boxed (300
each); tune_reader.py's other sets, ``--count`` each) is read by the code as it stands (with ``--base``) and with
each variant; per set the table gives the photos read right (no-digit sets: "no digits found") and, per variant,
right, made right (+) and made wrong (-). Then ``--timing`` photos of the 6-digit set are read by the base and
each variant in turn, photo by photo (paired), and the p50 of the process's CPU time per read is printed.

Seed 11 is for choosing; other tuning seeds (12, 30) for confirming; 2026 only to report what lands (with
read_numbers.py). One thread.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME=MODULE.X=VALUE[;MODULE.Y=VALUE]`` -> (NAME, ["MODULE.X=VALUE", ...])."""
    name, _, settings = text.partition("=")
    parts = [s.strip() for s in settings.split(";") if s.strip()]
    if not name or not parts or any("=" not in s or "." not in s.split("=", 1)[0] for s in parts):
        raise SystemExit(f"--variant wants NAME=MODULE.X=VALUE[;MODULE.Y=VALUE]; got {text!r}")
    return name, parts


@contextlib.contextmanager
def settings(parts):
    """While open: the runtime constants ``parts`` (``MODULE.X=VALUE``) set; restored after."""
    import importlib

    from read_conditions import _set_constant

    saved = []
    for part in parts:
        module, attr = part.split("=", 1)[0].rsplit(".", 1)
        target = importlib.import_module(f"edgedigits_runtime.{module}")
        saved.append((target, attr, getattr(target, attr)))
        _set_constant(part)
    try:
        yield
    finally:
        for target, attr, value in reversed(saved):
            setattr(target, attr, value)


def tally(base, new, want) -> tuple[int, int, int]:
    """(right, made right, made wrong) of the answers ``new`` against ``base``; ``want``: the right answers."""
    right = sum(a == w for a, w in zip(new, want))
    gained = sum(a == w and b != w for a, b, w in zip(new, base, want))
    lost = sum(a != w and b == w for a, b, w in zip(new, base, want))
    return right, gained, lost


def cpu_times(photos, reader, variants) -> dict:
    """{variant name: [CPU seconds per read]}: each photo read by every variant in turn (paired)."""
    from read_no_digit import answer

    out = {name: [] for name, _ in variants}
    for photo in photos:
        for name, parts in variants:
            with settings(parts):
                t0 = time.process_time()
                answer(photo, reader)
                out[name].append(time.process_time() - t0)
    return out


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2
    from read_no_digit import answer, make_sets

    from edgedigits_runtime.reader import load_reader

    cv2.setNumThreads(1)
    t0 = time.time()
    variants = [parse_variant(v) for v in args.variant]
    reader = load_reader(num_threads=1)
    sets = make_sets(args.seed, args.count, args.cache_prefix, args.data_dir)
    print(f"seed {args.seed}: {sum(map(len, sets.values()))} photos in {len(sets)} sets ({time.time() - t0:.0f} s); "
          f"base: {' '.join(args.base) or 'the code as it stands'}")
    for name, parts in variants:
        print(f"  {name}: {'; '.join(parts)}")
    print("\n| set | photos | base | " + " | ".join(f"{name} (+/-)" for name, _ in variants) + " |")
    print("|---|---:|---:|" + "---:|" * len(variants))
    totals = {name: [0, 0] for name, _ in variants}
    with settings(args.base):
        for set_name, items in sets.items():
            want = [w for _, w in items]
            base = [answer(p, reader) for p, _ in items]
            cells = []
            for name, parts in variants:
                with settings(parts):
                    new = [answer(p, reader) for p, _ in items]
                right, gained, lost = tally(base, new, want)
                totals[name][0] += gained
                totals[name][1] += lost
                cells.append(f"{right} (+{gained}/-{lost})")
            print(f"| {set_name} | {len(items)} | {sum(a == w for a, w in zip(base, want))} | " + " | ".join(cells) + " |",
                  flush=True)
        print("\nall sets: " + ", ".join(f"{name} +{g}/-{lost}" for name, (g, lost) in totals.items()))
        six = sets.get("read_errors six", [])[: args.timing]
        if six:
            times = cpu_times([p for p, _ in six], reader, [("base", [])] + variants)
            print(f"6-digit read, CPU ms p50 over {len(six)} photos (paired, one thread): " + ", ".join(
                f"{name} {1000 * float(np.median(v)):.2f}" for name, v in times.items()))
    print(f"\n({time.time() - t0:.0f} s; command: python benchmarks/figures/read_compare.py "
          + " ".join(argv if argv is not None else sys.argv[1:]) + ")")
    return 0


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", action="append", default=[], required=True, metavar="NAME=MODULE.X=VALUE[;...]",
                   help="runtime constants to compare with the base (repeatable)")
    p.add_argument("--base", action="append", default=[], metavar="MODULE.X=VALUE",
                   help="runtime constants of the base (default: the code as it stands)")
    p.add_argument("--seed", type=int, default=11, help="11 to choose, 12 and 30 to confirm (never 2026 to choose)")
    p.add_argument("--count", type=int, default=150, help="photos per tune_reader.py set")
    p.add_argument("--timing", type=int, default=100, help="6-digit photos timed per variant (0: none)")
    p.add_argument("--cache-prefix", default=None, help="keep the generated photos in PREFIX_{nd300,rc,err,tr}.pkl")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
