"""A photo's number as a fixed-size line image: what the sequence reader reads, at run time and in training.

:func:`normalise_line` is the ONE path from a photo's ink to the reader model's input. The
reader (:func:`edgedigits_runtime.read.read_number`) calls it on the ink of a photo, and the
toolkit's training data generator (``edgedigits.train.numbers``) calls it on the ink of its
synthetic renderings, so the model is trained on exactly what it sees on the device:

1. the ink (:func:`~edgedigits_runtime.preprocess.find_ink`: polarity, uneven light, threshold,
   components) of the working image;
2. marks: lines of ruled or squared paper crossing the digits, an underline the digits touch or
   cross and the four sides of a form field's box the digits touch (erased except where a digit's stroke
   meets them), ruled lines and frames apart from the digits
   (an underline, a form field's box), components
   much smaller than the line's digits (specks) and blobs touching the border (when others remain)
   are dropped; more digit-sized marks than a number has is an
   error (a page of text, dozens of blobs), not a 40-digit answer;
3. a fine pen's strokes, much thinner for the digits' height than MNIST's (:data:`_THIN`), are drawn about as
   thick as the reader's training strokes (:func:`_thickened`; other ink is left as it is);
   digits taller than about :data:`_TALL` pixels are shrunk first (every later step costs per pixel);
4. the kept marks' ink only (a little around their strokes), scaled so its 90th percentile
   is 1 and the noise floor 0;
5. the marks' box with a margin of :data:`_MARGIN` line heights, resized to :data:`LINE_HEIGHT`
   pixels tall keeping the aspect ratio (or to :data:`LINE_WIDTH` wide when longer, centred
   vertically), left-aligned in a :data:`LINE_HEIGHT` x :data:`LINE_WIDTH` field.

:class:`Line` keeps how the field maps back to the ink's pixels (for per-digit boxes).

Example:

>>> grey, scale, origin = load_image_scaled("meter.jpg")              # doctest: +SKIP
>>> line = normalise_line(find_ink(grey))                             # doctest: +SKIP
>>> line.image.shape, line.image.dtype                                # doctest: +SKIP
((32, 192), dtype('float32'))
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edgedigits_runtime.errors import InputError

__all__ = ["FRAME", "LINE_HEIGHT", "LINE_WIDTH", "MAX_DIGITS", "MAX_MARKS", "Line", "line_rows", "normalise_line"]

LINE_HEIGHT = 32  # the reader model's input: this many pixels tall ...
LINE_WIDTH = 192  # ... and this wide (a 6-digit number takes about 110 of them)
FRAME = 4  # the reader gives one output per this many columns (48 frames)
MAX_MARKS = 40  # digit-sized marks considered (more: the photo is not of one number)
MAX_DIGITS = 20  # longest number read (the answer is bounded too: see read.py)
_SPECK = 0.3  # marks smaller than this fraction of the line height in both directions are specks
_MARGIN = 0.12  # the line's box is widened by this many line heights on each side
_RULE = 8  # a component this many times longer than thick is a ruled line (when also _RULE_LONG x the marks' height)
_RULE_LONG = 1.5
_RULE_RUN = 1.5  # a straight ink run this many digit heights long and within _RULE_TILT degrees of level ...
_RULE_TILT = 12
_RULE_SPAN = 0.8  # ... and as long as most of the marks' width (an underline, a ruled line; not two 7s' bars)
_RULE_PAST = 0.06  # ... reaching this many digit heights past the other ink at both ends
_RULE_THIN = 0.25  # ... and at most this many digit heights thick is a rule, also where digits touch it
_RULE_BARE = 0.4  # ... bare (no digit's stroke on it) along at least this share of its length
_FRAME_SIDE = 0.7  # a box the digits touch: straight lines this share of its width / height long ...
_FRAME_EDGE = 0.2  # ... within this share of its height / width of each side of its bounding box
_FRAME_NEAR = 1.0  # ... its upright sides erased only this many rule thicknesses (_RULE_THIN) from its left and right
_PAGE_RULE = 0.5  # a thin line across the photo, straight over this share of it, is a line of ruled paper ...
_PAGE_THIN = 0.04  # ... when at most this share of the photo's short side thick
_PAGE_PAST = 0.02  # ... and reaching this share of the photo past the other ink at both ends
_EDGE_SIZE = (0.6, 1.4)  # a mark touching the photo's edge this many times as tall as the marks inside is a digit
_DOT = (0.08, 0.35)  # a decimal point: a round, filled blob this many digit heights across, on the baseline between digits
_DOT_LOW = 0.06  # ... its bottom at most this many digit heights below theirs (a comma's tail reaches further)
_DOT_INK = 0.004  # ... holding as much ink as a disc 0.07 digit heights across as dark as its neighbours' strokes
_ERASED_NEAR = 2  # ... and not within this many pixels of ink erased with an underline (a piece of it left over)
_BAR = (0.25, 1.5)  # a minus: a level bar this many digit heights long, at mid-height, just before the first digit
_ROWS = 2.5  # marks spread over more than this many digit heights are not one line of a number
_THIN = 0.05  # strokes thinner than this many digit heights (their ink per length of stroke) are a fine pen's ...
# (seed 11: scenes.py's thin pens 0.024-0.044, every other number photo of the benchmarks 0.053 or more)
_THICKEN_TO = 0.14  # ... drawn about this thick before reading (the reader learnt MNIST's strokes, about 0.1-0.15)
_TALL = 48  # digits taller than this (working pixels) are shrunk to about _SHRINK_TO first
_SHRINK_TO = 36


@dataclasses.dataclass
class Line:
    """A number's ink as the reader model's input, and how it maps back.

    Attributes:
      image: float32 (:data:`LINE_HEIGHT`, :data:`LINE_WIDTH`), ink 1, background 0, left-aligned.
      width: columns of ``image`` that hold the line (the rest is padding).
      factor: line pixels per pixel of ``ink``.
      x0, y0: the top-left of the line's box in ``ink``'s pixels (may be negative: the margin).
      top: rows of padding above the line in ``image`` (when a long line was fitted to the width).
      ink: the :class:`~edgedigits_runtime.preprocess.Ink` the line was cut from (possibly shrunk).
      mask: bool, ``ink``'s shape: the kept marks' pixels.
      height: the digits' typical height in ``ink``'s pixels.
      signs: ``(symbol, (x0, y0, x1, y1))`` in ``ink``'s pixels, left to right: a minus (``"-"``) before the
        number and decimal points (``"."``) between its digits, found by their shape and place (:func:`_signs`);
        their ink is not in ``image``.
      thickened: True when a fine pen's strokes were drawn thicker (:func:`_thickened`).
    """

    image: np.ndarray
    width: int
    factor: float
    x0: int
    y0: int
    top: int
    ink: object
    mask: np.ndarray
    height: float
    signs: tuple = ()
    thickened: bool = False

    def columns_to_ink(self, c0: float, c1: float) -> tuple[int, int]:
        """Columns [c0, c1) of ``image`` as columns of ``ink`` (clipped to it)."""
        w = self.ink.shape[1]
        a = int(np.floor(self.x0 + c0 / self.factor))
        b = int(np.ceil(self.x0 + c1 / self.factor))
        return max(0, min(a, w)), max(0, min(b, w))


def normalise_line(ink, label: str = "image", *, thicken: bool = True) -> Line | None:
    """The marks of a working image's ink as the reader's fixed-size line image.

    Args:
      ink: an :class:`~edgedigits_runtime.preprocess.Ink` (:func:`~edgedigits_runtime.preprocess.find_ink`).
      label: what to call the image in errors.
      thicken: draw a fine pen's strokes thicker (:func:`_thickened`; False: the strokes as they are).

    Returns:
      a :class:`Line`, or None when no mark is large enough to be a digit.

    Raises:
      InputError: more digit-sized marks than a number of at most :data:`MAX_DIGITS` digits has, or
        marks that do not form one line.
    """
    from edgedigits_runtime.decode import require_image_libs
    from edgedigits_runtime.preprocess import shrink_ink

    cv2 = require_image_libs()
    ink = _without_page_rules(ink)
    marks, height = _marks(ink, label)
    if not marks:
        return None
    thick = _thickened(ink, marks, height) if thicken else None
    if thick is not None:  # a fine pen: strokes as wide as the reader's training strokes, then the marks again
        ink = thick
        marks, height = _marks(ink, label)
    if height > _TALL:
        ink = shrink_ink(ink, _SHRINK_TO / height)
        marks, height = _marks(ink, label)
        if not marks:
            return None
    ruled = _without_rules(ink, marks, height)
    erased = None
    if ruled is not None:  # an underline the digits touch, ruled paper crossing them: gone, then the marks again
        erased = (ink.labels > 0) & (ruled.labels == 0)
        ink = ruled
        marks, height = _marks(ink, label)
        if not marks:
            return None
    signs = _signs(ink, marks, height, erased)
    if signs:  # read as "-" and "." by their place, not by the reader (which never learnt them)
        marks = [m for m in marks if m not in {i for i, _, _ in signs}]
    stats = ink.stats
    x0, y0, x1, y1 = _marks_box(stats, marks)
    if y1 - y0 > _ROWS * height:
        raise InputError(f"{label}: the marks found are spread over {(y1 - y0) / height:.1f} digit heights, not one line "
                         "of a number (several lines, text, a patterned surface?); crop to the number (--roi)")
    h, w = ink.shape
    sub = (slice(max(y0 - 2, 0), min(y1 + 2, h)), slice(max(x0 - 2, 0), min(x1 + 2, w)))
    keep = _marks_mask(ink, marks, sub)
    near = cv2.dilate(keep, np.ones((3, 3), np.uint8), iterations=1)
    crop = ink.ink[sub]
    values = crop[keep.view(bool)]
    level = float(np.percentile(values, 90)) if len(values) else 1.0
    floor = max(3.0 * ink.sigma, 0.15 * level)
    clean = (crop - np.float32(floor)) * np.float32(1.0 / max(level - floor, 1e-6))
    np.clip(clean, 0.0, 1.0, out=clean)
    clean *= near
    # the box with its margin, in ink pixels; the crop above starts at (sub[1].start, sub[0].start)
    m = max(2, round(_MARGIN * height))
    bx0, by0, bx1, by1 = x0 - m, y0 - m, x1 + m, y1 + m
    box = np.zeros((by1 - by0, bx1 - bx0), np.float32)
    cy, cx = sub[0].start, sub[1].start
    box[cy - by0 : cy - by0 + clean.shape[0], cx - bx0 : cx - bx0 + clean.shape[1]] = clean
    bh, bw = box.shape
    factor = LINE_HEIGHT / bh
    out_h, out_w = LINE_HEIGHT, max(1, round(bw * factor))
    if out_w > LINE_WIDTH:
        factor = LINE_WIDTH / bw
        out_h, out_w = max(1, round(bh * factor)), LINE_WIDTH
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    small = cv2.resize(box, (out_w, out_h), interpolation=method)
    image = np.zeros((LINE_HEIGHT, LINE_WIDTH), np.float32)
    top = (LINE_HEIGHT - out_h) // 2
    image[top : top + out_h, :out_w] = small
    mask = np.zeros(ink.shape, bool)
    mask[sub] = keep.view(bool)
    return Line(image, out_w, factor, bx0, by0, top, ink, mask, height,
                tuple((symbol, box) for _, symbol, box in signs), thick is not None)


def line_rows(ink, label: str = "image") -> list:
    """The digit-sized marks of a working image's ink in rows, each row as an ink of its own (marks that
    :func:`normalise_line` refuses as not one line can then be read a line at a time).

    Marks whose vertical extents overlap are one row (transitively).

    Args:
      ink: an :class:`~edgedigits_runtime.preprocess.Ink`.
      label: what to call the image in errors.

    Returns:
      a list of :class:`~edgedigits_runtime.preprocess.Ink`, top to bottom: the same image with only one row's
      marks labelled (the other marks' pixels cleared); empty when no mark is large enough to be a digit.

    Raises:
      InputError: more digit-sized marks than a number of at most :data:`MAX_DIGITS` digits has.
    """
    from edgedigits_runtime.decode import require_image_libs

    cv2 = require_image_libs()
    ink = _without_page_rules(ink)
    marks, _ = _marks(ink, label)
    stats = ink.stats
    rows: list[list] = []
    for y0, y1, mark in sorted((int(stats[m, 1]), int(stats[m, 1] + stats[m, 3]), m) for m in marks):
        if rows and y0 < rows[-1][1]:
            rows[-1][1] = max(rows[-1][1], y1)
            rows[-1][2].append(mark)
        else:
            rows.append([y0, y1, [mark]])
    out = []
    for _, _, ids in rows:
        lut = np.zeros(len(stats), np.int32)
        lut[ids] = np.arange(1, len(ids) + 1)
        labels = lut[ink.labels]
        others = cv2.dilate(((ink.labels > 0) & (labels == 0)).astype(np.uint8), np.ones((3, 3), np.uint8))
        values = np.where(others.view(bool) & (labels == 0), np.float32(0.0), ink.ink)
        out.append(dataclasses.replace(ink, ink=values, labels=labels, stats=stats[[0, *ids]]))
    return out


def _marks_box(stats: np.ndarray, marks: list[int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the box around the components ``marks`` (ids into OpenCV ``stats``), x1 and y1 exclusive."""
    x0 = int(min(stats[m, 0] for m in marks))
    y0 = int(min(stats[m, 1] for m in marks))
    x1 = int(max(stats[m, 0] + stats[m, 2] for m in marks))
    y1 = int(max(stats[m, 1] + stats[m, 3] for m in marks))
    return x0, y0, x1, y1


def _marks_mask(ink, marks: list[int], region) -> np.ndarray:
    """uint8 0/1: which pixels of ``ink.labels[region]`` (a pair of slices) belong to the components ``marks``."""
    lut = np.zeros(len(ink.stats), np.uint8)
    lut[marks] = 1
    return lut[ink.labels[region]]


def _stroke_width(ink, marks: list[int], cv2) -> float:
    """The marks' stroke width in pixels: twice their ink (each pixel's share of the strokes' 90th-percentile
    darkness, so a faint, blurred 1-pixel line counts as the line it is) over their outlines' length."""
    stats = ink.stats
    x0, y0, x1, y1 = _marks_box(stats, marks)
    mask = _marks_mask(ink, marks, np.s_[y0:y1, x0:x1])
    values = ink.ink[y0:y1, x0:x1][mask.view(bool)]
    if not len(values):
        return 0.0
    level = float(np.percentile(values, 90))
    mass = float(np.minimum(values * np.float32(1.0 / max(level, 1e-6)), 1.0).sum())
    outlines, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    length = sum(cv2.arcLength(c, True) for c in outlines)
    return 2.0 * mass / max(length, 1.0)


def _thickened(ink, marks: list[int], height: float):
    """The ink with a fine pen's strokes drawn thicker (None when the strokes are not much thinner than the
    reader's training strokes: the ink is then left as it is).

    Strokes thinner than :data:`_THIN` digit heights (:func:`_stroke_width`; MNIST's are about 0.1-0.15, a
    fine pen's in a photo of digits 1/6 of its height 0.02-0.04) are dilated to about :data:`_THICKEN_TO`: all
    the ink in the marks' box (a thin stroke's faint stretches may have broken off as specks).
    """
    from edgedigits_runtime.decode import require_image_libs
    from edgedigits_runtime.preprocess import thicken_ink

    cv2 = require_image_libs()
    width = _stroke_width(ink, marks, cv2)
    radius = round((_THICKEN_TO * height - width) / 2)
    if width >= _THIN * height or radius < 1:
        return None
    x0, y0, x1, y1 = _marks_box(ink.stats, marks)
    where = np.zeros(ink.shape, bool)
    where[y0:y1, x0:x1] = ink.labels[y0:y1, x0:x1] > 0
    return thicken_ink(ink, where, radius)


def _signs(ink, marks: list[int], height: float, erased: np.ndarray | None = None
           ) -> list[tuple[int, str, tuple[int, int, int, int]]]:
    """A minus before the number and decimal points between its digits: ``(component id, symbol, box)``, left to right.

    Digits here are the marks at least half a digit height tall. A **decimal point** is a component (a speck
    or a mark) :data:`_DOT` digit heights across, round (at most twice as wide as tall, at most 1.4 times as tall
    as wide: not a comma), filled (half its box or more) and dark (:data:`_DOT_INK`), sitting in the gap between
    two digits (overlapping neither by more than a quarter of its width) with its bottom from 0.25 digit heights
    above theirs to :data:`_DOT_LOW` below (a comma reaches further down), its centre in their lowest 30% and no
    mark above it (a colon, the rest of a broken digit), nor within :data:`_ERASED_NEAR` pixels of the ink
    ``erased`` (bool, ``ink``'s shape) took away with an underline (a piece of the rule or of a stroke lying along
    it, left between two digits). A **minus** is a mark :data:`_BAR` digit heights long, at
    least 1.6 times longer than tall and at most 0.3 digit heights thick, left of every digit and at most a digit
    height before the first, its centre in the middle of the digits' height (25-80% down from their median top to
    their median bottom); two such bars (``=``) are not a minus. Neither is a 7's bar or a 5's hat (over their
    digit, and at its top).
    """
    stats = ink.stats
    x, y, bw, bh, area = (stats[:, i].astype(np.float64) for i in range(5))
    digits = sorted((m for m in marks if bh[m] >= 0.5 * height), key=lambda m: x[m])
    if not digits:
        return []
    height = max(height, float(np.median(bh[digits])))  # a minus beside one digit counts in the line's height

    def box(i):
        return int(x[i]), int(y[i]), int(x[i] + bw[i]), int(y[i] + bh[i])

    def values(i):  # the component's ink
        x0, y0, x1, y1 = box(i)
        return ink.ink[y0:y1, x0:x1][ink.labels[y0:y1, x0:x1] == i]

    found = []
    size = np.maximum(bw, bh)
    lo, hi = _DOT
    dots = np.flatnonzero((size >= lo * height) & (size <= hi * height) & (bh <= 1.4 * bw) & (bw <= 2 * bh)
                          & (area >= np.maximum(0.5 * bw * bh, 4)))
    centres = np.array([x[d] + bw[d] / 2 for d in digits])
    for i in dots:
        if i == 0 or i in digits:
            continue
        cx = x[i] + bw[i] / 2
        k = int(np.searchsorted(centres, cx))
        if k == 0 or k == len(digits):
            continue
        left, right = digits[k - 1], digits[k]
        if x[i] < x[left] + bw[left] - 0.25 * bw[i] or x[i] + bw[i] > x[right] + 0.25 * bw[i]:
            continue
        base = (y[left] + bh[left] + y[right] + bh[right]) / 2
        tall = (bh[left] + bh[right]) / 2
        if not -0.25 * height <= y[i] + bh[i] - base <= _DOT_LOW * height or y[i] + bh[i] / 2 < base - 0.3 * tall:
            continue
        level = np.percentile(np.concatenate([values(left), values(right)]), 90)
        if values(i).sum() < _DOT_INK * level * height * height:
            continue  # a faint speck, the blurred end of a broken thin stroke
        above = (x < x[i] + bw[i]) & (x + bw > x[i]) & (y + bh <= y[i]) & (y >= base - 1.5 * tall)
        above[[0, i, left, right]] = False
        if above.any():  # a colon, a semicolon, a piece of a broken digit above it: not a decimal point
            continue
        if erased is not None and _ERASED_NEAR >= 0:
            x0, y0, x1, y1 = box(i)
            r = _ERASED_NEAR
            if erased[max(y0 - r, 0) : y1 + r, max(x0 - r, 0) : x1 + r].any():
                continue  # what is left of an underline erased beside it (or of a stroke lying along it): not a point
        found.append((int(i), ".", box(i)))
    first = digits[0]
    top, bottom = float(np.median(y[digits])), float(np.median(y[digits] + bh[digits]))
    lo, hi = _BAR
    middle = y + bh / 2
    bar = ((bw >= lo * height) & (bw <= hi * height) & (bw >= 1.6 * bh) & (bh <= 0.3 * height)
           & (x + bw <= x[first] + 0.1 * height) & (x[first] - (x + bw) <= height)
           & (middle >= top + 0.25 * (bottom - top)) & (middle <= top + 0.8 * (bottom - top)))
    bars = [m for m in marks if bar[m] and m != first]
    if len(bars) == 1 and all(x[m] >= x[bars[0]] for m in marks):
        found.append((bars[0], "-", box(bars[0])))
    return sorted(found, key=lambda f: f[2][0])


def _marks(ink, label) -> tuple[list[int], float]:
    """Component ids that may be (parts of) digits, left to right, and the digits' height (ink pixels)."""
    stats = ink.stats[1:]
    h, w = ink.shape
    ids = np.arange(1, len(ink.stats))
    if not len(ids):
        return [], 0.0
    ruled = _rules_and_frames(ink, ids, stats)
    if ruled.any():  # an underline, ruled paper, a form field's box: not part of the number
        ids, stats = ids[~ruled], stats[~ruled]
        if not len(ids):
            return [], 0.0
    x, y, bw, bh, area = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3], stats[:, 4]
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    if inside.any() and area[inside].max() >= 0.2 * area.max():  # page edges, shadows: only when digits remain
        inside |= _at_the_edge(inside, x, y, bw, bh, area)
        ids, x, y, bw, bh, area = ids[inside], x[inside], y[inside], bw[inside], bh[inside], area[inside]
    big = area >= 0.25 * area.max()
    height = _line_height(ink, ids[big], ink.stats[ids[big]])
    keep = ((bh >= _SPECK * height) | (bw >= _SPECK * height)) & (area >= 0.02 * height * height)
    if keep.sum() > MAX_MARKS:
        raise InputError(f"{label}: {int(keep.sum())} separate marks the size of digits, more than a number of at most "
                         f"{MAX_DIGITS} digits has (a page of text, a patterned surface?); crop to the number (--roi)")
    order = np.argsort(x[keep] + bw[keep] / 2, kind="stable")
    return [int(i) for i in ids[keep][order]], max(height, 4.0)


