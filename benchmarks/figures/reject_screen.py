"""Screen "not a digit" runs side by side: one Markdown row per run folder (its Keras model and its own threshold).

Usage (from the repository root; EDGEDIGITS_DATA set; a minute or two per run on 2 shared cores):

    python benchmarks/figures/reject_screen.py RUN [RUN ...] [--cache sets.npz]

Every run is scored with the threshold its own training chose on validation digits (``metrics.json``,
``not_a_digit.threshold``: keeps 99% of the validation digits, raw and through the photo path); nothing here is
chosen on the test set or on a non-digit set. Columns: the threshold; MNIST test top-1, digits kept and accuracy on
kept digits; 1,500 generated ``shapes`` (seed ``REPORT_SEED``, from validation digits) as drawn and through the photo
path; 300 generated ``scribbles`` (seed 4242); 300 synthetic single-digit photos of test digits (tests/runtime/photos.py,
seed 0) kept; and the real-world kinds nobody trains on, through the photo path (``not_a_digit._real_world_sets``, 500
each, seed 1: desktop icons, photo crops, photographed letters in an untrained font, charts, terrain). Each column says
nothing about which kinds a run trained on: the row's ``held out`` cell does (the run's ``config.json``).

The same images for every run: they are drawn once (``--cache`` keeps them in a file for the next call; delete it when
the generators change, or the ``shapes`` column goes on showing the images of the generator that drew them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "runtime"))  # the tests' photo maker

from machine import describe

_REAL = {"icons": "icons", "photo": "photo crops", "letters": "letters", "charts": "charts", "terrain": "terrain"}
# the first word of each _real_world_sets name, and its column


def nondigit_sets(x_val, held_kind: str | None, cache: str | None) -> tuple[dict, list[str], dict]:
    """The non-digit sets a gate screen scores: every trained kind (raw and through the photo path), then the held-out
    and real-world kinds and the bench photos of :func:`_sets`. Returns (sets, the trained sets' names, the held-out
    sets' names -> their table names)."""
    from edgedigits.train.negatives import KINDS, REPORT_SEED, generate
    from edgedigits.train.photo_digits import through_photo_path

    sets, trained = {}, []
    for kind, row in KINDS.items():
        if kind == held_kind or row.only:  # the kinds every variant draws (a variant's own are not in these screens)
            continue
        raw, _ = generate(1000, seed=REPORT_SEED + 11, kinds=[kind], digits=x_val)
        photo, done = through_photo_path(raw[:300], seed=REPORT_SEED + 12)
        sets[f"trained {kind}"], sets[f"trained {kind} photo"] = raw, photo[done]
        trained += [f"trained {kind}", f"trained {kind} photo"]
    drawn = _sets(cache)
    held = {"shapes": "`shapes`", "shapes_photo": "`shapes` photo path"}
    held.update({f"real_{k}": name for k, name in _REAL.items() if f"real_{k}" in drawn})
    for key in [*held, "bench"]:
        sets[key] = drawn[key]
    return sets, trained, held


def _sets(cache: str | None) -> dict:
    """The images every run is scored on (drawn once; from ``cache`` when it exists)."""
    if cache and Path(cache).is_file():
        return dict(np.load(cache))
    from not_a_digit import _real_world_sets
    from photos import make_photo

    from edgedigits.data import load_splits
    from edgedigits.train.negatives import REPORT_SEED, generate
    from edgedigits.train.photo_digits import through_photo_path
    from edgedigits_runtime import preprocess_image
    from edgedigits_runtime.mnist import load_mnist

    x_val = load_splits(None).x_val
    sets = {}
    sets["shapes"], _ = generate(1500, seed=REPORT_SEED, kinds=["shapes"], digits=x_val)
    photo, done = through_photo_path(sets["shapes"], seed=5)
    sets["shapes_photo"] = photo[done]
    sets["scribbles"], _ = generate(300, seed=4242, kinds=["scribbles"], digits=x_val)
    x_test, y_test = load_mnist("test")
    rng = np.random.default_rng(0)
    pick = rng.choice(len(x_test), 300, replace=False)
    sets["bench"] = np.stack([preprocess_image(make_photo(x_test[i], rng)) for i in pick])
    for name, (images, refused) in _real_world_sets(500, seed=1).items():
        key = name.split()[0]
        sets[f"real_{key}"], sets[f"refused_{key}"] = images, np.array(refused)
    if cache:
        np.savez_compressed(cache, **sets)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders of `edgedigits train` with 'not a digit' (metrics.json)")
    parser.add_argument("--cache", default=None, help="keep the drawn images in this .npz file and reuse them")
    args = parser.parse_args()

    from edgedigits._tf import tf_and_keras
    from edgedigits.train.trainer import predict_probs
    from edgedigits_runtime.mnist import load_mnist

    _, keras = tf_and_keras()
    sets = _sets(args.cache)
    x_test, y_test = load_mnist("test")
    real = [k for k in _REAL if f"real_{k}" in sets]
    print("| run | held out | threshold | test top-1 | test digits kept | accuracy on kept | `shapes` | `shapes` photo path "
          "| `scribbles` | bench photos kept | " + " | ".join(_REAL[k] for k in real) + " |")
    print("|---|---|" + "---:|" * (8 + len(real)))
    for run in map(Path, args.runs):
        config = json.loads((run / "config.json").read_text())
        threshold = json.loads((run / "metrics.json").read_text())["not_a_digit"]["threshold"]
        model = keras.models.load_model(run / "model.keras", compile=False)

        def rejected(x, refused=0, threshold=threshold, model=model):
            return (int((np.minimum(predict_probs(model, x).sum(axis=1), 1.0) < threshold).sum()) + refused) / (len(x) + refused)

        p = predict_probs(model, x_test)
        kept = np.minimum(p.sum(axis=1), 1.0) >= threshold
        right = p.argmax(axis=1) == y_test
        cells = [run.name, config.get("holdout_kind") or "none", f"{threshold:.3f}", f"{right.mean():.2%}",
                 f"{kept.mean():.2%}", f"{right[kept].mean():.2%}", f"{rejected(sets['shapes']):.1%}",
                 f"{rejected(sets['shapes_photo']):.1%}", f"{rejected(sets['scribbles']):.1%}",
                 f"{1 - rejected(sets['bench']):.1%}"]
        cells += [f"{rejected(sets[f'real_{k}'], int(sets[f'refused_{k}'])):.1%}" for k in real]
        print("| " + " | ".join(cells) + " |", flush=True)
    cache = f" --cache {args.cache}" if args.cache else ""
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/reject_screen.py {' '.join(args.runs)}{cache}")


if __name__ == "__main__":
    main()
