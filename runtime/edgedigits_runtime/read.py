"""Read a whole handwritten number from a photo: recognition-guided segmentation.

Connected components alone fail as soon as neighbouring digits touch, overlap or a digit
is written in two strokes (a 5's hat, a 7's bar). :func:`read_number` over-segments and
lets the classifier choose:

1. the photo's ink (the same front end as :func:`~edgedigits_runtime.preprocess.preprocess_image`:
   polarity, uneven light, Otsu, components);
2. marks: components much smaller than the line's digits (specks) and blobs touching the
   border are dropped; the line height is the typical height of the large marks;
3. atoms: each mark, and a mark wider than a digit is cut at the minima of its ink's
   column profile (touching digits) and at even splits (overlapping strokes leave no minimum);
4. candidates: every run of 1 to :data:`_MAX_RUN` neighbouring atoms no wider than a digit
   is turned into a 28x28 field and all of them are classified in one batch;
5. the best reading by dynamic programming: the sum over the chosen candidates of the log
   probability of their top digit (low for "not a digit" shapes, a merge of two digits or
   half a digit), with penalties for candidates much shorter than the line, much wider than
   a digit, or cut through thick ink; small marks (dots, dashes) may be left out.

The chosen candidates go through :meth:`~edgedigits_runtime.DigitClassifier.classify` (the
model's "not a digit" rule: a rejected position reads ``?``).

Example:

>>> from edgedigits_runtime import read_number
>>> reading = read_number("meter.jpg")                         # doctest: +SKIP
>>> reading.number, round(reading.confidence, 2)               # doctest: +SKIP
('2048', 0.97)
>>> reading.to_dict()["digits"][0]                             # doctest: +SKIP
{'box': [112, 80, 41, 66], 'label': 2, 'confidence': 0.99, 'not_a_digit': False}
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from edgedigits_runtime.errors import InputError, UsageError

__all__ = ["MAX_DIGITS", "MAX_MARKS", "DigitReading", "FileReading", "NumberReading", "read_files", "read_number"]

MAX_DIGITS = 20  # longest number read (longer answers are refused, not truncated)
MAX_MARKS = 40  # digit-sized marks considered (more: the photo is not of one number)
_MAX_RUN = 4  # atoms one digit may be made of
_MAX_ATOMS = 3 * MAX_DIGITS  # atoms after cutting
_SPECK = 0.3  # marks smaller than this fraction of the line height in both directions are specks
_SHORT = 0.55  # a candidate shorter than this fraction of the line is not a digit on its own
_WIDE = 1.1  # wider than this many line heights: more than one digit
_SKIP = -2.5  # cost of leaving a small mark out of the number
_LINE = 36  # digits are read at about this height (pixels)
_SPLIT = 1.0  # marks wider than this many line heights may hold more than one digit
_BAND = 0.25  # a cut may wander this many line heights from where it starts
_MARGIN = 0.15  # cuts at least this many line heights apart and from a mark's ends
_SPLITS = (0.55, 0.8)  # even splits of a wide mark into digits this many line heights wide
# Scoring, chosen on 300 synthetic numbers (seed 11, not the benchmark's photos) with the shipped model
# and with a "not a digit" model (outlier exposure): both peaked here.
_BONUS = 1.0  # per digit read (against the bias of summed log probabilities to fewer, merged digits)
_WIDE_COST = 4.0  # per line height of width beyond _WIDE
_CUT_COST = 0.3  # per stroke width of ink a cut crosses
_CUT_BASE = 0.5  # per cut through a mark (two digits touching is less likely than one digit)
_OVERLAP_COST = 3.0  # for starting a new digit at a mark that overlaps the previous one (share of the narrower)
_default = None


@dataclasses.dataclass(frozen=True)
class DigitReading:
    """One position of a number.

    Attributes:
      box: (x, y, w, h) of its ink in the photo's pixels (EXIF-rotated photo; ``roi`` offset included).
      label: the digit, None when the classifier rejected it ("not a digit").
      confidence: probability of the top digit (also when rejected: what the model leaned to).
      not_a_digit: True when rejected (the number shows ``?`` here).
    """

    box: tuple[int, int, int, int]
    label: int | None
    confidence: float
    not_a_digit: bool

    def to_dict(self) -> dict:
        return {"box": list(self.box), "label": self.label, "confidence": self.confidence,
                "not_a_digit": self.not_a_digit}


@dataclasses.dataclass(frozen=True)
class NumberReading:
    """A number read from a photo.

    Attributes:
      number: the digits left to right, ``?`` for a rejected position; ``""`` when nothing in
        the photo reads as a digit.
      confidence: the product of the positions' confidences (how likely every digit is right);
        0.0 when nothing was read.
      digits: one :class:`DigitReading` per position, left to right.
    """

    number: str
    confidence: float
    digits: tuple[DigitReading, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready: ``{"number", "confidence", "digits": [{"box", "label", "confidence", "not_a_digit"}, ...]}``."""
        return {"number": self.number, "confidence": self.confidence, "digits": [d.to_dict() for d in self.digits]}