def _at_the_edge(inside, x, y, bw, bh, area) -> np.ndarray:
    """Which components touching the photo's border are digits of the number written up to its edge (bool per
    component): about as tall as the large marks inside (:data:`_EDGE_SIZE`), not wider than tall by much, in
    their row and at most a digit height from one of them; page edges, shadows and objects cut by the frame are
    longer or elsewhere."""
    if inside.all():
        return ~inside
    big = inside & (area >= 0.25 * area[inside].max())
    tall = float(np.median(bh[big]))
    top, bottom = float(np.min(y[big])), float(np.max(y[big] + bh[big]))
    centre = y + bh / 2
    left, right = x[big], x[big] + bw[big]
    gap = np.min(np.maximum(left[None, :] - (x + bw)[:, None], x[:, None] - right[None, :]), axis=1)
    lo, hi = _EDGE_SIZE
    return (~inside & (bh >= lo * tall) & (bh <= hi * tall) & (bw <= hi * tall) & (centre > top) & (centre < bottom)
            & (area >= 0.25 * area[inside].max()) & (gap <= tall))


def _rules_and_frames(ink, ids, stats) -> np.ndarray:
    """Which components are ruled lines or frames, not marks of the number (bool per id).

    A rule (an underline, a line of ruled paper, a meter's edge) is at least :data:`_RULE` times longer than
    its thickness, the 90th percentile of its ink's span across it, straight or slanted, and at least
    :data:`_RULE_LONG` times longer than the other marks are tall (so a thin 1 or a minus stays). A frame (a form
    field's box) is a component whose ink lies along its bounding box's edges and whose box holds the
    centre of a mark at least a third of its height. A rule touching a digit is one component with it and stays.
    """
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    shape = np.zeros(len(ids), bool)
    length = np.maximum(bw, bh)
    cx, cy = x + bw / 2, y + bh / 2
    for i in np.flatnonzero(length >= _RULE * 2):
        own = ink.labels[y[i] : y[i] + bh[i], x[i] : x[i] + bw[i]] == ids[i]
        if length[i] >= _RULE * _span90(own if bw[i] >= bh[i] else own.T):  # thickness across the rule
            shape[i] = True
            continue
        band = max(2, round(0.15 * min(bw[i], bh[i])))
        inner = own[band:-band, band:-band]
        holds = (cx > x[i] + band) & (cx < x[i] + bw[i] - band) & (cy > y[i] + band) & (cy < y[i] + bh[i] - band)
        holds &= bh >= bh[i] / 3
        holds[i] = False
        if inner.size and holds.any() and inner.sum() <= 0.15 * own.sum():
            shape[i] = True
    if not shape.any() or shape.all():  # nothing to tell them from: keep everything
        return np.zeros(len(ids), bool)
    others = ~shape & (area >= 0.1 * area[~shape].max())
    return shape & (length >= _RULE_LONG * float(np.median(bh[others])))


