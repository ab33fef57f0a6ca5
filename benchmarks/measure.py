"""Measurements through the runtime package, exactly as the device runs a model.

Every figure comes from :class:`edgedigits_runtime.DigitClassifier` calls: the
same loading (manifest and SHA-256 check), the same input quantization, the same
backend and thread setting the device will use. Accuracy is the runtime's own scorer
(:func:`edgedigits_runtime.evaluate.score`). Timings use
:func:`time.perf_counter_ns` around single ``predict`` calls.

Timing is interleaved: each round times every artifact in turn (A B C A B C ...,
see :func:`schedule`), so a shared, noisy machine slows them all alike and the
spread between rounds shows it.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from typing import Iterator

import numpy as np

from edgedigits_runtime.backends import BACKENDS, FAMILIES

__all__ = ["CLASSIFIER", "BACKEND_MODULES", "import_backend", "load_classifier_class", "open_classifier", "Step",
           "schedule", "time_calls", "time_batches"]

# Where the classifier comes from ("module:attribute"); the memory child imports it by this name too.
CLASSIFIER = "edgedigits_runtime:DigitClassifier"
# Runtime family -> modules that provide it, in the order the runtime tries them (from its backends table).
BACKEND_MODULES = {family: [BACKENDS[name].module for name in order] for family, (_, order, _) in FAMILIES.items()}


def load_classifier_class(spec: str | None = None):
    """Import the classifier class named by ``spec`` (default :data:`CLASSIFIER`).

    Raises:
      BackendUnavailableError: it cannot be imported (the runtime package missing or too old).
    """
    spec = spec or CLASSIFIER  # read at call time: tests swap it
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        from edgedigits.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"bench measures through the runtime package, but {spec.replace(':', '.')} cannot be imported ({exc}); "
            "install the runtime: `pip install ./runtime` from the checkout (or `pip install edgedigits-runtime`)") from None


def import_backend(runtime: str) -> str | None:
    """Import the first installed backend library of ``runtime`` (so that load times exclude it).

    Returns:
      The module imported, or None when none is installed (loading will then say what to install).
    """
    for name in BACKEND_MODULES.get(runtime, []):
        try:
            importlib.import_module(name)
            return name
        except ImportError:
            continue
    return None


def open_classifier(path, threads: int, spec: str | None = None, normalize: str | None = None):
    """Load one model as the device would and time it.

    Args:
      path: model file (its manifest is found beside it by the runtime).
      threads: interpreter threads.
      spec: classifier class, ``"module:attribute"`` (default the runtime's ``DigitClassifier``).
      normalize: the model's input scaling (``DigitClassifier``'s ``normalize``; None: not given).

    Returns:
      ``(classifier, load_seconds)``.

    Raises:
      whatever the runtime raises: ``ModelError``, ``ModelIntegrityError``, ``BackendUnavailableError``.
    """
    cls = load_classifier_class(spec)
    start = time.perf_counter_ns()
    clf = cls(str(path), num_threads=threads, **({} if normalize is None else {"normalize": normalize}))
    return clf, (time.perf_counter_ns() - start) / 1e9


def time_calls(clf, images: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Time ``n`` batch-1 ``predict`` calls, cycling through ``images``.

    Args:
      clf: a classifier.
      images: uint8 (M, 28, 28); each call gets one (28, 28) image, as a device would.
      n: number of calls (0 is allowed: returns an empty array).
      start: index of the first image to use.

    Returns:
      float64 (n,) seconds per call.
    """
    out = np.empty(n, dtype=np.float64)
    m = len(images)
    clock = time.perf_counter_ns
    for i in range(n):
        image = images[(start + i) % m]
        t0 = clock()
        clf.predict(image)
        out[i] = clock() - t0
    return out / 1e9


def time_batches(clf, batch: np.ndarray, n: int) -> np.ndarray:
    """Seconds per ``predict(batch)`` call, ``n`` calls."""
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        t0 = time.perf_counter_ns()
        clf.predict(batch)
        out[i] = time.perf_counter_ns() - t0
    return out / 1e9


@dataclasses.dataclass(frozen=True)
class Step:
    """One timing step for artifact number ``artifact`` in round ``round``.

    ``kind`` is ``"latency"`` (batch-1 calls at ``threads`` threads) or ``"throughput"``
    (calls on a batch of ``batch`` images, at the most threads).
    """

    kind: str
    round: int
    artifact: int
    threads: int | None = None
    batch: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "latency":
            return f"{self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"batch {self.batch}"


def schedule(n_artifacts: int, rounds: int, threads: list[int], batch_sizes: list[int] = ()) -> Iterator[Step]:
    """The timing order, artifacts interleaved: per round, latency then throughput.

    Example:

    >>> [(s.kind, s.round, s.artifact) for s in schedule(2, 1, [1], [32])]
    [('latency', 0, 0), ('latency', 0, 1), ('throughput', 0, 0), ('throughput', 0, 1)]

    Each round: for each thread count, every artifact's batch-1 latency in turn; then for each
    batch size, every artifact's throughput in turn. The same order every round (A B C A B C ...):
    a slow spell on a shared machine hits them all.
    """
    for r in range(rounds):
        for t in threads:
            for a in range(n_artifacts):
                yield Step("latency", r, a, threads=t)
        for b in batch_sizes:
            for a in range(n_artifacts):
                yield Step("throughput", r, a, batch=b)
