"""The pretrained model shipped in the package: matches its manifest, scores >= 99.4% on MNIST, small."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgedigits_runtime import DigitClassifier, load_default

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_model_matches_its_manifest(shipped):
    model, manifest_path = shipped
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["artifacts"][model.name]
    data = model.read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
    assert entry["format"] == "int8" and entry["runtime"] == "tflite" and entry["input"]["dtype"] == "int8"
    assert len(data) < 64 * 1024  # a few tens of KB
    assert manifest["schema"] == "edgedigits-manifest/1"
    assert manifest["shipped"]["runtime_accuracy"] >= 0.994 and manifest["shipped"]["from_file"].endswith("_int8.tflite")
    assert load_default().info["verified"] is True


def test_shipped_model_scores_on_the_full_mnist_test_set(clf, mnist_test):
    images, labels = mnist_test
    assert len(labels) == 10000
    predictions = np.concatenate([clf.predict(images[i : i + 1000]) for i in range(0, 10000, 1000)])
    accuracy = float((predictions == labels).mean())
    assert accuracy >= 0.994, f"shipped model: {accuracy:.2%}"


def test_importing_and_predicting_never_imports_tensorflow():
    code = ("import sys, numpy as np\n"
            "import edgedigits_runtime\n"
            "from edgedigits_runtime import load_default, preprocess\n"
            "from edgedigits_runtime import cli, predict, evaluate\n"
            "clf = load_default()\n"
            "clf.predict(np.zeros((3, 28, 28), np.uint8))\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras', 'edgedigits'))\n"
            "print('IMPORTED', bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT / "runtime", timeout=120)
    assert out.returncode == 0, out.stderr
    assert "IMPORTED []" in out.stdout


def test_ship_script_checks_scores_and_copies(shipped, recorded, tmp_path, mnist_dir):
    """scripts/ship_default_model.py on an export folder holding an exported int8 model with its record (no TF needed)."""
    _, manifest_path = shipped
    model = recorded[0]
    manifest = json.loads(manifest_path.read_text())
    export = tmp_path / "run" / "export"
    export.mkdir(parents=True)
    (export / "edge_int8.tflite").write_bytes(model.read_bytes())
    entry = {**manifest["artifacts"]["default_int8.tflite"], "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
             "size": model.stat().st_size}
    manifest["artifacts"] = {"edge_int8.tflite": entry}
    (export / "manifest.json").write_text(json.dumps(manifest))
    config = {"arch": "edge", "epochs": 4, "learning_rate": 0.0004, "seed": 0, "negative_variant": "near", "init": "runs/base",
              "teacher": []}
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    out_dir = tmp_path / "models"
    script = ROOT / "scripts" / "ship_default_model.py"
    cmd = [sys.executable, str(script), str(tmp_path / "run"), "--data-dir", str(mnist_dir), "--models-dir", str(out_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out_dir / "default_int8.tflite").read_bytes() == model.read_bytes()
    written = json.loads((out_dir / "manifest.json").read_text())
    assert list(written["artifacts"]) == ["default_int8.tflite"] and written["shipped"]["runtime_accuracy"] >= 0.994
    # how the run was made, warm start and non-digit variant included (not every option: teacher is left out)
    assert written["shipped"]["run_config"] == {key: value for key, value in config.items() if key != "teacher"}
    assert DigitClassifier(out_dir / "default_int8.tflite").info["verified"]
    (out_dir / "manifest.json").unlink()
    assert DigitClassifier(out_dir / "default_int8.tflite", strict=True).info["record"] == "ok"  # verifies alone

    refused = subprocess.run(cmd[:-1] + [str(tmp_path / "m2"), "--min-accuracy", "0.9999"], capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 1 and "below 99.99%" in refused.stderr and not (tmp_path / "m2").exists()

    (export / "edge_int8.tflite").write_bytes(model.read_bytes()[:-1] + b"\0")
    changed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert changed.returncode == 1 and "changed since export" in changed.stderr


def test_shipped_model_says_not_a_digit(clf, mnist_test):
    """The shipped model carries its calibrated rule and keeps almost every MNIST test digit with it."""
    if clf.reject is None:  # the shipped model predates the rule (see benchmarks/RESULTS.md "Not a digit": not shipped yet)
        pytest.skip("the shipped model has no calibrated 'not a digit' rule")
    assert clf.reject["method"] in ("digit_mass", "max_prob") and "validation" in clf.reject["chosen_on"]
    images, labels = mnist_test
    c = clf.classify(images)
    assert c.not_a_digit.mean() <= 0.02
    # the aim is 99.7% right on accepted digits; the shipped model gives 99.6% (benchmarks/RESULTS.md "Not a digit")
    assert (c.labels[~c.not_a_digit] == labels[~c.not_a_digit]).mean() >= 0.995


def test_shipped_model_keeps_photographed_digits_and_refuses_noise(clf, mnist_test):
    """Digits that come through the photo path are digits to the rule too (models taught "not a digit" on MNIST alone
    rejected most of them), while noise, blank-ish frames and stripes are not."""
    if clf.reject is None:
        pytest.skip("the shipped model has no calibrated 'not a digit' rule")
    from photos import make_photo

    from edgedigits_runtime import preprocess_image

    images, labels = mnist_test
    rng = np.random.default_rng(3)
    pick = rng.choice(len(images), 80, replace=False)
    fields = np.stack([preprocess_image(make_photo(images[i], rng)) for i in pick])
    c = clf.classify(fields)
    assert c.not_a_digit.mean() <= 0.05, f"photographed digits rejected: {c.not_a_digit.mean():.0%}"
    assert (c.labels[~c.not_a_digit] == labels[pick][~c.not_a_digit]).mean() >= 0.95
    noise = [rng.integers(0, 256, (28, 28)), (rng.random((28, 28)) < 0.2) * 255, np.tile((np.arange(28) // 3 % 2) * 255, (28, 1)),
             np.full((28, 28), 40) + (rng.random((28, 28)) < 0.02) * 200]
    noise = np.stack([np.asarray(n, np.uint8) for n in noise for _ in range(5)])
    assert clf.classify(noise).not_a_digit.mean() >= 0.9
