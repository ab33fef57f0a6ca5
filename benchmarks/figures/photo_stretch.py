"""How soft are photo-path digits, and how much contrast stretch would make them as crisp as MNIST's?

MNIST *training* digits are rendered as the toolkit's own training photos (``train/photo_digits.render_photo``) and
prepared by the runtime's photo path (``preprocess_image``); each prepared 28x28 field is then stretched so that the
``q``-th percentile of its ink (pixels above 0.1 of full scale) becomes full white. Prints, per ``q``, the mean
saturated pixels (>= 250), grey edge pixels (26-229), ink (sum / 255) and inked pixels (> 25) per image, beside the
same digits as MNIST has them. The stretch here works on the field's uint8 pixels; the tried runtime version
(branch ``reject4-tried``, benchmarks/RESULTS.md "Not a digit", fifth session) did the same on the float field
before its rounding, so the two differ by uint8 rounding only.

Usage (from the repository root; EDGEDIGITS_DATA set; about a minute on 2 shared cores):

    python benchmarks/figures/photo_stretch.py [--count 400] [--seed 3] [--percentiles 80 70 65 60 50]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe


def _stretch(field: np.ndarray, q: float) -> np.ndarray:
    """``field`` (uint8 28x28) with the ``q``-th percentile of its ink (> 0.1 of full scale) made full white."""
    x = field.astype(np.float32) / 255.0
    ink = x[x > 0.1]
    if ink.size < 8:
        return field
    level = float(np.percentile(ink, q))
    return np.round(np.minimum(x / max(level, 1e-6), 1.0) * 255.0).astype(np.uint8)


def _row(name: str, images: np.ndarray) -> str:
    a = images.astype(np.int32)
    cells = [(a >= 250).sum(axis=(1, 2)).mean(), ((a > 25) & (a < 230)).sum(axis=(1, 2)).mean(),
             a.sum(axis=(1, 2)).mean() / 255.0, (a > 25).sum(axis=(1, 2)).mean()]
    return f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |"


def main() -> None:
    from edgedigits.data import load_splits
    from edgedigits.train.photo_digits import render_photo
    from edgedigits_runtime import preprocess_image
    from edgedigits_runtime.errors import InputError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=400, help="training digits to render (the first ones)")
    ap.add_argument("--seed", type=int, default=3, help="seed of the photo renderer")
    ap.add_argument("--percentiles", type=float, nargs="+", default=[80, 70, 65, 60, 50])
    args = ap.parse_args()

    digits = load_splits(None).x_train[: args.count]
    rng = np.random.default_rng(args.seed)
    fields = []
    for photo in [render_photo(d, rng) for d in digits]:
        try:
            fields.append(preprocess_image(photo))
        except InputError:  # the photo path refused it (too faint): as training does, left out
            pass
    fields = np.stack(fields)
    print(f"{args.count} MNIST training digits; {len(fields)} photos prepared by the photo path (seed {args.seed})\n")
    print("| images | saturated px (>= 250) | grey edge px (26-229) | ink | inked px (> 25) |\n|---|---:|---:|---:|---:|")
    print(_row("MNIST training digits", digits))
    print(_row("photo path, as it is", fields))
    for q in args.percentiles:
        print(_row(f"photo path, ink's {q:g}th percentile -> white", np.stack([_stretch(f, q) for f in fields])))
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/photo_stretch.py --count {args.count} "
          f"--seed {args.seed} --percentiles {' '.join(f'{q:g}' for q in args.percentiles)}")


if __name__ == "__main__":
    main()
