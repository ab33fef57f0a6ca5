"""`edgedigits bench` through the command line: --quick on tiny fixtures, the gate's exit code, bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgedigits.cli import app

runner = CliRunner()
QUICK = ["--quick", "--rounds", "2", "--runs", "5", "--test-limit", "300", "--batch-sizes", "8", "--no-memory"]


def _bench(*args, mnist_dir=None):
    extra = ["--data-dir", str(mnist_dir)] if mnist_dir else []
    return runner.invoke(app, ["bench", *map(str, args), *extra])


def _error_line(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


@pytest.mark.slow
@pytest.mark.needs_tf
def test_quick_bench_of_a_run_passes_and_writes_files(tiny_run, mnist_dir, tmp_path):
    pytest.importorskip("tensorflow")
    result = _bench(tiny_run, *QUICK, "--min-accuracy", "0", "--out", tmp_path / "out", "--json", tmp_path / "r.json",
                    "--markdown", tmp_path / "r.md", mnist_dir=mnist_dir)
    assert result.exit_code == 0, result.output
    for text in ("tiny_int8.tflite", "tiny_float32.onnx", "accuracy (subset)", "SUBSET", "recommendation: ", "written: "):
        assert text in result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert [r["status"] for r in data["rows"]] == ["ok"] * 3 and data["config"]["quick"] is True
    assert (tmp_path / "r.md").read_text().count("| tiny_") == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bench.json", "bench.md", "bench.png"]
    best = data["rows"][[r["name"] for r in data["rows"]].index(data["recommendation"].split()[1])]
    assert f"edgedigits predict IMAGE.png --model {best['path']}" in result.output  # the next command, as export prints


@pytest.mark.slow
@pytest.mark.needs_tf
def test_gate_exit_code_names_the_artifact(bad_run, mnist_dir):
    pytest.importorskip("tensorflow")
    result = _bench(bad_run, *QUICK, "--no-save", mnist_dir=mnist_dir)
    assert result.exit_code == 1
    line = _error_line(result)
    assert "tiny_float32.tflite (float32) scored" in line and "below --min-accuracy 99.00%" in line
    assert "recommendation: none" in result.output  # the table is still printed
    assert "next:" not in result.output  # nothing to recommend running


@pytest.mark.slow
@pytest.mark.needs_tf
def test_model_files_are_benchmarked_directly(tiny_run, mnist_dir):
    pytest.importorskip("tensorflow")
    model = tiny_run / "export" / "tiny_int8.tflite"
    result = _bench(model, *QUICK, "--min-accuracy", "0", "--threads", "1", mnist_dir=mnist_dir)
    assert result.exit_code == 0, result.output
    assert "tiny_int8.tflite" in result.output and "tiny_float32" not in result.output
    assert "p50 ms 1t" in result.output and "p50 ms 2t" not in result.output
    assert "written: " not in result.output  # files alone: no default folder to write to


@pytest.mark.slow
@pytest.mark.needs_tf
def test_files_of_the_same_name_are_told_apart(tiny_run, mnist_dir, tmp_path):
    """Two runs' ``tiny_int8.tflite`` side by side: each row names the end of its path that tells them apart."""
    import shutil

    pytest.importorskip("tensorflow")
    for run in ("a", "b"):
        shutil.copytree(tiny_run / "export", tmp_path / run / "export")
    files = [tmp_path / run / "export" / "tiny_int8.tflite" for run in ("a", "b")]
    result = _bench(*files, *QUICK, "--min-accuracy", "0", "--threads", "1", "--json", tmp_path / "r.json",
                    mnist_dir=mnist_dir)
    assert result.exit_code == 0, result.output
    names = [r["name"] for r in json.loads((tmp_path / "r.json").read_text())["rows"]]
    assert names == ["a/export/tiny_int8.tflite", "b/export/tiny_int8.tflite"]
    assert all(name in result.output for name in names)


@pytest.mark.parametrize("args, message", [
    (["--runs", "0"], "--runs must be a whole number >= 1, got 0"),
    (["--threads", "-1"], "--threads must be whole numbers from 1 to 64"),
    (["--threads", "one"], "--threads takes comma-separated whole numbers"),
    (["--min-accuracy", "99"], "--min-accuracy is a fraction"),
])
def test_impossible_options(tmp_path, args, message):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    result = _bench(model, *args)
    assert result.exit_code == 1 and message in _error_line(result)


def test_bad_targets(tmp_path):
    assert "does not exist" in _error_line(_bench(tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no artifacts found in" in _error_line(_bench(empty))
    text = tmp_path / "notes.txt"
    text.write_text("hi")
    assert "is not a model file" in _error_line(_bench(text))


def test_help_lists_the_options():
    result = runner.invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    for option in ("--min-accuracy", "--quick", "--json", "--markdown", "--threads", "--batch-sizes", "--runs"):
        assert option in result.output