def read_number(image, classifier=None, *, digits: int | None = None, roi=None, threshold: float | None = None,
                name: str | None = None) -> NumberReading:
    """Read the handwritten number in a photo, left to right.

    Example:

    >>> reading = read_number("meter.jpg", digits=4, roi=(100, 50, 400, 120))   # doctest: +SKIP
    >>> reading.number                                                          # doctest: +SKIP
    '2048'

    Args:
      image: an image file path, its bytes, or an array (as
        :func:`~edgedigits_runtime.preprocess.preprocess_image` takes). Either polarity, uneven
        light, the number anywhere on one line (a wavy baseline is fine).
      classifier: a :class:`~edgedigits_runtime.DigitClassifier` (default: the shipped model).
      digits: the number's length when known (1 to :data:`MAX_DIGITS`): the best reading with
        exactly that many positions.
      roi: (x, y, w, h) in the photo's pixels: read only this region (as meter readers do).
      threshold: "not a digit" below this top-digit probability (None: the model's calibrated
        rule, if it has one; see :meth:`~edgedigits_runtime.DigitClassifier.classify`).
      name: what to call the image in error messages.

    Returns:
      a :class:`NumberReading`.

    Raises:
      InputError: not an image (as ``preprocess_image``), a blank photo ("no digits found"),
        more marks than a number has (dozens of specks, a page of text), a reading longer
        than :data:`MAX_DIGITS`, fewer marks than ``digits``.
      UsageError: ``digits``, ``roi`` or ``threshold`` is not valid.
    """
    from edgedigits_runtime.preprocess import find_ink, load_image_scaled

    roi = _check_options(digits, roi, threshold)
    label = name or (str(image) if isinstance(image, (str, os.PathLike)) else "image")
    grey, scale, origin = load_image_scaled(image, name, roi)
    try:
        ink = find_ink(grey, label)
    except InputError as exc:
        if "no ink found" not in str(exc):
            raise
        raise InputError(str(exc).replace("no ink found", "no digits found", 1)) from None
    clf = classifier if classifier is not None else _default_classifier()
    return _read(ink, clf, digits, label, scale, origin, threshold)


@dataclasses.dataclass
class FileReading:
    """What one input of :func:`read_files` became.

    Attributes:
      path: the file (``"-"`` for stdin; a pattern or folder that matched nothing).
      reading: the :class:`NumberReading`, None on error.
      error: one-line message when this input failed, else None.
    """

    path: str
    reading: NumberReading | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict:
        """JSON-ready: path, number, confidence, digits (the reading's :meth:`NumberReading.to_dict`), error when failed."""
        if self.reading is None:
            return {"path": self.path, "number": None, "confidence": None, "digits": [], "error": self.error}
        return {"path": self.path, **self.reading.to_dict()}


