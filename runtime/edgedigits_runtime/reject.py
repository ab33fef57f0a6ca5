""""Not a digit": the outcome type and the reject rules a model's manifest can carry.

A digit model always has a favourite digit, even for a letter, a smudge or a thumb. A
*reject rule* turns its output into a *score* (higher = more digit-like) and compares it
with a *threshold*: below it, the image is "not a digit" (label :data:`NOT_A_DIGIT`).
The rule is chosen at export on validation data and stored in the manifest entry of each
artifact under ``"reject"`` (int8 and float artifacts each get their own), for example::

    "reject": {"method": "max_prob", "threshold": 0.8046875,
               "chosen_on": "5,000 MNIST validation digits (never the test set)",
               "target_accept": 0.99, ...}

Methods (:data:`METHODS`):

- ``digit_mass``: the score is the sum of the 10 outputs. Models trained by ``edgedigits train``
  (default) have an 11th "not a digit" class inside the softmax whose probability is left out
  of the outputs, so they sum to ``1 - p(not a digit)``.
- ``max_prob``: the score is the probability of the top digit (for models trained with
  non-digits pushed to a uniform output, ``--negative-target uniform``; a plain model's
  confidence is a weak score).

A ``digit_mass`` rule may also carry ``"min_share"``: the top digit's *share* of the digit mass
(p(top digit) / digit mass) below which an image is "not a digit" too, whatever its mass: the
model is sure it sees a digit but splits it between two (where most errors on accepted digits
are). It is chosen at export on validation digits as well; a runtime that predates it ignores it.

A model without a rule (older exports, third-party files) never rejects unless the caller
passes ``threshold=`` by hand (a hand-set threshold replaces the whole rule: no ``min_share``).

Example:

>>> import numpy as np
>>> probs = np.array([[0.97] + [0.003] * 9, [0.1] * 10], np.float32)
>>> c = classification_from_probs(probs, threshold=0.5)
>>> c.labels.tolist(), c.not_a_digit.tolist()
([0, -1], [False, True])
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from edgedigits_runtime.errors import ModelError, UsageError

__all__ = [
    "METHODS",
    "NOT_A_DIGIT",
    "Classification",
    "calibrate_threshold",
    "check_rule",
    "check_threshold",
    "classification_from_probs",
    "reject_figures",
    "score_description",
    "top_share",
]

NOT_A_DIGIT = -1
METHODS = ("digit_mass", "max_prob")
_NUM_CLASSES = 10
_SCORES = {"max_prob": "the top digit's probability", "digit_mass": "the digits' total probability, 1 - p(not a digit)"}


@dataclasses.dataclass(frozen=True)
class Classification:
    """What a classifier made of a batch of images (arrays of length N).

    Attributes:
      labels: int64 (N,): the digit, or :data:`NOT_A_DIGIT` (-1) when rejected.
      probs: float32 (N, 10): the digit probabilities (whatever the verdict); with a ``digit_mass``
        model they sum to ``1 - p(not a digit)``.
      confidence: float32 (N,): probability of the top digit.
      not_a_digit: bool (N,): True where the image was rejected.
      score: float32 (N,): the value the rule compared (higher = more digit-like).
      threshold: the threshold used (None: no rule, nothing rejected).
      method: the rule's method (``"digit_mass"`` or ``"max_prob"``), None without a rule.
      min_share: the rule's second condition (the top digit's share of the digit mass), None without one.
    """

    labels: np.ndarray
    probs: np.ndarray
    confidence: np.ndarray
    not_a_digit: np.ndarray
    score: np.ndarray
    threshold: float | None = None
    method: str | None = None
    min_share: float | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def _index(self, i) -> int:
        """``i`` as an image index of this batch (negative counts from the end, as for a list).

        Raises:
          UsageError: not a whole number, or past the batch.
        """
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            held = f"from 0 to {n - 1} (this batch holds {n} image{'' if n == 1 else 's'})" if n else "(this batch is empty)"
            raise UsageError(f"image index must be a whole number {held}; got {i!r}")
        return int(i) % n

    def top_k(self, i: int, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` most likely digits of image ``i``, ``[(digit, prob), ...]`` best first (also when rejected).

        Raises:
          UsageError: ``i`` is not an index of the batch, ``k`` not 1 to 10.
        """
        i = self._index(i)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= _NUM_CLASSES:
            raise UsageError(f"k must be a whole number from 1 to {_NUM_CLASSES}; got {k!r}")
        row = self.probs[i]
        order = np.argsort(-row, kind="stable")[:k]
        return [(int(c), float(row[c])) for c in order]

    def to_dict(self, i: int, k: int = 1) -> dict:
        """JSON-ready result of image ``i``.

        Returns:
          ``{"label": int | None, "not_a_digit": bool, "confidence": float, "top_k": [[digit, prob], ...],
          "score": float, "threshold": float | None}``, plus ``"share"`` and ``"min_share"`` when the rule has
          a ``min_share``; ``label`` is None when rejected, ``confidence`` and ``top_k`` are still the digits'
          (what the model leaned to).

        Raises:
          UsageError: ``i`` is not an index of the batch (negative counts from the end), ``k`` not 1 to 10.
        """
        i = self._index(i)
        rejected = bool(self.not_a_digit[i])
        out = {"label": None if rejected else int(self.labels[i]), "not_a_digit": rejected,
               "confidence": float(self.confidence[i]), "top_k": [[d, p] for d, p in self.top_k(i, k)],
               "score": float(self.score[i]), "threshold": self.threshold}
        if self.min_share is not None:
            out["share"], out["min_share"] = float(top_share(self.probs[i : i + 1])[0]), self.min_share
        return out

    def to_rows(self, k: int = 1) -> list[dict]:
        """:meth:`to_dict` of every image, in order."""
        return [self.to_dict(i, k) for i in range(len(self))]


