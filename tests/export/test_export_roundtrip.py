"""Round trip for every registered format: export -> load from the written file -> predict -> compare with Keras.

The artifacts are read back here from disk the way a device does (DigitClassifier on the
file, its bytes checked against the manifest beside it), not from the exporter's memory.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]

from edgedigits.export import FORMATS  # noqa: E402
from edgedigits_runtime import DigitClassifier  # noqa: E402
from edgedigits_runtime.fileio import sha256_file  # noqa: E402

N_IMAGES = 500


@pytest.fixture(scope="module")
def keras_top1(tiny_model, test_images):
    images, _ = test_images
    return tiny_model.predict(images[:N_IMAGES].astype(np.float32)[..., None] / 255.0, verbose=0).argmax(axis=1)


def test_every_format_exported(exported):
    assert exported.ok, exported.to_table()
    assert [r.format for r in exported.rows] == list(FORMATS)
    assert exported.test_images == 10_000


def _model_bytes(path: Path) -> bytes:
    """An artifact's model bytes: the file, or the model array of a source pack folder (``micro``)."""
    if path.is_file():
        return path.read_bytes()
    source = (path / "edgedigits_model.cc").read_text()
    body = source.split("g_edgedigits_model[] = {", 1)[1].split("};", 1)[0]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body))


@pytest.mark.parametrize("name", list(FORMATS))
def test_round_trip(name, exported, keras_top1, test_images, tmp_path):
    row = exported.row(name)
    path = Path(row.path)
    fmt = FORMATS[name]
    assert path.name == fmt.filename("edge") and (path.is_file() if fmt.write is None else path.exists())
    data = _model_bytes(path)
    manifest = json.loads(exported.manifest_path.read_text())
    entry = manifest["artifacts"][path.name]
    assert entry["format"] == name and entry["runtime"] == fmt.runtime
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data) == row.size
    assert entry["output_kind"] == "probabilities" and entry["input"]["shape"] == [-1, 28, 28, 1]

    images, labels = test_images
    if path.is_dir():  # a source pack: its model array, copied alone, verifies itself and runs
        path = tmp_path / f"{name}.{fmt.runtime}"
        path.write_bytes(data)
    clf = DigitClassifier(path)
    assert clf.info["verified"] and clf.info["format"] == name
    predicted = clf.predict(images[:N_IMAGES])
    agreement = float((predicted == keras_top1).mean())
    # Float formats compute what Keras computes; quantized ones may flip a few borderline images.
    assert agreement >= (0.99 if fmt.gate == "agreement" else 0.9), f"{name}: agreement {agreement:.3f}"
    assert float((predicted == labels[:N_IMAGES]).mean()) > 0.5  # the tiny model is far above chance


def test_int8_tflite_input_is_exact_uint8_shift(exported):
    manifest = json.loads(exported.manifest_path.read_text())
    for name in ("edge_int8.tflite", "edge_ptq_int8.tflite"):
        spec = manifest["artifacts"][name]["input"]
        assert spec["dtype"] == "int8" and spec["zero_point"] == -128
        assert spec["scale"] == pytest.approx(1 / 255, rel=1e-6)
        assert manifest["artifacts"][name]["output"]["dtype"] == "int8"


def test_int8_tflite_is_integer_only(exported):
    """No float op or QUANTIZE/DEQUANTIZE left in the Pi model (they cost time on the device)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=exported.row("int8").path)
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert not ops & {"QUANTIZE", "DEQUANTIZE"}, ops
    tensors = [t for t in interp.get_tensor_details() if t["name"] and t["shape"].size]
    assert all(t["dtype"] in (np.int8, np.int32) for t in tensors), {t["name"]: t["dtype"] for t in tensors}


def test_manifest_top_level(exported, tiny_run):
    manifest = json.loads(exported.manifest_path.read_text())
    assert manifest["schema"] == "edgedigits-manifest/1"
    assert manifest["labels"] == [str(d) for d in range(10)]
    assert manifest["preprocessing"]["layout"] == "NHWC" and manifest["preprocessing"]["scale"] == "x / 255"
    assert manifest["source_run"]["model_sha256"] == sha256_file(tiny_run / "model.keras")
    assert manifest["source_run"]["arch"] == "edge"
    assert manifest["source_run"]["test_accuracy"] == pytest.approx(exported.keras_accuracy)
    assert manifest["tools"]["tensorflow"] and manifest["tools"]["tfmot"] and manifest["tools"]["onnxruntime"]
    for name in ("edge_float32.onnx", "edge_int8.onnx"):
        assert manifest["artifacts"][name]["opset"] == 17
    reference = exported.out_dir / manifest["reference"]["file"]
    assert manifest["reference"]["sha256"] == sha256_file(reference)


def test_reference_predictions_match_keras(exported, keras_top1):
    reference = np.load(exported.out_dir / "keras_predictions.npy")
    assert reference.shape == (10_000,)
    np.testing.assert_array_equal(reference[:N_IMAGES], keras_top1)


def test_export_folder_has_config_results_and_no_partial_files(exported):
    names = {p.name for p in exported.out_dir.iterdir()}
    assert {"manifest.json", "export_config.json", "export_results.json", "keras_predictions.npy"} <= names
    assert not [n for n in names if "partial" in n]
    saved = json.loads((exported.out_dir / "export_results.json").read_text())
    assert [r["status"] for r in saved["rows"]] == ["ok"] * len(FORMATS)
    assert "int8" in exported.to_table() and json.loads(exported.to_json())["keras_accuracy"] == exported.keras_accuracy


def test_every_artifact_carries_its_integrity_record(exported, tmp_path):
    """A file copied alone verifies itself: its record holds its manifest entry and covers all its bytes."""
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.record import read_record

    manifest = json.loads(exported.manifest_path.read_text())
    for row in exported.rows:
        path = Path(row.path)
        data = _model_bytes(path)
        record = read_record(data)
        assert record.status == "ok" and record.matches, row.format
        entry = manifest["artifacts"][path.name]
        measured_after = ("sha256", "size", "micro")  # the whole file; what the micro pack's writer measured
        expected = {k: v for k, v in entry.items() if k not in measured_after}
        if isinstance(expected.get("reject"), dict):  # how the rule was chosen, in words: manifest.json only
            expected["reject"] = {k: v for k, v in expected["reject"].items() if k != "chosen_on"}
        assert record.entry == expected, row.format
        assert record.document["labels"] == manifest["labels"]
        assert record.document["source_run"]["model_sha256"] == manifest["source_run"]["model_sha256"]
        lone = tmp_path / path.name
        lone.write_bytes(data)
        clf = DigitClassifier(lone, strict=True)  # no manifest beside it
        assert clf.info["verified"] and clf.info["manifest"] == "embedded record" and clf.info["format"] == row.format