def read_files(items, classifier, *, digits: int | None = None, roi=None, threshold: float | None = None,
               stdin=None) -> list[FileReading]:
    """Read the number in each of some image files.

    Example:

    >>> [r.as_dict()["number"] for r in read_files(["meters/"], load_default())]   # doctest: +SKIP
    ['2048', '0917']

    Args:
      items: paths, folders, globs or ``"-"`` (as :func:`~edgedigits_runtime.predict.expand_inputs`).
      classifier: a :class:`~edgedigits_runtime.DigitClassifier`.
      digits, roi, threshold: as :func:`read_number` (the same for every file).
      stdin: where ``"-"`` reads image bytes from (default ``sys.stdin.buffer``).

    Returns:
      one :class:`FileReading` per file, in input order; a bad file carries ``error`` and the others go on.

    Raises:
      UsageError: no inputs, ``"-"`` twice, bad ``digits``/``roi``/``threshold``.
      BackendUnavailableError: OpenCV or Pillow is not installed.
    """
    from edgedigits_runtime.errors import EdgeDigitsError
    from edgedigits_runtime.predict import check_inputs, iter_sources
    from edgedigits_runtime.preprocess import require_image_libs

    items = check_inputs(items)
    roi = _check_options(digits, roi, threshold)
    require_image_libs()  # one clear error up front rather than the same one per file
    results = []
    for path, error, source, name in iter_sources(items, stdin):
        result = FileReading(path, error=error)
        results.append(result)
        if error is not None:
            continue
        try:
            result.reading = read_number(source, classifier, digits=digits, roi=roi, threshold=threshold, name=name)
        except EdgeDigitsError as exc:
            result.error = str(exc)
        except OSError as exc:
            result.error = f"cannot read {path}: {exc.strerror or exc}"
    return results


def _default_classifier():
    global _default
    if _default is None:
        from edgedigits_runtime.classifier import load_default

        _default = load_default()
    return _default


def _check_roi(roi):
    if roi is None:
        return None
    try:
        values = [int(v) for v in roi]
        ok = len(values) == 4 and all(float(v) == float(r) for v, r in zip(values, roi))
    except (TypeError, ValueError):
        ok = False
    if not ok or values[0] < 0 or values[1] < 0 or values[2] < 8 or values[3] < 8:
        raise UsageError(f"roi must be four whole numbers x, y, w, h (x, y >= 0; w, h >= 8 pixels); got {roi!r}")
    return tuple(values)


# --------------------------------------------------------------------------- segmentation


@dataclasses.dataclass
class _Atom:
    comp: int  # component id
    x0: int  # extent of its pixels (working image): columns [x0, x1), rows [y0, y1)
    x1: int
    y0: int
    y1: int
    cut: tuple | None  # None: the whole component; else (x0, y0, x1, y1, lo, hi) as field_of_parts takes
    cut_left: float = 0.0  # ink crossed by the cut on its left (0: the component's own edge), in stroke widths
    cut_right: float = 0.0
    cut_in: bool = False  # its left edge is a cut through a mark

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


def _check_options(digits, roi, threshold):
    """Check ``digits``, ``roi`` and ``threshold`` up front; returns the checked ``roi``."""
    from edgedigits_runtime.reject import check_threshold

    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, (int, np.integer))
                               or not 1 <= digits <= MAX_DIGITS):
        raise UsageError(f"digits must be a whole number from 1 to {MAX_DIGITS}; got {digits!r}")
    roi = _check_roi(roi)
    if threshold is not None:
        check_threshold(threshold)
    return roi