def _without_rules(ink, marks: list[int], height: float):
    """The ink without straight, thin, nearly level lines longer than any digit's stroke, even where digits touch
    or cross them (an underline the digits reach); None when there is none.

    Only when some mark is at least :data:`_RULE_RUN` digit heights and :data:`_RULE_SPAN` of the marks' width
    wide (a rule apart from the digits is dropped whole by :func:`_rules_and_frames`; this one is joined to them).
    Straight segments of the marks' pixels at least that long and within :data:`_RULE_TILT` degrees of level
    (Hough transform) whose ink is at most :data:`_RULE_THIN` digit heights thick (over the segment's columns)
    and which reach :data:`_RULE_PAST` digit heights past the rest of the ink at both ends (the bars of two
    touching 7s, a letter's stroke do not) are erased, a pixel wider each side, except in the columns where a
    digit's stroke meets them (the ink there is thicker than the rule): the digits keep their strokes. A form
    field's box the digits touch (one of those marks) loses its four sides the same way (:func:`_frame_sides`).
    """
    from edgedigits_runtime.decode import require_image_libs
    from edgedigits_runtime.preprocess import erase_ink

    stats = ink.stats
    x0, _, x1, _ = _marks_box(stats, marks)
    span = x1 - x0
    length = max(12, round(_RULE_RUN * height), round(_RULE_SPAN * span))
    wide = [m for m in marks if stats[m, 2] >= length]  # the rule is one of these, or part of one: look only there
    if not wide:
        return None
    cv2 = require_image_libs()
    h, w = ink.shape
    x0, y0, x1, y1 = _marks_box(stats, wide)
    x0, y0, x1, y1 = max(x0 - 2, 0), max(y0 - 2, 0), min(x1 + 2, w), min(y1 + 2, h)
    mask = _marks_mask(ink, marks, np.s_[y0:y1, x0:x1])  # the marks only (rules and frames apart from the digits are gone already)
    found = _straight_lines(mask, length, _RULE_THIN * height, _RULE_PAST * height, cv2)
    erase = np.zeros((h, w), np.uint8)
    if found is not None:
        erase[y0:y1, x0:x1] = found
    for m in wide:  # a form field's box the digits touch: one component with them, its sides never reach past them
        frame = _frame_sides(ink, m, _RULE_THIN * height, cv2)
        if frame is not None:
            fx, fy, fw, fh = (int(v) for v in stats[m, :4])
            erase[fy : fy + fh, fx : fx + fw] |= frame
    return erase_ink(ink, erase.view(bool)) if erase.any() else None


