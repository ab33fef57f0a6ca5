"""A feature-space gate for "not a digit": does a Mahalanobis distance on the last hidden layer add rejection?

The idea (issue 9, eighth session; Lee et al. 2018, "A simple unified framework for detecting out-of-distribution
samples"): the network's last hidden layer (``edge``: the flattened 3x3x40 map, 360 values, right before the dense
head) places digits of one class near each other; a non-digit the head accepts may still sit far from every digit
class there. Fit a Gaussian per digit class with one shared ("tied") covariance on **training digits** after a PCA to
``k`` dimensions (small enough for a device: a k x 360 projection, 10 means, a k x k precision), and reject an image
the model's own rule keeps when its distance to the mean of its top digit (or to the nearest mean) is above a limit.

The limit is chosen on **validation digits only**: a *choose* half (2,500 raw validation digits and 1,500 of the 3,000
photo-path validation digits export calibrates with), keeping ``1 - cost`` of the digits the model's rule keeps in
each; the other half (never chosen on) gives the honest digit cost, and 300 synthetic single-digit photos of test
digits are reported. Training digits are seen by the model and only serve to fit the Gaussians (20,000 raw ones and
5,000 through the photo path, all from the training digits after the first 6,000). Which variant is best is read on
the kinds the model trained on (1,000 raw and 300 through the photo path each, seed ``REPORT_SEED + 11``), never on
the held-out generated kind or the real-world kinds nobody trains on (``reject_screen``'s sets, ``--cache``), which
are the estimate.

The model's rule and top digit come from the int8 file through the runtime; the features from the run's Keras model
(float): a screen of the idea, not yet what an int8 device would compute (that needs the layer as a second output).

Usage (from the repository root; EDGEDIGITS_DATA set; a few minutes on 2 shared cores):

    python benchmarks/figures/reject_feature_gate.py RUN [--model RUN/export/edge_int8.tflite] [--cache sets.npz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe
from reject_screen import nondigit_sets

_FIT_RAW, _FIT_PHOTO = 20000, 5000  # training digits the Gaussians are fitted on (after the first 6,000)


def _features(model, images: np.ndarray, keras, layer: str | None = None) -> np.ndarray:
    """A layer's output, flattened, for uint8 (N, 28, 28) images, float64 (N, D): by default the last hidden layer (the
    input of the dense head)."""
    if layer is None:
        out = next(item for item in model.layers if type(item).__name__ == "Flatten").output
    else:
        out = model.get_layer(layer).output
    sub = keras.Model(model.inputs, out)
    x = sub.predict(np.asarray(images, np.float32)[..., None] / 255.0, batch_size=1000, verbose=0)
    return x.reshape(len(x), -1).astype(np.float64)


class _Gaussians:
    """Class means and one tied covariance of training-digit features after a PCA to ``k`` dimensions."""

    def __init__(self, feats: np.ndarray, labels: np.ndarray, k: int, shrink: float = 1e-3):
        self.mean = feats.mean(axis=0)
        centred = feats - self.mean
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        self.proj = vt[:k].T  # D x k
        z = centred @ self.proj
        self.means = np.stack([z[labels == d].mean(axis=0) for d in range(10)])
        within = z - self.means[labels]
        cov = within.T @ within / len(z)
        cov += shrink * np.trace(cov) / k * np.eye(k)
        self.prec = np.linalg.inv(cov)

    def distances(self, feats: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each image to each class mean, (N, 10)."""
        z = (feats - self.mean) @ self.proj
        diff = z[:, None, :] - self.means[None]
        return np.einsum("nck,kj,ncj->nc", diff, self.prec, diff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a finished run folder with 'not a digit' (its model.keras)")
    parser.add_argument("--model", default=None, help="its int8 file with manifest (default RUN/export/edge_int8.tflite)")
    parser.add_argument("--cache", default=None, help="reject_screen's drawn non-digit images (.npz), made if missing")
    parser.add_argument("--costs", type=float, nargs="+", default=[0.001, 0.005],
                        help="shares of each choose set's kept digits the gate may remove")
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 32, 64], help="PCA dimensions to try")
    parser.add_argument("--layer", default=None, help="the Keras layer whose output (flattened) is the feature (default: "
                        "the last hidden layer, the Flatten before the head; e.g. re_lu_2, max_pooling2d_1)")
    args = parser.parse_args()

    from edgedigits._tf import tf_and_keras
    from edgedigits.data import load_splits
    from edgedigits.runs import MODEL_FILE
    from edgedigits.train.extras import PHOTO_CALIBRATION_IMAGES
    from edgedigits.train.negatives import REPORT_SEED
    from edgedigits.train.photo_digits import photo_digits
    from edgedigits_runtime import DigitClassifier

    run = Path(args.run)
    model_file = Path(args.model) if args.model else run / "export" / "edge_int8.tflite"
    clf = DigitClassifier(model_file)
    held_kind = (clf.reject or {}).get("holdout_kind")
    _, keras = tf_and_keras()
    model = keras.models.load_model(run / MODEL_FILE, compile=False)

    splits = load_splits(None)
    val_photo, _ = photo_digits(splits.x_val, splits.y_val, min(len(splits.x_val), PHOTO_CALIBRATION_IMAGES),
                                seed=REPORT_SEED)  # as export's calibration draws them
    half, half_photo = len(splits.x_val) // 2, len(val_photo) // 2
    sets = {"choose raw": splits.x_val[:half], "choose photo": val_photo[:half_photo],
            "check raw": splits.x_val[half:], "check photo": val_photo[half_photo:]}
    rest_x, rest_y = splits.x_train[6000:], splits.y_train[6000:]
    fit_photo, fit_photo_y = photo_digits(rest_x, rest_y, _FIT_PHOTO, seed=REPORT_SEED + 2)
    fit_x = np.concatenate([rest_x[:_FIT_RAW], fit_photo])
    fit_y = np.concatenate([rest_y[:_FIT_RAW], fit_photo_y])
    more, trained, held = nondigit_sets(splits.x_val, held_kind, args.cache)
    sets.update(more)

    verdicts = {k: clf.classify(v) for k, v in sets.items()}
    kept = {k: ~c.not_a_digit for k, c in verdicts.items()}
    top = {k: c.probs.argmax(axis=1) for k, c in verdicts.items()}
    feats = {k: _features(model, v, keras, args.layer) for k, v in sets.items()}
    fit_feats = _features(model, fit_x, keras, args.layer)
    choose, check = ("choose raw", "choose photo"), ("check raw", "check photo", "bench")

    print(f"Run {run} (int8 {model_file.name}, held-out kind {held_kind}); Gaussians on {len(fit_x)} training digits "
          f"({_FIT_RAW} raw + {_FIT_PHOTO} photo path), layer {args.layer or 'the last hidden one'}, "
          f"{fit_feats.shape[1]} values; limits chosen "
          "on the choose halves of validation\n")
    print("| gate | cost | choose raw lost | choose photo lost | check raw lost (not chosen on) | check photo lost "
          "(not chosen on) | bench photos lost | trained kinds added (mean) | " + " | ".join(held.values()) + " |")
    print("|---|---:|" + "---:|" * (6 + len(held)))
    base = ["the model's rule alone (rejected)", "", *[f"{(~kept[k]).mean():.2%}" for k in (*choose, *check)],
            f"{np.mean([(~kept[k]).mean() for k in trained]):.1%}", *[f"{(~kept[k]).mean():.1%}" for k in held]]
    print("| " + " | ".join(base) + " |")
    for k in args.dims:
        gauss = _Gaussians(fit_feats, fit_y, k)
        dist = {key: gauss.distances(f) for key, f in feats.items()}
        for how in ("top digit", "nearest digit"):
            score = {key: (d[np.arange(len(d)), top[key]] if how == "top digit" else d.min(axis=1))
                     for key, d in dist.items()}
            for cost in args.costs:
                limit = max(np.quantile(score[key][kept[key]], 1 - cost) for key in choose)
                lost = {key: kept[key] & (score[key] > limit) for key in sets}
                cells = [f"Mahalanobis, PCA {k}, {how}", f"{cost:.1%}",
                         *[f"{lost[key].mean() * 100:.2f}" for key in (*choose, *check)],
                         f"+{np.mean([lost[key].mean() for key in trained]) * 100:.1f}",
                         *[f"+{lost[key].mean() * 100:.1f}" for key in held]]
                print("| " + " | ".join(cells) + " |", flush=True)
    cache = f" --cache {args.cache}" if args.cache else ""
    model_arg = (f" --model {args.model}" if args.model else "") + (f" --layer {args.layer}" if args.layer else "")
    print(f"\nMachine: {describe()}. Command: python benchmarks/figures/reject_feature_gate.py {args.run}{model_arg}{cache} "
          f"--costs {' '.join(map(str, args.costs))} --dims {' '.join(map(str, args.dims))}")


if __name__ == "__main__":
    main()