def _read(ink, clf, digits, label, scale, origin, threshold) -> NumberReading:
    marks, line = _marks(ink, label)
    if not marks:
        return NumberReading("", 0.0, ())
    if line > _LINE * 1.25:  # digits this tall only cost time: read them at about _LINE pixels
        from edgedigits_runtime.preprocess import shrink_ink

        ink = shrink_ink(ink, _LINE / line)
        scale *= ink.scale
        marks, line = _marks(ink, label)
        if not marks:
            return NumberReading("", 0.0, ())
    atoms = _atoms(ink, marks, line)
    if len(atoms) > _MAX_ATOMS:
        raise InputError(f"{label}: {len(marks)} marks cut into {len(atoms)} pieces: too many for a number of at most "
                         f"{MAX_DIGITS} digits; crop to the number (--roi) or photograph it closer")
    spans, fields, shapes = _candidates(ink, atoms, line)
    if not spans:
        return NumberReading("", 0.0, ())
    probs = clf.predict_proba(np.stack(fields))
    scores = np.log(np.maximum(probs.max(axis=1), 1e-6)) + shapes
    path = _best_path(len(atoms), spans, scores, atoms, line, digits, label)
    if not path:
        return NumberReading("", 0.0, ())
    if len(path) > MAX_DIGITS:
        raise InputError(f"{label}: read {len(path)} digits, more than the {MAX_DIGITS} a number may have (specks, "
                         "ruled lines or text?); crop to the number (--roi) or photograph it closer")
    chosen = clf.classify(np.stack([fields[k] for k in path]), threshold=threshold)
    out = []
    for row, k in enumerate(path):
        i, j = spans[k]
        x0 = min(a.x0 for a in atoms[i:j])
        x1 = max(a.x1 for a in atoms[i:j])
        y0 = min(a.y0 for a in atoms[i:j])
        y1 = max(a.y1 for a in atoms[i:j])
        box = (int(origin[0] + math.floor(x0 / scale)), int(origin[1] + math.floor(y0 / scale)),
               max(1, round((x1 - x0) / scale)), max(1, round((y1 - y0) / scale)))
        rejected = bool(chosen.not_a_digit[row])
        out.append(DigitReading(box, None if rejected else int(chosen.labels[row]), float(chosen.confidence[row]),
                                rejected))
    number = "".join("?" if d.not_a_digit else str(d.label) for d in out)
    confidence = float(np.prod([d.confidence for d in out]))
    return NumberReading(number, confidence, tuple(out))


def _marks(ink, label) -> tuple[list[int], float]:
    """Component ids that may be (parts of) digits, and the line height (working pixels)."""
    stats = ink.stats[1:]
    h, w = ink.shape
    ids = np.arange(1, len(ink.stats))
    x, y, bw, bh, area = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3], stats[:, 4]
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    if inside.any() and area[inside].max() >= 0.2 * area.max():  # page edges, shadows: only when digits remain
        ids, x, y, bw, bh, area = ids[inside], x[inside], y[inside], bw[inside], bh[inside], area[inside]
    big = area >= 0.25 * area.max()
    line = _line_height(ink, ids[big], ink.stats[ids[big]])
    keep = ((bh >= _SPECK * line) | (bw >= _SPECK * line)) & (area >= 0.02 * line * line)
    if keep.sum() > MAX_MARKS:
        raise InputError(f"{label}: {int(keep.sum())} separate marks the size of digits, more than a number of at most "
                         f"{MAX_DIGITS} digits has (a page of text, a patterned surface?); crop to the number (--roi)")
    order = np.argsort(x[keep] + bw[keep] / 2, kind="stable")
    return [int(i) for i in ids[keep][order]], max(line, 4.0)


def _line_height(ink, ids, stats) -> float:
    """The digits' height: the median over the large marks of their height, or, for a mark much wider
    than tall (a run of touching digits, taller than one digit on a wavy or slanted line), the
    90th percentile of its columns' spans from top to bottom ink pixel."""
    heights = []
    for comp, (x, y, w, h) in zip(ids, stats[:, :4]):
        if w <= 1.3 * h:
            heights.append(float(h))
            continue
        own = ink.labels[y : y + h, x : x + w] == comp
        has = own.any(axis=0)
        first = own.argmax(axis=0)
        last = h - 1 - own[::-1].argmax(axis=0)
        heights.append(max(float(np.percentile((last - first + 1)[has], 90)), 0.6 * h))
    return float(np.median(heights))


