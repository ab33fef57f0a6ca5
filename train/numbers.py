"""Synthetic handwritten numbers for the sequence reader, made in code from MNIST *training* digits.

Each sample is a small grey "working image" (what the runtime decodes a photo to) of a number of
1-8 digits: MNIST training digits, each scaled, slanted, rotated and thickened or thinned a
little, placed left to right with the gap between neighbouring strokes drawn from a clear gap
down to touching and overlapping strokes, on a wavy baseline, the line slightly turned, dark on
light paper or light on dark, lit unevenly, blurred, noisy, sometimes JPEG-compressed, now and
then with specks or a dot beside the number. The image then goes through the runtime's own
:func:`edgedigits_runtime.preprocess.find_ink` and :func:`edgedigits_runtime.line.normalise_line`:
the reader model is trained on exactly the line images it sees on the device.

This generator is the toolkit's own; the benchmark's photos (tests/runtime/photos.py, from MNIST
*test* digits) are made by different code and never used for training.

Example:

>>> from edgedigits.train.numbers import make_lines
>>> lines, labels, lengths = make_lines(images, digit_labels, 100, seed=0)   # doctest: +SKIP
>>> lines.shape, lines.dtype, labels.shape                                  # doctest: +SKIP
((100, 32, 192), dtype('uint8'), (100, 8))
"""

from __future__ import annotations

import numpy as np

from edgedigits_runtime.reader import MARK  # the label of a non-digit mark (the reader's output): one per run of marks

__all__ = ["HOLDOUT_KIND", "MARK", "MARK_KINDS", "MAX_LABELS", "MAX_LENGTH", "STYLES", "make_lines", "mark_pool",
           "render_number"]

MAX_LENGTH = 8  # longest training number
MAX_LABELS = MAX_LENGTH + 4  # label padding (a number and the marks among its digits)
# Non-digit marks drawn into lines (train/negatives/ kinds, share of the pool). Left out: the held-out kind (an
# honest estimate of unseen kinds), ``digit_pairs`` (two touching digits ARE two digits in a line) and
# ``digit_cutoff`` (a digit cut by the frame is still a digit on a page).
MARK_KINDS = {"glyphs": 0.32, "words": 0.14, "scribbles": 0.12, "textures": 0.1, "blobs": 0.1, "noise": 0.08,
              "digit_parts": 0.05, "shapes": 0.06}
HOLDOUT_KIND = "shapes"  # never drawn by default: the benchmark reports it as the unseen kind
STYLES = {  # gap between neighbouring digits' strokes in MNIST pixels (a digit is about 20 tall), and how often
    "apart": ((1.0, 10.0), 0.4),
    "touching": ((-1.2, 0.5), 0.3),
    "overlapping": ((-3.5, -1.0), 0.3),
}
_WIDE_GAP = (16.0, 32.0)  # a mark kept apart from the digits: this far from them (MNIST pixels; a digit is about 20 tall)
_LENGTHS = (1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8)  # digits per number (3-6 most often)


