"""bench() on tiny converted models: every artifact of a run, the gate, error rows, files written."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from edgedigits.bench import BenchConfig, bench
from edgedigits.errors import GateError

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]

# Small enough for a test: 2 rounds x 5 calls, 500 test images, no fresh-process memory unless asked.
QUICKER = {"quick": True, "rounds": 2, "runs": 5, "warmup": 1, "test_limit": 500, "batch_sizes": [8], "memory": False}


def _config(targets, mnist_dir, **kw):
    return BenchConfig(targets=[str(t) for t in targets], data_dir=str(mnist_dir), **{**QUICKER, "min_accuracy": 0.0, **kw})


def test_run_folder_benchmarks_every_artifact_and_writes_the_report(tiny_run, mnist_dir):
    seen = []
    report = bench(_config([tiny_run], mnist_dir, memory=True), progress=lambda d, t, w: seen.append((d, t)))
    assert [r.format for r in report.rows] == ["int8", "float32", "onnx"]
    for row in report.rows:
        assert row.ok, row.error
        assert row.test_images == 500 and 0.0 <= row.accuracy <= 1.0 and 0.0 <= row.agreement <= 1.0
        assert set(row.latency_ms) == {str(t) for t in report.config["threads"]}
        assert all(s["n"] == 10 and s["rounds"] == 2 for s in row.latency_ms.values())
        assert row.throughput["8"] > 0 and row.size_bytes > 0 and row.gate == "pass"
        assert row.peak_rss_mb > 0 and row.start_to_first_ms > 0
    assert "python+numpy+runtime" in report.baseline_rss_mb
    # Float models give the Keras model's answers; the report says so.
    assert report.rows[1].agreement >= 0.99
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1)) and seen[-1][0] == seen[-1][1]
    written = json.loads((tiny_run / "bench" / "bench.json").read_text())
    assert written["rows"][0]["name"] == "tiny_int8.tflite" and written["config"]["test_limit"] == 500
    assert (tiny_run / "bench" / "bench.md").is_file() and (tiny_run / "bench" / "bench.png").is_file()
    assert report.recommended() is not None


def test_gate_fails_on_an_untrained_model(bad_run, mnist_dir):
    report = bench(_config([bad_run], mnist_dir, min_accuracy=0.99, save=False))
    row = report.rows[0]
    assert row.ok and row.accuracy < 0.5 and row.gate == "fail"
    assert report.recommended() is None
    with pytest.raises(GateError, match="tiny_float32.tflite"):
        report.raise_for_gate()


def test_broken_artifacts_are_error_rows_and_the_rest_runs(tiny_run, mnist_dir, tmp_path):
    copy = shutil.copytree(tiny_run / "export", tmp_path / "export")
    (copy / "tiny_int8.tflite").write_bytes((copy / "tiny_int8.tflite").read_bytes() + b"\0")  # SHA-256 no longer matches
    (copy / "tiny_float32.onnx").unlink()  # listed in the manifest, gone
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"this is not a flatbuffer" * 10)
    report = bench(_config([copy, garbage], mnist_dir, save=False))
    by_name = {r.name: r for r in report.rows}
    assert by_name["tiny_float32.tflite"].ok
    assert "SHA-256" in by_name["tiny_int8.tflite"].error
    assert "missing" in by_name["tiny_float32.onnx"].error
    assert by_name["garbage.tflite"].status == "error" and by_name["garbage.tflite"].error
    assert report.recommended().name == "tiny_float32.tflite"
    assert len(report.gate_failures()) == 3


def test_missing_backend_row_names_the_package(tiny_run, mnist_dir, monkeypatch):
    for name in [m for m in sys.modules if m == "onnxruntime" or m.startswith("onnxruntime.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    report = bench(_config([tiny_run / "export" / "tiny_float32.onnx", tiny_run / "export" / "tiny_float32.tflite"],
                           mnist_dir, save=False))
    onnx, tflite = report.rows
    assert onnx.status == "error" and "onnxruntime" in onnx.error
    assert tflite.ok


def test_no_runtime_package_is_one_clear_error(tiny_run, mnist_dir, monkeypatch):
    from edgedigits.bench import measure
    from edgedigits.errors import BackendUnavailableError

    monkeypatch.setattr(measure, "CLASSIFIER", "edgedigits_runtime_not_installed:DigitClassifier")
    with pytest.raises(BackendUnavailableError, match=r"install the runtime: `pip install \./runtime`"):
        bench(_config([tiny_run], mnist_dir, save=False))
