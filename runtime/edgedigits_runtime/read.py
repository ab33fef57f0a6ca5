"""Read a whole handwritten number from a photo with a sequence model (CTC), left to right.

Cutting a number into digits before recognising them fails as soon as neighbouring digits
touch or overlap (no cut is right), so :func:`read_number` does not cut. It reads the whole line:

1. the photo's ink (the same front end as :func:`~edgedigits_runtime.preprocess.preprocess_image`:
   decode, polarity, uneven light, threshold, components);
2. the number's line image (:func:`edgedigits_runtime.line.normalise_line`: specks and border
   blobs dropped, the marks' box resized to the reader's fixed 32x192 input); the reader model was
   trained on synthetic numbers passed through exactly this function; a fine pen's strokes are drawn thicker
   there, and when the strokes as they are read as nothing (a thin ring, a line drawing), so does the photo;
3. the reader (``models/reader_int8.tflite``, a small fully-convolutional int8 network) gives,
   for each 4-pixel column of the line, the probabilities of the ten digits, of a non-digit mark
   (a letter, a symbol, a scribble, a stain: it was trained on such marks alone and among digits)
   and of "nothing here" (the CTC blank);
4. decoding over :data:`SHIFTS`: the line is read at several places against the reader's 4-pixel frames (moved
   right by 0-3 pixels, one reader call); each copy's greedy CTC reading (:func:`ctc_greedy`: the most likely
   symbol per column, repeats merged, blanks dropped, neighbouring marks one mark; a frame with no ink under it
   is the blank: digits written wide apart leave empty gaps the reader's training lines did not have) is a
   candidate, and the candidate whose CTC likelihood summed over the copies is highest wins (its frames: the
   drawn line's own when it is that line's greedy reading, else a forced alignment on the copies' mean
   probabilities, :func:`ctc_align`); with ``digits=N`` the candidates are each copy's most likely reading with
   exactly N digits (:func:`ctc_best_of_length`). A mark reads ``?`` (not a digit); a reading of
   marks only (or of nothing), or a line whose non-blank probability is more than :data:`MARK_SHARE`
   the mark's (:data:`MARK_SHARE_SHORT` for a reading of at most :data:`SHORT_DIGITS` digits: a letter or a
   symbol the reader half takes for a digit), is empty: "no digits found";
5. each digit's box: the columns from the least-inked column between it and its left neighbour's
   peak to the one before its right neighbour, mapped back to the photo and shrunk to the ink
   in them; its confidence: its probability at its peak column. A digit below the ``threshold``
   reads ``?`` (not a digit);
6. for a reading of one digit (:data:`GATE_MAX_DIGITS`; :data:`USE_GATE` turns it off): "not a digit" by the
   classifier too (a letter, a symbol or a shape the reader takes for one digit; on longer readings it cost
   numbers, see RESULTS.md): each position's ink, prepared by the photo path's own 28x28 field step
   (:func:`~edgedigits_runtime.preprocess.field_of_parts`), goes to the digit classifier (the
   shipped ``default_int8.tflite``, or the :class:`~edgedigits_runtime.DigitClassifier` passed)
   in one batch. A position is refused when the classifier's calibrated "not a digit" rule
   refuses it, or, when its ink is connected to a neighbour's (touching digits: its field holds
   parts of the neighbour, which the classifier was taught to refuse), only when the score is
   below :data:`GATE_SHARED` — unless that run of connected positions is narrower than
   :data:`GATE_NARROW` line heights per digit (one letter read as several digits, M -> 111;
   touching handwritten digits are wider). When every position is refused, nothing in the photo is a digit
   (a letter, a symbol, an object): the reading is empty ("no digits found"). A refused position
   standing alone whose reader confidence is below :data:`GATE_CONFIDENCE` reads ``?``.

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
import threading

import numpy as np

from edgedigits_runtime.errors import InputError, UsageError
from edgedigits_runtime.line import FRAME, MAX_DIGITS, MAX_MARKS, line_rows, normalise_line
from edgedigits_runtime.reader import (
    MARK,
    NumberReader,
    ctc_align,
    ctc_best_of_length,
    ctc_greedy,
    ctc_log_likelihood,
    digit_boxes,
    load_reader,
)

__all__ = ["MAX_DIGITS", "MAX_MARKS", "DigitReading", "FileReading", "NumberReader", "NumberReading", "SignReading",
           "read_files", "read_number"]
_MIN_WIDTH = 0.25  # a digit is at least this many line heights wide (bounds --digits N by the ink's width)
# "Not a digit" (chosen on the seed-11 photos, see RESULTS.md "Reading numbers (issue 10)"): each read position's ink
# also goes to the digit classifier; when it refuses every position, the photo has no digits.
GATE_SHARED = 0.05  # a position whose ink touches a neighbour's counts as refused only below this classifier score
GATE_NARROW = 0.45  # ... unless its run of connected positions is narrower than this (line heights per position)
MARK_SHARE = 0.15  # a line whose non-blank probability is more than this share "mark" has no number (seed 11)
# ... and a reading of at most SHORT_DIGITS digits whose line is more than this share "mark" (letters and symbols
# read as one or two digits; of 1,307 right 1-2 digit readings of seed-11 photos none passed 0.12, two passed 0.1:
# RESULTS.md, seventh session)
MARK_SHARE_SHORT = 0.12
SHORT_DIGITS = 2
INK_LEVEL = 32  # a frame whose columns of the line image are all below this (of 255) holds no ink: only the blank
# Also ask the digit classifier about each position (step 6)? On every reading it refused 2-6 points more no-digit
# photos but cost 0.7 points of numbers and 2.6 of 2-digit numbers (seed 11); on one-digit readings only it keeps
# most of those refusals and costs no number (RESULTS.md "the sequence reader").
USE_GATE = True
GATE_MAX_DIGITS = 1  # ... only for readings of at most this many digits
GATE_CONFIDENCE = 0.5  # a refused position standing alone shows ? when the reader's own confidence is below this
# Read each line several times (step 4): the line image moved right by each of these many pixels (the line as drawn
# first: SHIFTS[0] is 0), one reader call on all of them; (0,) reads the line once with greedy decoding, as before.
# K=4 (0-3 px) was chosen in the eleventh session by a rule written before the figures, on fresh tuning seeds 60, 80
# and 120 against (0,): 3-6 digit numbers +18 of 1,800 net, all 43 tuning sets +82 of 16,350, no-digit sets +4,
# no number set below -2, 6-digit read within 10 ms and +3 ms on a quiet machine (RESULTS.md, "Eleventh session").
SHIFTS = (0, 1, 2, 3)
_default = None
_gate = None
_default_lock = threading.Lock()


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
class SignReading:
    """A minus before the number or a decimal point between its digits (found by shape and place, see line.py).

    Attributes:
      box: (x, y, w, h) of its ink in the photo's pixels.
      symbol: ``"-"`` or ``"."``.
      index: how many of the number's positions stand before it (0 for a minus).
    """

    box: tuple[int, int, int, int]
    symbol: str
    index: int

    def to_dict(self) -> dict:
        return {"box": list(self.box), "symbol": self.symbol, "index": self.index}


@dataclasses.dataclass(frozen=True)
class NumberReading:
    """A number read from a photo.

    Attributes:
      number: the digits left to right, ``?`` for a rejected position, with a leading ``-`` and ``.``
        between digits where :attr:`signs` has them; ``""`` when nothing in the photo reads as a digit.
      confidence: the product of the positions' confidences (how likely every digit is right);
        0.0 when nothing was read.
      digits: one :class:`DigitReading` per position, left to right.
      signs: one :class:`SignReading` per minus or decimal point, left to right.
    """

    number: str
    confidence: float
    digits: tuple[DigitReading, ...] = ()
    signs: tuple[SignReading, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready: ``{"number", "confidence", "digits": [{"box", "label", "confidence", "not_a_digit"}, ...],
        "signs": [{"box", "symbol", "index"}, ...]}``."""
        return {"number": self.number, "confidence": self.confidence, "digits": [d.to_dict() for d in self.digits],
                "signs": [s.to_dict() for s in self.signs]}


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
      classifier: the :class:`NumberReader` to read with (default: the shipped one). A
        :class:`~edgedigits_runtime.DigitClassifier` means the shipped reader too (numbers are
        read by the sequence model, not digit by digit); it also decides "not a digit" on a
        one-digit reading (:data:`USE_GATE`, :data:`GATE_MAX_DIGITS`; default: the shipped classifier).
      digits: the number's length when known (1 to :data:`MAX_DIGITS`): the best reading with
        exactly that many digits.
      roi: (x, y, w, h) in the photo's pixels: read only this region (as meter readers do).
      threshold: a digit read with a lower probability shows as ``?`` ("not a digit"; None: the
        reader's own level, :data:`MIN_CONFIDENCE` unless its manifest entry says otherwise).
      name: what to call the image in error messages.

    Returns:
      a :class:`NumberReading` (``number == ""`` when the photo has ink but no digit: no
      digit-sized marks, or every position refused as "not a digit").

    Raises:
      InputError: not an image (as ``preprocess_image``), a blank photo ("no digits found"),
        more marks than a number has (dozens of blobs, a page of text), a reading longer
        than :data:`MAX_DIGITS`, a line too short for ``digits``.
      UsageError: ``digits``, ``roi``, ``threshold`` or ``classifier`` is not valid.
    """
    from edgedigits_runtime.classifier import DigitClassifier
    from edgedigits_runtime.decode import load_image_scaled
    from edgedigits_runtime.preprocess import find_ink

    roi = check_read_options(digits, roi, threshold, classifier)
    reader = classifier if isinstance(classifier, NumberReader) else _default_reader()
    label = name or (str(image) if isinstance(image, (str, os.PathLike)) else "image")
    grey, scale, origin = load_image_scaled(image, name, roi)
    try:
        ink = find_ink(grey, label)
    except InputError as exc:
        if "no ink found" not in str(exc):
            raise
        raise InputError(str(exc).replace("no ink found", "no digits found", 1)) from None
    gate = classifier if isinstance(classifier, DigitClassifier) else None
    try:
        line = normalise_line(ink, label)
    except InputError as exc:  # marks not on one line: an error, unless no row of them reads as a digit
        if "not one line" not in str(exc) or not reader.reads_marks:
            raise
        if _rows_hold_digits(ink, reader, gate, threshold, scale, origin, label):
            raise  # digits on several lines: keep the reason
        return NumberReading("", 0.0, ())
    if line is None:
        return NumberReading("", 0.0, ())
    reading = _read_line(line, reader, gate, digits, threshold, scale, origin, label)
    if line.thickened and reading.number:
        # A fine pen's strokes were drawn thicker: a thin ring or line drawing (an object, a letter) may then read
        # as a digit. When the strokes as they are read as nothing, the answer stays "no digits found" (seed 11:
        # 3 of 300 photographed objects kept, no thin-pen number lost; RESULTS.md, eighth session).
        try:
            plain = normalise_line(ink, label, thicken=False)
            nothing = plain is None or not _read_line(plain, reader, gate, digits, threshold, scale, origin, label).number
        except InputError:
            nothing = False
        if nothing:
            return NumberReading("", 0.0, ())
    return reading


def _rows_hold_digits(ink, reader, gate, threshold, scale, origin, label: str) -> bool:
    """Whether marks spread over several lines hold a digit: each row of them (:func:`line_rows`) read alone as a
    line, with every decision a one-line reading gets (:func:`_read_line`: mark share, the classifier ``gate`` for
    short readings); a row refused in turn (not one line itself, more digits than a number has) counts as digits."""
    try:
        for row in line_rows(ink, label):
            line = normalise_line(row, label)
            if line is not None and _read_line(line, reader, gate, None, threshold, scale, origin, label).number:
                return True
    except InputError:
        return True
    return False


def _read_line(line, reader, gate, digits, threshold, scale, origin, label: str) -> NumberReading:
    """Steps 3-6 of :func:`read_number` on a line: the reader, decoding, "no digits found", boxes, the gate."""
    images = _renderings(np.round(line.image * 255.0).astype(np.uint8))
    every = np.stack([_blank_without_ink(p, image) for p, image in zip(reader.frame_probs(images), images)])
    probs = every[0]  # the line as normalise_line drew it: boxes, confidences and "no digits found" come from it
    share = _mark_share(probs)
    if share > MARK_SHARE:  # the reader sees mostly non-digit marks (a letter, a word, a stain): no number here
        return NumberReading("", 0.0, ())
    if digits is not None:
        most = int(line.width / (_MIN_WIDTH * line.height * line.factor))
        if digits > most:
            raise InputError(f"{label}: cannot find {digits} digits (the ink is wide enough for about {max(most, 1)} at "
                             "most); check --digits or the photo")
    found, probs = _decode(every, digits)
    count = sum(symbol != MARK for symbol, _ in found)
    if count > MAX_DIGITS:
        raise InputError(f"{label}: read {count} digits, more than the {MAX_DIGITS} a number may have (specks, "
                         "ruled lines or text?); crop to the number (--roi) or photograph it closer")
    if not count:  # nothing, or only non-digit marks (letters, symbols, stains)
        return NumberReading("", 0.0, ())
    if count <= SHORT_DIGITS and share > MARK_SHARE_SHORT:  # a digit or two the reader half takes for marks: a letter
        return NumberReading("", 0.0, ())
    level = reader.threshold if threshold is None else float(threshold)
    boxes = digit_boxes(line, probs, found)
    marks = np.array([symbol == MARK for symbol, _ in found], bool)
    # a digit's confidence: its probability at its peak; a mark's: the best digit's there (what it leaned to)
    confidences = [float(probs[frames, symbol].max()) if symbol != MARK else float(probs[frames, :MARK].max())
                   for symbol, frames in found]
    refused, shared = _decide(line, boxes, marks, gate, label)
    if refused[~marks].all():  # nothing in the photo is a digit (a letter, a symbol, an object): as for ink without digits
        return NumberReading("", 0.0, ())
    total = scale * line.ink.scale

    def photo_box(box):
        x0, y0, x1, y1 = box
        return (int(origin[0] + math.floor(x0 / total)), int(origin[1] + math.floor(y0 / total)),
                max(1, round((x1 - x0) / total)), max(1, round((y1 - y0) / total)))

    out = []
    for (symbol, _), box, confidence, no, alone, mark in zip(found, boxes, confidences, refused, ~shared, marks):
        rejected = bool(mark or confidence < level or (no and alone and confidence < GATE_CONFIDENCE))
        out.append(DigitReading(photo_box(box), None if rejected else int(symbol), confidence, rejected))
    centres = [(x0 + x1) / 2 for x0, _, x1, _ in boxes]
    signs = tuple(SignReading(photo_box(box), symbol, 0 if symbol == "-" else
                              sum(c < (box[0] + box[2]) / 2 for c in centres)) for symbol, box in line.signs)
    text = ["?" if d.not_a_digit else str(d.label) for d in out]
    for sign in reversed(signs):  # right to left: each index counts digit positions only
        text.insert(sign.index, sign.symbol)
    return NumberReading("".join(text), float(np.prod([d.confidence for d in out])), tuple(out), signs)


def _renderings(image8: np.ndarray) -> np.ndarray:
    """uint8 (len(:data:`SHIFTS`), 32, 192): the line image moved right by each of :data:`SHIFTS` pixels.

    The reader's frames are :data:`~edgedigits_runtime.line.FRAME` pixels wide: a reading depends on where the
    strokes fall against them. A line whose ink reaches the last columns it would be moved past stays as drawn.
    """
    out = np.zeros((len(SHIFTS),) + image8.shape, np.uint8)
    width = image8.shape[1]
    for i, shift in enumerate(SHIFTS):
        if shift > 0 and image8[:, width - shift :].max(initial=0) < INK_LEVEL:
            out[i, :, shift:] = image8[:, : width - shift]
        else:
            out[i] = image8  # not moved, or no room to move it
    return out


def _decode(every: np.ndarray, digits: int | None) -> tuple[list[tuple[int, np.ndarray]], np.ndarray]:
    """Read step 4 over the renderings' frame probabilities ``every`` (renderings, frames, classes; the first is
    the line as drawn): the reading whose CTC likelihood, summed in logs over the renderings, is the highest among
    each rendering's own reading (:func:`ctc_greedy`, or :func:`ctc_best_of_length` with ``digits``).

    Returns:
      (found, probs): the reading as :func:`ctc_greedy` gives it, and the frame probabilities its frames, boxes and
      confidences come from: the first rendering's when it is that rendering's own reading (with its own frames),
      else the renderings' mean (they move the line by less than a frame), aligned by :func:`ctc_align`.
    """
    scored = every
    if digits is None:
        readings = [ctc_greedy(p) for p in every]
    else:
        readings = [ctc_best_of_length(p, digits) for p in every]
        if every.shape[2] == MARK + 2:  # n digits asked for: a mark is nothing, as ctc_best_of_length counts it
            scored = np.concatenate([every[..., :MARK], every[..., MARK:].sum(axis=2, keepdims=True)], axis=2)
    candidates = list(dict.fromkeys(tuple(symbol for symbol, _ in found) for found in readings if found or digits is None))
    if len(candidates) <= 1 or (digits is not None and not readings[0]):
        return readings[0], every[0]
    best = candidates[int(np.argmax(ctc_log_likelihood(scored, candidates).sum(axis=1)))]
    if best == tuple(symbol for symbol, _ in readings[0]):
        return readings[0], every[0]
    return ctc_align(scored.mean(axis=0), best), every.mean(axis=0)


def _default_gate():
    global _gate
    with _default_lock:
        if _gate is None:
            from edgedigits_runtime.classifier import load_default

            _gate = load_default()
        return _gate


def _blank_without_ink(probs: np.ndarray, image8: np.ndarray) -> np.ndarray:
    """``probs`` with every symbol's probability moved to the blank in frames whose columns hold no ink.

    A digit or a non-digit mark is ink. In the empty gap between two digits written further apart
    than the reader's training lines, the reader may still emit a mark (``7  2  1`` read as ``7?21``,
    or as "no digits found" when such marks outweigh the digits) or a digit (``0484`` read as
    ``03484``); there it can only be the blank. (Chosen on the seed-11 photos: only the frames
    themselves, not their neighbours; RESULTS.md "the sequence reader".)
    """
    columns = image8.max(axis=0)[: len(probs) * FRAME].reshape(len(probs), FRAME).max(axis=1)
    empty = columns < INK_LEVEL
    if not empty.any():
        return probs
    probs = probs.copy()
    blank = probs.shape[1] - 1
    probs[empty, blank] += probs[empty, :blank].sum(axis=1)
    probs[empty, :blank] = 0.0
    return probs


def _mark_share(probs: np.ndarray) -> float:
    """The mark's share of the line's non-blank probability (0 for a reader without a mark output)."""
    if probs.shape[1] != MARK + 2:
        return 0.0
    ink = float(probs[:, :MARK + 1].sum())
    return float(probs[:, MARK].sum()) / ink if ink > 0 else 0.0


def _decide(line, boxes, marks, gate, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(refused, shared) per read position: the "not a digit" decision (read.py step 6).

    Marks (positions the reader itself read as non-digit) are refused; so are the positions the
    classifier ``gate`` (None: the shipped one) refuses when the reading has at most :data:`GATE_MAX_DIGITS`
    digits, unless :data:`USE_GATE` is off; a classifier without a "not a digit" rule refuses nothing.
    """
    refused = marks.copy()
    shared = np.zeros(len(boxes), bool)
    if not USE_GATE or int((~marks).sum()) > GATE_MAX_DIGITS:
        return refused, shared
    scores, _, gate_level, shared = _gate_scores(line, boxes, gate or _default_gate(), label)
    if gate_level is not None:  # a field holding parts of a touching neighbour is refused only when nearly sure
        refused |= scores < np.where(shared, min(GATE_SHARED, gate_level), gate_level)
    return refused, shared


