"""The one scorer (edgedigits_runtime.evaluate.score) and DigitClassifier.from_bytes, which export verifies with."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest
from damage import without_record

from edgedigits_runtime import DigitClassifier, ManifestWarning
from edgedigits_runtime.errors import InputError, ModelError, ModelIntegrityError, UsageError
from edgedigits_runtime.evaluate import Score, evaluate, score


class _FirstPixel:
    """Predicts each image's first pixel: a stand-in classifier with known answers."""

    info = {"backend": "stand-in"}

    def __init__(self):
        self.batches = []

    def predict(self, images):
        images = np.asarray(images)
        self.batches.append(len(images))
        return images.reshape(len(images), -1)[:, 0].astype(np.int64)


def test_score_counts_accuracy_agreement_and_per_class_over_batches():
    images = np.zeros((1050, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(1050) % 10
    labels = np.arange(1050) % 10
    labels[labels == 3] = 4  # every 3 is wrong: per-class 3 is None (no true 3 left), 4 is half right
    stand_in = _FirstPixel()
    scored = score(stand_in, images, labels, reference=images[:, 0, 0], batch_size=500)
    assert stand_in.batches == [500, 500, 50]
    assert scored.images == 1050 and scored.errors == 105 and scored.accuracy == pytest.approx(0.9)
    assert scored.agreement == 1.0 and scored.backend == "stand-in"
    assert scored.per_class_accuracy[3] is None and scored.per_class_accuracy[4] == 0.5
    assert scored.per_class_accuracy[0] == 1.0
    np.testing.assert_array_equal(scored.predictions, images[:, 0, 0])
    as_json = json.loads(json.dumps(scored.to_dict()))
    assert "predictions" not in as_json and as_json["accuracy"] == scored.accuracy
    assert score(stand_in, images, labels).agreement is None


@pytest.mark.parametrize("kwargs, error, message", [
    ({"labels": np.zeros(3)}, InputError, "one label per image"),
    ({"reference": np.zeros(3)}, InputError, "reference"),
    ({"batch_size": 0}, UsageError, "batch_size"),
])
def test_score_refuses_mismatched_inputs(kwargs, error, message):
    args = {"labels": np.zeros(5), "reference": None, "batch_size": 2} | kwargs
    with pytest.raises(error, match=message):
        score(_FirstPixel(), np.zeros((5, 28, 28), np.uint8), **args)
    with pytest.raises(InputError, match="no images"):
        score(_FirstPixel(), np.zeros((0, 28, 28), np.uint8), np.zeros(0))


def test_from_bytes_with_its_entry_is_verified_and_predicts_like_the_file(clf, shipped, digits):
    model, manifest_path = shipped
    data = model.read_bytes()
    entry = json.loads(manifest_path.read_text())["artifacts"][model.name]
    from_bytes = DigitClassifier.from_bytes(data, entry, name=model.name, num_threads=1)
    assert from_bytes.info["verified"] and from_bytes.info["path"] == model.name
    assert from_bytes.info["format"] == entry["format"] and from_bytes.info["sha256"] == entry["sha256"]
    images, labels = digits
    np.testing.assert_array_equal(from_bytes.predict_proba(images), clf.predict_proba(images))
    # The tensor description is the manifest's own input/output entries.
    assert from_bytes.input_spec.as_dict() == entry["input"]
    assert from_bytes.output_spec.as_dict() == entry["output"]
    assert score(from_bytes, images, labels).accuracy == score(clf, images, labels).accuracy


def test_from_bytes_checks_the_entry_and_warns_without_one(shipped):
    data = shipped[0].read_bytes()
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        DigitClassifier.from_bytes(data, {"sha256": hashlib.sha256(b"other").hexdigest()})
    with pytest.raises(ModelError, match="manifest entry says onnx"):
        DigitClassifier.from_bytes(data, {"sha256": hashlib.sha256(data).hexdigest(), "runtime": "onnx"})
    with pytest.warns(ManifestWarning, match="unverified"):  # no entry and (record taken off) no record
        unverified = DigitClassifier.from_bytes(without_record(data))
    assert unverified.info["verified"] is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelError, match="not a TFLite or ONNX"):
            DigitClassifier.from_bytes(b"GIF89a not a model", name="cat.gif")
        with pytest.raises(ModelError, match="empty"):
            DigitClassifier.from_bytes(b"")
        with pytest.raises(UsageError, match="bytes"):
            DigitClassifier.from_bytes("edge_int8.tflite")


def test_evaluate_is_score_on_the_mnist_test_set(clf, mnist_dir, mnist_test):
    images, labels = mnist_test
    result = evaluate(clf, data_dir=mnist_dir, limit=300)
    assert isinstance(result, Score) and result.images == 300
    assert result.accuracy == score(clf, images[:300], labels[:300]).accuracy >= 0.98
