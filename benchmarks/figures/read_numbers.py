"""Reading whole numbers from photos (issue 10), beside the textbook OpenCV pipeline, for RESULTS.md.

Usage:
  python benchmarks/figures/read_numbers.py [--numbers N] [--six N] [--singles N] [--repeats R] [--nondigits N] [--seed S]
      [--model PATH] [--reader PATH] [--aarch64-wheel] [--no-write]

Photos are made in code from MNIST *test* digits (tests/runtime/photos.py: ``number_photos`` for
3-6 digit numbers, 640x480 JPEG, spacing "apart" 50% / "touching" 25% / "overlapping" 25%, wavy
baseline, slant, uneven light, noise, blur, RGB, either polarity; ``make_photo`` for one digit
at 640x480). Everything runs on one thread (``cv2.setNumThreads(1)``, the classifier with
``num_threads=1``); times are medians per photo from the file's bytes to the answer, both wall
clock (``perf_counter_ns``) and this process's CPU time (``process_time_ns``: on a shared, busy
machine wall clock also counts the time other jobs held the core).

- ``read_number`` (edgedigits_runtime.read, the sequence reader ``reader_int8.tflite`` or ``--reader``):
  whole-number accuracy overall and per spacing, the p50 time of a read, and of a 6-digit read.
- The textbook pipeline on the same photos: grey decode, Otsu threshold (polarity from the
  border), connected components left to right (specks under 5% of the largest and blobs touching
  the border dropped), each
  fitted to 20x20 in 28x28 and centred by its centre of mass, the same classifier on each.
- One digit per photo: ``preprocess_image`` + ``predict`` (the runtime's photo path), the
  textbook pipeline's largest component, and ``read_number`` on the same photos; each photo timed
  ``--repeats`` times (the paths interleaved pass by pass), medians over all.
- "Not a digit" (``--nondigits N`` photos per set): photos with no digit, through ``read_number``
  with its "not a digit" decision and without it (the reader alone): letters and symbols in every
  font of tests/runtime/photos.py ``GLYPH_FONTS`` installed (``make_glyph_photo``), words of 2-4 of
  those letters fitted the same way, shapes and scribbles from the toolkit's non-digit generator
  (train/negatives, report seed) photographed by ``make_photo``, crops of matplotlib's
  ``grace_hopper.jpg`` (as not_a_digit.py), the same letters and symbols in font families the
  training marks never use (``UNSEEN_FONTS``), and the kind no stage of the reader's training drew
  (its manifest entry's ``holdout``) when that is not shapes or scribbles; the share answered "no
  digits found" (an empty reading, or the blank-page refusal) and the share refused any way. The
  same with and without the decision on the numbers above, numbers written wide apart (photos.py
  ``SPACINGS["wide"]``, wider gaps than the reader's training lines), numbers underlined or in a form
  field's box (photos.py ``rule``), 2-digit numbers and the one-digit
  photos (what the decision costs in digits).
- ``--aarch64-wheel``: size of the opencv-python-headless wheel pip picks for a 64-bit Raspberry
  Pi (``pip download --platform manylinux2014_aarch64``), packed and unpacked.

Writes the "Reading numbers" section of benchmarks/RESULTS.md with the machine and the command.
"""

from __future__ import annotations

import argparse
import collections
import os
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from results_md import replace_section

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Reading numbers (issue 10)"


