"""Summary statistics of timing samples: percentiles, mean, and how much rounds disagree.

Pure numpy. Latency samples are summarised with their p50/p90/p99 and mean; the
*spread* says whether the machine was quiet: the relative difference between
the fastest and slowest round medians, and the interquartile range over the
median. A benchmark whose rounds disagree by more than a few percent ran on a
noisy machine, and its small differences mean nothing.

Example:

>>> s = summarize([1.0, 2.0, 3.0, 4.0], rounds=[[1.0, 2.0], [3.0, 4.0]])
>>> s.p50, s.mean, s.n
(2.5, 2.5, 4)
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from edgedigits.errors import UsageError

__all__ = ["Summary", "percentiles", "summarize", "round_spread", "iqr_ratio", "NOISY_SPREAD"]

# Rounds whose medians differ by more than this share of the overall median: a noisy machine.
NOISY_SPREAD = 0.10


@dataclasses.dataclass(frozen=True)
class Summary:
    """A latency (or any timing) distribution, in the unit of its samples.

    Attributes:
      n: number of samples.
      mean, p50, p90, p99, min, max: the usual; percentiles use linear interpolation.
      iqr_ratio: (p75 - p25) / p50, the spread within the samples.
      round_spread: (slowest round median - fastest round median) / overall p50; 0 with one round.
      rounds: number of rounds the samples came from.
    """

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    min: float
    max: float
    iqr_ratio: float
    round_spread: float
    rounds: int

    @property
    def noisy(self) -> bool:
        """True when rounds disagreed by more than :data:`NOISY_SPREAD`."""
        return self.round_spread > NOISY_SPREAD

    def scaled(self, factor: float) -> "Summary":
        """The same summary with every timing multiplied by ``factor`` (e.g. seconds to ms)."""
        times = {f: getattr(self, f) * factor for f in ("mean", "p50", "p90", "p99", "min", "max")}
        return dataclasses.replace(self, **times)


def _as_samples(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        raise UsageError("no timing samples to summarise: at least one run is needed")
    if not np.all(np.isfinite(x)):
        raise UsageError("timing samples contain NaN or infinity")
    return x


def percentiles(samples, qs: Sequence[float] = (50, 90, 99)) -> tuple[float, ...]:
    """Percentiles of ``samples`` (linear interpolation between order statistics).

    Args:
      samples: numbers (any shape).
      qs: percentiles in [0, 100].

    Returns:
      One float per ``qs``.

    Raises:
      UsageError: no samples, non-finite samples, or a percentile outside [0, 100].
    """
    x = _as_samples(samples)
    if any(not 0 <= q <= 100 for q in qs):
        raise UsageError(f"percentiles must be in [0, 100], got {list(qs)}")
    return tuple(float(v) for v in np.percentile(x, qs))


def iqr_ratio(samples) -> float:
    """Interquartile range over the median (0 when the median is 0)."""
    p25, p50, p75 = percentiles(samples, (25, 50, 75))
    return 0.0 if p50 == 0 else (p75 - p25) / p50


def round_spread(rounds: Sequence[Sequence[float]]) -> float:
    """How far apart the rounds' medians are: (max - min) / median of all samples.

    Empty rounds are ignored; fewer than two non-empty rounds give 0.
    """
    medians = [float(np.median(_as_samples(r))) for r in rounds if len(r)]
    if len(medians) < 2:
        return 0.0
    overall = float(np.median(np.concatenate([np.asarray(r, dtype=np.float64).ravel() for r in rounds if len(r)])))
    return 0.0 if overall == 0 else (max(medians) - min(medians)) / overall


def summarize(samples, rounds: Sequence[Sequence[float]] | None = None) -> Summary:
    """Summarise timing samples.

    Example:

    >>> summarize([10, 10, 10, 50]).p50
    10.0

    Args:
      samples: all the samples (seconds, or any unit).
      rounds: the same samples grouped by round, for the between-round spread;
        None when there was a single round.

    Returns:
      A :class:`Summary` in the unit of ``samples``.

    Raises:
      UsageError: no samples, or non-finite ones.
    """
    x = _as_samples(samples)
    p50, p90, p99 = percentiles(x)
    rounds = [r for r in (rounds or []) if len(r)]
    return Summary(
        n=int(x.size), mean=float(x.mean()), p50=p50, p90=p90, p99=p99, min=float(x.min()), max=float(x.max()),
        iqr_ratio=iqr_ratio(x), round_spread=round_spread(rounds), rounds=max(1, len(rounds)),
    )
