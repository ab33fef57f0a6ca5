"""BenchConfig: defaults, the quick preset, and impossible options."""

from __future__ import annotations

import os

import pytest

from edgedigits.bench.config import FULL, QUICK, BenchConfig
from edgedigits.errors import UsageError


def test_defaults_fill_from_the_full_preset():
    c = BenchConfig(targets=["runs/edge"]).validate()
    assert c.threads == sorted({1, os.cpu_count()})
    assert c.batch_sizes == [32, 256]
    assert (c.warmup, c.rounds, c.runs) == (FULL["warmup"], FULL["rounds"], FULL["runs"])
    assert c.test_limit is None and c.min_accuracy == 0.99 and c.throughput_calls == FULL["throughput_calls"]


def test_quick_fills_small_values_but_explicit_ones_win():
    c = BenchConfig(targets=["m.tflite"], quick=True, runs=7).validate()
    assert c.runs == 7 and c.rounds == QUICK["rounds"] and c.test_limit == QUICK["test_limit"]


def test_threads_and_batches_are_sorted_and_deduplicated():
    c = BenchConfig(targets=["x"], threads=[4, 1, 4], batch_sizes=[256, 32, 32]).validate()
    assert c.threads == [1, 4] and c.batch_sizes == [32, 256]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"targets": []}, "nothing to benchmark"),
        ({"runs": 0}, "--runs must be a whole number >= 1, got 0"),
        ({"rounds": 0}, "--rounds must be a whole number >= 1, got 0"),
        ({"warmup": -1}, "--warmup must be a whole number >= 0, got -1"),
        ({"threads": [-1]}, "--threads must be whole numbers from 1 to 64"),
        ({"threads": [65]}, "--threads must be whole numbers from 1 to 64"),
        ({"threads": [0, 1]}, "--threads"),
        ({"threads": []}, "--threads"),
        ({"batch_sizes": [0]}, "--batch-sizes"),
        ({"test_limit": 0}, "--test-limit"),
        ({"test_limit": 20000}, "--test-limit"),
        ({"min_accuracy": 99.0}, "--min-accuracy is a fraction"),
        ({"min_accuracy": -0.1}, "--min-accuracy"),
        ({"runs": 2.5}, "--runs"),
    ],
)
def test_impossible_options_are_usage_errors(kwargs, message):
    kwargs = {"targets": ["runs/edge"], **kwargs}
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        BenchConfig(**kwargs).validate()


def test_config_serialises():
    c = BenchConfig(targets=["a", "b"], quick=True).validate()
    assert '"quick": true' in c.to_json() and c.to_dict()["targets"] == ["a", "b"]
