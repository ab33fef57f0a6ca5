"""Gates that trip, conversions that fail, and bad input on the command line: one line, exit 1, no file left."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.needs_tf]

from export_helpers import QUICK, TINY_GATES, write_run  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from edgedigits.cli import app  # noqa: E402
from edgedigits.errors import ExportError, GateError, RunError  # noqa: E402
from edgedigits.export import FORMATS, ExportConfig, export  # noqa: E402
from edgedigits.export.verify import Verification, check_gate  # noqa: E402
from edgedigits_runtime.evaluate import Score  # noqa: E402

runner = CliRunner()


def _cli(*args):
    result = runner.invoke(app, ["export", *map(str, args)])
    return result, result.stdout + (result.stderr if result.stderr_bytes is not None else "")


def _verification(accuracy, agreement):
    score = Score(accuracy=accuracy, images=10_000, errors=round((1 - accuracy) * 10_000), per_class_accuracy=[None] * 10,
                  agreement=agreement, predictions=np.zeros(10_000, np.int64))
    return Verification(score=score, input={}, output={}, sha256="0" * 64)


# --------------------------------------------------------------------------- gates


def test_accuracy_gate_absolute_and_drop():
    config = ExportConfig(run="r").resolved()  # the default gate, 99.4%
    check_gate("accuracy", _verification(0.9950, 0.99), 0.9960, config, "int8")  # 0.10 points down: fine
    with pytest.raises(GateError, match=r"int8: test accuracy 99\.30% is below the gate 99\.40%"):
        check_gate("accuracy", _verification(0.9930, 0.99), 0.9935, config, "int8")
    with pytest.raises(GateError, match=r"0\.20 points below the Keras model's 99\.60% \(gate: at most 0\.15\)"):
        check_gate("accuracy", _verification(0.9940, 0.99), 0.9960, config, "int8")
    lowered = ExportConfig(run="r", min_accuracy=0.99, max_drop=0.5).validate()
    check_gate("accuracy", _verification(0.9930, 0.99), 0.9960, lowered, "int8")


def test_agreement_gate():
    config = ExportConfig(run="r").validate()
    check_gate("agreement", _verification(0.5, 0.9990), 0.5, config, "float32")
    with pytest.raises(GateError, match=r"float32: agrees with the Keras model on 99\.80% of test images \(20 differ"):
        check_gate("agreement", _verification(0.5, 0.9980), 0.5, config, "float32")


@pytest.mark.slow
def test_a_tripped_gate_writes_nothing_and_raises(tiny_run, mnist_dir, tmp_path):
    out = tmp_path / "gated"
    config = ExportConfig(run=str(tiny_run), formats=["ptq", "float32"], out=str(out), data_dir=str(mnist_dir),
                          **{**TINY_GATES, "min_accuracy": 0.999}, **QUICK)
    result = export(config)
    ptq, float32 = result.row("ptq"), result.row("float32")
    assert (ptq.status, ptq.error_kind, ptq.path) == ("error", "gate", None)
    assert ptq.accuracy is not None and "below the gate 99.90%" in ptq.error
    assert not (out / FORMATS["ptq"].filename("edge")).exists()
    assert float32.status == "ok" and (out / "edge_float32.tflite").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["artifacts"]) == ["edge_float32.tflite"]
    with pytest.raises(GateError, match="ptq: test accuracy"):
        result.raise_for_errors()


@pytest.mark.slow
def test_a_conversion_failing_inside_tensorflow_is_an_error_row(tiny_run, mnist_dir, tmp_path, monkeypatch):
    def broken(ctx):
        raise RuntimeError("tensorflow/lite/...: failed to legalize operation 'tfl.fancy_op'\nmore detail")

    monkeypatch.setitem(FORMATS, "float16", dataclasses.replace(FORMATS["float16"], convert=broken))
    out = tmp_path / "broken"
    config = ExportConfig(run=str(tiny_run), formats=["float16", "float32"], out=str(out),
                          data_dir=str(mnist_dir), **TINY_GATES)
    result = export(config)
    row = result.row("float16")
    assert (row.status, row.error_kind) == ("error", "conversion")
    assert "float16: conversion failed inside the converter: RuntimeError: tensorflow/lite" in row.error
    assert "more detail" not in row.error
    assert not (out / "edge_float16.tflite").exists() and (out / "edge_float32.tflite").is_file()
    with pytest.raises(ExportError, match="float16: conversion failed"):
        result.raise_for_errors()

    cli, output = _cli(tiny_run, "--formats", "float16", "--out", tmp_path / "broken-cli", "--data-dir", mnist_dir)
    assert cli.exit_code == 1
    assert "error: float16: conversion failed inside the converter" in output
    assert not list((tmp_path / "broken-cli").glob("*.tflite"))


@pytest.mark.slow
def test_a_format_whose_artifact_is_a_folder(tiny_run, mnist_dir, tmp_path, monkeypatch):
    """A registry row with a ``write`` hook (a source pack, ...): verified like the others, listed, cleared."""
    def write_pack(path, data, ctx):
        path.mkdir()
        (path / "model.tflite").write_bytes(data)
        (path / "README.txt").write_text("the model and its sources\n")
        return path

    pack = dataclasses.replace(FORMATS["float32"], name="pack", pattern="{arch}_pack", write=write_pack)
    monkeypatch.setitem(FORMATS, "pack", pack)
    out = tmp_path / "packed"
    config = dict(run=str(tiny_run), out=str(out), data_dir=str(mnist_dir), **TINY_GATES)
    result = export(ExportConfig(formats=["pack"], **config))
    assert result.ok, result.to_table()
    assert (out / "edge_pack" / "model.tflite").is_file() and result.row("pack").path == str(out / "edge_pack")
    entry = json.loads((out / "manifest.json").read_text())["artifacts"]["edge_pack"]
    assert entry["format"] == "pack" and entry["agreement"] >= 0.99
    with pytest.raises(RunError, match="already holds an export"):
        export(ExportConfig(formats=["float32"], **config))
    assert export(ExportConfig(formats=["float32"], overwrite=True, **config)).ok
    assert not (out / "edge_pack").exists() and (out / "edge_float32.tflite").is_file()


# --------------------------------------------------------------------------- command line


def test_help_lists_every_format():
    result = runner.invoke(app, ["export", "--help"])
    assert result.exit_code == 0
    for name, row in FORMATS.items():
        assert f"--{name}" in result.stdout and row.filename("<arch>") in result.stdout


def test_missing_run_folder(tmp_path):
    result, output = _cli(tmp_path / "nope", "--int8")
    assert result.exit_code == 1 and "error: run folder" in output and "does not exist" in output


def test_no_run_given_and_none_trained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here
    result, output = _cli("--int8")
    assert result.exit_code == 1 and "no finished run under runs/" in output and "edgedigits train" in output


def test_run_folder_without_model(tmp_path):
    (tmp_path / "run").mkdir()
    result, output = _cli(tmp_path / "run")
    assert result.exit_code == 1 and "holds no model.keras" in output


def test_unknown_format_suggests_closest(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"never loaded: the options are checked first")
    result, output = _cli(run, "--formats", "onnx-int")
    assert result.exit_code == 1 and "did you mean 'onnx-int8'" in output


@pytest.mark.parametrize("input_shape, classes, what", [((32, 32, 3), 10, "takes input (None, 32, 32, 3)"),
                                                         ((28, 28, 1), 5, "gives output (None, 5)")])
def test_model_of_another_shape(tmp_path, input_shape, classes, what):
    from edgedigits._tf import tf_and_keras

    _, keras = tf_and_keras()
    model = keras.Sequential([keras.layers.Input(input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(classes, activation="softmax")])
    run = write_run(tmp_path / "other", model, arch="other")
    result, output = _cli(run, "--float32")
    assert result.exit_code == 1 and what in output and "error: " in output
    assert not (run / "export").exists()


@pytest.mark.slow
def test_refuses_an_existing_export_unless_overwrite(tiny_run, mnist_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "edge_int8.tflite").write_bytes(b"old")
    result, output = _cli(tiny_run, "--float32", "--out", out, "--data-dir", mnist_dir)
    assert result.exit_code == 1 and "already holds an export (edge_int8.tflite)" in output and "--overwrite" in output
    assert (out / "edge_int8.tflite").read_bytes() == b"old"

    result, output = _cli(tiny_run, "--float32", "--out", out, "--overwrite", "--data-dir", mnist_dir,
                          "--min-agreement", "0.99")
    assert result.exit_code == 0, output
    assert sorted(p.name for p in out.glob("*.tflite")) == ["edge_float32.tflite"]  # the stale int8 file is gone
    assert "edgedigits bench" in output and "edgedigits predict" in output and "edge_float32.tflite" in output


@pytest.mark.slow
def test_gate_failure_on_the_command_line(tiny_run, mnist_dir, tmp_path):
    # The tiny model is far below the real 99.4% gate: the command must say so and fail.
    result, output = _cli(tiny_run, "--ptq", "--out", tmp_path / "o", "--data-dir", mnist_dir,
                          "--calibration-samples", "32")
    assert result.exit_code == 1
    assert "error: ptq: test accuracy" in output and "below the gate 99.40%" in output and "--min-accuracy" in output
    assert not list((tmp_path / "o").glob("*.tflite"))


@pytest.mark.slow
def test_a_failed_export_is_retried_without_overwrite(tiny_run, mnist_dir, tmp_path):
    # Every format failed its gate: the folder holds only that attempt's records (export_config.json,
    # export_results.json), nothing that could pass for a result; lowering the gate is a retry, not an overwrite.
    out = tmp_path / "o"
    result, output = _cli(tiny_run, "--ptq", "--out", out, "--data-dir", mnist_dir, "--calibration-samples", "32")
    assert result.exit_code == 1 and "below the gate" in output
    assert sorted(p.name for p in out.iterdir()) == ["export_config.json", "export_results.json"]
    result, output = _cli(tiny_run, "--ptq", "--out", out, "--data-dir", mnist_dir, "--calibration-samples", "32",
                          "--min-accuracy", "0.5", "--max-drop", "100")
    assert result.exit_code == 0, output
    assert (out / "manifest.json").is_file() and json.loads((out / "export_results.json").read_text())["rows"][0]["status"] == "ok"
    assert "(manifest.json, 1 artifact, each checked on 10,000 test images)" in output  # not "1 artifacts"
    result, output = _cli(tiny_run, "--ptq", "--out", out, "--data-dir", mnist_dir, "--calibration-samples", "32")
    assert result.exit_code == 1 and "already holds an export (edge_ptq_int8.tflite, keras_predictions.npy, manifest.json)" in output


@pytest.mark.slow
def test_a_file_that_cannot_be_written_is_that_formats_error_row(tiny_run, mnist_dir, tmp_path, monkeypatch):
    """A full disk while writing one artifact (the kernel's own ENOSPC: /dev/full) was a traceback that stopped the
    export; now that format is an error row, the others are written and listed, and no half-written folder stays."""
    def write_to_full_disk(path, data, ctx):
        path.mkdir()
        (path / "model.tflite").write_bytes(data[:100])
        with open("/dev/full", "wb") as full:
            full.write(data)
            full.flush()
        return path

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    monkeypatch.setitem(FORMATS, "pack", dataclasses.replace(FORMATS["float32"], name="pack", pattern="{arch}_pack",
                                                             write=write_to_full_disk))
    out = tmp_path / "o"
    result = export(ExportConfig(run=str(tiny_run), out=str(out), formats=["float32", "pack"], data_dir=str(mnist_dir),
                                 **TINY_GATES))
    pack = result.row("pack")
    assert (pack.status, pack.error_kind, pack.path) == ("error", "write", None)
    assert f"pack: could not write {out / 'edge_pack'}: No space left on device (disk full)" in pack.error
    assert result.row("float32").status == "ok" and not (out / "edge_pack").exists()
    assert list(json.loads((out / "manifest.json").read_text())["artifacts"]) == ["edge_float32.tflite"]
    with pytest.raises(ExportError, match="pack: could not write"):
        result.raise_for_errors()


@pytest.mark.slow
def test_an_out_folder_that_cannot_be_made_is_one_line(tiny_run, mnist_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result, output = _cli(tiny_run, "--float32", "--out", tmp_path / "notes.txt" / "export", "--data-dir", mnist_dir)
    assert result.exit_code == 1 and "Traceback" not in output
    assert f"error: cannot write to {tmp_path / 'notes.txt' / 'export'}: Not a directory; choose another --out" in output