def main(argv=None) -> int:
    args = _parse(argv)
    sys.path.insert(0, str(ROOT / "tests" / "runtime"))
    import edgedigits_runtime.read as read_module

    args.use_gate, args.gate_max_digits = read_module.USE_GATE, read_module.GATE_MAX_DIGITS
    import cv2
    from machine import describe, versions
    from photos import make_photo, number_photos

    from edgedigits_runtime import DigitClassifier, load_default, preprocess_image, read_number
    from edgedigits_runtime.errors import EdgeDigitsError
    from edgedigits_runtime.mnist import load_mnist
    from edgedigits_runtime.reader import NumberReader, load_reader

    cv2.setNumThreads(1)
    clf = DigitClassifier(args.model, num_threads=1) if args.model else load_default(num_threads=1)
    reader = NumberReader(args.reader, num_threads=1) if args.reader else load_reader(num_threads=1)
    images, labels = load_mnist("test", args.data_dir)
    start = time.time()

    def ours(photo):
        try:
            return read_number(photo, reader).number
        except EdgeDigitsError:
            return None

    def textbook(photo):
        return _textbook(photo, clf, cv2)

    numbers = number_photos(images, labels, args.numbers, seed=args.seed)
    six = number_photos(images, labels, args.six, seed=args.seed + 1, lengths=(6, 6))
    readers = {"read_number": ours, "textbook": textbook}
    for fn in readers.values():  # warm-up
        for photo, _, _ in numbers[:5]:
            fn(photo)
    import edgedigits_runtime.read as read_module

    default_gate = read_module.USE_GATE

    def ungated(photo):  # the other setting of the classifier's "not a digit" decision (read.USE_GATE)
        read_module.USE_GATE = not default_gate
        try:
            return ours(photo)
        finally:
            read_module.USE_GATE = default_gate

    table = {}
    for name, fn in readers.items():
        hits, total, times = collections.Counter(), collections.Counter(), []
        for photo, number, style in numbers:
            answer, took = _timed(fn, photo)
            times.append(took)
            total[style] += 1
            hits[style] += answer == number
        six_times = []
        six_hits = 0
        for photo, number, _ in six:
            answer, took = _timed(fn, photo)
            six_times.append(took)
            six_hits += answer == number
        table[name] = {"hits": hits, "total": total, "p50": np.median(times, axis=0) / 1e6,
                       "six_p50": np.median(six_times, axis=0) / 1e6, "six_acc": six_hits / max(len(six), 1)}

    rng = np.random.default_rng(args.seed + 2)
    idx = rng.choice(len(images), args.singles, replace=False)
    singles = [make_photo(images[i], rng, size=(480, 640), scale=float(rng.uniform(3.0, 12.0))) for i in idx]
    truth = labels[idx]
    paths = {"preprocess_image + predict": lambda p: int(clf.predict(preprocess_image(p))[0]),
             "textbook (largest component)": lambda p: _textbook_single(p, clf, cv2),
             "read_number": lambda p: ours(p)}
    answers, times = {name: [] for name in paths}, {name: [] for name in paths}
    loads = [os.getloadavg()[0]]
    for fn in paths.values():  # warm-up
        for p in singles[:5]:
            fn(p)
    for r in range(args.repeats):  # the paths interleaved pass by pass: a busy spell slows them alike
        for name, fn in paths.items():
            for p in singles:
                answer, took = _timed(fn, p, EdgeDigitsError)
                if r == 0:
                    answers[name].append(answer)
                times[name].append(took)
        loads.append(os.getloadavg()[0])
    single = {}
    for name in paths:
        expected = [int(t) if name != "read_number" else str(int(t)) for t in truth]
        single[name] = (float(np.mean([a == e for a, e in zip(answers[name], expected)])),
                        np.median(times[name], axis=0) / 1e6)
    args.loads = (min(loads), max(loads))

    def both(photos):  # per photo: (read right with the classifier's decision, read right without it)
        return [(ours(p) == n, ungated(p) == n) for p, n, *_ in photos]

    def shares(rows):
        return float(np.mean([a for a, _ in rows])), float(np.mean([b for _, b in rows]))

    shorts = number_photos(images, labels, args.nondigits, seed=args.seed + 3, lengths=(2, 2))
    wide = number_photos(images, labels, args.nondigits, seed=args.seed + 6, spacing="wide")  # own stream: others unchanged
    underlined = number_photos(images, labels, args.nondigits, seed=args.seed + 7, rule="underline")
    boxed = number_photos(images, labels, args.nondigits, seed=args.seed + 8, rule="box")
    number_rows = both(numbers)
    gate = {"numbers (3-6 digits)": shares(number_rows),
            "numbers whose strokes touch or overlap": shares(
                [row for row, (_, _, style) in zip(number_rows, numbers) if style != "apart"]),
            "numbers written wide apart (3-6 digits)": shares(both(wide)),
            "numbers underlined (3-6 digits)": shares(both(underlined)),
            "numbers in a form field's box (3-6 digits)": shares(both(boxed)),
            "2-digit numbers": shares(both(shorts)),
            "one-digit photos": (single["read_number"][0],
                                 float(np.mean([ungated(p) == str(int(t)) for p, t in zip(singles, truth)])))}
    refusals = {}
    for name, photos in _non_digit_sets(args.nondigits, args.seed + 4, reader.info.get("holdout")).items():
        refusals[name] = (len(photos), _refusals(photos, reader, read_number, EdgeDigitsError),
                          _refusals(photos, reader, read_number, EdgeDigitsError, read_module))
    elapsed = time.time() - start

    wheel = _aarch64_wheel() if args.aarch64_wheel else None
    command = "python benchmarks/figures/read_numbers.py " + " ".join(map(shlex.quote, argv if argv is not None else sys.argv[1:]))
    tools = versions("opencv-python-headless", "ai-edge-litert", "numpy", "pillow")
    text = _render(table, single, wheel, args, clf, reader, describe(), tools, command.strip(), elapsed, gate, refusals)
    print(text)
    if not args.no_write:
        replace_section(RESULTS, text)
    return 0


