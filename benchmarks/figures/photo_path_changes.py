"""How many photo-path outputs a change of runtime constants alters: preprocess_image fields and read_number answers.

Usage:
  python benchmarks/figures/photo_path_changes.py --set MODULE.NAME=VALUE [--set ...] [--seed 11] [--count 150]
      [--cache FILE]

A change to the shared front end (``find_ink``) or to the line step alters every photo-path input: the
classifier's (``preprocess_image``) and the reader's. This runs tune_reader.py's sets at ``--seed`` (11 to
tune, 2026 to report) and photo_acceptance.py's 300 one-digit photos (seed 0) through both paths twice, as the
code stands and with the ``--set`` constants (the change turned off, e.g. ``preprocess._STEP_SHARE=inf``), and
prints per set how many fields and answers differ, and the share read right (numbers) or answered "no digits
found" (no-digit sets) each way. One thread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "runtime"))


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2
    from photos import make_photo
    from read_conditions import _set_constant, answer
    from tune_reader import cached, make_sets

    from edgedigits_runtime import preprocess_image
    from edgedigits_runtime.errors import EdgeDigitsError
    from edgedigits_runtime.mnist import load_mnist
    from edgedigits_runtime.reader import load_reader

    cv2.setNumThreads(1)
    sets = cached(args.cache, lambda: make_sets(args.seed, args.count, args.data_dir))
    images, labels = load_mnist("test", args.data_dir)
    rng = np.random.default_rng(0)  # photo_acceptance.py's photos
    pick = rng.choice(len(images), 300, replace=False)
    sets["photo_acceptance"] = [(make_photo(images[i], rng), str(labels[i])) for i in pick]
    reader = load_reader(num_threads=1)

    def run():
        out = {}
        for name, items in sets.items():
            answers, fields = [], []
            for photo, _ in items:
                answers.append(answer(photo, reader))  # (kind, number or refusal)
                try:
                    fields.append(preprocess_image(photo))
                except EdgeDigitsError:
                    fields.append(None)
            out[name] = answers, fields
        return out

    now = run()
    for setting in args.set:
        _set_constant(setting)
    before = run()
    print(f"seed {args.seed}; 'before' = with {' '.join(args.set)}\n")
    print("| set | photos | fields changed | answers changed | right before | right now |\n|---|---:|---:|---:|---:|---:|")
    for name, items in sets.items():
        (a0, f0), (a1, f1) = before[name], now[name]
        want = [w for _, w in items]
        fields = sum((x is None) != (y is None) or (x is not None and not np.array_equal(x, y)) for x, y in zip(f0, f1))
        answers = sum(x != y for x, y in zip(a0, a1))
        print(f"| {name} | {len(items)} | {fields} | {answers} | {_right(a0, want):.1%} | {_right(a1, want):.1%} |",
              flush=True)
    return 0


def _right(answers, want) -> float:
    """Share of ``answers`` (read_conditions.answer's) that are the wanted number ("" = no digits found)."""
    return float(np.mean([kind != "refused" and text == w for (kind, text), w in zip(answers, want)]))


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", default=[], required=True, metavar="MODULE.NAME=VALUE",
                   help="a runtime constant that turns the change off (repeatable)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--count", type=int, default=150)
    p.add_argument("--cache", default=None, help="keep tune_reader's photos in this pickle file")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