def _atoms(ink, marks, line) -> list[_Atom]:
    """Marks; a mark wider than a digit cut along the cheapest paths (least ink crossed) from top to
    bottom near the minima of its column profile and near even splits."""
    stats = ink.stats
    atoms = []
    for comp in marks:
        x, y, bw, bh = (int(v) for v in stats[comp, :4])
        if bw <= _SPLIT * line:
            atoms.append(_Atom(comp, x, x + bw, y, y + bh, None))
            continue
        own = ink.labels[y : y + bh, x : x + bw] == comp
        profile = own.sum(axis=0).astype(np.float32)
        stroke = max(1.0, float(np.median(profile[profile > 0])))
        starts = _cut_positions(profile, line)
        if not starts:
            atoms.append(_Atom(comp, x, x + bw, y, y + bh, None))
            continue
        paths, crossed = _cut_paths(own, starts, max(2, round(_BAND * line)))
        cols = np.arange(bw)[None, :]
        lo, lo_cost = np.zeros(bh, np.int64), 0.0
        for k in range(len(paths) + 1):
            hi, hi_cost = (paths[k], float(crossed[k]) / stroke) if k < len(paths) else (np.full(bh, bw), 0.0)
            part = own & (cols >= lo[:, None]) & (cols < hi[:, None])
            rows = np.flatnonzero(part.any(axis=1))
            if len(rows) and int(part.sum()) >= 4:
                used = np.flatnonzero(part.any(axis=0))
                r0, r1 = int(rows[0]), int(rows[-1]) + 1
                c0, c1 = int(used[0]), int(used[-1]) + 1
                cut = (x + c0, y + r0, x + c1, y + r1, x + lo[r0:r1], x + hi[r0:r1])
                atoms.append(_Atom(comp, x + c0, x + c1, y + r0, y + r1, cut, lo_cost, hi_cost, k > 0))
            lo, lo_cost = hi, hi_cost
    atoms.sort(key=lambda a: a.centre)
    return atoms


def _cut_positions(profile: np.ndarray, line: float) -> list[int]:
    """Where a wide mark may hold two digits' boundary: local minima of the (smoothed) column profile,
    plus even splits for the numbers of digits its width suggests (overlapping strokes leave no minimum)."""
    n = len(profile)
    smooth = np.convolve(profile, np.array([1, 2, 3, 2, 1], np.float32) / 9, mode="same")
    margin = max(2, int(_MARGIN * line))
    inner = smooth[margin : n - margin]
    if len(inner) < 3:
        return []
    is_min = np.flatnonzero((inner[1:-1] <= inner[:-2]) & (inner[1:-1] < inner[2:])) + margin + 1
    chosen: list[int] = []
    for i in sorted(is_min.tolist(), key=lambda i: smooth[i]):
        if all(abs(i - c) >= margin for c in chosen):
            chosen.append(i)
    for width in _SPLITS:
        parts = max(2, round(n / (width * line)))
        for k in range(1, parts):
            c = round(k * n / parts)
            if margin <= c <= n - margin and all(abs(c - m) >= margin for m in chosen):
                chosen.append(c)
    return sorted(chosen)


def _cut_paths(own: np.ndarray, starts: list[int], band: int) -> tuple[np.ndarray, np.ndarray]:
    """For each start column, the top-to-bottom path (one column per row, moving at most one column
    per row, within ``band`` of the start) that crosses the least ink. Returns (paths (K, rows), ink crossed (K,))."""
    bh, bw = own.shape
    offsets = np.arange(-band, band + 1)
    k = len(starts)
    cols = np.asarray(starts)[:, None] + offsets[None, :]  # (K, B)
    outside = (cols < 1) | (cols > bw - 1)
    cost = own[:, np.clip(cols, 0, bw - 1)].astype(np.float32)  # (rows, K, B)
    cost[:, outside] = 1e6
    step = np.float32(0.02)
    total = cost[0] + step * np.abs(offsets)[None, :]
    moves = np.empty((bh, k, len(offsets)), np.int8)
    big = np.full((k, 1), np.float32(1e9))
    for r in range(1, bh):
        options = np.stack([np.concatenate([big, total[:, :-1]], axis=1) + step, total,
                            np.concatenate([total[:, 1:], big], axis=1) + step])
        pick = options.argmin(axis=0)
        moves[r] = pick - 1
        total = np.take_along_axis(options, pick[None], axis=0)[0] + cost[r]
    idx = total.argmin(axis=1)
    path = np.empty((k, bh), np.int64)
    rows_k = np.arange(k)
    for r in range(bh - 1, -1, -1):
        path[:, r] = idx
        if r:
            idx = idx + moves[r, rows_k, idx]
    crossed = cost[np.arange(bh)[None, :], rows_k[:, None], path].sum(axis=1)
    absolute = cols[rows_k[:, None], path]
    absolute = np.maximum.accumulate(absolute, axis=0)  # paths never cross: each stays right of the one before
    keep = [0] + [i for i in range(1, k) if np.abs(absolute[i] - absolute[i - 1]).mean() >= 2.0]
    return absolute[keep], crossed[keep]