def _frame_sides(ink, comp: int, thin: float, cv2) -> np.ndarray | None:
    """Where to erase a form field's box that digits touch (uint8 0/1 over the component's box; None: not a box).

    The component ``comp`` is such a box when straight, thin lines run along all four sides of its bounding box
    (:func:`_box_sides`: level ones along its top and bottom, upright ones along its left and right). They are
    erased as a rule is, except where a digit's stroke meets them; upright lines further than :data:`_FRAME_NEAR`
    times ``thin`` from the box's left and right edges are not its sides (a 1 standing beside one) and stay.
    """
    x, y, bw, bh = (int(v) for v in ink.stats[comp, :4])
    pad = round(thin) + 4  # the sides lie on the box's edges: room around them to measure their thickness
    own = np.pad((ink.labels[y : y + bh, x : x + bw] == comp).view(np.uint8), pad)
    level = _box_sides(own, bw, bh, pad, thin, cv2)
    upright = None if level is None else _box_sides(np.ascontiguousarray(own.T), bh, bw, pad, thin, cv2)
    if upright is None:
        return None
    if _FRAME_NEAR > 0:  # only the outermost upright lines are its sides: a 1 standing beside one stays
        near = round(_FRAME_NEAR * thin)
        upright[pad + near : pad + bw - near] = 0
    return (level | upright.T)[pad:-pad, pad:-pad]


