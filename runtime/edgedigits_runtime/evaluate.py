"""Score a classifier on labelled images, through the runtime (as the device runs it): the one scorer.

Export verification (``edgedigits export``), bench accuracy (``edgedigits bench``) and
``edgedigits-rt evaluate`` all call :func:`score`, so what export gates and what bench
reports is what :class:`~edgedigits_runtime.DigitClassifier` computes on the device.

Adding a metric: a field on :class:`Score` (with a default, so older callers and JSON
stay valid) and the line that computes it in :func:`score`, from the arrays gathered in
one pass over the images. Do not write another scoring loop.

Example:

>>> from edgedigits_runtime import load_default
>>> evaluate(load_default(), limit=1000).accuracy   # doctest: +SKIP
0.998
>>> s = score(clf, images, labels, reference=keras_top1)   # doctest: +SKIP
>>> s.accuracy, s.agreement, s.per_class_accuracy[7]       # doctest: +SKIP
(0.9955, 0.9991, 0.9961)
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from edgedigits_runtime.errors import InputError, UsageError
from edgedigits_runtime.mnist import load_mnist

__all__ = ["Score", "score", "evaluate", "NUM_CLASSES"]

NUM_CLASSES = 10


@dataclasses.dataclass
class Score:
    """How a classifier did on a set of labelled images.

    Attributes:
      accuracy: share of images whose top-1 digit is the label.
      images: how many images were scored.
      errors: how many were wrong.
      per_class_accuracy: accuracy per true digit 0-9 (None for a digit with no image).
      agreement: share of images where the top-1 equals ``reference`` (e.g. the Keras model's);
        None without a reference.
      predictions: the top-1 digits, int64 (N,) (not in :meth:`to_dict`).
      seconds: time spent in the classifier.
      backend: the backend that ran it (None for a classifier without ``info``).
      threshold: the "not a digit" threshold applied (the classifier's calibrated rule, or the
        ``threshold`` given); None when nothing was rejected by rule (then the three figures below are None).
      digits_accepted: share of the labelled images (digits) accepted as digits.
      accuracy_on_accepted: top-1 accuracy on the accepted digits.
      nondigits_rejected: share of the ``nondigits`` images rejected (None without them).
      nondigits: how many non-digit images were scored.
      scores: each labelled image's reject score (higher = more digit-like), float32 (N,) (not in
        :meth:`to_dict`); calibration picks a threshold from these on validation digits.
    """

    accuracy: float
    images: int
    errors: int
    per_class_accuracy: list
    agreement: float | None = None
    predictions: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    seconds: float = 0.0
    backend: str | None = None
    threshold: float | None = None
    digits_accepted: float | None = None
    accuracy_on_accepted: float | None = None
    nondigits_rejected: float | None = None
    nondigits: int = 0
    scores: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    def to_dict(self) -> dict:
        """The JSON form: every field but the arrays ``predictions`` and ``scores``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("predictions", "scores")}


