"""The exporter's side of the integrity record: embedding keeps the model, and old exports get one when shipped."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]

from edgedigits.errors import ExportError  # noqa: E402
from edgedigits.export.record import embed_record, record_document  # noqa: E402
from edgedigits_runtime import DEFAULT_MODEL, DigitClassifier  # noqa: E402
from edgedigits_runtime.record import read_record  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BARE_ONNX = ROOT / "tests" / "runtime" / "fixtures" / "linear_logits.onnx"


def _bare_tflite() -> bytes:
    data = DEFAULT_MODEL.read_bytes()
    return data if read_record(data).status == "absent" else data.replace(b"edgedigits-record", b"x" * 17)


@pytest.mark.parametrize("runtime", ["tflite", "onnx"])
def test_embedding_adds_a_sealed_record_and_keeps_the_model(runtime, tmp_path, test_images):
    pytest.importorskip("onnxruntime")
    bare = _bare_tflite() if runtime == "tflite" else BARE_ONNX.read_bytes()
    entry = {"format": "int8" if runtime == "tflite" else "onnx", "runtime": runtime, "sha256": "0" * 64, "size": 1,
             "output_kind": "probabilities" if runtime == "tflite" else "logits"}
    sealed = embed_record(bare, runtime, record_document(entry, {"labels": [str(d) for d in range(10)]}))
    record = read_record(sealed)
    assert record.matches and record.entry == {k: v for k, v in entry.items() if k not in ("sha256", "size")}
    with pytest.raises(ExportError, match="already carries"):
        embed_record(sealed, runtime, record_document(entry, {}))
    images = test_images[0][:300]
    lone, other = tmp_path / f"m.{runtime}", tmp_path / "bare" / f"m.{runtime}"
    other.parent.mkdir()
    lone.write_bytes(sealed)
    other.write_bytes(bare)
    with pytest.warns(UserWarning):
        reference = DigitClassifier(other).predict_proba(images)
    np.testing.assert_array_equal(DigitClassifier(lone, strict=True).predict_proba(images), reference)


def test_ship_script_adds_the_record_to_an_older_export(tmp_path, mnist_dir):
    """An int8 file exported before records existed: shipping embeds one (with the toolkit installed)."""
    manifest = json.loads((DEFAULT_MODEL.parent / "manifest.json").read_text())
    bare = _bare_tflite()
    entry = {**manifest["artifacts"][DEFAULT_MODEL.name], "sha256": hashlib.sha256(bare).hexdigest(), "size": len(bare)}
    entry.pop("reject", None)
    export = tmp_path / "run" / "export"
    export.mkdir(parents=True)
    (export / "edge_int8.tflite").write_bytes(bare)
    (export / "manifest.json").write_text(json.dumps({**manifest, "artifacts": {"edge_int8.tflite": entry}}))
    out = tmp_path / "models"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "ship_default_model.py"), str(tmp_path / "run"),
                           "--data-dir", str(mnist_dir), "--models-dir", str(out), "--min-accuracy", "0.98"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "adding its integrity record" in done.stderr
    shipped = (out / "default_int8.tflite").read_bytes()
    assert read_record(shipped).matches and shipped != bare
    written = json.loads((out / "manifest.json").read_text())["artifacts"]["default_int8.tflite"]
    assert written["sha256"] == hashlib.sha256(shipped).hexdigest() and written["size"] == len(shipped)
    (out / "manifest.json").unlink()
    assert DigitClassifier(out / "default_int8.tflite", strict=True).info["record"] == "ok"
