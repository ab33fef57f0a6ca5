"""What the number reader gets wrong, by kind: a digit misread, a digit dropped or added, or no number at all.

Usage:
  python benchmarks/figures/read_errors.py [--seed 11] [--numbers 600] [--six 200] [--wide 300] [--box 300]
      [--cache FILE] [--sheet PNG] [--answers FILE] [--set MODULE.NAME=VALUE ...]

Reads photos.py numbers drawn as tune_reader.py / read_numbers.py draw them at ``--seed`` (3-6 digit numbers at
the seed, 6-digit numbers at seed + 1, numbers written wide apart at seed + 6, in a form field's box at seed + 8;
the first ``count`` photos of each are the tuning sets' photos) and sorts each wrong reading by comparing the
read string with the truth:

- ``misread``: as many positions as the truth, some digit different (``?`` counts as different: a position shown
  as not a digit);
- ``dropped`` / ``extra``: fewer / more positions (two neighbours read as one, a digit left out; a stroke read as
  a digit of its own);
- ``nothing``: "no digits found"; ``refused``: another refusal (its reason is counted).

For each read position of a reading with the truth's length it also asks the digit classifier for a second
opinion (the position's ink through the photo path's field step, as read.py's gate does) and counts, over right
and wrong readings, how often the classifier's top digit agrees with the reader's and with the truth: the
ceiling of a per-position second opinion. ``--sheet`` writes a contact sheet (PNG) of the wrong readings: each
row the reader's line image with the truth and the reading. Seed 11 is for finding and tuning; figures recorded
in RESULTS.md for what lands are measured on seed 2026. One thread.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_sets(seed: int, counts: dict, data_dir=None) -> dict:
    """{set name: [(photo bytes, number, spacing), ...]} (see the module docstring)."""
    from photos import number_photos

    from edgedigits_runtime.mnist import load_mnist

    images, labels = load_mnist("test", data_dir)
    draws = {"numbers": dict(seed=seed), "six": dict(seed=seed + 1, lengths=(6, 6)),
             "wide": dict(seed=seed + 6, spacing="wide"), "box": dict(seed=seed + 8, rule="box")}
    return {name: number_photos(images, labels, counts[name], **draws[name]) for name in draws if counts[name]}


def kind_of(truth: str, read: str | None) -> str:
    """``right``, ``misread``, ``dropped``, ``extra``, ``nothing`` or ``refused`` (see the module docstring)."""
    if read is None:
        return "refused"
    if read == truth:
        return "right"
    if read == "":
        return "nothing"
    if len(read) == len(truth):
        return "misread"
    return "dropped" if len(read) < len(truth) else "extra"


def second_opinion(photo, reader, gate):
    """(reading, [(reader digit, classifier digit, classifier score, reader confidence, shared), ...], line).

    ``shared``: the position's ink is connected to a neighbour's (its classifier field holds parts of it).

    The positions come from the reader's own decoding and boxes (read.py's steps), the classifier's view from
    read.py's ``_gate_scores`` (one batch); a position without a field has classifier digit -1.
    """
    from edgedigits_runtime import read_number
    from edgedigits_runtime.errors import EdgeDigitsError
    from edgedigits_runtime.line import normalise_line
    from edgedigits_runtime.preprocess import find_ink, load_image_scaled
    from edgedigits_runtime.read import _blank_without_ink, _gate_scores
    from edgedigits_runtime.reader import MARK, ctc_greedy, digit_boxes

    try:
        reading = read_number(photo, reader)
    except EdgeDigitsError as exc:
        return ("" if "no digits found" in str(exc) else None), [], None
    try:
        grey, _, _ = load_image_scaled(photo, None, None)
        line = normalise_line(find_ink(grey, "photo"), "photo")
    except EdgeDigitsError:
        line = None
    if line is None:
        return reading.number, [], None
    image8 = np.round(line.image * 255.0).astype(np.uint8)
    probs = _blank_without_ink(reader.frame_probs(image8[None])[0], image8)
    found = ctc_greedy(probs)
    boxes = digit_boxes(line, probs, found)
    scores, labels, _, shared = _gate_scores(line, boxes, gate, "photo")
    pairs = [(int(s) if s != MARK else -2, int(c), float(v), float(probs[f, :MARK].max()), bool(h))
             for (s, f), c, v, h in zip(found, labels, scores, shared)]
    return reading.number, pairs, line


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2
    from read_conditions import _set_constant
    from tune_reader import cached

    from edgedigits_runtime.classifier import load_default
    from edgedigits_runtime.reader import load_reader

    cv2.setNumThreads(1)
    for setting in args.set:
        _set_constant(setting)
    counts = {"numbers": args.numbers, "six": args.six, "wide": args.wide, "box": args.box}
    sets = cached(args.cache, lambda: make_sets(args.seed, counts, args.data_dir))
    reader, gate = load_reader(num_threads=1), load_default(num_threads=1)
    answers, wrong, wrong_and_right = {}, [], []
    for name, items in sets.items():
        kinds = collections.Counter()
        agree = collections.Counter()  # over same-length readings' positions: (reading right?, reader==truth, clf==truth)
        styles = collections.Counter()
        answers[name] = []
        for i, (photo, truth, style) in enumerate(items):
            read, pairs, line = second_opinion(photo, reader, gate)
            answers[name].append(read)
            kind = kind_of(truth, read)
            wrong_and_right.append((truth, read, pairs))
            kinds[kind] += 1
            if kind != "right":
                styles[(kind, style)] += 1
                wrong.append((name, i, truth, read, kind, style, pairs, line))
            digits = [p for p in pairs if p[0] != -2]
            if read is not None and len(digits) == len(truth) == len(pairs):
                for (r, c, *_), t in zip(digits, truth):
                    agree[(kind == "right", r == int(t), c == int(t))] += 1
        total = len(items)
        print(f"## {name} (seed {args.seed}, {total} photos): " + ", ".join(
            f"{k} {kinds[k]} ({kinds[k] / total:.1%})" for k in ("right", "misread", "dropped", "extra", "nothing", "refused")
            if kinds[k]), flush=True)
        print("   wrong by spacing: " + ", ".join(f"{k}/{s} {n}" for (k, s), n in sorted(styles.items())))
        for right in (True, False):
            cells = {(r, c): n for (ok, r, c), n in agree.items() if ok == right}
            n = sum(cells.values())
            if n:
                print(f"   positions of {'right' if right else 'misread/other same-length'} readings ({n}): "
                      + ", ".join(f"reader {'ok' if r else 'wrong'} / classifier {'ok' if c else 'wrong'} {cells.get((r, c), 0)}"
                                  for r in (True, False) for c in (True, False)))
    for name, i, truth, read, kind, style, pairs, _ in wrong:
        print(f"{name}[{i}] {kind:8s} {style:11s} truth {truth:8s} read {read!s:10s} "
              + " ".join(f"{r}/{c}:{v:.2f}:{q:.2f}" for r, c, v, q, _ in pairs))
    _overrides(wrong_and_right)
    if args.answers:
        Path(args.answers).write_text(json.dumps(answers))
    if args.sheet:
        _sheet(wrong, args.sheet)
    return 0


def _overrides(readings) -> None:
    """How many readings the rule "the classifier's digit replaces the reader's where the classifier's score is at
    least s and the reader's confidence below r" would make right and make wrong (same-length readings only), on
    every position, and only on positions whose ink touches no neighbour's ("alone")."""
    print("## second opinion: the classifier overrides where its score >= s and the reader's confidence < r")
    for alone in (False, True):
        for s in (0.5, 0.8, 0.9, 0.95):
            for r in (0.5, 0.8, 0.95, 1.01):
                fixed = broken = 0
                for truth, read, pairs in readings:
                    if not read or len(pairs) != len(truth) or any(p[0] == -2 for p in pairs):
                        continue
                    new = "".join(str(c) if v >= s and q < r and c >= 0 and not (alone and h) else ch
                                  for ch, (_, c, v, q, h) in zip(read, pairs))
                    fixed += read != truth and new == truth
                    broken += read == truth and new != truth
                print(f"   {'alone' if alone else 'every'} s {s:.2f} r {r:.2f}: made right {fixed}, made wrong {broken}")


