"""Rejection of letters of other alphabets, script by script, per int8 model through the runtime.

The ``scripts`` kind (``edgedigits.train.negatives.scripts``, drawn by ``--negative-variant scripts``) trains on letters
of :data:`~edgedigits.train.negatives.scripts.TRAINED_SCRIPTS` and never on
:data:`~edgedigits.train.negatives.scripts.HELD_OUT_SCRIPTS` (Georgian, Cherokee, Ethiopic, Thai, kana): their rows
are the kind's honest estimate of generalisation to alphabets never seen, the trained rows are optimistic (the same
drawing code, a fresh seed). CJK ideographs and Hangul (Droid Sans Fallback, when installed) are measured too; no
variant trains on them. Each model classifies ``--count`` fresh images of each script (seed ``REPORT_SEED + 53``, never
drawn by training) with its own calibrated rule (its manifest). One Markdown row per script: the share rejected and the
digits the accepted ones were read as. Held-out letters are not filtered for digit look-alikes beyond the ``glyphs``
kind's own test (a Georgian letter may look like a 3 to anyone): the same images for every model.

Usage (from the repository root; about a minute per model):

    python benchmarks/figures/reject_scripts.py MODEL.tflite [MODEL.tflite ...] [--count 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe
from rejection import header, load_models, rejected

_NEVER_TRAINED = {"CJK ideographs": (0x4E00, 0x9FFF), "Hangul": (0xAC00, 0xD7A3)}


def main(argv=None) -> int:
    from edgedigits.train.negatives import REPORT_SEED
    from edgedigits.train.negatives.scripts import HELD_OUT_SCRIPTS, TRAINED_SCRIPTS, draw_letters, script_pools

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=Path, help="int8 model files (their manifest.json beside them)")
    p.add_argument("--count", type=int, default=300, help="images of each script (default 300)")
    args = p.parse_args(argv)
    print(describe())
    classifiers, names = load_models(args.models)
    print(header("script (letters)", names))
    groups = {"trained": TRAINED_SCRIPTS, "held out": HELD_OUT_SCRIPTS, "never trained": _NEVER_TRAINED}
    totals = {g: [[] for _ in names] for g in groups}
    i = 0
    for group, scripts in groups.items():
        for script, span in scripts.items():
            pools = script_pools({script: span}, fallback=True)
            i += 1
            if not pools:
                print(f"| {script} ({group}) | " + " | ".join("no font" for _ in names) + " |")
                continue
            images = draw_letters(np.random.default_rng([REPORT_SEED + 53, i]), args.count, pools)
            cells = []
            for j, clf in enumerate(classifiers):
                share, cell = rejected(clf, images)
                totals[group][j].append(share)
                cells.append(cell)
            letters = len({ch for _, chars in pools for ch in chars})
            print(f"| {script} ({group}, {letters}) | " + " | ".join(cells) + " |", flush=True)
    for group in groups:
        print(f"| **{group} scripts, mean** | " + " | ".join(
            f"**{100 * np.mean(t):.1f}%**" if t else "–" for t in totals[group]) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
