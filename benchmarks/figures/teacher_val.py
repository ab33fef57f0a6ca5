"""Validation accuracy of candidate teachers and of their ensembles, to choose a distillation teacher on validation.

Each run's Keras model is scored on the 5,000 validation images (never the test set), alone and in every ensemble of
two or more, combined as ``edgedigits train --teacher A --teacher B`` combines them (the geometric mean of the
probabilities, :func:`edgedigits.train.targets.ensemble_log_probs`, with the "not a digit" column). Top-1 is over
the 10 digits, as ``metrics.json``'s ``val_accuracy``.

Usage (from the repository root)::

    python benchmarks/figures/teacher_val.py vgg=runs/vgg edge0=runs/edge-s0 edge1=runs/edge-s1

    # many runs: only the named ensembles (each a '+'-joined list of names, or ``all``), besides each run alone
    python benchmarks/figures/teacher_val.py a=RUN b=RUN c=RUN --ensemble a+b all
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=RUN", help="a name and a finished run folder")
    parser.add_argument("--ensemble", nargs="+", default=[], metavar="A+B",
                        help="score only these ensembles (names joined by '+', or 'all') besides each run alone, "
                             "instead of every combination")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    combos = _combos([item.partition("=")[0] for item in args.runs], args.ensemble)  # names checked before loading

    from edgedigits._tf import tf_and_keras
    from edgedigits.data import load_splits, to_float
    from edgedigits.runs import MODEL_FILE, resolve_run
    from edgedigits.train.targets import ensemble_log_probs

    tf, keras = tf_and_keras()
    splits = load_splits(args.data_dir)
    log_probs = {}
    for item in args.runs:
        name, _, run = item.partition("=")
        model = keras.models.load_model(resolve_run(run) / MODEL_FILE, compile=False)
        log_probs[name] = np.concatenate([
            ensemble_log_probs(tf, [model], to_float(splits.x_val[i:i + 1000]), not_a_digit_class=True).numpy()
            for i in range(0, len(splits.x_val), 1000)])
    print("| teacher | validation top-1 | errors |\n|---|---:|---:|")
    for combo in combos:
        wrong = int((np.mean([log_probs[c] for c in combo], 0)[:, :10].argmax(1) != splits.y_val).sum())
        print(f"| {' + '.join(combo)} | {1 - wrong / len(splits.y_val):.2%} | {wrong} |")


def _combos(names: list[str], ensembles: list[str]) -> list[tuple[str, ...]]:
    """Each run alone and every ensemble of two or more, or only the named ensembles when some are given."""
    if not ensembles:
        return [c for k in range(1, len(names) + 1) for c in itertools.combinations(names, k)]
    named = [tuple(names) if e == "all" else tuple(e.split("+")) for e in ensembles]
    unknown = sorted({n for combo in named for n in combo} - set(names))
    if unknown:
        raise SystemExit(f"error: --ensemble names {', '.join(unknown)} not among the runs given (NAME=RUN)")
    return [(n,) for n in names] + named


if __name__ == "__main__":
    main()