def _timed(fn, photo, errors=()):
    """(answer or None, (wall ns, CPU ns of this process))."""
    t0, c0 = time.perf_counter_ns(), time.process_time_ns()
    try:
        answer = fn(photo)
    except errors:
        answer = None
    return answer, (time.perf_counter_ns() - t0, time.process_time_ns() - c0)


# --------------------------------------------------------------------------- not a digit


_GLYPHS = "ACEFHJKLMNPRUVWXYacdefhkmnprtuvwxy#%&*+=@$?"  # letters and symbols, no digit look-alikes (O, I, l, S, ...)
# Font families train/negatives never draws (its glyphs._FONTS): letters in them are an honest unseen-font measure (the
# GLYPH_FONTS of tests/runtime/photos.py are faces of families the reader's training marks use).
UNSEEN_FONTS = ("/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
                "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Bold.otf",
                "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Regular.otf")


def _non_digit_sets(count: int, seed: int, held_out: str | None) -> dict:
    """{set name: [photo, ...]}: photos with no digit in them (see the module docstring); ``held_out``: the non-digit
    kind no stage of the reader's training drew (its manifest entry's ``holdout``), photographed too."""
    from pathlib import Path as _Path

    from photos import GLYPH_FONTS, make_glyph_photo, make_photo, natural_crops

    rng = np.random.default_rng(seed)
    sets = {}
    fonts = [f for f in GLYPH_FONTS if _Path(f).is_file()] or [None]
    sets[f"letters and symbols ({len(fonts)} fonts)"] = [
        make_glyph_photo(_GLYPHS[int(rng.integers(len(_GLYPHS)))], rng, font=fonts[i % len(fonts)],
                         stroke=int(rng.integers(0, 4)), size=(480, 640)) for i in range(count)]
    letters = [c for c in _GLYPHS if c.isalpha()]
    sets[f"words of 2-4 letters ({len(fonts)} fonts)"] = [
        make_glyph_photo("".join(letters[int(j)] for j in rng.integers(len(letters), size=int(rng.integers(2, 5)))), rng,
                         font=fonts[i % len(fonts)], stroke=int(rng.integers(0, 3)), size=(480, 640)) for i in range(count)]
    try:
        from edgedigits.train.negatives import REPORT_SEED, generate
    except ImportError:  # the toolkit is not installed (a runtime-only venv)
        generate = None
    if generate is not None:
        for kind in ("shapes", "scribbles"):
            fields, _ = generate(count, seed=REPORT_SEED, kinds=[kind])
            held = " held out of the reader's training" if kind == held_out else ", drawn in the reader's training"
            sets[f"{kind} (train/negatives{held})"] = [make_photo(np.asarray(f, np.uint8).reshape(28, 28), rng,
                                                               size=(480, 640)) for f in fields]
    crops = natural_crops(count, rng)
    if crops is not None:
        sets["crops of grace_hopper.jpg"] = crops
    rng = np.random.default_rng(seed + 1)  # sets added later draw from their own stream: the ones above stay the same
    unseen = [f for f in UNSEEN_FONTS if _Path(f).is_file()]
    if unseen:
        sets[f"letters and symbols in {len(unseen)} font families never drawn in training"] = [
            make_glyph_photo(_GLYPHS[int(rng.integers(len(_GLYPHS)))], rng, font=unseen[i % len(unseen)],
                             stroke=int(rng.integers(0, 4)), size=(480, 640)) for i in range(count)]
    if generate is not None and held_out and held_out not in ("shapes", "scribbles"):
        fields, _ = generate(count, seed=REPORT_SEED, kinds=[held_out])
        sets[f"{held_out} (train/negatives, held out of the reader's training)"] = [
            make_photo(np.asarray(f, np.uint8).reshape(28, 28), rng, size=(480, 640)) for f in fields]
    return sets


