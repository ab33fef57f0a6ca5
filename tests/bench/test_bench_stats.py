"""Statistics of timing samples: percentiles, spread between rounds, noisy flag."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits.bench.stats import NOISY_SPREAD, iqr_ratio, percentiles, round_spread, summarize
from edgedigits.errors import UsageError


def test_percentiles_interpolate_between_order_statistics():
    samples = np.arange(1, 101, dtype=float)  # 1..100
    p50, p90, p99 = percentiles(samples)
    assert p50 == pytest.approx(50.5)
    assert p90 == pytest.approx(90.1)
    assert p99 == pytest.approx(99.01)


def test_percentiles_ignore_sample_order_and_shape():
    rng = np.random.default_rng(0)
    x = rng.exponential(size=1000)
    assert percentiles(x) == percentiles(rng.permutation(x).reshape(10, 100))


def test_summary_of_a_long_tail():
    samples = [1.0] * 98 + [10.0, 100.0]
    s = summarize(samples)
    assert s.n == 100 and s.p50 == 1.0 and s.min == 1.0 and s.max == 100.0
    assert s.mean == pytest.approx((98 + 110) / 100)
    assert s.p99 > s.p90 == 1.0  # the tail shows in p99 only
    assert s.rounds == 1 and s.round_spread == 0.0 and not s.noisy


def test_round_spread_flags_rounds_that_disagree():
    quiet = [[1.0, 1.01, 0.99]] * 4
    assert round_spread(quiet) == pytest.approx(0.0)
    noisy = [[1.0, 1.0, 1.0], [1.5, 1.5, 1.5]]
    assert round_spread(noisy) == pytest.approx(0.5 / 1.25)
    s = summarize(np.concatenate(noisy), noisy)
    assert s.rounds == 2 and s.noisy and s.round_spread > NOISY_SPREAD


def test_round_spread_skips_empty_rounds_and_single_round_is_zero():
    assert round_spread([[2.0, 2.0], []]) == 0.0
    assert round_spread([]) == 0.0


def test_iqr_ratio():
    assert iqr_ratio([1, 2, 3, 4, 5]) == pytest.approx((4 - 2) / 3)
    assert iqr_ratio([0, 0, 0]) == 0.0


def test_scaled_multiplies_times_only():
    s = summarize([0.001, 0.002, 0.003], [[0.001, 0.002], [0.003]])
    ms = s.scaled(1e3)
    assert ms.p50 == pytest.approx(2.0) and ms.max == pytest.approx(3.0)
    assert (ms.n, ms.rounds, ms.round_spread, ms.iqr_ratio) == (s.n, s.rounds, s.round_spread, s.iqr_ratio)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_unusable_samples_are_refused(bad):
    with pytest.raises(UsageError):
        summarize(bad)


def test_percentile_out_of_range_is_refused():
    with pytest.raises(UsageError, match="percentiles must be in"):
        percentiles([1.0, 2.0], (50, 101))
