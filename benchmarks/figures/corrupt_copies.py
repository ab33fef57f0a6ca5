"""Corrupted copies of an exported model, copied alone (no manifest beside them): how many are refused?

Usage (runtime only, no TensorFlow):

  python benchmarks/figures/corrupt_copies.py [MODEL] [--flips 200] [--cuts 60] [--data-dir DIR]

MODEL defaults to the committed exported fixture ``tests/runtime/fixtures/edge_int8_record.tflite``
(the shipped int8 model with its integrity record). Each copy is a single bit flip (offsets spread
evenly over the file) or a truncation. Two variants of the same damage: the file as exported
(with its record) and the same file with the record blanked out (as files were exported before
records existed). A copy that loads is run on 1,000 MNIST test images and compared with the
intact model: "ran, same answers" or "ran, wrong answers". Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))  # damage.py: the same copies the tests make

OUTCOMES = ("refused: changed since export", "refused: damaged record", "refused: interpreter rejects it",
            "ran unverified, same answers", "ran unverified, wrong answers")


def count(model: Path, strip: bool, flips: int, cuts: int, images) -> dict:
    import numpy as np
    from damage import corrupted_copies, without_record

    from edgedigits_runtime import DigitClassifier, ManifestWarning
    from edgedigits_runtime.errors import EdgeDigitsError, ModelIntegrityError

    data = model.read_bytes()
    if strip:
        data = without_record(data)
    found = dict.fromkeys(OUTCOMES, 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / model.name
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ManifestWarning)
            reference = DigitClassifier(path).predict(images)
            for _, damaged in corrupted_copies(data, flips=flips, cuts=cuts):
                path.write_bytes(damaged)
                try:
                    clf = DigitClassifier(path)
                except ModelIntegrityError as exc:
                    found[OUTCOMES[1] if "damaged" in str(exc) else OUTCOMES[0]] += 1
                    continue
                except EdgeDigitsError:
                    found[OUTCOMES[2]] += 1
                    continue
                same = np.array_equal(clf.predict(images), reference)
                found[OUTCOMES[3] if same else OUTCOMES[4]] += 1
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=str(ROOT / "tests" / "runtime" / "fixtures" / "edge_int8_record.tflite"))
    p.add_argument("--flips", type=int, default=200)
    p.add_argument("--cuts", type=int, default=60)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    from edgedigits_runtime.mnist import load_mnist

    images = load_mnist("test", args.data_dir)[0][:1000]
    rows = {"with its record": count(Path(args.model), False, args.flips, args.cuts, images),
            "record blanked (as before)": count(Path(args.model), True, args.flips, args.cuts, images)}
    print(f"{args.flips} single-bit flips + {args.cuts} truncations of {Path(args.model).name}, no manifest beside:")
    print(f"{'outcome':36s} " + " ".join(f"{k:>26s}" for k in rows))
    for outcome in OUTCOMES:
        print(f"{outcome:36s} " + " ".join(f"{rows[k][outcome]:>26d}" for k in rows))
    print(json.dumps({"model": str(args.model), "flips": args.flips, "cuts": args.cuts, "outcomes": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