def render_number(digits: np.ndarray, rng: np.random.Generator, *, style: str | None = None,
                  fine_pen: float = 0.0, rules: float = 0.0, wide=()) -> np.ndarray:
    """A number of MNIST digits (uint8 (n, 28, 28), left to right) as a small uint8 grey photo.

    ``fine_pen``: the chance that the number is written with a fine pen (strokes a working pixel or two wide,
    the digits' ridges). ``rules``: the chance of a line drawn with it (:func:`_rule`: an underline the digits
    touch or cross, or ruled or squared paper across the photo). 0 draws nothing from ``rng`` for either, so
    the photos are those of earlier versions. ``wide``: indices ``i`` of pieces drawn at least a digit's width
    (:data:`_WIDE_GAP` MNIST pixels) after piece ``i - 1`` (a non-digit mark kept apart from the digits).
    """
    import cv2

    names = list(STYLES)
    style = style or str(rng.choice(names, p=[STYLES[k][1] for k in names]))
    height = float(rng.uniform(14.0, 60.0))  # digit height in working pixels
    s = height / 20.0  # working pixels per MNIST pixel
    wave = rng.uniform(0.0, 0.22) * height
    phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.4, 1.4)
    slant = rng.uniform(-0.3, 0.3)  # the writer's shear, shared by the number's digits
    fine = fine_pen > 0 and rng.random() < fine_pen
    rule = str(rng.choice(_RULE_KINDS, p=[0.5, 0.35, 0.15])) if rules > 0 and rng.random() < rules else None
    pieces = [_digit(d, rng, s, slant, cv2, fine) for d in digits]
    pad = int(np.ceil(wave + 0.6 * height))
    canvas_h = int(np.ceil(max(p.shape[0] for p in pieces))) + 2 * pad
    canvas = np.zeros((canvas_h, int(sum(p.shape[1] for p in pieces) + 12 * s * len(pieces) + 4 * pad)), np.float32)
    right = np.full(canvas_h, -np.inf)  # rightmost ink column so far, per row
    prev = None
    bottoms = []  # each digit's lowest ink row on the canvas
    x = float(pad)
    for i, piece in enumerate(pieces):
        ph, pw = piece.shape
        y = int(round(pad + wave * np.sin(phase + freq * i) + rng.uniform(-0.06, 0.06) * height
                      + (canvas_h - 2 * pad - ph) / 2))
        y = int(np.clip(y, 0, canvas_h - ph))
        ink = piece > 0.2
        if not ink.any():  # nothing visible left (a faint mark thinned away): leave it out
            ink = piece >= piece.max()
        if prev is not None:
            lo, hi = _WIDE_GAP if i in wide else STYLES[style if rng.random() < 0.8 else str(rng.choice(names))][0]
            gap = rng.uniform(lo, hi) * s
            has = ink.any(axis=1)
            first = np.where(has, ink.argmax(axis=1), 10**6).astype(np.float64)
            need = right[y : y + ph] - first
            ok = np.isfinite(need) & has
            x = float(need[ok].max()) + 1.0 + gap if ok.any() else prev[0] + prev[1] + gap
            cols = np.flatnonzero(ink.any(axis=0))
            share = 0.35 * min(prev[1], cols[-1] - cols[0] + 1)  # overlap at most this much of the narrower box
            x = max(x, prev[0] + prev[1] - share - cols[0], 1.0)
        xi = int(round(x))
        if xi + pw > canvas.shape[1]:
            canvas = np.pad(canvas, ((0, 0), (0, xi + pw - canvas.shape[1] + pad)))
        np.maximum(canvas[y : y + ph, xi : xi + pw], piece, out=canvas[y : y + ph, xi : xi + pw])
        has = ink.any(axis=1)
        last = np.where(has, pw - 1 - ink[:, ::-1].argmax(axis=1), -10**6).astype(np.float64)
        right[y : y + ph] = np.maximum(right[y : y + ph], np.where(has, xi + last, -np.inf))
        cols = np.flatnonzero(ink.any(axis=0))
        prev = (xi + cols[0], cols[-1] - cols[0] + 1)
        bottoms.append(y + int(np.flatnonzero(ink.any(axis=1))[-1]))
    used = np.flatnonzero(canvas.max(axis=0) > 0)
    if rule == "underline":
        _underline(canvas, rng, height, float(np.median(bottoms)), (used[0], used[-1]), cv2)
    canvas = canvas[:, max(used[0] - pad, 0) : used[-1] + pad]
    _marks(canvas, rng, height, cv2)
    return _photo(canvas, rng, height, cv2, paper_lines=rule if rule in ("ruled", "squared") else None)


