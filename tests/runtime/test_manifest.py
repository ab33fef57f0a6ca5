"""Model files against their manifest (SHA-256, schema), and model files that are broken or of another kind."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile

import numpy as np
import pytest
from damage import without_record

from edgedigits_runtime import DigitClassifier, ManifestWarning
from edgedigits_runtime.errors import ModelError, ModelIntegrityError


def _predicts(clf, digits):
    images, labels = digits
    assert (clf.predict(images) == labels).mean() >= 0.98


def test_changed_byte_is_refused(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the weights: would load and run silently wrong
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"changed since export.*re-copy the file or re-export it"):
        DigitClassifier(model_copy)


def test_manifest_found_beside_given_as_path_or_dict(model_copy, digits):
    manifest = json.loads((model_copy.parent / "manifest.json").read_text())
    for given in (None, model_copy.parent / "manifest.json", manifest):
        clf = DigitClassifier(model_copy, manifest=given)
        assert clf.info["verified"] is True
    moved = model_copy.parent / "elsewhere"
    moved.mkdir()
    shutil.move(model_copy.parent / "manifest.json", moved / "m.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a given manifest: no warning
        clf = DigitClassifier(model_copy, manifest=moved / "m.json")
    assert clf.info["verified"] and clf.info["manifest"] == str(moved / "m.json")
    _predicts(clf, digits)


def test_no_manifest_warns_and_works(bare_copy, digits):
    with pytest.warns(ManifestWarning, match="no manifest.json beside .*no integrity record inside it.*unverified"):
        clf = DigitClassifier(bare_copy)
    assert clf.info["verified"] is False and clf.info["format"] == "tflite"
    assert clf.info["input_dtype"] == "int8" and clf.info["output_kind"] == "probabilities"  # read from the model
    _predicts(clf, digits)


def test_no_entry_for_the_file_warns_and_works(model_copy, digits):
    renamed = model_copy.with_name("other.tflite")
    renamed.write_bytes(without_record(model_copy.read_bytes()))
    with pytest.warns(ManifestWarning, match="no entry for other.tflite .*lists default_int8.tflite"):
        clf = DigitClassifier(renamed)
    assert clf.info["verified"] is False
    _predicts(clf, digits)


@pytest.mark.parametrize("edit, message", [
    (lambda m: "{not json", "not readable JSON"),
    (lambda m: json.dumps([1, 2]), "JSON list, not an object"),
    (lambda m: json.dumps({**m, "schema": "edgedigits-manifest/9"}), "has schema 'edgedigits-manifest/9'"),
    (lambda m: json.dumps({k: v for k, v in m.items() if k != "artifacts"}), "no 'artifacts'"),
    (lambda m: json.dumps({**m, "artifacts": {"default_int8.tflite": {"sha256": "abc"}}}), "no valid 'sha256'"),
    (lambda m: json.dumps({**m, "artifacts": {"default_int8.tflite": {
        **m["artifacts"]["default_int8.tflite"], "output_kind": "scores"}}}), "output_kind 'scores'"),
    (lambda m: json.dumps({**m, "artifacts": {"default_int8.tflite": {
        **m["artifacts"]["default_int8.tflite"], "runtime": "onnx"}}}), "manifest entry says onnx"),
])
def test_malformed_manifest_is_a_model_error(model_copy, edit, message):
    path = model_copy.parent / "manifest.json"
    path.write_text(edit(json.loads(path.read_text())))
    with pytest.raises(ModelError, match=message):
        DigitClassifier(model_copy)


def test_given_manifest_missing(model_copy):
    with pytest.raises(ModelError, match="manifest .*nope.json not found"):
        DigitClassifier(model_copy, manifest=model_copy.parent / "nope.json")


def _png_bytes():
    return b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.mark.parametrize("make, message", [
    (lambda p: None, r"model file .* not found"),
    (lambda p: p.write_bytes(b""), r"is empty \(0 bytes\)"),
    (lambda p: p.write_bytes(_png_bytes()), "it is a PNG image"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("config.json", "{}"), "a zip archive .*a .keras model"),
    (lambda p: p.write_text('{"a": 1}'), "a JSON/text file"),
    (lambda p: p.write_bytes(bytes(range(7, 200))), "neither TFLite"),
    (lambda p: p.mkdir(), "is a folder"),
])
def test_not_a_model(tmp_path, make, message):
    path = tmp_path / "model.tflite"
    make(path)
    with pytest.raises(ModelError, match=message):
        DigitClassifier(path)


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_truncated_model_is_a_model_error(bare_copy, cut):
    data = bare_copy.read_bytes()  # no manifest, no record: without a hash check, the verifier must catch it
    bare_copy.write_bytes(data[: int(len(data) * cut)])
    with pytest.warns(ManifestWarning), pytest.raises(ModelError, match="not a valid tflite model.*truncated or corrupted"):
        DigitClassifier(bare_copy)


def test_truncated_model_with_manifest_is_an_integrity_error(model_copy):
    model_copy.write_bytes(model_copy.read_bytes()[:1000])
    with pytest.raises(ModelIntegrityError):
        DigitClassifier(model_copy)


def test_garbage_after_tflite_header_is_a_model_error(tmp_path):
    path = tmp_path / "x.tflite"
    path.write_bytes(b"\x1c\0\0\0TFL3" + np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.warns(ManifestWarning), pytest.raises(ModelError, match="not a valid tflite model"):
        DigitClassifier(path)


def test_garbage_onnx_is_a_model_error(tmp_path):
    pytest.importorskip("onnxruntime")
    path = tmp_path / "x.onnx"
    path.write_bytes(b"\x08\x07" + b"\xff" * 300)
    with pytest.warns(ManifestWarning), pytest.raises(ModelError, match="not a valid onnx model"):
        DigitClassifier(path)
