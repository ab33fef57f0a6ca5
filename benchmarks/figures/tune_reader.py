"""Tune the number reader's "no digits found" decision and compare reader models on the TUNING seed (11), never 2026.

Usage:
  python benchmarks/figures/tune_reader.py [READER.tflite ...] [--seed 11] [--count 150] [--set NAME=V1,V2 ...]
      [--cache FILE]

For each reader model (default: the shipped ``reader_int8.tflite``) and each combination of the
``--set`` values (constants of ``edgedigits_runtime.read``, e.g. ``--set MARK_SHARE=0.1,0.15``
``--set USE_GATE=0,1``), prints one line: whole-number accuracy of ``read_number`` on

- ``numbers``: 2 x ``count`` photos of 3-6 digit numbers (tests/runtime/photos.py ``number_photos``,
  MNIST test digits), ``touch``: those of them whose strokes touch or overlap;
- ``two``: ``count`` photos of 2-digit numbers; ``single``: ``count`` one-digit photos (``make_photo``);
  ``wide``: ``count`` photos of 3-6 digit numbers written wide apart (photos.py ``SPACINGS["wide"]``);
  ``underline``, ``box``: ``count`` photos of 3-6 digit numbers with a line under them or a field box around them;

and the share answered "no digits found" (an empty reading or the blank-page refusal) on photos with no
digit: ``letters`` (2 x ``count`` letters and symbols, the benchmark's characters and fonts), ``unseen_fonts``
(the same characters in font families the training marks never use, read_numbers.py ``UNSEEN_FONTS``), ``words``
(2-4 letters), ``shapes``, ``scribbles``, ``textures``, ``glyphs``, ``blobs`` (train/negatives
kinds at this seed, photographed by ``make_photo``) and ``crops`` (of matplotlib's grace_hopper.jpg).
The same sets as benchmarks/figures/read_numbers.py draws at its seed (2026), so choose here and
report there. ``--cache`` keeps the generated photos in a pickle (they take a minute to make).
"""

from __future__ import annotations

import argparse
import itertools
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_sets(seed: int, count: int, data_dir=None) -> dict:
    """{name: [(photo bytes, expected number; "" = no digits), ...]} (see the module docstring)."""
    from photos import GLYPH_FONTS, make_glyph_photo, make_photo, natural_crops, number_photos
    from read_numbers import _GLYPHS, UNSEEN_FONTS

    from edgedigits.train.negatives import generate
    from edgedigits_runtime.mnist import load_mnist

    images, labels = load_mnist("test", data_dir)
    sets = {}
    numbers = number_photos(images, labels, 2 * count, seed=seed)
    sets["numbers"] = [(p, n) for p, n, _ in numbers]
    sets["touch"] = [(p, n) for p, n, s in numbers if s != "apart"]
    sets["two"] = [(p, n) for p, n, _ in number_photos(images, labels, count, seed=seed + 3, lengths=(2, 2))]
    rng = np.random.default_rng(seed + 2)
    idx = rng.choice(len(images), count, replace=False)
    sets["single"] = [(make_photo(images[i], rng, size=(480, 640), scale=float(rng.uniform(3.0, 12.0))), str(labels[i]))
                      for i in idx]
    rng = np.random.default_rng(seed + 4)
    fonts = [f for f in GLYPH_FONTS if os.path.isfile(f)] or [None]
    sets["letters"] = [(make_glyph_photo(_GLYPHS[int(rng.integers(len(_GLYPHS)))], rng, font=fonts[i % len(fonts)],
                                         stroke=int(rng.integers(0, 4)), size=(480, 640)), "") for i in range(2 * count)]
    letters = [c for c in _GLYPHS if c.isalpha()]
    sets["words"] = [(make_glyph_photo("".join(letters[int(j)] for j in rng.integers(len(letters), size=int(rng.integers(2, 5)))),
                                       rng, font=fonts[i % len(fonts)], stroke=int(rng.integers(0, 3)), size=(480, 640)), "")
                     for i in range(count)]
    for kind in ("shapes", "scribbles", "textures", "glyphs", "blobs"):
        fields, _ = generate(count, seed=seed, kinds=[kind])
        sets[kind] = [(make_photo(np.asarray(f, np.uint8).reshape(28, 28), rng, size=(480, 640)), "") for f in fields]
    crops = natural_crops(count, rng)
    if crops is not None:
        sets["crops"] = [(c, "") for c in crops]
    rng = np.random.default_rng(seed + 5)
    unseen = [f for f in UNSEEN_FONTS if os.path.isfile(f)]
    if unseen:
        sets["unseen_fonts"] = [(make_glyph_photo(_GLYPHS[int(rng.integers(len(_GLYPHS)))], rng, font=unseen[i % len(unseen)],
                                                  stroke=int(rng.integers(0, 4)), size=(480, 640)), "") for i in range(count)]
    sets["wide"] = [(p, n) for p, n, _ in number_photos(images, labels, count, seed=seed + 6, spacing="wide")]
    for offset, rule in ((7, "underline"), (8, "box")):  # a form's underline or field box drawn with the number
        sets[rule] = [(p, n) for p, n, _ in number_photos(images, labels, count, seed=seed + offset, rule=rule)]
    return sets


