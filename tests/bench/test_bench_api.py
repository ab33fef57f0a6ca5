"""bench() on tiny fixtures: rows, gate, error rows, outputs written."""

from __future__ import annotations

import json

import pytest

from edgedigits.bench import BenchConfig, bench

QUICKER = {"quick": True, "rounds": 2, "runs": 5, "warmup": 1, "test_limit": 500, "batch_sizes": [8]}


def test_run_folder_benchmarks_every_manifest_artifact(tiny_run, mnist_dir):
    report = bench(BenchConfig(targets=[str(tiny_run)], min_accuracy=0.0, data_dir=str(mnist_dir), **QUICKER))
    print(report.to_table())
    assert [r.format for r in report.rows] == ["int8", "float32", "onnx"]
    assert all(r.ok for r in report.rows), [r.error for r in report.rows]