def _digit(d: np.ndarray, rng, s: float, slant: float, cv2, fine: bool = False) -> np.ndarray:
    """One MNIST digit at ``s`` working pixels per MNIST pixel, with its own size, shape and stroke jitter."""
    img = np.asarray(d, np.float32) / 255.0
    sy = s * rng.uniform(0.85, 1.12)
    sx = sy * rng.uniform(0.8, 1.2)
    angle = np.deg2rad(rng.uniform(-8.0, 8.0))
    shear = slant + rng.uniform(-0.08, 0.08)
    a = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array([[1.0, -shear], [0.0, 1.0]])
    a = a @ np.diag([sx, sy])
    side_w, side_h = int(np.ceil(28 * sx * 1.5)) + 2, int(np.ceil(28 * sy * 1.3)) + 2
    centre = np.array([side_w / 2, side_h / 2]) - a @ np.array([14.0, 14.0])
    m = np.hstack([a, centre[:, None]]).astype(np.float32)
    out = cv2.warpAffine(img, m, (side_w, side_h), flags=cv2.INTER_LINEAR)
    stroke = rng.random()
    k = max(1, int(round(s * rng.uniform(0.3, 0.8))))
    if fine:  # a fine pen: about a pixel wide whatever the digit's size
        out = _fine_pen(out, rng, cv2)
    elif stroke < 0.2:  # a thicker pen
        out = cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1)))
    elif stroke < 0.35 and s > 1.5:  # a thinner pen
        out = cv2.erode(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2, 2)))
    rows = np.flatnonzero(out.max(axis=1) > 0.05)
    cols = np.flatnonzero(out.max(axis=0) > 0.05)
    if not len(rows):
        return out[:2, :2]
    return out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fine_pen(out: np.ndarray, rng, cv2) -> np.ndarray:
    """The digit's strokes as their ridge (pixels at least as far from the background as their neighbours), blurred."""
    mask = (out > 0.4).astype(np.uint8)
    if not mask.any():
        return out
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = ((dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)) - 0.5) & (mask > 0)).astype(np.float32)
    if rng.random() < 0.4:  # 2 px rather than 1
        ridge = cv2.dilate(ridge, np.ones((2, 2), np.uint8))
    ridge = cv2.GaussianBlur(ridge, (0, 0), float(rng.uniform(0.4, 0.8)))
    return np.clip(ridge * float(rng.uniform(1.2, 2.2)), 0.0, 1.0)


_RULE_KINDS = ("underline", "ruled", "squared")


def _underline(canvas: np.ndarray, rng, height: float, base: float, span: tuple[int, int], cv2) -> None:
    """A pen line along the digits' feet (from a little above them to a little below: touching or crossing them),
    reaching a little past the number at both ends, a little slanted."""
    thick = max(1, int(round(rng.uniform(0.04, 0.12) * height)))
    y = base + rng.uniform(-0.12, 0.1) * height
    x0 = span[0] - rng.uniform(0.05, 0.5) * height
    x1 = span[1] + rng.uniform(0.05, 0.5) * height
    tilt = rng.uniform(-0.04, 0.04) * (x1 - x0)
    shade = float(rng.uniform(0.6, 1.0))
    cv2.line(canvas, (int(x0), int(round(y - tilt / 2))), (int(x1), int(round(y + tilt / 2))), shade, thick)


def _paper_lines(page: np.ndarray, rng, height: float, kind: str, cv2) -> np.ndarray:
    """Ruled (rows: faint to as dark as the pen) or squared paper (rows and columns, fainter) across the whole page,
    under the ink (the brighter of the two wins)."""
    ph, pw = page.shape
    lines = np.zeros_like(page)
    squared = kind == "squared"
    period = rng.uniform(0.5, 0.9) * height if squared else rng.uniform(0.8, 1.8) * height
    thick = 1 if squared or height < 30 else int(rng.integers(1, 3))
    for y in np.arange(rng.uniform(0, period), ph, period):
        cv2.line(lines, (0, int(y)), (pw - 1, int(y)), 1.0, thick)
    if squared:
        for x in np.arange(rng.uniform(0, period), pw, period):
            cv2.line(lines, (int(x), 0), (int(x), ph - 1), 1.0, thick)
    return np.maximum(page, lines * float(rng.uniform(0.2, 0.6) if squared else rng.uniform(0.35, 1.0)))