def _box_sides(mask: np.ndarray, along: int, across: int, pad: int, thin: float, cv2) -> np.ndarray | None:
    """A box's two level sides in ``mask`` (uint8 0/1, a box ``along`` x ``across`` pixels padded by ``pad``): where to
    erase straight lines at least :data:`_FRAME_SIDE` of ``along`` long (:func:`_straight_lines`, without the
    "reaching past the digits" test: a box's sides end at its corners), or None unless they lie within
    :data:`_FRAME_EDGE` of ``across`` of both its top and its bottom."""
    found = _straight_lines(mask, round(_FRAME_SIDE * along), thin, -np.inf, cv2)
    if found is None:
        return None
    rows = np.flatnonzero(found.any(axis=1)) - pad
    edge = _FRAME_EDGE * across
    return found if rows[0] < edge and rows[-1] >= across - edge else None


def _without_page_rules(ink):
    """The ink without the lines of ruled or squared paper that cross the digits (the same ink when there are none).

    A line of the paper, straight and thin, runs across the whole photo (a component from one edge to the other;
    straight for :data:`_PAGE_RULE` of the way at least; side to side, or top to bottom for a squared paper's
    columns); where digits cross it, it is one component with them, so neither the
    digits nor the line can be told apart afterwards (every component is then as long as a rule). Such segments at
    most :data:`_PAGE_THIN` of the photo's short side thick are erased as :func:`_without_rules` erases an
    underline (not where a digit's stroke meets them).
    """
    from edgedigits_runtime.decode import require_image_libs
    from edgedigits_runtime.preprocess import erase_ink

    h, w = ink.shape
    x, y, bw, bh = (ink.stats[1:, i] for i in range(4))
    wide, tall = (x == 0) & (x + bw >= w), (y == 0) & (y + bh >= h)  # across the whole photo
    if not (wide.any() or tall.any()):
        return ink
    cv2 = require_image_libs()
    thin = _PAGE_THIN * min(h, w)
    erase = np.zeros((h, w), np.uint8)
    for along, ids, size in ((False, wide, w), (True, tall, h)):
        if not ids.any():
            continue
        lut = np.zeros(len(ink.stats), np.uint8)
        lut[1:][ids] = 1
        mask = lut[ink.labels]
        found = _straight_lines(np.ascontiguousarray(mask.T) if along else mask, round(_PAGE_RULE * size), thin,
                                _PAGE_PAST * size, cv2)
        if found is not None:
            erase |= found.T if along else found
    return erase_ink(ink, erase.view(bool)) if erase.any() else ink


