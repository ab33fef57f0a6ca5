"""scripts/ship_reader_model.py: ships a reader run's int8 file with its entry beside the classifier's, refuses bad ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgedigits_runtime.reader import DEFAULT_READER, NumberReader

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ship_reader_model.py"

pytest.importorskip("cv2")


@pytest.fixture
def reader_run(tmp_path):
    """A run folder whose export holds the shipped reader and its entry (as `edgedigits train-reader` writes it)."""
    manifest = json.loads((DEFAULT_READER.parent / "manifest.json").read_text())
    export = tmp_path / "run" / "export"
    export.mkdir(parents=True)
    (export / DEFAULT_READER.name).write_bytes(DEFAULT_READER.read_bytes())
    entry = {k: v for k, v in manifest["artifacts"][DEFAULT_READER.name].items() if k != "shipped"}
    manifest["artifacts"] = {DEFAULT_READER.name: entry}
    (export / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path / "run"


def _ship(run, models, mnist_dir, *extra):
    cmd = [sys.executable, str(SCRIPT), str(run), "--data-dir", str(mnist_dir), "--models-dir", str(models), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_shipped_reader_matches_its_manifest_entry():
    manifest = json.loads((DEFAULT_READER.parent / "manifest.json").read_text())
    entry = manifest["artifacts"][DEFAULT_READER.name]
    assert entry["kind"] == "number_reader" and entry["format"] == "int8" and entry["input"]["dtype"] == "int8"
    assert entry["shipped"]["photo_accuracy"] >= 0.9
    assert "default_int8.tflite" in manifest["artifacts"]  # the classifier's entry is kept beside it
    reader = NumberReader(DEFAULT_READER)
    assert reader.info["verified"] and reader.info["manifest"].endswith("manifest.json")
    assert DEFAULT_READER.stat().st_size < 512 * 1024


def test_ship_copies_and_keeps_the_classifier_entry(reader_run, tmp_path, mnist_dir):
    models = tmp_path / "models"
    models.mkdir()
    classifier_manifest = json.loads((DEFAULT_READER.parent / "manifest.json").read_text())
    classifier_manifest["artifacts"] = {"default_int8.tflite": classifier_manifest["artifacts"]["default_int8.tflite"]}
    (models / "manifest.json").write_text(json.dumps(classifier_manifest))
    done = _ship(reader_run, models, mnist_dir, "--photos", "20", "--min-accuracy", "0.5")
    assert done.returncode == 0, done.stderr
    written = json.loads((models / "manifest.json").read_text())
    assert set(written["artifacts"]) == {"default_int8.tflite", DEFAULT_READER.name}
    assert (models / DEFAULT_READER.name).read_bytes() == DEFAULT_READER.read_bytes()
    assert written["artifacts"][DEFAULT_READER.name]["shipped"]["photo_accuracy"] >= 0.5


def test_ship_refuses_missing_wrong_changed_and_weak_readers(reader_run, tmp_path, mnist_dir):
    models = tmp_path / "models"
    done = _ship(tmp_path / "nothing", models, mnist_dir)
    assert done.returncode == 1 and "no export manifest" in done.stderr
    weak = _ship(reader_run, models, mnist_dir, "--photos", "10", "--min-accuracy", "1.01")
    assert weak.returncode == 1 and "below 101.0%" in weak.stderr and not models.exists()
    manifest_path = reader_run / "export" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    model = reader_run / "export" / DEFAULT_READER.name
    model.write_bytes(model.read_bytes()[:-1] + b"\0")
    changed = _ship(reader_run, models, mnist_dir)
    assert changed.returncode == 1 and "changed since export" in changed.stderr
    manifest["artifacts"] = {"edge_int8.tflite": manifest["artifacts"][DEFAULT_READER.name]}
    manifest_path.write_text(json.dumps(manifest))
    wrong = _ship(reader_run, models, mnist_dir)
    assert wrong.returncode == 1 and "no number reader entry" in wrong.stderr and not models.exists()
