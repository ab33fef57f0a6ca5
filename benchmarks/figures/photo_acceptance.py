"""How many single-digit *photos* a model accepts as digits, through the runtime's photo path.

MNIST test digits are rendered as synthetic photos (tests/runtime/photos.py: enlarged, off-centre, dark on light,
uneven light, noise, RGB, JPEG), prepared by ``preprocess_image`` and classified with each model's own
"not a digit" rule (none: everything is accepted). Prints top-1, share accepted, accuracy on accepted, and
pixel statistics of the digits before and after the photo path (why models taught on MNIST alone reject them).

Usage: python benchmarks/figures/photo_acceptance.py [MODEL.tflite ...] [--count 300] [--seed 0]
(no model: only the runtime's shipped model). Needs EDGEDIGITS_DATA or the MNIST cache.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "runtime"))


def main() -> None:
    from photos import make_photo  # tests/runtime/photos.py: the tests' own photo generator

    from edgedigits_runtime import DigitClassifier, load_default, preprocess_image
    from edgedigits_runtime.mnist import load_mnist

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    images, labels = load_mnist("test")
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(images), args.count, replace=False)
    x = np.stack([preprocess_image(make_photo(images[i], rng)) for i in pick])
    y = labels[pick]
    raw = images[pick]
    for name, a in (("MNIST test digits", raw), ("the same digits through the photo path", x)):
        print(f"{name}: {(a >= 250).sum(axis=(1, 2)).mean():.1f} saturated pixels (>= 250), "
              f"{((a > 25) & (a < 230)).sum(axis=(1, 2)).mean():.1f} grey edge pixels (26-229), "
              f"ink {a.astype(np.float32).sum(axis=(1, 2)).mean() / 255:.1f} (mean per image)")
    models = [("shipped", load_default())] + [(m, DigitClassifier(m)) for m in args.models]
    print(f"{args.count} synthetic single-digit photos (seed {args.seed})")
    print("| model | reject rule | top-1 | accepted | accuracy on accepted |\n|---|---|---:|---:|---:|")
    for name, clf in models:
        c = clf.classify(x)
        ok = ~c.not_a_digit
        rule = "none" if clf.reject is None else f"{clf.reject['method']} >= {clf.reject['threshold']:.3f}"
        if clf.reject is not None and clf.reject.get("min_share") is not None:
            rule += f", share >= {clf.reject['min_share']:.3f}"
        on_ok = float((c.labels[ok] == y[ok]).mean()) if ok.any() else float("nan")
        print(f"| {name} | {rule} | {float((clf.predict(x) == y).mean()):.2%} | {float(ok.mean()):.2%} | {on_ok:.2%} |")


if __name__ == "__main__":
    main()