def _sheet(wrong, path) -> None:
    """A contact sheet of the wrong readings' line images (x3), truth and reading beside each."""
    import cv2

    rows = []
    for name, i, truth, read, kind, style, pairs, line in wrong:
        img = np.zeros((32 * 3, 192 * 3 + 330), np.uint8)
        if line is not None:
            img[:, : 192 * 3] = cv2.resize(np.round(line.image * 255).astype(np.uint8), (192 * 3, 96),
                                           interpolation=cv2.INTER_NEAREST)
        img[:, 192 * 3] = 128
        clf = "".join("?" if c < 0 else str(c) for _, c, *_ in pairs)
        for k, text in enumerate((f"{name}[{i}] {kind} {style}", f"truth {truth} read {read}", f"classifier {clf}")):
            cv2.putText(img, text, (192 * 3 + 6, 26 + 30 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 255, 1, cv2.LINE_AA)
        rows.append(img)
        rows.append(np.full((3, img.shape[1]), 80, np.uint8))
    cv2.imwrite(str(path), np.concatenate(rows) if rows else np.zeros((8, 8), np.uint8))


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=11, help="photo seed (11 to tune; 2026 only to report)")
    p.add_argument("--numbers", type=int, default=600, help="3-6 digit numbers")
    p.add_argument("--six", type=int, default=200, help="6-digit numbers")
    p.add_argument("--wide", type=int, default=300, help="numbers written wide apart")
    p.add_argument("--box", type=int, default=300, help="numbers in a form field's box")
    p.add_argument("--cache", default=None, help="keep the generated photos in this pickle file")
    p.add_argument("--sheet", default=None, help="write a contact sheet PNG of the wrong readings here")
    p.add_argument("--answers", default=None, help="write every photo's answer (JSON) here")
    p.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                   help="set a runtime constant first (e.g. read.USE_GATE=0)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