def _candidates(ink, atoms, line):
    """Runs of neighbouring atoms that could be one digit: (spans, 28x28 fields, shape scores)."""
    from edgedigits_runtime.preprocess import field_of_parts

    spans, fields, shapes = [], [], []
    for i in range(len(atoms)):
        for j in range(i + 1, min(i + _MAX_RUN, len(atoms)) + 1):
            run = atoms[i:j]
            x0, x1 = min(a.x0 for a in run), max(a.x1 for a in run)
            y0, y1 = min(a.y0 for a in run), max(a.y1 for a in run)
            width, height = (x1 - x0) / line, (y1 - y0) / line
            if width > 1.5 and j > i + 1:
                break
            score = _BONUS
            if height < _SHORT:
                score -= 3.0 + 10.0 * (_SHORT - height)
            if width > _WIDE:
                score -= _WIDE_COST * (width - _WIDE)
            score -= _CUT_COST * (run[0].cut_left + run[-1].cut_right)  # cutting through thick ink is unlikely a boundary
            score -= _CUT_BASE * run[0].cut_in
            if i > 0 and not run[0].cut_in:  # a separate mark that overlaps its left neighbour is more of the same digit
                prev = atoms[i - 1]
                overlap = min(prev.x1, run[0].x1) - max(prev.x0, run[0].x0)
                if overlap > 0:
                    score -= _OVERLAP_COST * overlap / max(1, min(prev.x1 - prev.x0, run[0].x1 - run[0].x0))
            try:
                field = field_of_parts(ink, [(a.comp, a.cut) for a in run])
            except InputError:
                continue
            spans.append((i, j))
            fields.append(field)
            shapes.append(score)
    return spans, fields, np.asarray(shapes, np.float32)


def _best_path(n, spans, scores, atoms, line, digits, label) -> list[int]:
    """Candidates covering the atoms left to right with the highest total score (small atoms may be skipped)."""
    ends: dict[int, list[int]] = {}
    for k, (_, j) in enumerate(spans):
        ends.setdefault(j, []).append(k)
    small = [(a.y1 - a.y0) < _SHORT * line for a in atoms]
    m = digits if digits is not None else MAX_DIGITS + 1
    neg = -1e18
    best = np.full((n + 1, m + 1), neg)
    back: dict[tuple[int, int], tuple[int, int, int]] = {}
    best[0, 0] = 0.0
    for j in range(1, n + 1):
        for c in range(m + 1):
            if small[j - 1] and best[j - 1, c] > neg:  # leave atom j-1 out
                best[j, c] = best[j - 1, c] + _SKIP
                back[(j, c)] = (j - 1, c, -1)
            if c == 0:
                continue
            for k in ends.get(j, ()):
                i = spans[k][0]
                if best[i, c - 1] > neg and best[i, c - 1] + scores[k] > best[j, c]:
                    best[j, c] = best[i, c - 1] + scores[k]
                    back[(j, c)] = (i, c - 1, k)
    if digits is not None:
        count = digits
        if best[n, count] <= neg:
            raise InputError(f"{label}: cannot find {digits} digits (the marks found make "
                             f"{int((best[n] > neg).nonzero()[0].max(initial=0))} at most); check --digits or the photo")
    else:
        count = int(np.argmax(best[n]))
        if best[n, count] <= neg:
            return []
    path, j, c = [], n, count
    while j > 0:
        i, c2, k = back[(j, c)]
        if k >= 0:
            path.append(k)
        j, c = i, c2
    return path[::-1]
