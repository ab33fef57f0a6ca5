"""Reject rules side by side on int8 files through the runtime: which rule keeps 99% of the digits most accurately.

A "not a digit" rule is a score and a threshold chosen on validation digits (never the test set). For a model with
the 11th class, the runtime knows two scores (``edgedigits_runtime.reject.METHODS``): ``digit_mass`` (the digits'
total probability, 1 - p(not a digit); what export stores today) and ``max_prob`` (the top digit's probability, which
also falls when the model splits an image between two digits). Each is scored with the threshold export would choose
for it: the highest that keeps ``--accept`` of the 5,000 validation digits and of the 3,000 validation digits rendered
as photos and prepared by the photo path (the lower of the two; the same images and seeds as export). Then rules the
runtime does not have (measured here only): ``digit_mass`` and a second condition on the top digit's *share* of the
digit mass (p_top / digit_mass), its threshold rejecting 0.1%, 0.2% or 0.5% of the validation digits the mass rule
keeps; once with today's mass threshold, once with the mass threshold lowered until both validation sets keep
``--accept`` again.

One Markdown row per model and rule. The validation columns (digits kept, photo-path validation digits kept, accuracy
on kept) are the ones to choose a rule by; the test and non-digit columns are reported, not chosen on. Non-digit sets as
``reject_screen.py``'s (the same images for every model; ``--cache`` keeps them): generated ``shapes`` and
``scribbles`` (whether a model trained on them: its manifest's ``holdout_kind``), 300 synthetic single-digit photos of
test digits (kept, higher is better) and the real-world kinds nobody trains on, through the photo path (an image the
photo path refuses counts as rejected).

Usage (from the repository root; EDGEDIGITS_DATA set; a minute or two per model on 2 shared cores):

    python benchmarks/figures/reject_rules.py MODEL.tflite [MODEL.tflite ...] [--cache sets.npz] [--accept 0.99]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe
from reject_screen import _REAL, _sets

SHIPPED = "models/default_int8.tflite"


def _score(method: str):
    """The runtime's score of ``method`` (``edgedigits_runtime.reject.METHODS``) for digit probabilities (N, 10)."""
    from edgedigits_runtime.reject import classification_from_probs

    return lambda p: classification_from_probs(p, None, method).score


_mass, _top = _score("digit_mass"), _score("max_prob")


def _rules(val, photo, accept: float) -> list:
    """``[(name, keep(probs) -> bool mask)]``, every threshold chosen on the validation probabilities only."""
    from edgedigits_runtime.reject import calibrate_threshold as cal
    from edgedigits_runtime.reject import top_share as _share

    def single(score):
        t = np.float32(min(cal(score(val), accept), cal(score(photo), accept)))  # export's choice today
        return t, lambda p: score(p) >= t

    rules = []
    t_mass, _ = single(_mass)
    for name, score in (("digit_mass", _mass), ("max_prob", _top)):
        t, keep = single(score)
        rules.append((f"{name} >= {t:.3f}", keep))
    for drop in (0.001, 0.002, 0.005):
        # a second condition: the top digit's share of the digit mass, rejecting `drop` of the validation digits the
        # mass rule keeps (digits split between two classes: where the errors on kept digits are)
        t_share = np.float32(cal(_share(val)[_mass(val) >= t_mass], 1.0 - drop))
        rules.append((f"digit_mass >= {t_mass:.3f} and share >= {t_share:.3f}",
                      lambda p, t=t_share: (_mass(p) >= t_mass) & (_share(p) >= t)))
        # the same share condition, the mass threshold lowered again until both validation sets keep `accept`
        t = np.float32(min(cal(np.where(_share(v) >= t_share, _mass(v), -1.0), accept) for v in (val, photo)))
        rules.append((f"digit_mass >= {t:.3f} and share >= {t_share:.3f}",
                      lambda p, t=t, ts=t_share: (_mass(p) >= t) & (_share(p) >= ts)))
    return rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="int8 .tflite files (each with its manifest beside it)")
    parser.add_argument("--cache", default=None, help="keep the drawn non-digit images in this .npz file and reuse them")
    parser.add_argument("--accept", type=float, default=0.99, help="share of each validation set the threshold keeps")
    args = parser.parse_args()

    from edgedigits.data import load_splits
    from edgedigits.train.extras import PHOTO_CALIBRATION_IMAGES
    from edgedigits.train.negatives import REPORT_SEED
    from edgedigits.train.photo_digits import photo_digits
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.mnist import load_mnist

    splits = load_splits(None)
    photo_x, photo_y = photo_digits(splits.x_val, splits.y_val, min(len(splits.x_val), PHOTO_CALIBRATION_IMAGES),
                                    seed=REPORT_SEED)  # as export's calibration draws them
    x_test, y_test = load_mnist("test")
    sets = _sets(args.cache)
    real = [k for k in _REAL if f"real_{k}" in sets]
    print("| model | held out | rule (reject below) | val. kept | val. photo kept | val. accuracy on kept | test top-1 "
          "| test kept | test accuracy on kept | `shapes` | `scribbles` | bench photos kept | "
          + " | ".join(_REAL[k] for k in real) + " |")
    print("|---|---|---|" + "---:|" * (9 + len(real)))
    for path in args.models:
        clf = DigitClassifier(path)
        held = (clf.reject or {}).get("holdout_kind") or "none"
        label = path if path.endswith(SHIPPED) else Path(path).parent.parent.name  # a run's export: its run folder
        probs = {name: clf.predict_proba(images) for name, images in  # validation keys apart from the sets' ("photo" crops)
                 [("val", splits.x_val), ("val_photo", photo_x), ("test", x_test)]
                 + [(k, sets[k]) for k in ("shapes", "scribbles", "bench")] + [(k, sets[f"real_{k}"]) for k in real]}
        val_right = probs["val"].argmax(axis=1) == splits.y_val
        test_right = probs["test"].argmax(axis=1) == y_test
        for name, keep in _rules(probs["val"], probs["val_photo"], args.accept):
            kept = {k: keep(p) for k, p in probs.items()}

            def rejected(key, refused=0, kept=kept):
                return (int((~kept[key]).sum()) + refused) / (len(kept[key]) + refused)

            cells = [label, held, name, f"{kept['val'].mean():.2%}", f"{kept['val_photo'].mean():.2%}",
                     f"{val_right[kept['val']].mean():.2%}", f"{test_right.mean():.2%}", f"{kept['test'].mean():.2%}",
                     f"{test_right[kept['test']].mean():.2%}", f"{rejected('shapes'):.1%}", f"{rejected('scribbles'):.1%}",
                     f"{1 - rejected('bench'):.1%}"]
            cells += [f"{rejected(k, int(sets[f'refused_{k}'])):.1%}" for k in real]
            print("| " + " | ".join(cells) + " |", flush=True)
    cache = f" --cache {args.cache}" if args.cache else ""
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/reject_rules.py {' '.join(args.models)}{cache} "
          f"--accept {args.accept}")


if __name__ == "__main__":
    main()