def _gate_scores(line, boxes, gate, label: str) -> tuple[np.ndarray, np.ndarray, float | None, np.ndarray]:
    """The digit classifier's view of each read position: (scores, labels, threshold, shared).

    Each position's ink (the kept marks' pixels inside its box, in ``line.ink``) goes through the
    photo path's own 28x28 field step (:func:`~edgedigits_runtime.preprocess.field_of_parts`), all
    positions in one batched :meth:`~edgedigits_runtime.DigitClassifier.classify`. ``scores`` is
    the classifier rule's score (higher = more digit-like; -1 where the ink is too faint or small
    for a field), ``labels`` its top digit (-1 there), ``threshold`` its rule's level (None: a
    model without a "not a digit" rule), ``shared`` True where the position's ink is connected
    to another position's (touching digits: its field holds parts of a neighbour) — unless that run
    of connected positions is narrower than :data:`GATE_NARROW` line heights per position (one
    letter read as several digits, M -> 111, not touching digits).
    """
    from edgedigits_runtime.preprocess import field_of_parts

    ink = line.ink
    fields, where, parts = [], [], []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        ids = np.unique(ink.labels[y0:y1, x0:x1][line.mask[y0:y1, x0:x1]])
        ids = ids[ids > 0]
        parts.append(set(ids.tolist()))
        if not len(ids):
            continue
        lo = np.full(y1 - y0, x0, np.int64)
        hi = np.full(y1 - y0, x1, np.int64)
        try:
            fields.append(field_of_parts(ink, [(int(c), (x0, y0, x1, y1, lo, hi)) for c in ids], label))
        except InputError:
            continue
        where.append(i)
    scores = np.full(len(boxes), -1.0, np.float32)
    labels = np.full(len(boxes), -1, np.int64)
    threshold = None
    if fields:
        result = gate.classify(np.stack(fields))
        scores[where] = result.score
        labels[where] = result.probs.argmax(axis=1)
        threshold = result.threshold
    shared = np.array([any(p & q for j, q in enumerate(parts) if j != i) for i, p in enumerate(parts)], bool)
    narrow = np.zeros(len(boxes), bool)
    start = 0
    for i in range(1, len(boxes) + 1):  # runs of neighbouring positions whose ink is connected
        if i == len(boxes) or not parts[i] & parts[i - 1]:
            if i - start >= 2:
                width = (boxes[i - 1][2] - boxes[start][0]) / max(line.height, 1e-6) / (i - start)
                narrow[start:i] = width < GATE_NARROW
            start = i
    return scores, labels, threshold, shared & ~narrow