def score(classifier, images, labels, reference=None, batch_size: int = 500, *, nondigits=None,
          threshold: float | None = None) -> Score:
    """Score ``classifier`` on labelled images in batches: the project's one scoring loop.

    Example:

    >>> s = score(DigitClassifier("edge_int8.tflite"), images, labels)   # doctest: +SKIP
    >>> f"{s.accuracy:.2%} ({s.errors} wrong)"                            # doctest: +SKIP
    '99.55% (45 wrong)'

    Args:
      classifier: a :class:`~edgedigits_runtime.DigitClassifier` (anything with ``predict``).
      images: uint8 (N, 28, 28) (or anything ``predict`` takes, batched on the first axis).
      labels: true digits (N,).
      reference: another model's top-1 on the same images (N,), for ``agreement``; None: no agreement.
      batch_size: images per ``classify`` call.
      nondigits: uint8 (M, 28, 28) images that are not digits, for ``nondigits_rejected`` (None: none).
      threshold: a "not a digit" threshold to apply instead of the classifier's calibrated rule
        (None: the classifier's rule; a classifier without one rejects nothing).

    Returns:
      A :class:`Score`.

    Raises:
      UsageError: ``batch_size`` is not a positive whole number.
      InputError: ``labels`` or ``reference`` do not have one entry per image, or no images.
      whatever ``classifier.predict`` raises (e.g. a backend failing mid-way).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UsageError(f"batch_size must be a positive whole number; got {batch_size!r}")
    labels = np.asarray(labels).astype(np.int64, copy=False).reshape(-1)
    n = len(images)
    if n == 0:
        raise InputError("no images to score: pass at least one labelled image")
    if len(labels) != n:
        raise InputError(f"{n} images but {len(labels)} labels: pass one label per image")
    if reference is not None:
        reference = np.asarray(reference).astype(np.int64, copy=False).reshape(-1)
        if len(reference) != n:
            raise InputError(f"{n} images but {len(reference)} reference predictions: pass one per image")

    start = time.perf_counter()
    predictions, scores, accepted, used = _run(classifier, images, batch_size, threshold)
    seconds = time.perf_counter() - start
    rejected_nondigits = None
    m = 0 if nondigits is None else len(nondigits)
    if m:
        _, _, nd_accepted, _ = _run(classifier, nondigits, batch_size, threshold)
        rejected_nondigits = float((~nd_accepted).mean()) if used is not None else None

    correct = predictions == labels
    per_class = [float(correct[labels == d].mean()) if np.any(labels == d) else None for d in range(NUM_CLASSES)]
    return Score(
        accuracy=float(correct.mean()), images=int(n), errors=int((~correct).sum()), per_class_accuracy=per_class,
        agreement=None if reference is None else float((predictions == reference).mean()),
        predictions=predictions, seconds=round(seconds, 3),
        backend=(getattr(classifier, "info", None) or {}).get("backend"),
        threshold=used, digits_accepted=None if used is None else float(accepted.mean()),
        accuracy_on_accepted=None if used is None or not accepted.any() else float(correct[accepted].mean()),
        nondigits_rejected=rejected_nondigits, nondigits=int(m), scores=scores,
    )


def _run(classifier, images, batch_size: int, threshold):
    """One pass: (top-1 digits, reject scores, accepted mask, threshold used or None)."""
    if not hasattr(classifier, "classify"):  # anything with ``predict`` only: digits, nothing rejected
        predictions = np.concatenate([np.asarray(classifier.predict(images[i : i + batch_size])).reshape(-1)
                                      for i in range(0, len(images), batch_size)]).astype(np.int64, copy=False)
        return predictions, np.zeros(len(predictions), np.float32), np.ones(len(predictions), bool), None
    parts = [classifier.classify(images[i : i + batch_size], threshold=threshold) for i in range(0, len(images), batch_size)]
    predictions = np.concatenate([p.probs.argmax(axis=1) for p in parts]).astype(np.int64, copy=False)
    scores = np.concatenate([p.score for p in parts]).astype(np.float32, copy=False)
    accepted = ~np.concatenate([p.not_a_digit for p in parts])
    return predictions, scores, accepted, parts[0].threshold


def evaluate(classifier, data_dir=None, limit: int | None = None, batch_size: int = 500) -> Score:
    """Score ``classifier`` on the MNIST test images (``edgedigits-rt evaluate``).

    Args:
      classifier: a :class:`~edgedigits_runtime.DigitClassifier`.
      data_dir: MNIST folder (else ``$EDGEDIGITS_DATA``, the cache, a verified download).
      limit: score only the first N test images (None: all 10,000).
      batch_size: images per ``predict`` call.

    Returns:
      A :class:`Score` (``.to_dict()`` for JSON).

    Raises:
      UsageError: ``limit`` or ``batch_size`` is not a positive whole number.
      DataError: MNIST cannot be found or is corrupted.
    """
    for name, value in (("limit", limit), ("batch_size", batch_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UsageError(f"{name} must be a positive whole number; got {value!r}")
    images, labels = load_mnist("test", data_dir)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return score(classifier, images, labels, batch_size=batch_size)