def _straight_lines(mask: np.ndarray, length: int, thin: float, past: float, cv2) -> np.ndarray | None:
    """Where to erase straight, nearly level lines in a 0/1 uint8 mask (uint8 0/1, or None: none found).

    Segments at least ``length`` long within :data:`_RULE_TILT` degrees of level (Hough transform), at most
    ``thin`` thick (:func:`_rule_thickness`), bare along :data:`_RULE_BARE` of their length or more and reaching ``past`` pixels past
    the rest of their component's ink at both ends (columns with at least 3 of its pixels); erased a pixel wider
    each side, except in the columns where a stroke meets them (the ink there is thicker).
    """
    # The Hough transform sees only ink in level runs a little longer than a rule is thick (a rule, a digit's bar):
    # a fraction of the strokes, so it costs a fraction of the ~1 ms it takes on all of them.
    level = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, round(1.2 * thin)), 1)))
    if cv2.countNonZero(level) < length:
        return None
    segments = cv2.HoughLinesP(level, 1, np.pi / 180, length, minLineLength=length, maxLineGap=2)
    if segments is None:
        return None
    h, w = mask.shape
    parts = cv2.connectedComponents(mask, connectivity=8)[1]  # "the rest of the ink": the rule's own component's
    reach = max(3, round(thin) + 2)
    offsets = np.arange(-reach, reach + 1)
    erase = np.zeros((h, w), np.uint8)
    slope = np.tan(np.deg2rad(_RULE_TILT))
    for x0, y0, x1, y1 in segments.reshape(-1, 4):
        if x1 == x0 or abs(y1 - y0) > slope * abs(x1 - x0):
            continue
        cols = np.arange(min(x0, x1), max(x0, x1) + 1)
        rows = np.round(y0 + (cols - x0) * (y1 - y0) / (x1 - x0)).astype(np.int64)
        window = mask[np.clip(rows[None, :] + offsets[:, None], 0, h - 1), cols[None, :]].view(bool)
        thick, runs = _rule_thickness(window, reach)
        if not thick or thick > thin or np.count_nonzero((runs > 0) & (runs <= thick + 2)) < _RULE_BARE * len(runs):
            continue  # not a thin line, bare along much of its length
        line = np.zeros((h, w), np.uint8)
        cv2.line(line, (int(x0), int(y0)), (int(x1), int(y1)), 1, max(1, round(thick)) + 2)
        band = line.copy()
        band[:, cols[runs > thick + 2]] = 0  # where a digit's stroke meets the rule, its ink stays
        own = np.unique(parts[line.view(bool)])
        other = np.isin(parts, own[own > 0]) & ~line.view(bool)  # the rest of its component's ink ...
        rest = np.flatnonzero(other.sum(axis=0) >= 3)  # ... not counting a rough edge of the rule itself
        if len(rest) and min(rest[0] - cols[0], cols[-1] - rest[-1]) < past:
            continue  # a rule reaches past the digits at both ends (two touching 7s' bars, a z's base do not)
        erase |= band
    return erase if erase.any() else None


