"""Rejection of hand-drawn marks (+ × − = ÷ < > → ✓ * # % ...), mark by mark, per int8 model through the runtime.

The ``marks`` kind (``edgedigits.train.negatives.marks``, drawn by ``--negative-variant marks``) trains on
:data:`~edgedigits.train.negatives.marks.TRAINED_MARKS` and never on
:data:`~edgedigits.train.negatives.marks.HELD_OUT_MARKS` (√, a heart, a smiley, ∞): their rows are the kind's honest
estimate of generalisation; the trained rows are optimistic (the same drawing code, a fresh seed). Each model
classifies ``--count`` fresh images of each mark (seed ``REPORT_SEED + 47``, never drawn by training) with its own
calibrated rule (its manifest). One Markdown row per mark: the share rejected and the digits the accepted ones were
read as.

Usage (from the repository root; seconds per model):

    python benchmarks/figures/reject_marks.py MODEL.tflite [MODEL.tflite ...] [--count 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe
from rejection import header, load_models, rejected


def main(argv=None) -> int:
    from edgedigits.train.negatives import REPORT_SEED
    from edgedigits.train.negatives.marks import HELD_OUT_MARKS, MARKS, draw_marks

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=Path, help="int8 model files (their manifest.json beside them)")
    p.add_argument("--count", type=int, default=300, help="images of each mark (default 300)")
    args = p.parse_args(argv)
    print(describe())
    classifiers, names = load_models(args.models)
    print(header("mark", names))
    totals = {True: [[] for _ in names], False: [[] for _ in names]}
    for i, mark in enumerate(MARKS):
        images = draw_marks(np.random.default_rng([REPORT_SEED + 47, i]), args.count, (mark,))
        cells = []
        for j, clf in enumerate(classifiers):
            share, cell = rejected(clf, images)
            totals[mark in HELD_OUT_MARKS][j].append(share)
            cells.append(cell)
        label = f"{mark} (held out)" if mark in HELD_OUT_MARKS else mark
        print(f"| {label} | " + " | ".join(cells) + " |")
    for held, title in ((False, "trained marks, mean"), (True, "held-out marks, mean")):
        print(f"| **{title}** | " + " | ".join(f"**{100 * np.mean(t):.1f}%**" for t in totals[held]) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