def score_description(method: str) -> str:
    """What a rule's score is, in words, for messages and generated sources.

    >>> print(score_description("digit_mass"))
    the digits' total probability, 1 - p(not a digit)

    Args:
      method: one of :data:`METHODS` (another name is returned as it is).

    Returns:
      A short description of the score the threshold is compared with.
    """
    return _SCORES.get(method, method)


def check_threshold(threshold, method: str = "max_prob") -> float:
    """A hand-set threshold as a float, checked for the method.

    Raises:
      UsageError: not a finite number, or outside [0, 1] for ``max_prob``.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise UsageError(f"threshold must be a number; got {threshold!r}")
    value = float(threshold)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise UsageError(f"threshold must be a probability in [0, 1] (the score below which an image is 'not a digit': "
                         f"{_SCORES.get(method, method)}); got {threshold!r}")
    return value


def check_rule(rule, where: str) -> dict | None:
    """Validate a manifest entry's ``"reject"`` rule (None passes through).

    Raises:
      ModelError: not an object, unknown method (a newer exporter?) or a bad threshold.
    """
    if rule is None:
        return None
    if not isinstance(rule, dict):
        raise ModelError(f"{where}: 'reject' is a {type(rule).__name__}, not an object: re-export the model")
    method = rule.get("method")
    if method not in METHODS:
        raise ModelError(f"{where}: reject method {method!r} is unknown to this runtime (it knows {', '.join(METHODS)}): "
                         "upgrade edgedigits-runtime or re-export")
    try:
        check_threshold(rule.get("threshold"), method)
        if rule.get("min_share") is not None:
            check_threshold(rule["min_share"], method)
    except UsageError as exc:
        raise ModelError(f"{where}: bad reject threshold ({exc}): re-export the model") from None
    if rule.get("min_share") is not None and method != "digit_mass":
        raise ModelError(f"{where}: 'min_share' needs the digit_mass method, not {method!r}: re-export the model")
    return rule


def top_share(probs: np.ndarray) -> np.ndarray:
    """The top digit's share of the digit mass, p(top digit) / sum of the 10 digit outputs (float32 (N,))."""
    probs = np.asarray(probs, dtype=np.float32).reshape(-1, _NUM_CLASSES)
    if not len(probs):
        return np.zeros(0, np.float32)
    return (probs.max(axis=1) / np.maximum(probs.sum(axis=1), np.float32(1e-6))).astype(np.float32)