def _marks(canvas: np.ndarray, rng, height: float, cv2) -> None:
    """Now and then: pencil specks around the number, a dot or short dash beside it (not digits: read as nothing)."""
    h, w = canvas.shape
    if rng.random() < 0.25:
        for _ in range(int(rng.integers(1, 12))):
            r = max(1, int(round(rng.uniform(0.02, 0.07) * height)))
            cv2.circle(canvas, (int(rng.integers(0, w)), int(rng.integers(0, h))), r, float(rng.uniform(0.4, 1.0)), -1)
    if rng.random() < 0.08:
        cx = int(rng.integers(0, w))
        cy = int(h / 2 + rng.uniform(0.1, 0.45) * height)
        cv2.circle(canvas, (cx, cy), max(1, int(0.06 * height)), 1.0, -1)


def _photo(canvas: np.ndarray, rng, height: float, cv2, paper_lines: str | None = None) -> np.ndarray:
    """The number's ink (float, 1 = ink) on paper: margins, turn, polarity, light, blur, noise, JPEG -> uint8 grey.

    ``paper_lines``: "ruled" or "squared" draws the paper's lines across the page first (:func:`_paper_lines`)."""
    margin = [int(rng.uniform(0.3, 2.0) * height) + 2 for _ in range(4)]
    h, w = canvas.shape
    page = np.zeros((h + margin[0] + margin[1], w + margin[2] + margin[3]), np.float32)
    page[margin[0] : margin[0] + h, margin[2] : margin[2] + w] = canvas
    if paper_lines:
        page = _paper_lines(page, rng, height, paper_lines, cv2)
    ph, pw = page.shape
    turn = cv2.getRotationMatrix2D((pw / 2, ph / 2), float(rng.uniform(-5.0, 5.0)), 1.0)
    page = cv2.warpAffine(page, turn, (pw, ph), flags=cv2.INTER_LINEAR)
    paper, ink = rng.uniform(0.55, 0.95), rng.uniform(0.0, 0.35)
    if paper - ink < 0.25:
        ink = paper - 0.25
    if rng.random() < 0.7:  # dark ink on light paper
        photo = paper - (paper - ink) * page
    else:
        photo = (1 - paper) + (paper - ink) * page
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    yy, xx = yy / ph - 0.5, xx / pw - 0.5
    light = 1.0 + rng.uniform(-0.6, 0.6) * xx + rng.uniform(-0.4, 0.4) * yy + rng.uniform(-0.5, 0.5) * xx * xx
    photo = photo * (light / light.max()) * rng.uniform(0.7, 1.0)
    blur = rng.uniform(0.0, 1.3)
    if blur > 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    photo = photo + rng.normal(0.0, rng.uniform(0.004, 0.05), photo.shape).astype(np.float32)
    out = (np.clip(photo, 0.0, 1.0) * 255.0).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def mark_pool(count: int, *, seed: int, digits: np.ndarray | None, holdout=(HOLDOUT_KIND,)) -> np.ndarray:
    """``count`` non-digit 28x28 images (uint8, ink 255) of the :data:`MARK_KINDS` (shares as there), shuffled.

    Drawn by the toolkit's non-digit generators (:func:`edgedigits.train.negatives.generate`), the kinds in
    ``holdout`` left out; ``digits`` are MNIST *training* digits (for ``digit_parts``; None: that kind is left out).
    """
    from edgedigits.train.negatives import generate
    from edgedigits.train.negatives._draw import _elongation

    kinds = {k: w for k, w in MARK_KINDS.items() if k not in set(holdout) and (digits is not None or k != "digit_parts")}
    total = sum(kinds.values())
    parts = []
    for k, w in kinds.items():
        n = max(1, int(round(count * w / total)))
        parts.append(generate(n, seed=seed, kinds=[k], digits=digits)[0])
    pool = np.concatenate(parts)
    pool = pool[[_elongation(p) < 3.0 and p.max() >= 160 for p in pool]]  # no thin bar (a 1 to anyone), no faint field
    return pool[np.random.default_rng([seed, 7]).permutation(len(pool))[:count]]


