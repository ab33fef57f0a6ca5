"""Classify image files (the library behind both ``predict`` commands).

Paths are expanded (files, folders, globs, ``"-"`` for image bytes on stdin), every
image is preprocessed to MNIST form and all of them run as one batch. One bad
file never stops the others: it gets a result with its error instead of a label.

Example:

>>> from edgedigits_runtime import load_default
>>> results = predict_files(["digits/", "seven.jpg"], load_default(), top_k=3)   # doctest: +SKIP
>>> results[0].as_dict()                                                        # doctest: +SKIP
{'path': 'digits/a.png', 'label': 3, 'not_a_digit': False, 'confidence': 0.98828125, 'top_k': [[3, 0.988], ...],
 'score': 0.98828125, 'threshold': 0.80078125}

A file the model's reject rule (or a hand-set ``threshold``) refuses gets ``label=None`` and
``not_a_digit=True``; its ``confidence``/``top_k`` still say which digit the model leaned to.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import sys
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from edgedigits_runtime.errors import EdgeDigitsError, UsageError
from edgedigits_runtime.reject import check_threshold

__all__ = ["IMAGE_SUFFIXES", "STDIN", "FileResult", "check_inputs", "expand_inputs", "iter_sources", "predict_bytes",
           "predict_files"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
STDIN = "-"
_GLOB_CHARS = set("*?[")


@dataclasses.dataclass
class FileResult:
    """What one input became.

    Attributes:
      path: the file (``"-"`` for stdin; a pattern or folder that matched nothing).
      label: the digit; None on error or when it is not a digit.
      not_a_digit: True when the reject rule refused the image.
      confidence: the top digit's probability, None on error.
      top_k: ``[(label, probability), ...]`` best first (empty on error).
      score: the value the reject rule compared (higher = more digit-like), None on error.
      threshold: what ``score`` was compared with (None: no rule, nothing rejected).
      error: one-line message when this input failed, else None.
    """

    path: str
    label: int | None = None
    confidence: float | None = None
    top_k: list = dataclasses.field(default_factory=list)
    error: str | None = None
    not_a_digit: bool = False
    score: float | None = None
    threshold: float | None = None
    share: float | None = None
    min_share: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict:
        """JSON-ready: path, label, not_a_digit, confidence, top_k (pairs as lists), score, threshold, share and min_share
        (only when the model's rule has a ``min_share``), error (only when failed)."""
        out = {"path": self.path, "label": self.label, "not_a_digit": self.not_a_digit, "confidence": self.confidence,
               "top_k": [[label, prob] for label, prob in self.top_k], "score": self.score, "threshold": self.threshold}
        if self.min_share is not None:
            out["share"], out["min_share"] = self.share, self.min_share
        if self.error is not None:
            out["error"] = self.error
        return out


def expand_inputs(items: Iterable[str | os.PathLike]) -> list[tuple[str, str | None]]:
    """Expand command-line inputs into files, in order.

    Args:
      items: file paths, folders (their image files, sorted, not recursive), glob patterns
        (``**`` recurses), or ``"-"`` for stdin.

    Returns:
      ``[(path, error or None), ...]``: an input that matches nothing keeps its place with an error.
    """
    out: list[tuple[str, str | None]] = []
    for item in items:
        text = os.fspath(item)
        if text == STDIN:
            out.append((STDIN, None))
        elif Path(text).is_dir():
            found = sorted(str(p) for p in Path(text).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            out.extend((p, None) for p in found)
            if not found:
                out.append((text, f"folder {text} holds no image files ({', '.join(IMAGE_SUFFIXES[:3])}, ...)"))
        elif _GLOB_CHARS & set(text) and not Path(text).exists():
            found = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
            out.extend((p, None) for p in found)
            if not found:
                out.append((text, f"no file matches {text}"))
        else:
            out.append((text, None))
    return out


def check_inputs(items) -> list:
    """The inputs as a list (one path alone is a list of one), refused when empty, when an input is not a path,
    or when ``"-"`` (stdin) appears more than once.

    Raises:
      UsageError: no inputs, an input that is not a path (image bytes: :func:`predict_bytes`), or ``"-"`` twice.
    """
    items = [items] if isinstance(items, (str, os.PathLike)) else list(items)
    if not items:
        raise UsageError("no images given: pass image files, folders, glob patterns or - for stdin")
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise UsageError(f"inputs are paths (files, folders, glob patterns, - for stdin); got {type(item).__name__} "
                             "(an image's bytes: predict_bytes; an array: preprocess_image)")
    if sum(1 for i in items if os.fspath(i) == STDIN) > 1:
        raise UsageError("- (stdin) can be given only once")
    return items


def iter_sources(items, stdin: BinaryIO | None = None):
    """Expanded inputs, each as ``(path, error or None, source, name)``: ``source`` is the path, or
    the bytes read from stdin for ``"-"`` (``name`` "stdin"); an empty stdin is an error."""
    for path, error in expand_inputs(items):
        if error is not None or path != STDIN:
            yield path, error, path, None
            continue
        from edgedigits_runtime.decode import MAX_FILE_BYTES
        from edgedigits_runtime.fileio import read_at_most

        data = read_at_most(stdin or sys.stdin.buffer, MAX_FILE_BYTES)
        if data is None:
            yield path, f"stdin holds more than {MAX_FILE_BYTES >> 20} MB: pipe an image file into it", b"", "stdin"
            continue
        yield path, (None if data else "stdin is empty: pipe an image file into it"), data, "stdin"


def predict_files(items: Iterable[str | os.PathLike], classifier, *, top_k: int = 3,
                  stdin: BinaryIO | None = None, threshold: float | None = None) -> list[FileResult]:
    """Classify image files with one batched call.

    Args:
      items: paths, folders, globs or ``"-"`` (see :func:`expand_inputs`); one path alone is an input of one.
      classifier: a :class:`~edgedigits_runtime.DigitClassifier`.
      top_k: how many alternatives to keep per file (1 to 10).
      stdin: where ``"-"`` reads image bytes from (default ``sys.stdin.buffer``).
      threshold: "not a digit" below this top-digit probability (None: the model's calibrated rule,
        if it has one; see :meth:`~edgedigits_runtime.DigitClassifier.classify`).

    Returns:
      One :class:`FileResult` per file, in input order; failed files carry ``error``.

    Raises:
      UsageError: no inputs, an input that is not a path, ``classifier`` not a classifier, ``top_k`` or
        ``threshold`` out of range, or ``"-"`` given more than once.
      BackendUnavailableError: Pillow is not installed (needed to read any image file).
    """
    items = check_inputs(items)
    _check_options(classifier, top_k, threshold)
    from edgedigits_runtime.decode import require_image_libs
    from edgedigits_runtime.preprocess import preprocess_image

    require_image_libs()  # one clear error up front rather than the same one per file
    results, images, slots = [], [], []
    for path, error, source, name in iter_sources(items, stdin):
        result = FileResult(path, error=error)
        results.append(result)
        if error is not None:
            continue
        try:
            images.append(preprocess_image(source, name=name))
            slots.append(result)
        except EdgeDigitsError as exc:
            result.error = str(exc)
        except OSError as exc:
            result.error = f"{path}: cannot read it ({exc.strerror or exc})"
    if images:
        _fill(slots, np.stack(images), classifier, top_k, threshold)
    return results


def predict_bytes(data: bytes, classifier, *, name: str = "image", top_k: int = 3,
                  threshold: float | None = None) -> FileResult:
    """Classify one image file's bytes (an upload): the same result and fields as :func:`predict_files`.

    Example:

    >>> predict_bytes(open("seven.png", "rb").read(), load_default(), name="seven.png").as_dict()   # doctest: +SKIP
    {'path': 'seven.png', 'label': 7, 'not_a_digit': False, 'confidence': 0.99609375, 'top_k': [[7, 0.996], ...], ...}

    Args:
      data: the encoded image (PNG, JPEG, ...).
      classifier: a :class:`~edgedigits_runtime.DigitClassifier`.
      name: what to call the image in the result's ``path`` and in error messages.
      top_k: how many alternatives to keep (1 to 10).
      threshold: "not a digit" below this (None: the model's calibrated rule, if any).

    Returns:
      A :class:`FileResult` with its label (never with ``error``: failures raise).

    Raises:
      UsageError: ``data`` not bytes, ``classifier`` not a classifier, ``top_k`` or ``threshold`` out of range.
      InputError: empty, not an image, truncated, too many pixels (decompression bomb), or no digit found.
      BackendUnavailableError: OpenCV or Pillow is not installed (the ``image`` extra).
    """
    _check_options(classifier, top_k, threshold)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UsageError(f"data must be an image file's bytes; got {type(data).__name__} (a path: predict_files)")
    from edgedigits_runtime.preprocess import preprocess_image

    result = FileResult(name)
    _fill([result], preprocess_image(bytes(data), name=name)[None], classifier, top_k, threshold)
    return result


def _check_options(classifier, top_k, threshold) -> None:
    """Refuse a classifier that cannot classify, ``top_k`` outside 1..10, a threshold outside [0, 1]."""
    if not hasattr(classifier, "classify"):
        raise UsageError(f"classifier must be a DigitClassifier (the shipped one: load_default()); got "
                         f"{type(classifier).__name__}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= 10:
        raise UsageError(f"top_k must be a whole number from 1 to 10; got {top_k!r}")
    if threshold is not None:
        check_threshold(threshold)


def _fill(results: list[FileResult], images: np.ndarray, classifier, top_k: int, threshold: float | None) -> None:
    """One batched ``classify`` call for ``images`` (N, 28, 28); each result gets the fields of its row."""
    outcome = classifier.classify(images, threshold=threshold)
    for i, result in enumerate(results):
        row = outcome.to_dict(i, top_k)
        result.top_k = [tuple(pair) for pair in row["top_k"]]
        result.label, result.not_a_digit, result.confidence = row["label"], row["not_a_digit"], row["confidence"]
        result.score, result.threshold = row["score"], row["threshold"]
        result.share, result.min_share = row.get("share"), row.get("min_share")