def _refusals(photos, reader, read_number, errors, read_module=None) -> tuple[float, float]:
    """(share answered "no digits found", share refused any way); ``read_module``: with the other setting of the
    classifier's "not a digit" decision (``read.USE_GATE``)."""
    none = refused = 0
    saved = read_module.USE_GATE if read_module else None
    if read_module:
        read_module.USE_GATE = not saved
    try:
        for photo in photos:
            try:
                empty = read_number(photo, reader).number == ""
                none += empty
                refused += empty
            except errors as exc:
                none += "no digits found" in str(exc)
                refused += 1
    finally:
        if read_module:
            read_module.USE_GATE = saved
    return none / max(len(photos), 1), refused / max(len(photos), 1)


# --------------------------------------------------------------------------- the textbook pipeline


def _textbook_ink(photo, cv2):
    grey = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_GRAYSCALE)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    flag = cv2.THRESH_BINARY_INV if np.median(border) > np.median(grey[grey.shape[0] // 4 : -grey.shape[0] // 4]) - 1 \
        else cv2.THRESH_BINARY
    ink = 255 - grey if flag == cv2.THRESH_BINARY_INV else grey
    _, mask = cv2.threshold(grey, 0, 255, flag | cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return ink, labels, stats


def _textbook_field(ink, labels, stats, i, cv2):
    x, y, w, h = stats[i, :4]
    crop = np.where(labels[y : y + h, x : x + w] == i, ink[y : y + h, x : x + w], 0).astype(np.float32)
    crop = crop / max(float(crop.max()), 1.0)
    f = 20.0 / max(w, h)
    small = cv2.resize(crop, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    field = np.zeros((28, 28), np.float32)
    sh, sw = small.shape
    top, left = (28 - sh) // 2, (28 - sw) // 2
    field[top : top + sh, left : left + sw] = small
    m = cv2.moments(field)
    if m["m00"] > 0:
        shift = np.float32([[1, 0, 14 - m["m10"] / m["m00"]], [0, 1, 14 - m["m01"] / m["m00"]]])
        field = cv2.warpAffine(field, shift, (28, 28))
    return np.round(np.clip(field, 0, 1) * 255).astype(np.uint8)


def _textbook(photo, clf, cv2) -> str | None:
    """Otsu, connected components left to right (specks < 5% of the largest dropped), the classifier on each."""
    ink, labels, stats = _textbook_ink(photo, cv2)
    if len(stats) < 2:
        return None
    h, w = labels.shape
    x, y, bw, bh, area = (stats[1:, k] for k in range(5))
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)  # shadows and page edges touch the border
    if not inside.any():
        return None
    area = np.where(inside, area, 0)
    keep = [i + 1 for i in np.flatnonzero(area >= 0.05 * area.max())]
    keep.sort(key=lambda i: stats[i, 0] + stats[i, 2] / 2)
    fields = np.stack([_textbook_field(ink, labels, stats, i, cv2) for i in keep])
    return "".join(str(int(d)) for d in clf.predict(fields))


def _textbook_single(photo, clf, cv2) -> int | None:
    ink, labels, stats = _textbook_ink(photo, cv2)
    if len(stats) < 2:
        return None
    h, w = labels.shape
    x, y, bw, bh, area = (stats[1:, k] for k in range(5))
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    i = 1 + int(np.argmax(np.where(inside, area, 0) if inside.any() else area))
    return int(clf.predict(_textbook_field(ink, labels, stats, i, cv2))[0])


# --------------------------------------------------------------------------- install size


def _aarch64_wheel():
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--platform", "manylinux2014_aarch64",
               "--python-version", "3.11", "--only-binary=:all:", "opencv-python-headless", "-d", tmp, "-q"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        files = list(Path(tmp).glob("*.whl"))
        if done.returncode or not files:
            return {"error": (done.stderr.strip().splitlines() or ["pip download failed"])[-1]}
        wheel = files[0]
        with zipfile.ZipFile(wheel) as z:
            unpacked = sum(i.file_size for i in z.infolist())
        return {"name": wheel.name, "packed": wheel.stat().st_size, "unpacked": unpacked, "command": " ".join(cmd[2:])}


# --------------------------------------------------------------------------- RESULTS.md


def _render(table, single, wheel, args, clf, reader, machine, tools, command, elapsed, gate, refusals) -> str:
    styles = ["apart", "touching", "overlapping"]

    def acc(row, keys):
        hits = sum(row["hits"][k] for k in keys)
        total = sum(row["total"][k] for k in keys)
        return f"{hits / total:.1%} ({hits}/{total})" if total else "–"

    lines = [SECTION, "",
             f"Machine: {machine}; opencv-python-headless {tools['opencv-python-headless']}, ai-edge-litert "
             f"{tools['ai-edge-litert']}, numpy {tools['numpy']}, pillow {tools['pillow']}. **Shared machine**: "
             "2 cores used by several jobs at once (load average far above 2 at times), so times are "
             "pessimistic and noisy; accuracy is exact.",
             f"Command: `{command}` ({elapsed:.0f} s). One thread (`cv2.setNumThreads(1)`, models "
             f"`num_threads=1`): read_number with the sequence reader `{Path(reader.info['path']).name}` "
             f"({reader.info['backend']}), the textbook pipeline and the one-digit paths with the classifier "
             f"`{Path(clf.info['path']).name}`. Times are medians "
             "from the JPEG's bytes to the answer, wall clock / CPU time of the process.", "",
             f"Numbers: {args.numbers} synthetic 640x480 photos of 3-6 digit numbers made from MNIST test digits "
             f"(seed {args.seed}; tests/runtime/photos.py `number_photos`); 6-digit reads: {args.six} more photos "
             "of exactly 6 digits.", "",
             "| reader | all | clear gap | strokes touch | strokes overlap | touch or overlap | p50 ms wall / CPU "
             "| 6-digit p50 ms wall / CPU | 6-digit accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in table.items():
        lines.append(f"| {name} | {acc(row, styles)} | {acc(row, ['apart'])} | {acc(row, ['touching'])} | "
                     f"{acc(row, ['overlapping'])} | {acc(row, ['touching', 'overlapping'])} | "
                     f"{row['p50'][0]:.1f} / {row['p50'][1]:.1f} | {row['six_p50'][0]:.1f} / {row['six_p50'][1]:.1f} | "
                     f"{row['six_acc']:.1%} |")
    lines += ["", f"One digit per photo: {args.singles} 640x480 JPEG photos of MNIST test digits (tests/runtime/photos.py "
              "`make_photo`, digit 84-336 px tall, dark on light, uneven light, noise, RGB, rotated); each timed "
              f"{args.repeats} times, the paths interleaved pass by pass, medians over all (1-minute load average "
              f"{args.loads[0]:.1f}-{args.loads[1]:.1f} meanwhile).", "",
              "| path | accuracy | p50 ms bytes -> label, wall / CPU |", "|---|---:|---:|"]
    for name, (accuracy, p50) in single.items():
        lines.append(f"| {name} | {accuracy:.1%} | {p50[0]:.2f} / {p50[1]:.2f} |")
    gated = args.use_gate
    this = "with the classifier's decision" if gated else "the reader alone (default)"
    other = "the reader alone" if gated else "with the classifier's decision"
    marks = "reads a non-digit mark (`?`) and " if reader.info.get("reads_marks") else ""
    lines += ["", f"\"Not a digit\" (issues 9 and 10 in `read`): the reader `{Path(reader.info['path']).name}` {marks}"
              f"answers \"no digits found\" for a line of marks only or mostly (read.py `MARK_SHARE`, and "
              f"`MARK_SHARE_SHORT` for readings of at most `SHORT_DIGITS` digits); the classifier "
              f"`{Path(clf.info['path']).name}`'s decision on each position of a reading of at most "
              f"{args.gate_max_digits} digit(s) (read.py step 6, `USE_GATE`, `GATE_MAX_DIGITS`) is "
              f"{'on' if gated else 'off'} by default, and measured the other way too. Photos with no digit, 640x480 "
              f"unless cropped ({args.nondigits} per set; letters and symbols `{_GLYPHS}`): share answered \"no digits "
              "found\" (refused any way: also other clean refusals, e.g. marks not on one line).", "",
              f"| photos without a digit | no digits found | refused any way | {other}: no digits found / refused |",
              "|---|---:|---:|---:|"]
    for name, (n, (none, refused), (none0, refused0)) in refusals.items():
        lines.append(f"| {name} ({n}) | {none:.1%} | {refused:.1%} | {none0:.1%} / {refused0:.1%} |")
    lines += ["", "What the classifier's decision costs in digits (whole-number accuracy on the same photos):", "",
              f"| photos | {this} | {other} |", "|---|---:|---:|"]
    for name, (with_gate, without) in gate.items():
        lines.append(f"| {name} | {with_gate:.1%} | {without:.1%} |")
    if wheel:
        if "error" in wheel:
            lines += ["", f"opencv-python-headless for aarch64: not measured ({wheel['error']})."]
        else:
            lines += ["", f"Install size on a 64-bit Raspberry Pi: `{wheel['name']}` is {wheel['packed'] / 1e6:.1f} MB "
                      f"to download, {wheel['unpacked'] / 1e6:.1f} MB unpacked (`{wheel['command']}`)."]
    lines.append("")
    return "\n".join(lines)


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="classifier model file (default: the shipped one)")
    p.add_argument("--reader", default=None, help="number reader model file (default: the shipped reader_int8.tflite)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    p.add_argument("--numbers", type=int, default=600, help="photos of 3-6 digit numbers")
    p.add_argument("--six", type=int, default=100, help="photos of 6-digit numbers (read time)")
    p.add_argument("--singles", type=int, default=300, help="photos of one digit")
    p.add_argument("--repeats", type=int, default=3, help="timed passes over the one-digit photos")
    p.add_argument("--nondigits", type=int, default=200, help="photos per non-digit set (and of 2-digit numbers)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--aarch64-wheel", action="store_true", help="also measure the aarch64 opencv wheel (pip download)")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
