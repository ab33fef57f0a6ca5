"""DigitClassifier: shapes and dtypes, uint8 vs float, top-k, batches, threads, bad inputs."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edgedigits_runtime import DigitClassifier, load_default
from edgedigits_runtime.errors import InputError, UsageError


def test_predict_shapes_and_dtypes(clf, digits):
    images, labels = digits
    one = images[0]
    for x in (one, one[..., None], one[None], one[None, ..., None]):
        out = clf.predict(x)
        assert out.dtype == np.int64 and out.shape == (1,) and out[0] == labels[0]
    batch = clf.predict(images[:7])
    assert batch.dtype == np.int64 and batch.shape == (7,)
    assert clf.predict(images[:7, ..., None]).tolist() == batch.tolist()
    proba = clf.predict_proba(images[:7])
    assert proba.dtype == np.float32 and proba.shape == (7, 10)
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0, atol=0.02)
    assert proba.argmax(axis=1).tolist() == batch.tolist()


def test_accuracy_on_a_slice_is_real(clf, digits):
    images, labels = digits
    assert (clf.predict(images) == labels).mean() >= 0.98


def test_uint8_float_and_int_inputs_agree(clf, digits):
    images = digits[0][:50]
    as_uint8 = clf.predict_proba(images)
    np.testing.assert_array_equal(clf.predict_proba(images.astype(np.float32) / 255.0), as_uint8)
    np.testing.assert_array_equal(clf.predict_proba(images.astype(np.float64) / 255.0), as_uint8)
    np.testing.assert_array_equal(clf.predict_proba(images.astype(np.int64)), as_uint8)
    np.testing.assert_array_equal(clf.predict_proba(images[0].tolist()), as_uint8[:1])  # nested lists work


def test_batch_equals_one_by_one(clf, digits):
    images = digits[0][:40]
    batch = clf.predict_proba(images)
    singles = np.concatenate([clf.predict_proba(image) for image in images])
    np.testing.assert_array_equal(batch, singles)
    # Alternating batch sizes (resize each time) still gives the same answers.
    np.testing.assert_array_equal(clf.predict_proba(images[:3]), batch[:3])
    np.testing.assert_array_equal(clf.predict_proba(images[5]), batch[5:6])


def test_batch_runs_as_one_interpreter_call(clf, digits, monkeypatch):
    calls = []
    session = clf._session
    real = session.run
    monkeypatch.setattr(session, "run", lambda x: calls.append(x.shape) or real(x))
    clf.predict(digits[0][:64])
    assert calls == [(64, 28, 28, 1)]


def test_top_k(clf, digits):
    images, labels = digits
    top = clf.top_k(images[:5], k=3)
    proba = clf.predict_proba(images[:5])
    assert len(top) == 5 and all(len(row) == 3 for row in top)
    for row, p, label in zip(top, proba, labels[:5]):
        assert row[0][0] == label
        assert [prob for _, prob in row] == sorted((prob for _, prob in row), reverse=True)
        assert all(isinstance(d, int) and isinstance(q, float) and q == pytest.approx(p[d]) for d, q in row)
    assert len(clf.top_k(images[0], k=10)[0]) == 10
    for bad in (0, 11, 2.5, True):
        with pytest.raises(UsageError, match="k must be"):
            clf.top_k(images[0], k=bad)


def test_empty_batch_gives_empty_results(clf):
    empty = np.zeros((0, 28, 28), np.uint8)
    assert clf.predict(empty).shape == (0,) and clf.predict(empty).dtype == np.int64
    assert clf.predict_proba(empty).shape == (0, 10)
    assert clf.top_k(empty) == []


def test_threads_hammering_one_classifier_match_serial(clf, mnist_test):
    images = mnist_test[0][:400]
    expected = clf.predict_proba(images)
    errors, results = [], {}

    def work(t):
        try:
            rng = np.random.default_rng(t)
            got = []
            for _ in range(60):
                i = int(rng.integers(0, 390))
                n = int(rng.integers(1, 10))  # mixed batch sizes: resizes race with invokes
                got.append((i, n, clf.predict_proba(images[i : i + n])))
            results[t] = got
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 8
    for got in results.values():
        for i, n, proba in got:
            np.testing.assert_array_equal(proba, expected[i : i + n])


@pytest.mark.parametrize("images, message", [
    (np.zeros((28, 27), np.uint8), r"shape \(28, 27\)"),
    (np.zeros((2, 28, 28, 3), np.uint8), "expected"),
    (np.zeros((784,), np.uint8), "shape"),
    (np.zeros((28, 28), bool), "dtype bool"),
    (np.full((28, 28), "a"), "dtype <U1"),
    (np.zeros((28, 28), object), "dtype object"),
    (np.full((28, 28), np.nan, np.float32), "NaN or infinity"),
    (np.full((28, 28), np.inf), "NaN or infinity"),
    (np.full((28, 28), 255.0, np.float32), r"must be in \[0, 1\]; got values in \[255, 255\].*divide by 255"),
    (np.full((28, 28), -0.5), r"\[-0.5, -0.5\]"),
    (np.full((28, 28), 300, np.int32), "0-255"),
    ([[1, 2], [3]], "not an array"),
])
def test_bad_inputs_are_input_errors(clf, images, message):
    with pytest.raises(InputError, match=message):
        clf.predict(images)


def test_bad_arguments(shipped):
    model, _ = shipped
    for threads in (0, -1, 1.5, True, "2", 65, 10**6):  # 10**6 crashed the interpreter before the cap
        with pytest.raises(UsageError, match="num_threads must be a whole number from 1 to 64"):
            DigitClassifier(model, num_threads=threads)
    for path, kind in ((None, "NoneType"), (7, "int"), (model.read_bytes(), "bytes")):
        with pytest.raises(UsageError, match=f"path of a .tflite or .onnx file; got {kind}"):
            DigitClassifier(path)
    with pytest.raises(UsageError, match="manifest must be"):
        DigitClassifier(model, manifest=42)


def test_info_and_repr(clf, shipped):
    info = clf.info
    assert info["path"] == str(shipped[0]) and info["format"] == "int8" and info["runtime"] == "tflite"
    assert info["backend"] in ("litert", "tflite-runtime", "tensorflow-lite")
    assert info["input_dtype"] == "int8" and info["input_zero_point"] == -128
    assert info["input_scale"] == pytest.approx(1 / 255)
    assert info["verified"] is True and len(info["sha256"]) == 64 and info["output_kind"] == "probabilities"
    assert "verified" in repr(clf) and "int8" in repr(clf)


def test_load_default_threads(digits):
    two = load_default(num_threads=2)
    assert two.info["num_threads"] == 2
    assert (two.predict(digits[0]) == digits[1]).mean() >= 0.98


def test_float_input_model(tiny_float_tflite, digits):
    import warnings

    from edgedigits_runtime import ManifestWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ManifestWarning)
        tiny = DigitClassifier(tiny_float_tflite)
    assert tiny.info["input_dtype"] == "float32" and tiny.info["input_scale"] is None
    assert tiny.info["output_kind"] == "probabilities"  # probed: the model ends in softmax
    images = digits[0][:20]
    p = tiny.predict_proba(images)
    np.testing.assert_allclose(tiny.predict_proba(images.astype(np.float32) / 255), p, rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([tiny.predict_proba(i) for i in images]), p, rtol=1e-5, atol=1e-7)
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