def _with_marks(rng, n_digits: int, marks_pool: np.ndarray) -> list[int]:
    """A line's items left to right: a digit slot index (>= 0), or ``-1 - i`` for mark ``i`` of the pool."""
    if rng.random() < 0.45:  # marks only: a letter, a word, a symbol, a scribble, a stain
        k = int(rng.choice((1, 1, 1, 1, 2, 2, 3, 4)))
        return [-1 - int(rng.integers(len(marks_pool))) for _ in range(k)]
    items = list(range(n_digits))
    for _ in range(int(rng.choice((1, 1, 2)))):  # marks before, after or among the digits
        items.insert(int(rng.integers(0, len(items) + 1)), -1 - int(rng.integers(len(marks_pool))))
    return items


def make_lines(images: np.ndarray, labels: np.ndarray, count: int, *, seed: int, lengths=_LENGTHS,
               progress=None, marks: np.ndarray | None = None, mark_share: float = 0.0, fine_pen: float = 0.0,
               rules: float = 0.0, marks_apart: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` synthetic numbers as the reader's line images (through the runtime's own path).

    Args:
      images, labels: MNIST *training* digits (uint8 (N, 28, 28)) and their labels.
      count: samples to make.
      seed: the random seed (same seed, same samples).
      lengths: digits per number, drawn uniformly from this sequence.
      progress: optional ``callable(done, count)``, called every 5000 samples.
      marks: non-digit 28x28 images (:func:`mark_pool`) drawn into some lines like digits, each run of
        neighbouring marks labelled :data:`MARK` once.
      mark_share: share of the lines with marks (about 45% of them marks only, the rest a number with one or
        two marks inserted before, after or among its digits).
      fine_pen: share of the numbers written with a fine pen (:func:`render_number`; 0: the lines of earlier
        versions, same seed same lines).
      rules: share of the numbers drawn with an underline they touch or on ruled or squared paper
        (:func:`render_number`; the runtime's line path erases what it can, the reader learns the rest).
      marks_apart: in lines of digits and marks, each mark at least a digit's width from its neighbouring digits
        (False: as close as the digits are to each other, the lines of earlier versions). Marks drawn right
        beside the digits taught stages to read a leading 0 or a last digit as a mark (RESULTS.md).

    Returns:
      (uint8 (count, LINE_HEIGHT, LINE_WIDTH) lines (255 = ink), int32 (count, MAX_LABELS) labels (digits,
      :data:`MARK`) padded with -1, int32 (count,) label lengths).
    """
    from edgedigits_runtime.errors import InputError
    from edgedigits_runtime.line import LINE_HEIGHT, LINE_WIDTH, normalise_line
    from edgedigits_runtime.preprocess import find_ink

    rng = np.random.default_rng(seed)
    lines = np.zeros((count, LINE_HEIGHT, LINE_WIDTH), np.uint8)
    out_labels = np.full((count, MAX_LABELS), -1, np.int32)
    out_lengths = np.zeros(count, np.int32)
    use_marks = marks is not None and len(marks) and mark_share > 0
    done = 0
    while done < count:
        wide = set()
        n = int(rng.choice(lengths))
        idx = rng.integers(0, len(images), n)
        if use_marks and rng.random() < mark_share:
            items = _with_marks(rng, min(n, 6), marks)
            pieces = np.stack([images[idx[i]] if i >= 0 else marks[-1 - i] for i in items])
            if marks_apart:  # a gap of a digit's width or more wherever a mark and a digit are neighbours
                wide = {j for j in range(1, len(items)) if (items[j] < 0) != (items[j - 1] < 0)}
            tokens = []
            for i in items:
                if i >= 0:
                    tokens.append(int(labels[idx[i]]))
                elif not tokens or tokens[-1] != MARK:
                    tokens.append(MARK)
        else:
            pieces = images[idx]
            tokens = [int(v) for v in labels[idx]]
        photo = render_number(pieces, rng, fine_pen=fine_pen, rules=rules, wide=wide)
        try:
            line = normalise_line(find_ink(photo))
        except InputError:
            continue
        if line is None:
            continue
        lines[done] = np.round(line.image * 255.0).astype(np.uint8)
        out_labels[done, : len(tokens)] = tokens
        out_lengths[done] = len(tokens)
        done += 1
        if progress is not None and done % 5000 == 0:
            progress(done, count)
    return lines, out_labels, out_lengths
