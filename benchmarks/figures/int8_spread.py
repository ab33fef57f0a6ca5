"""int8 models through the runtime: top-1 on the validation digits beside the test digits, and their reject rule.

Meant for the same Keras model exported more than once (``edgedigits export RUN --int8 --seed S``): how much of
an int8 model's top-1 is the int8 step's own spread (the QAT fine-tune's order and the calibration images), and
whether the validation digits (carved from the training split, as training and export carve them) see the same
differences as the test digits. One Markdown row per file: validation top-1 (5,000), MNIST test top-1 (10,000),
the share of test digits its calibrated "not a digit" rule keeps and the accuracy on those.

``--validation-only`` prints the validation columns alone (top-1, digits kept, accuracy on kept, its errors) and
never reads the test set: the view to pick a model by, before any test figure is seen.

Usage (from the repository root; EDGEDIGITS_DATA set; a few seconds per file):

    python benchmarks/figures/int8_spread.py MODEL.tflite [MODEL.tflite ...]
    python benchmarks/figures/int8_spread.py --validation-only MODEL.tflite [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe


def main() -> None:
    from edgedigits.data import load_splits
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.evaluate import score
    from edgedigits_runtime.mnist import load_mnist

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="int8 .tflite files (each with its manifest beside it)")
    ap.add_argument("--validation-only", action="store_true", help="validation digits only; the test set is not read")
    args = ap.parse_args()
    splits = load_splits(None)
    if args.validation_only:
        _validation_table(args.models, splits, DigitClassifier, score)
        return
    x_test, y_test = load_mnist("test")
    print("| model | threshold | validation top-1 | test top-1 | test digits kept | accuracy on kept |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in args.models:
        clf = DigitClassifier(path)
        val = score(clf, splits.x_val, splits.y_val).accuracy
        test = score(clf, x_test, y_test)
        threshold, kept, on_kept = _rule_columns(test)
        print(f"| {path} | {threshold} | {val:.2%} | {test.accuracy:.2%} | {kept:.2%} | {on_kept:.3%} |", flush=True)
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/int8_spread.py {' '.join(args.models)}")


def _validation_table(models, splits, classifier, score) -> None:
    print("| model | threshold | min_share | validation top-1 | errors | validation digits kept | validation accuracy on kept |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path in models:
        clf = classifier(path)
        val = score(clf, splits.x_val, splits.y_val)
        errors = round((1 - val.accuracy) * len(splits.y_val))
        threshold, kept, on_kept = _rule_columns(val)
        min_share = (clf.reject or {}).get("min_share")
        share = "none" if min_share is None else f"{min_share:.3f}"
        print(f"| {path} | {threshold} | {share} | {val.accuracy:.2%} | {errors} | {kept:.2%} | {on_kept:.3%} |", flush=True)
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/int8_spread.py --validation-only {' '.join(models)}")


def _rule_columns(result) -> tuple[str, float, float]:
    """A score's reject columns: its threshold as printed, the share of digits kept, the accuracy on them (no rule:
    every digit kept, and the accuracy is the top-1)."""
    threshold = "none" if result.threshold is None else f"{result.threshold:.3f}"
    kept = 1.0 if result.digits_accepted is None else result.digits_accepted
    on_kept = result.accuracy if result.accuracy_on_accepted is None else result.accuracy_on_accepted
    return threshold, kept, on_kept


if __name__ == "__main__":
    main()
