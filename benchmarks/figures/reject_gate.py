"""An input-space gate for "not a digit": do simple statistics of the 28x28 input add rejection to a model's rule?

The idea (issue 9, seventh session): the image the classifier sees (after the runtime's preprocessing) has statistics
whose range on MNIST digits is narrow -- ink mass, inked pixels, bounding box, fill, stroke width, Euler number (parts
minus holes), share of saturated and grey pixels, centre of mass and spread, ink near the frame, grey plateaus -- and
shapes, icons, blobs, textures and noise might fall outside. Every statistic here is vectorised numpy (no OpenCV, no
Python pixel loop), so a runtime could apply it to any batch.

Each gate rejects an image whose statistics fall outside ranges chosen on **validation digits only** (the 5,000
validation digits and 3,000 of them through the photo path, as export draws them), costing each of those two sets at
most ``--cost`` of the digits the model's own rule keeps; never the test set, never a non-digit set. Gates:

- one statistic, one range for all digits (two-sided, ``--cost`` / 2 each side, the wider of the two sets' quantiles);
- one statistic, a range per predicted digit (the model's top digit; the same quantiles per class);
- every statistic together (global ranges; and per predicted digit), each at ``--cost``;
- a Mahalanobis distance on all statistics (signed log), pooled and per predicted digit, its threshold keeping
  ``1 - --cost`` of each validation set's kept digits.

Columns: digits the gate removes from those the model's rule keeps (in points): the two validation sets the ranges
were chosen on, then 6,000 raw training digits and 3,000 training digits through the photo path (not chosen on: the
honest digit cost), and 300 synthetic single-digit photos of test digits (``reject_screen``'s bench photos);
non-digits the gate adds to the model's rejection (points of the set): the mean over the kinds the model trained on
(1,000 raw and 300 through the photo path each, seed ``REPORT_SEED + 11``), then the held-out generated kind and the
real-world kinds nobody trains on (``reject_screen``'s sets, ``--cache``). The first row is the model's own rule.

Usage (from the repository root; EDGEDIGITS_DATA set; a few minutes on 2 shared cores):

    python benchmarks/figures/reject_gate.py [MODEL.tflite] [--cache sets.npz] [--cost 0.001]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe
from reject_screen import nondigit_sets

_EDGE = 128  # ink for the binary statistics (area, edges, Euler number): MNIST's half level


def _stats(images: np.ndarray) -> dict:
    """Statistics of uint8 (N, 28, 28) white-on-black images: ``{name: float32 (N,)}``."""
    x = np.asarray(images, np.uint8).reshape(-1, 28, 28)
    f = x.astype(np.float32) / np.float32(255.0)
    ink = f.sum(axis=(1, 2))
    inked = x > 25
    count = inked.sum(axis=(1, 2)).astype(np.float32)
    b = x >= _EDGE
    area = b.sum(axis=(1, 2)).astype(np.float32)
    rows, cols = inked.any(axis=2), inked.any(axis=1)
    height = np.where(rows.any(axis=1), 28 - rows.argmax(axis=1) - rows[:, ::-1].argmax(axis=1), 0).astype(np.float32)
    width = np.where(cols.any(axis=1), 28 - cols.argmax(axis=1) - cols[:, ::-1].argmax(axis=1), 0).astype(np.float32)
    edges = ((b[:, 1:] != b[:, :-1]).sum(axis=(1, 2)) + (b[:, :, 1:] != b[:, :, :-1]).sum(axis=(1, 2))
             + b[:, 0].sum(axis=1) + b[:, -1].sum(axis=1) + b[:, :, 0].sum(axis=1) + b[:, :, -1].sum(axis=1))
    # Euler number (parts minus holes) from 2x2 bit quads (Gray 1971): no labelling, one pass
    p = np.pad(b, ((0, 0), (1, 1), (1, 1)))
    q00, q01, q10, q11 = p[:, :-1, :-1], p[:, :-1, 1:], p[:, 1:, :-1], p[:, 1:, 1:]
    s = q00.astype(np.int8) + q01 + q10 + q11
    q1, q3 = (s == 1).sum(axis=(1, 2)), (s == 3).sum(axis=(1, 2))
    qd = ((s == 2) & (q00 == q11)).sum(axis=(1, 2))
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    mass = np.maximum(ink, np.float32(1e-6))
    cy, cx = (f * yy).sum(axis=(1, 2)) / mass, (f * xx).sum(axis=(1, 2)) / mass
    frame = np.ones((28, 28), bool)
    frame[3:25, 3:25] = False
    v = x.astype(np.int16)
    pv = np.pad(v, ((0, 0), (1, 1), (1, 1)), mode="edge")
    window = np.stack([pv[:, i : i + 28, j : j + 28] for i in range(3) for j in range(3)])
    flat = (v > 40) & (v < 215) & (window.max(axis=0) - window.min(axis=0) < 40)  # grey plateaus, not edges
    return {
        "ink": ink, "inked px": count, "area": area,
        "saturated share": (x >= 250).sum(axis=(1, 2)) / np.maximum(count, 1),
        "grey share": ((x > 25) & (x < 230)).sum(axis=(1, 2)) / np.maximum(count, 1),
        "mean ink": ink / np.maximum(count, 1), "height": height, "width": width,
        "fill": count / np.maximum(height * width, 1), "aspect": width / np.maximum(height, 1),
        "stroke width": 2 * area / np.maximum(edges, 1),
        "euler (8-conn.)": ((q1 - q3 - 2 * qd) / 4).astype(np.float32),
        "euler (4-conn.)": ((q1 - q3 + 2 * qd) / 4).astype(np.float32),
        "centre offset": np.hypot(cy - 13.5, cx - 13.5),
        "spread y": np.sqrt(np.maximum((f * (yy - cy[:, None, None]) ** 2).sum(axis=(1, 2)) / mass, 0)),
        "spread x": np.sqrt(np.maximum((f * (xx - cx[:, None, None]) ** 2).sum(axis=(1, 2)) / mass, 0)),
        "ink near frame": (f * frame).sum(axis=(1, 2)) / mass,
        "max": x.reshape(len(x), -1).max(axis=1).astype(np.float32),
        "grey plateaus": flat.sum(axis=(1, 2)).astype(np.float32),
    }


class _Data:
    """Every set's images, the model's verdict and top digit, and the statistics."""

    def __init__(self, clf, sets: dict):
        self.sets = sets
        verdicts = {k: clf.classify(v) for k, v in sets.items()}
        self.kept = {k: ~c.not_a_digit for k, c in verdicts.items()}
        self.top = {k: c.probs.argmax(axis=1) for k, c in verdicts.items()}
        self.stats = {k: _stats(v) for k, v in sets.items()}


def _range_gate(data: _Data, names, cost: float, choose, per_class: bool):
    """ok(key) -> bool mask: inside every statistic's range (chosen on the kept digits of ``choose``)."""
    groups = range(10) if per_class else (None,)
    ranges = {}
    for name in names:
        r = np.zeros((10, 2))
        for d in groups:
            vals = [data.stats[k][name][data.kept[k] & ((data.top[k] == d) if d is not None else True)] for k in choose]
            vals = [v for v in vals if len(v)]
            lo = min(np.quantile(v, cost / 2, method="lower") for v in vals)
            hi = max(np.quantile(v, 1 - cost / 2, method="higher") for v in vals)
            r[slice(None) if d is None else d] = (lo, hi)
        ranges[name] = r

    def ok(key):
        out = np.ones(len(data.sets[key]), bool)
        for name, r in ranges.items():
            s = data.stats[key][name]
            out &= (s >= r[data.top[key], 0]) & (s <= r[data.top[key], 1])
        return out

    return ok


