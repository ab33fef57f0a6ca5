"""BenchReport from hand-made rows: gate, recommendation, JSON/Markdown/table, plot."""

from __future__ import annotations

import json

import pytest

from edgedigits.bench.report import BenchReport, BenchRow, machine_info
from edgedigits.errors import GateError


def _latency(p50: float, spread: float = 0.01) -> dict:
    return {"n": 100, "mean": p50, "p50": p50, "p90": p50 * 1.1, "p99": p50 * 1.5, "min": p50 * 0.9,
            "max": p50 * 2, "iqr_ratio": 0.05, "round_spread": spread, "rounds": 5}


def _row(name, fmt, accuracy, p50, gate="pass", **kw) -> BenchRow:
    return BenchRow(name=name, path=f"export/{name}", format=fmt, runtime="tflite", size_bytes=40_000,
                    accuracy=accuracy, test_images=10_000, agreement=0.999, load_ms=1.0, cold_ms=0.2,
                    latency_ms={"1": _latency(p50), "2": _latency(p50 / 2)}, throughput={"32": 5e4}, peak_rss_mb=40.0,
                    gate=gate, **kw)


@pytest.fixture
def report() -> BenchReport:
    rows = [
        _row("a_int8.tflite", "int8", 0.995, 0.020),
        _row("a_float32.tflite", "float32", 0.996, 0.040),
        _row("a_ptq.tflite", "ptq", 0.985, 0.010, gate="fail"),  # fastest, but below the gate
        BenchRow(name="a_float32.onnx", path="export/a_float32.onnx", format="onnx", runtime="onnx", status="error",
                 error="no ONNX runtime installed: pip install onnxruntime"),
    ]
    return BenchReport(rows=rows, machine=machine_info(), config={"min_accuracy": 0.99, "threads": [1, 2],
                       "rounds": 5, "runs": 20, "warmup": 5, "batch_sizes": [32], "test_limit": None},
                       baseline_rss_mb={"python+numpy+runtime": 30.0}, load_average=[0.5, 0.7])


def test_recommendation_is_the_fastest_artifact_that_passes(report):
    assert report.recommended().name == "a_int8.tflite"
    line = report.recommendation()
    assert line.startswith("recommendation: a_int8.tflite (int8)") and "1 thread" in line


def test_gate_names_low_and_failed_artifacts(report):
    failures = report.gate_failures()
    assert len(failures) == 2
    assert "a_ptq.tflite (ptq) scored 98.50%" in failures[0] and "99.00%" in failures[0]
    assert "a_float32.onnx" in failures[1] and "pip install onnxruntime" in failures[1]
    with pytest.raises(GateError, match=r"2 of 4 artifacts failed \(1 below the gate, 1 could not be benchmarked\): a_ptq"):
        report.raise_for_gate()


def test_a_file_that_could_not_be_run_is_not_said_to_fail_the_gate(report):
    # `bench notamodel.tflite` ended with "1 of 1 artifacts failed the gate: ... could not be benchmarked: ...".
    report.rows = report.rows[-1:]
    with pytest.raises(GateError, match=r"^1 of 1 artifact could not be benchmarked: a_float32.onnx \(onnx\) could not"):
        report.raise_for_gate()
    report.rows = [BenchRow(**{**vars(report.rows[0]), "name": name}) for name in ("x.onnx", "y.onnx")]
    with pytest.raises(GateError, match=r"^2 of 2 artifacts could not be benchmarked: x.onnx"):
        report.raise_for_gate()


def test_no_passing_artifact_means_no_recommendation(report):
    for row in report.rows:
        row.gate = "fail" if row.ok else None
    assert report.recommended() is None
    assert "no artifact passed the gate" in report.recommendation()


def test_table_has_the_columns_and_the_error(report):
    table = report.to_table()
    header = table.splitlines()[0]
    for column in ("format", "status", "size", "accuracy", "agreement", "p50 ms 1t", "p99 ms 1t", "img/s b32", "memory MB"):
        assert column in header
    assert "a_float32.onnx: error: no ONNX runtime installed: pip install onnxruntime" in table
    assert "idle baselines: python+numpy+runtime 30.0 MB" in table
    assert "SUBSET" not in table


def test_json_round_trip(report, tmp_path):
    report.write(json_path=tmp_path / "b.json")
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["recommendation"] == report.recommendation()
    assert data["rows"][0]["latency_ms"]["1"]["p50"] == 0.020
    assert data["rows"][3]["status"] == "error" and data["machine"]["cores"] >= 1
    assert data["out_files"] == [str(tmp_path / "b.json")]
    again = BenchReport.from_dict(data)
    assert again.rows == report.rows and again.recommendation() == report.recommendation()


def test_markdown_is_a_table_with_the_machine(report, tmp_path):
    report.write(markdown_path=tmp_path / "b.md")
    text = (tmp_path / "b.md").read_text()
    assert text.startswith("Machine: ") and "0.50 -> 0.70" in text
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 4  # header, rule, one line per artifact
    assert all(line.count("|") == table[0].count("|") for line in table)
    assert "- recommendation: a_int8.tflite" in text


def test_subset_and_noise_are_said(report):
    report.config["test_limit"] = 1000
    report.rows[0].latency_ms["1"]["round_spread"] = 0.5
    table = report.to_table()
    assert "accuracy (subset)" in table.splitlines()[0]
    assert "accuracy on a SUBSET: the first 1,000" in table
    assert "noisy machine" in table and "a_int8.tflite" in table.split("noisy machine")[1]


def test_plot_writes_a_png(report, tmp_path):
    pytest.importorskip("matplotlib")
    report.write(plot_path=tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failing_a_row_drops_its_measurements():
    row = _row("x.tflite", "int8", 0.99, 0.02)
    row.fail("crashed")
    assert (row.status, row.error, row.accuracy, row.latency_ms, row.size_bytes) == ("error", "crashed", None, {}, 40_000)


def test_plot_of_one_artifact_keeps_the_accuracy_axis_at_most_100_and_the_gate_in_the_legend(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from edgedigits.bench import plot

    one = BenchReport(rows=[_row("a_int8.tflite", "int8", 0.9955, 0.020)], machine=machine_info(),
                      config={"min_accuracy": 0.99, "threads": [1, 2], "test_limit": None})
    seen = {}
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: seen.setdefault("fig", fig) and real_close(fig))
    plot.plot_report(one, tmp_path / "one.png")
    ax = seen["fig"].axes[0]
    low, high = ax.get_ylim()
    assert high <= 100.0 and low < 99.0 < 99.55 < high  # the gate and the point both shown, nothing above 100%
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gate 99.00%"]
    assert not [t for t in ax.texts if "gate" in t.get_text()]  # no free-floating label to collide with the point
