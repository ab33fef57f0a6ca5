"""The sequence reader model (whole numbers, CTC) and its decoding, without TensorFlow.

:class:`NumberReader` opens the reader model (``models/reader_int8.tflite``, trained by
``edgedigits train-reader``, shipped by ``scripts/ship_reader_model.py``) through the runtime's
one interpreter layer (:func:`~edgedigits_runtime.backends.open_model`) and turns line images
(:func:`edgedigits_runtime.line.normalise_line`) into per-column probabilities of the ten digits
of a non-digit mark (:data:`MARK`: a letter, a symbol, a scribble, a stain) and of the CTC blank
(last). :func:`ctc_greedy` and :func:`ctc_best_of_length` decode them. (A digits-only reader with 11
outputs, digits and blank, still opens: it never reads a mark.)
:func:`edgedigits_runtime.read.read_number` puts it together.

Example:

>>> reader = load_reader(num_threads=1)                                   # doctest: +SKIP
>>> probs = reader.frame_probs(line_images)     # uint8 (N, 32, 192)      # doctest: +SKIP
>>> [digit for digit, frames in ctc_greedy(probs[0])]                     # doctest: +SKIP
[2, 0, 4, 8]
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from edgedigits_runtime.errors import InputError, ModelError
from edgedigits_runtime.line import FRAME, LINE_HEIGHT, LINE_WIDTH

__all__ = ["DEFAULT_READER", "MARK", "MIN_CONFIDENCE", "NumberReader", "ctc_align", "ctc_best_of_length", "ctc_greedy",
           "ctc_log_likelihood", "digit_boxes", "load_reader"]

DEFAULT_READER = Path(__file__).resolve().parent / "models" / "reader_int8.tflite"
MARK = 10  # the reader's output for a non-digit mark (12 outputs: digits 0-9, mark, CTC blank)
MIN_CONFIDENCE = 0.3  # a digit read with less than this probability is shown as ? (chosen on seed 11 photos; see RESULTS.md)


class NumberReader:
    """The sequence reader model: line images -> per-column digit/mark/blank probabilities.

    Opens through the runtime's one interpreter layer (:func:`~edgedigits_runtime.backends.open_model`),
    checked like a classifier: by the integrity record inside the file and the ``manifest.json``
    beside it. One lock serialises interpreter use, so threads may share a reader.

    Example:

    >>> reader = load_reader(num_threads=1)                      # doctest: +SKIP
    >>> reader.frame_probs(np.zeros((1, 32, 192), np.uint8)).shape  # doctest: +SKIP
    (1, 48, 11)

    Args:
      path: the model file (default: the shipped ``models/reader_int8.tflite``).
      manifest: None (``manifest.json`` beside the model, if any), a manifest path or dict.
      num_threads: interpreter threads (None: the backend's default).
      backend: force a TFLite backend by name (None: the first installed).
      strict: refuse a model that nothing verifies.

    Raises:
      ModelError: missing, not a model, or not a (32, 192) line -> (48, 12) frames reader (or 11: digits-only).
      ModelIntegrityError: the bytes differ from their record or manifest entry.
      BackendUnavailableError: no TFLite interpreter installed.
      UsageError: ``path`` is not a path, ``num_threads`` not 1 to 64 (or None).

    Attributes:
      threshold: default "not a digit" level: the manifest entry's ``min_confidence``, else :data:`MIN_CONFIDENCE`.
      info: path, backend, sha256, verified, input/output details.
    """

    def __init__(self, path=None, manifest=None, num_threads: int | None = None, backend: str | None = None,
                 strict: bool = False):
        from edgedigits_runtime.backends import check_threads
        from edgedigits_runtime.manifest import check_model
        from edgedigits_runtime.modelfile import model_path, read_model

        check_threads(num_threads)
        path = model_path(path) if path is not None else DEFAULT_READER
        if path == DEFAULT_READER and not path.is_file():
            raise ModelError(f"the shipped reader model {path} is missing from this installation: reinstall "
                             "edgedigits-runtime, or pass a reader model with --model")
        data, family = read_model(path)
        self._open(path, data, family, check_model(path, data, manifest, strict=strict), num_threads, backend)

    @classmethod
    def from_bytes(cls, data: bytes, manifest_entry: dict | None = None, *, name: str = "<bytes>",
                   num_threads: int | None = None, backend: str | None = None, strict: bool = False) -> NumberReader:
        """A reader from a model's bytes (checked against ``manifest_entry``, else by the record inside them)."""
        from edgedigits_runtime.manifest import check_alone, check_entry
        from edgedigits_runtime.modelfile import sniff

        data = bytes(data)
        family = sniff(data)
        if family is None:
            raise ModelError(f"{name} is not a TFLite or ONNX model")
        check = check_alone(data, name, strict=strict) if manifest_entry is None else check_entry(data, manifest_entry, name)
        self = cls.__new__(cls)
        self._open(Path(name), data, family, check, num_threads, backend)
        return self

    def _open(self, path, data, family, check, num_threads, backend) -> None:
        from edgedigits_runtime.backends import open_model

        self.path = path
        try:
            self.session = open_model(family, data, num_threads, backend, trusted=check.verified)
        except ModelError as exc:
            if getattr(exc, "unsupported", False):
                raise ModelError(f"{path} {exc}") from None
            raise ModelError(f"{path} is not a valid {family} model ({exc}): re-copy or re-ship it") from None
        reader = f"a number reader (a (N, {LINE_HEIGHT}, {LINE_WIDTH}, 1) line -> (N, frames, 12) model"
        try:
            self.session.check_one_each("a number reader", f"(N, {LINE_HEIGHT}, {LINE_WIDTH}, 1) lines in, (N, frames, 12) out")
        except ModelError as exc:
            raise ModelError(f"{path} {exc}") from None
        spec_in, spec_out = self.session.input, self.session.output
        if tuple(spec_in.shape[1:3]) != (LINE_HEIGHT, LINE_WIDTH) or len(spec_out.shape) != 3 \
                or spec_out.shape[2] not in (11, 12):
            digits = 784 in spec_in.shape or tuple(spec_in.shape[-2:]) == (28, 28) or tuple(spec_in.shape[1:3]) == (28, 28)
            raise ModelError(f"{path} takes {list(spec_in.shape)} and gives {list(spec_out.shape)}: not {reader}, made by "
                             "`edgedigits train-reader`)" + (
                                 "; it looks like a digit classifier (one 28x28 digit): classify single digits with "
                                 "`edgedigits-rt predict --model` (or serve --model); read and watch read whole numbers "
                                 "with the shipped reader: leave out --model" if digits else ""))
        self.reads_marks = spec_out.shape[2] == 12
        self._in_tail = tuple(spec_in.shape[1:])
        levels = np.arange(256, dtype=np.float32) / np.float32(255.0)
        if spec_in.scale is not None:
            info = np.iinfo(spec_in.dtype)
            self._lut = np.clip(np.rint(levels / spec_in.scale) + spec_in.zero_point, info.min, info.max).astype(spec_in.dtype)
        else:
            self._lut = levels.astype(spec_in.dtype)
        self._out = (np.float32(spec_out.scale), np.float32(spec_out.zero_point)) if spec_out.scale is not None else None
        self._lock = threading.Lock()
        entry = check.entry or {}
        self.threshold = float(entry.get("min_confidence", MIN_CONFIDENCE))
        self.manifest = check.manifest
        self.info = {"path": str(path), "kind": "number_reader", "backend": self.session.backend, "num_threads": num_threads,
                     "input_shape": list(spec_in.shape), "output_shape": list(spec_out.shape), "sha256": check.sha256,
                     "verified": check.verified, "manifest": check.source, "record": check.record, "size": len(data),
                     "min_confidence": self.threshold, "reads_marks": self.reads_marks,
                     "holdout": entry.get("holdout")}  # the non-digit kind no training stage drew (None: none/unknown)

    def __repr__(self) -> str:
        return f"NumberReader({str(self.path)!r}, backend={self.info['backend']!r})"

    def frame_probs(self, lines: np.ndarray) -> np.ndarray:
        """uint8 (N, 32, 192) line images (255 = ink) -> float32 (N, frames, 12) probabilities (mark, blank last; 11:
        a digits-only reader)."""
        lines = np.asarray(lines)
        if lines.dtype != np.uint8 or lines.shape[-2:] != (LINE_HEIGHT, LINE_WIDTH):
            raise InputError(f"line images must be uint8 (N, {LINE_HEIGHT}, {LINE_WIDTH}); got {lines.dtype} {lines.shape}")
        x = self._lut[lines].reshape((-1,) + self._in_tail)
        with self._lock:
            y = np.concatenate([self.session.run(x[i : i + 64]) for i in range(0, len(x), 64)]) if len(x) > 1 \
                else np.array(self.session.run(x))
        y = y.astype(np.float32)
        if self._out is not None:
            y = (y - self._out[1]) * self._out[0]
        return y


def load_reader(num_threads: int | None = None, backend: str | None = None) -> NumberReader:
    """The shipped sequence reader (``models/reader_int8.tflite``), checked against its record and manifest."""
    return NumberReader(DEFAULT_READER, num_threads=num_threads, backend=backend)


def ctc_greedy(probs: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Greedy CTC decoding of per-frame probabilities (frames, 12: digits, mark, blank last; or 11: no mark).

    Returns:
      ``[(symbol, frames), ...]`` left to right: each emitted digit (0-9) or :data:`MARK` and the frames
      (indices) of its run of the most likely symbol (repeats merged, blanks dropped). Neighbouring
      marks are one mark (a word is one run of marks; the reader was trained so).
    """
    best = np.asarray(probs).argmax(axis=1)
    blank = probs.shape[1] - 1
    out = []
    start = 0
    for t in range(1, len(best) + 1):
        if t == len(best) or best[t] != best[start]:
            if best[start] != blank:
                if blank == MARK + 1 and best[start] == MARK and out and out[-1][0] == MARK:
                    out[-1] = (MARK, np.concatenate([out[-1][1], np.arange(start, t)]))
                else:
                    out.append((int(best[start]), np.arange(start, t)))
            start = t
    return out


def ctc_best_of_length(probs: np.ndarray, n: int) -> list[tuple[int, np.ndarray]]:
    """The most likely frame-by-frame alignment that reads exactly ``n`` digits (Viterbi over CTC paths).

    The mark's probability counts as the blank's (``n`` digits are asked for: what is not one of
    them is nothing).

    Returns:
      as :func:`ctc_greedy` (digits only); ``[]`` when the frames cannot hold ``n`` digits.
    """
    probs = np.asarray(probs, np.float64)
    if probs.shape[1] == MARK + 2:
        probs = np.concatenate([probs[:, :MARK], probs[:, MARK:].sum(axis=1, keepdims=True)], axis=1)
    frames, classes = probs.shape
    blank = classes - 1
    logp = np.log(np.maximum(probs, 1e-12))
    neg = -1e18
    # score[c, s]: best log probability of a path over the frames so far that has emitted c digits and whose
    # last symbol is s (0-9 digits, 10 blank)
    score = np.full((n + 1, classes), neg)
    score[0, blank] = logp[0, blank]
    if n >= 1:
        score[1, :blank] = logp[0, :blank]
    back = np.zeros((frames, n + 1, classes, 2), np.int16)  # (c before, s before)
    for t in range(1, frames):
        new = np.full_like(score, neg)
        arg = np.zeros((n + 1, classes, 2), np.int16)
        # to blank: from any symbol, same count
        src = score.argmax(axis=1)
        new[:, blank] = score[np.arange(n + 1), src] + logp[t, blank]
        arg[:, blank, 0], arg[:, blank, 1] = np.arange(n + 1), src
        # stay on the same digit: same count
        stay = score[:, :blank]
        # a new digit d: from count c-1 with last symbol blank or a digit other than d
        if n >= 1:
            prev = score[:-1]  # (n, classes)
            best_other = np.full((n, blank), neg)
            best_from = np.zeros((n, blank), np.int16)
            order = np.argsort(-prev, axis=1)[:, :2]  # the two best previous symbols per count
            for d in range(blank):
                pick = np.where(order[:, 0] == d, order[:, 1], order[:, 0])
                best_other[:, d] = prev[np.arange(n), pick]
                best_from[:, d] = pick
            new_digit = np.full((n + 1, blank), neg)
            new_digit[1:] = best_other
            take_new = new_digit > stay
            new[:, :blank] = np.where(take_new, new_digit, stay) + logp[t, :blank][None, :]
            counts = np.arange(n + 1)[:, None].repeat(blank, axis=1)
            arg[:, :blank, 0] = np.where(take_new, counts - 1, counts)
            from_sym = np.zeros((n + 1, blank), np.int16)
            from_sym[1:] = best_from
            arg[:, :blank, 1] = np.where(take_new, from_sym, np.arange(blank)[None, :])
        else:
            new[:, :blank] = stay + logp[t, :blank][None, :]
            arg[:, :blank, 0] = np.arange(n + 1)[:, None]
            arg[:, :blank, 1] = np.arange(blank)[None, :]
        back[t] = arg
        score = new
    s = int(score[n].argmax())
    if score[n, s] <= neg / 2:
        return []
    path = np.empty(frames, np.int64)
    c = n
    for t in range(frames - 1, -1, -1):
        path[t] = s
        if t:
            c, s = int(back[t, c, s, 0]), int(back[t, c, s, 1])
    out = []
    start = 0
    for t in range(1, frames + 1):
        if t == frames or path[t] != path[start]:
            if path[start] != blank:
                out.append((int(path[start]), np.arange(start, t)))
            start = t
    return out


def _extended(labels, blank: int) -> np.ndarray:
    """CTC's extended label sequence: a blank before, between and after the labels."""
    ext = np.full(2 * len(labels) + 1, blank, np.int64)
    ext[1::2] = labels
    return ext


def _transitions(ext: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """(skip, back) per state of an extended sequence: a label may be reached from the label before its blank
    (unless it is the same label); a mark (with 12 outputs) may come again after the blank that follows it
    (neighbouring marks are one mark, as :func:`ctc_greedy` reads them)."""
    skip = np.zeros(len(ext), bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    back = (ext == MARK) & (blank == MARK + 1)
    return skip, back


def ctc_log_likelihood(probs: np.ndarray, candidates) -> np.ndarray:
    """Log-likelihood of each candidate reading under each line's frame probabilities (CTC's forward algorithm).

    Every alignment of a candidate counts (the sum over frame-by-frame paths that read it: repeats merged, blanks
    between), with :func:`ctc_greedy`'s handling of marks: a mark (:data:`MARK`) written in several runs of frames
    with blanks between is one mark.

    Args:
      probs: float (lines, frames, classes) probabilities (12 classes: digits, mark, blank last; 11: no mark).
      candidates: readings, each a sequence of symbols (digits, :data:`MARK`), at least one.

    Returns:
      float64 (candidates, lines): the natural log of each candidate's probability under each line; ``-inf`` where
      the frames cannot hold it.
    """
    probs = np.asarray(probs, np.float64)
    lines, frames, classes = probs.shape
    blank = classes - 1
    size = 2 * max(len(c) for c in candidates) + 1
    ext = np.full((len(candidates), size), blank, np.int64)
    skip = np.zeros((len(candidates), size), bool)
    back = np.zeros((len(candidates), size), bool)
    valid = np.zeros((len(candidates), size), bool)
    ends = np.zeros(len(candidates), np.int64)
    for i, labels in enumerate(candidates):
        e = _extended(np.asarray(labels, np.int64), blank)
        ext[i, : len(e)] = e
        skip[i, : len(e)], back[i, : len(e)] = _transitions(e, blank)
        valid[i, : len(e)] = True
        ends[i] = len(e) - 1
    emit = probs[:, :, ext] * valid  # (lines, frames, candidates, states); states past a candidate's end never hold mass
    emit = emit.transpose(1, 2, 0, 3)  # (frames, candidates, lines, states)
    skip, back = skip[:, None, :], back[:, None, :]
    alpha = np.zeros((len(candidates), lines, size))
    alpha[:, :, :2] = emit[0, :, :, :2]
    total = np.zeros((len(candidates), lines))
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(1, frames):
            norm = alpha.sum(axis=2, keepdims=True)
            total += np.log(norm[..., 0])
            alpha = alpha / np.where(norm > 0, norm, 1.0)
            step = alpha.copy()
            step[..., 1:] += alpha[..., :-1]
            step[..., 2:] += np.where(skip[..., 2:], alpha[..., :-2], 0.0)
            step[..., :-1] += np.where(back[..., :-1], alpha[..., 1:], 0.0)
            alpha = step * emit[t]
        rows = np.arange(len(candidates))
        last = alpha[rows, :, ends] + alpha[rows, :, np.maximum(ends - 1, 0)] * (ends > 0)[:, None]
        return total + np.log(last)


def ctc_align(probs: np.ndarray, labels) -> list[tuple[int, np.ndarray]]:
    """The most likely frame-by-frame alignment of a given reading (Viterbi over its CTC paths).

    Args:
      probs: float (frames, classes) probabilities, as :func:`ctc_greedy` takes.
      labels: the reading, a sequence of symbols (digits, :data:`MARK`).

    Returns:
      as :func:`ctc_greedy`: ``[(symbol, frames), ...]``, one entry per symbol of ``labels`` (a mark's frames may
      be several runs); ``[]`` when the frames cannot hold the reading.
    """
    probs = np.asarray(probs, np.float64)
    frames, classes = probs.shape
    blank = classes - 1
    ext = _extended(np.asarray(labels, np.int64), blank)
    skip, back = _transitions(ext, blank)
    size = len(ext)
    logp = np.log(np.maximum(probs[:, ext], 1e-300))
    neg = -np.inf
    score = np.full(size, neg)
    score[:2] = logp[0, :2]
    moves = np.zeros((frames, size), np.int8)  # the state each came from: 0 same, 1 one before, 2 two before, -1 after
    for t in range(1, frames):
        options = np.full((4, size), neg)
        options[0] = score
        options[1, 1:] = score[:-1]
        options[2, 2:] = np.where(skip[2:], score[:-2], neg)
        options[3, :-1] = np.where(back[:-1], score[1:], neg)
        pick = options.argmax(axis=0)
        moves[t] = np.where(pick == 3, -1, pick)
        score = options[pick, np.arange(size)] + logp[t]
    end = size - 1 if size == 1 or score[size - 1] >= score[size - 2] else size - 2
    if not np.isfinite(score[end]):
        return []
    path = np.empty(frames, np.int64)
    s = end
    for t in range(frames - 1, -1, -1):
        path[t] = s
        s -= int(moves[t, s])
    return [(int(symbol), np.flatnonzero(path == 2 * i + 1)) for i, symbol in enumerate(labels)]


def digit_boxes(line, probs: np.ndarray, found) -> list[tuple[int, int, int, int]]:
    """Each read digit's ink box (x0, y0, x1, y1) in ``line.ink``'s pixels, from the frames where it peaks.

    Between two neighbouring digits' peak columns the boundary is the least-inked column of the
    line; each digit's columns map back to the ink's columns and the box shrinks to the kept ink in them.

    Args:
      line: the :class:`~edgedigits_runtime.line.Line` that was read.
      probs: its per-frame probabilities (frames, 12 or 11).
      found: :func:`ctc_greedy` or :func:`ctc_best_of_length` of ``probs``.
    """
    profile = line.image.sum(axis=0)
    peaks = [float((frames[np.argmax(probs[frames, d])] + 0.5) * FRAME) for d, frames in found]
    cuts = [0.0]
    for a, b in zip(peaks[:-1], peaks[1:]):
        lo, hi = int(a), max(int(a) + 1, int(math.ceil(b)))
        cuts.append(float(lo + int(np.argmin(profile[lo:hi]))) + 0.5)  # the least-inked column between two peaks
    cuts.append(float(line.width))
    mask = line.mask
    boxes = []
    for left, right in zip(cuts[:-1], cuts[1:]):
        c0, c1 = line.columns_to_ink(left, right)
        part = mask[:, c0:c1]
        cols = np.flatnonzero(part.any(axis=0))
        rows = np.flatnonzero(part.any(axis=1))
        if len(cols):
            boxes.append((c0 + int(cols[0]), int(rows[0]), c0 + int(cols[-1]) + 1, int(rows[-1]) + 1))
        else:
            y0 = max(0, line.y0)
            boxes.append((c0, y0, max(c1, c0 + 1), min(mask.shape[0], y0 + int(round(LINE_HEIGHT / line.factor)))))
    return boxes