def _rule_thickness(window: np.ndarray, centre: int) -> tuple[float, np.ndarray]:
    """A rule's thickness from the ink around it (bool rows x columns, the rule near row ``centre``), and per column
    the run of ink through the rule (from the row nearest the centre that has ink; 0: none there): the runs' 25th
    percentile (where a digit touches or crosses the rule the run is longer); 0 when most columns have no ink there."""
    runs = np.zeros(window.shape[1], np.int64)
    for row in (centre, centre - 1, centre + 1):
        up = np.cumprod(window[row::-1], axis=0).sum(axis=0)
        down = np.cumprod(window[row:], axis=0).sum(axis=0)
        runs = np.where(runs > 0, runs, np.maximum(up + down - 1, 0))
    inked = runs[runs > 0]
    return (float(np.percentile(inked, 25)) if len(inked) >= 0.5 * len(runs) else 0.0), runs


def _line_height(ink, ids, stats) -> float:
    """The digits' height: the median over the large marks of their height, or, for a mark much wider
    than tall (a run of touching digits, taller than one digit on a wavy or slanted line), the
    90th percentile of its columns' spans from top to bottom ink pixel."""
    heights = []
    for comp, (x, y, w, h) in zip(ids, stats[:, :4]):
        if w <= 1.3 * h:
            heights.append(float(h))
            continue
        heights.append(max(_span90(ink.labels[y : y + h, x : x + w] == comp), 0.6 * h))
    return float(np.median(heights))


def _span90(own: np.ndarray) -> float:
    """The 90th percentile over ``own``'s inked columns of the span from their first to their last ink pixel."""
    has = own.any(axis=0)
    first = own.argmax(axis=0)
    last = own.shape[0] - 1 - own[::-1].argmax(axis=0)
    return float(np.percentile((last - first + 1)[has], 90))