def _mahalanobis_gate(data: _Data, names, cost: float, choose, per_class: bool):
    def features(key):
        a = np.stack([data.stats[key][n] for n in names], axis=1).astype(np.float64)
        return np.sign(a) * np.log1p(np.abs(a))

    groups = range(10) if per_class else (None,)
    fits = {}
    for d in groups:
        a = np.concatenate([features(k)[data.kept[k] & ((data.top[k] == d) if d is not None else True)] for k in choose])
        fits[d] = (a.mean(axis=0), np.linalg.inv(np.cov(a.T) + 1e-3 * np.eye(a.shape[1])))

    def distance(key):
        a, out = features(key), np.zeros(len(data.sets[key]))
        for d, (mu, prec) in fits.items():
            m = (data.top[key] == d) if d is not None else np.ones(len(out), bool)
            z = a[m] - mu
            out[m] = np.einsum("ij,jk,ik->i", z, prec, z)
        return out

    limit = max(np.quantile(distance(k)[data.kept[k]], 1 - cost) for k in choose)
    return lambda key: distance(key) <= limit


def _batch1_us(images: np.ndarray, repeats: int = 300) -> float:
    """Median wall time of all statistics on one image (numpy, this process), microseconds."""
    one = images[:1]
    _stats(one)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        _stats(one)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None, help="int8 .tflite with its manifest (default: the shipped model)")
    parser.add_argument("--cache", default=None, help="reject_screen's drawn non-digit images (.npz), made if missing")
    parser.add_argument("--cost", type=float, default=0.001, help="share of each validation set's kept digits a gate may remove")
    args = parser.parse_args()

    from edgedigits.data import load_splits
    from edgedigits.train.extras import PHOTO_CALIBRATION_IMAGES
    from edgedigits.train.negatives import REPORT_SEED
    from edgedigits.train.photo_digits import photo_digits
    from edgedigits_runtime import DigitClassifier, load_default

    clf = DigitClassifier(args.model) if args.model else load_default(num_threads=1)
    held_kind = (clf.reject or {}).get("holdout_kind")
    splits = load_splits(None)
    sets = {"val": splits.x_val}
    sets["val photo"], _ = photo_digits(splits.x_val, splits.y_val, min(len(splits.x_val), PHOTO_CALIBRATION_IMAGES),
                                        seed=REPORT_SEED)  # as export's calibration draws them
    sets["train raw"] = splits.x_train[:6000]
    sets["train photo"], _ = photo_digits(splits.x_train, splits.y_train, 3000, seed=REPORT_SEED + 1)
    more, trained, held = nondigit_sets(splits.x_val, held_kind, args.cache)
    sets.update(more)
    data = _Data(clf, sets)
    choose, check = ("val", "val photo"), ("train raw", "train photo")
    names = list(data.stats["val"])

    print(f"Model {args.model or 'shipped default'} (held-out kind: {held_kind}); gates chosen on {', '.join(choose)} "
          f"at cost {args.cost:.2%} each; all statistics on one image: {_batch1_us(sets['val']):.0f} us (median, numpy)\n")
    print("| gate | val. digits lost | val. photo digits lost | train digits lost | train photo digits lost "
          "| bench photos lost | trained kinds added (mean) | " + " | ".join(held.values()) + " |")
    print("|---|" + "---:|" * (6 + len(held)))
    base = ["the model's rule alone (rejected)", *[f"{(~data.kept[k]).mean():.2%}" for k in (*choose, *check, "bench")],
            f"{np.mean([(~data.kept[k]).mean() for k in trained]):.1%}",
            *[f"{(~data.kept[k]).mean():.1%}" for k in held]]
    print("| " + " | ".join(base) + " |")

    def row(label, ok):
        lost = {k: data.kept[k] & ~ok(k) for k in sets}
        cells = [label, *[f"{lost[k].mean() * 100:.2f}" for k in (*choose, *check, "bench")],
                 f"+{np.mean([lost[k].mean() for k in trained]) * 100:.1f}", *[f"+{lost[k].mean() * 100:.1f}" for k in held]]
        print("| " + " | ".join(cells) + " |", flush=True)

    for per_class in (False, True):
        for name in names:
            row(f"{name}{', per digit' if per_class else ''}", _range_gate(data, [name], args.cost, choose, per_class))
    row("all statistics, ranges", _range_gate(data, names, args.cost, choose, False))
    row("all statistics, ranges per digit", _range_gate(data, names, args.cost, choose, True))
    row("Mahalanobis on all statistics", _mahalanobis_gate(data, names, args.cost, choose, False))
    row("Mahalanobis on all statistics, per digit", _mahalanobis_gate(data, names, args.cost, choose, True))
    cache = f" --cache {args.cache}" if args.cache else ""
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/reject_gate.py {args.model or ''}{cache} "
          f"--cost {args.cost}".replace("  ", " "))


if __name__ == "__main__":
    main()
