"""`read_number` on tests/runtime/photos.py numbers with one defect added, with this session's fix on and off.

Usage:
  python benchmarks/figures/read_defects.py [--count 40] [--seed 77]

The same photos (``number_photos``, 640x480, as arrays) get one defect each, then JPEG (quality 85):

- a hard shadow: the left half, the top half, 70% of the photo or the part below a diagonal at 45% brightness,
  dark ink on light paper and light ink on dark paper; the fix: find_ink's edge-preserving background
  (off: ``preprocess._STEP_SHARE`` out of reach);
- dark ruled paper (``photos.ruled_number_photo`` with :data:`RULED`: lines of 1-3 px every 50-110 px of a 3x
  enlarged 320x160 canvas of the digits, 120-255 of the pen's 255, across the whole photo); the fix:
  ``line._without_page_rules`` (off: replaced by the identity).

Prints one Markdown row per defect: read right with the fix off / on. One thread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

RULED = {"gap": (20, 30), "period": (50, 110), "shade": (120, 255), "thick": (1, 4)}  # the recorded figures' photos
SHADOWS = ("left half", "top half", "70% of the photo", "below a diagonal")


def _shade(photo: np.ndarray, kind: str) -> np.ndarray:
    h, w = photo.shape[:2]
    light = np.ones((h, w), np.float32)
    if kind == "left half":
        light[:, : w // 2] = 0.45
    elif kind == "top half":
        light[: h // 2] = 0.45
    elif kind == "70% of the photo":
        light[:, : int(0.7 * w)] = 0.45
    else:
        yy, xx = np.mgrid[0:h, 0:w]
        light[(xx / w + yy / h) > 1.0] = 0.45
    return np.clip(photo.astype(np.float32) * light[..., None], 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2
    from photos import number_photos, ruled_number_photo

    import edgedigits_runtime.line as line
    import edgedigits_runtime.preprocess as preprocess
    from edgedigits_runtime import read_number
    from edgedigits_runtime.errors import EdgeDigitsError
    from edgedigits_runtime.mnist import load_mnist
    from edgedigits_runtime.reader import load_reader

    cv2.setNumThreads(1)
    images, labels = load_mnist("test", args.data_dir)
    reader = load_reader(num_threads=1)

    def right(photos) -> int:
        hits = 0
        for photo, number in photos:
            try:
                hits += read_number(photo, reader).number == number
            except EdgeDigitsError:
                pass
        return hits

    def jpeg(array) -> bytes:
        return cv2.imencode(".jpg", array[..., ::-1] if array.ndim == 3 else array, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()

    print(f"| defect ({args.count} photos, seed {args.seed}) | read right, fix off | fix on |\n|---|---:|---:|")
    step = preprocess._STEP_SHARE
    for invert, paper in ((True, "dark ink on light paper"), (False, "light ink on dark paper")):
        plain = number_photos(images, labels, args.count, seed=args.seed, jpeg=None, invert=invert)
        for kind in SHADOWS:
            photos = [(jpeg(_shade(p, kind)), n) for p, n, _ in plain]
            counts = []
            for share in (np.inf, step):
                preprocess._STEP_SHARE = share
                counts.append(right(photos))
            preprocess._STEP_SHARE = step
            print(f"| hard shadow, {kind}, {paper} | {counts[0]} | {counts[1]} |", flush=True)
    rng = np.random.default_rng(args.seed)
    photos = [ruled_number_photo(images, labels, rng, **RULED) for _ in range(args.count)]
    fix = line._without_page_rules
    line._without_page_rules = lambda ink: ink
    off = right(photos)
    line._without_page_rules = fix
    print(f"| ruled paper, lines nearly as dark as the ink | {off} | {right(photos)} |")
    return 0


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--seed", type=int, default=77)
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