def _default_reader() -> NumberReader:
    global _default
    with _default_lock:
        if _default is None:
            _default = load_reader()
        return _default


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
        """JSON-ready: path, number, confidence, digits, signs (the reading's :meth:`NumberReading.to_dict`), error when failed."""
        if self.reading is None:
            return {"path": self.path, "number": None, "confidence": None, "digits": [], "signs": [], "error": self.error}
        return {"path": self.path, **self.reading.to_dict()}


def read_files(items, classifier, *, digits: int | None = None, roi=None, threshold: float | None = None,
               stdin=None) -> list[FileReading]:
    """Read the number in each of some image files.

    Example:

    >>> [r.as_dict()["number"] for r in read_files(["meters/"], load_default())]   # doctest: +SKIP
    ['2048', '0917']

    Args:
      items: paths, folders, globs or ``"-"`` (as :func:`~edgedigits_runtime.predict.expand_inputs`); one path alone too.
      classifier: the :class:`NumberReader` (None or a DigitClassifier: the shipped one; as :func:`read_number`).
      digits, roi, threshold: as :func:`read_number` (the same for every file).
      stdin: where ``"-"`` reads image bytes from (default ``sys.stdin.buffer``).

    Returns:
      one :class:`FileReading` per file, in input order; a bad file carries ``error`` and the others go on.

    Raises:
      UsageError: no inputs, ``"-"`` twice, bad ``digits``/``roi``/``threshold``/``classifier``.
      BackendUnavailableError: OpenCV or Pillow is not installed.
    """
    from edgedigits_runtime.decode import require_image_libs
    from edgedigits_runtime.errors import EdgeDigitsError
    from edgedigits_runtime.predict import check_inputs, iter_sources

    items = check_inputs(items)
    roi = check_read_options(digits, roi, threshold, classifier)
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
            result.error = f"{path}: cannot read it ({exc.strerror or exc})"
    return results


# --------------------------------------------------------------------------- options


def check_read_options(digits, roi, threshold, classifier=None):
    """Check :func:`read_number`'s options up front (``read_files`` and ``watch`` check them the same way).

    Args:
      digits, roi, threshold, classifier: as :func:`read_number` takes them.

    Returns:
      the checked ``roi`` (a tuple of four ints, or None).

    Raises:
      UsageError: one of them is not valid (the message names it and what it takes).
    """
    from edgedigits_runtime.classifier import DigitClassifier
    from edgedigits_runtime.reject import check_threshold

    if classifier is not None and not isinstance(classifier, (NumberReader, DigitClassifier)):
        raise UsageError(f"classifier must be a NumberReader, a DigitClassifier or None (the shipped reader); got "
                         f"{type(classifier).__name__} (a reader model file: NumberReader(path))")

    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, (int, np.integer))
                               or not 1 <= digits <= MAX_DIGITS):
        raise UsageError(f"digits must be a whole number from 1 to {MAX_DIGITS}; got {digits!r}")
    roi = _check_roi(roi)
    if threshold is not None:
        check_threshold(threshold)
    return roi


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