def classification_from_probs(probs: np.ndarray, threshold: float | None = None, method: str = "max_prob",
                              min_share: float | None = None) -> Classification:
    """Apply a rule to digit probabilities (N, 10).

    Args:
      probs: float (N, 10) digit probabilities.
      threshold: reject where the score is below it; None rejects nothing.
      method: one of :data:`METHODS`.
      min_share: with ``threshold``, also reject where the top digit's share of the digit mass
        (:func:`top_share`) is below it; None: no such condition.

    Returns:
      A :class:`Classification`.
    """
    probs = np.asarray(probs, dtype=np.float32).reshape(-1, _NUM_CLASSES)
    digits = probs.argmax(axis=1).astype(np.int64) if len(probs) else np.zeros(0, np.int64)
    confidence = probs.max(axis=1) if len(probs) else np.zeros(0, np.float32)
    if method == "digit_mass":
        score = np.minimum(probs.sum(axis=1), np.float32(1.0)).astype(np.float32) if len(probs) else np.zeros(0, np.float32)
    else:
        score = confidence.astype(np.float32, copy=True)
    if threshold is None:
        rejected, min_share = np.zeros(len(probs), bool), None
    else:
        rejected = score < np.float32(threshold)
        if min_share is not None:
            rejected |= top_share(probs) < np.float32(min_share)
    labels = np.where(rejected, NOT_A_DIGIT, digits).astype(np.int64)
    return Classification(labels=labels, probs=probs, confidence=confidence.astype(np.float32), not_a_digit=rejected,
                          score=score, threshold=None if threshold is None else float(threshold),
                          method=None if threshold is None else method,
                          min_share=None if min_share is None else float(min_share))


def calibrate_threshold(digit_scores, accept: float = 0.99) -> float:
    """The highest threshold that still accepts at least ``accept`` of the given digits.

    Scores tie a lot for int8 models (1/256 steps); the threshold is always one of the
    observed scores, and an image is rejected only when its score is strictly below it,
    so the share accepted is at least ``accept`` on these digits.

    Example:

    >>> calibrate_threshold([0.2, 0.5, 0.9, 0.99], accept=0.75)
    0.5

    Args:
      digit_scores: scores of validation digits (never the test set), higher = more digit-like.
      accept: share of them to keep, in (0, 1].

    Raises:
      UsageError: no scores, or ``accept`` outside (0, 1].
    """
    scores = np.sort(np.asarray(digit_scores, dtype=np.float32).ravel())
    if not len(scores):
        raise UsageError("no digit scores to calibrate a threshold on")
    if not 0.0 < accept <= 1.0:
        raise UsageError(f"accept must be a share in (0, 1]; got {accept!r}")
    most_rejected = int(math.floor(len(scores) * (1.0 - accept) + 1e-9))  # at most this many below the threshold
    return float(scores[most_rejected])


def reject_figures(digit_scores, nondigit_scores, threshold: float, correct=None) -> dict:
    """What a threshold does: share of digits accepted, of non-digits rejected, accuracy on accepted digits.

    Args:
      digit_scores: scores of real digits.
      nondigit_scores: scores of non-digit images (may be empty).
      threshold: reject below it.
      correct: optional bool array, whether each digit's top-1 was right.

    Returns:
      ``{"threshold", "digits_accepted", "nondigits_rejected", "accuracy_on_accepted", "digits", "nondigits"}``
      (None for figures with nothing to count).
    """
    d = np.asarray(digit_scores, np.float32).ravel()
    o = np.asarray(nondigit_scores, np.float32).ravel()
    t = np.float32(threshold)
    kept = d >= t
    out = {"threshold": float(threshold), "digits": len(d), "nondigits": len(o),
           "digits_accepted": float(kept.mean()) if len(d) else None,
           "nondigits_rejected": float((o < t).mean()) if len(o) else None, "accuracy_on_accepted": None}
    if correct is not None and kept.any():
        out["accuracy_on_accepted"] = float(np.asarray(correct, bool)[kept].mean())
    return out