def cached(path, make):
    """``make()``'s photo sets, kept in the pickle file ``path`` (None: not kept): read from it when it exists."""
    if path and Path(path).is_file():
        with open(path, "rb") as f:
            return pickle.load(f)
    sets = make()
    if path:
        with open(path, "wb") as f:
            pickle.dump(sets, f)
    return sets


def answer(photo, reader) -> str | None:
    """What ``read_number`` answers: the number, "" for "no digits found", None for another refusal."""
    from edgedigits_runtime import read_number
    from edgedigits_runtime.errors import EdgeDigitsError

    try:
        return read_number(photo, reader).number
    except EdgeDigitsError as exc:
        return "" if "no digits found" in str(exc) else None


def score(sets: dict, reader) -> dict:
    """{set name: share right} (numbers: the number; no-digit sets: "no digits found")."""
    return {name: float(np.mean([answer(p, reader) == want for p, want in items])) for name, items in sets.items()}


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2

    import edgedigits_runtime.read as read_module
    from edgedigits_runtime.reader import NumberReader, load_reader

    cv2.setNumThreads(1)
    t0 = time.time()
    sets = cached(args.cache, lambda: make_sets(args.seed, args.count, args.data_dir))
    print(f"# seed {args.seed}: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()) + f" ({time.time() - t0:.0f} s)",
          flush=True)
    grid = [(name, [_value(v) for v in values.split(",")]) for name, values in (s.split("=", 1) for s in args.set)]
    for path in args.readers or [None]:
        reader = NumberReader(path, num_threads=1) if path else load_reader(num_threads=1)
        for combo in itertools.product(*[values for _, values in grid]):
            saved = {name: getattr(read_module, name) for name, _ in grid}
            for (name, _), value in zip(grid, combo):
                setattr(read_module, name, value)
            try:
                result = score(sets, reader)
            finally:
                for name, value in saved.items():
                    setattr(read_module, name, value)
            setting = " ".join(f"{name}={value}" for (name, _), value in zip(grid, combo))
            print(f"{path or 'shipped'} {setting} | " + " ".join(f"{k} {v:.1%}" for k, v in result.items()), flush=True)
    return 0


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("readers", nargs="*", help="reader model files (default: the shipped one)")
    p.add_argument("--seed", type=int, default=11, help="the tuning seed (never the benchmark's 2026)")
    p.add_argument("--count", type=int, default=150, help="photos per set (numbers and letters: twice as many)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2",
                   help="a constant of edgedigits_runtime.read to try at these values (repeatable: every combination)")
    p.add_argument("--cache", default=None, help="keep the generated photos in this pickle file")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
