"""Accuracy of a classifier on the MNIST test set, through the runtime (as the device runs it).

Example:

>>> from edgedigits_runtime import load_default
>>> evaluate(load_default(), limit=1000)["accuracy"]   # doctest: +SKIP
0.998
"""

from __future__ import annotations

import time

import numpy as np

from edgedigits_runtime.errors import UsageError
from edgedigits_runtime.mnist import load_mnist

__all__ = ["evaluate"]


def evaluate(classifier, data_dir=None, limit: int | None = None, batch_size: int = 500) -> dict:
    """Score ``classifier`` on the MNIST test images.

    Args:
      classifier: a :class:`~edgedigits_runtime.DigitClassifier`.
      data_dir: MNIST folder (else ``$EDGEDIGITS_DATA``, the cache, a verified download).
      limit: score only the first N test images (None: all 10,000).
      batch_size: images per ``predict`` call.

    Returns:
      ``{"accuracy", "images", "errors", "per_class_accuracy", "seconds", "backend"}``.

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
    start = time.perf_counter()
    predictions = np.concatenate([classifier.predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    seconds = time.perf_counter() - start
    correct = predictions == labels
    per_class = [float(correct[labels == d].mean()) if np.any(labels == d) else None for d in range(10)]
    return {"accuracy": float(correct.mean()), "images": int(len(labels)), "errors": int((~correct).sum()),
            "per_class_accuracy": per_class, "seconds": round(seconds, 3), "backend": classifier.info["backend"]}
