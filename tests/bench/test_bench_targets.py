"""Which files a bench command means: run folders, export folders, model files; bad targets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits.bench.targets import Artifact, load_reference, resolve_targets
from edgedigits.errors import RunError, UsageError


def _manifest(folder, names, reference=None):
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name in names:
        (folder / name).write_bytes(b"model")
        artifacts[name] = {"format": name.split(".")[0], "runtime": "onnx" if name.endswith(".onnx") else "tflite"}
    manifest = {"artifacts": artifacts}
    if reference is not None:
        np.save(folder / "keras_predictions.npy", reference)
        manifest["reference"] = {"file": "keras_predictions.npy"}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_run_folder_and_export_folder_give_the_manifest_artifacts(tmp_path):
    run = tmp_path / "run"
    _manifest(run / "export", ["int8.tflite", "onnx.onnx"])
    for target in (run, run / "export"):
        artifacts, run_dir = resolve_targets([str(target)])
        assert [(a.name, a.format, a.runtime) for a in artifacts] == [("int8.tflite", "int8", "tflite"),
                                                                      ("onnx.onnx", "onnx", "onnx")]
        assert run_dir == run


def test_files_use_their_manifest_entry_when_there_is_one(tmp_path):
    _manifest(tmp_path / "export", ["int8.tflite"])
    (tmp_path / "loose.onnx").write_bytes(b"x")
    artifacts, run_dir = resolve_targets([str(tmp_path / "export" / "int8.tflite"), str(tmp_path / "loose.onnx"),
                                          str(tmp_path / "loose.onnx")])
    assert [(a.format, a.entry is not None) for a in artifacts] == [("int8", True), ("onnx", False)]  # deduplicated
    assert run_dir is None


def test_listed_but_missing_file_is_a_problem_not_a_crash(tmp_path):
    _manifest(tmp_path, ["a.tflite", "b.tflite"])
    (tmp_path / "b.tflite").unlink()
    artifacts, _ = resolve_targets([str(tmp_path)])
    assert artifacts[0].problem is None and "listed in" in artifacts[1].problem


@pytest.mark.parametrize("setup, error, message", [
    (lambda p: None, UsageError, "does not exist"),
    (lambda p: p.mkdir(), RunError, "no artifacts found"),
    (lambda p: (p.mkdir(), (p / "model.keras").write_bytes(b"")), RunError, "edgedigits export --int8"),
    (lambda p: p.write_text("hello"), UsageError, "is not a model file"),
    (lambda p: (p.mkdir(), (p / "manifest.json").write_text("{oops")), RunError, "not readable JSON"),
    (lambda p: (p.mkdir(), (p / "manifest.json").write_text('{"artifacts": {}}')), RunError, "lists none"),
])
def test_bad_targets_say_what_is_wrong(tmp_path, setup, error, message):
    target = tmp_path / "target"
    setup(target)
    with pytest.raises(error, match=message):
        resolve_targets([str(target)])


def test_reference_is_loaded_checked_and_cut(tmp_path):
    _manifest(tmp_path, ["a.tflite"], reference=np.arange(20, dtype=np.uint8) % 10)
    artifact = resolve_targets([str(tmp_path)])[0][0]
    ref, note = load_reference(artifact, 5)
    assert note is None and ref.tolist() == [0, 1, 2, 3, 4]
    artifact.reference_sha256 = "0" * 64
    assert load_reference(artifact, 5) == (None, "reference keras_predictions.npy does not match its SHA-256 in the manifest")
    assert load_reference(Artifact(path=tmp_path / "a.tflite", format="tflite", runtime="tflite"), 5) == (None, None)
