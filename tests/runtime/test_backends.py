"""Backends: every installed one runs the models it should, forcing one by name, and what is said when one is missing."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from edgedigits_runtime import DigitClassifier, ManifestWarning
from edgedigits_runtime.backends import BACKENDS, available_backends, open_model, select_backend
from edgedigits_runtime.errors import BackendUnavailableError, UsageError


def _importable(name):
    try:
        BACKENDS[name].load()
        return True
    except BackendUnavailableError:
        return False


TFLITE = [name for name in ("litert", "tflite-runtime") if _importable(name)]


@pytest.mark.parametrize("backend", TFLITE or [pytest.param("litert", marks=pytest.mark.skip("no TFLite backend"))])
def test_tflite_backends_agree_with_each_other(shipped, digits, backend):
    images, labels = digits
    try:
        clf = DigitClassifier(shipped[0], backend=backend, num_threads=1)
    except BackendUnavailableError as exc:  # tflite-runtime installed under numpy 2
        pytest.skip(str(exc))
    assert clf.info["backend"] == backend
    reference = DigitClassifier(shipped[0], num_threads=1).predict_proba(images)
    np.testing.assert_array_equal(clf.predict_proba(images), reference)


def test_onnx_backend_computes_the_model(onnx_linear, digits):
    path, w, b = onnx_linear
    with pytest.warns(ManifestWarning):
        clf = DigitClassifier(path)
    assert clf.info["backend"] == "onnxruntime" and clf.info["runtime"] == "onnx"
    assert clf.info["input_dtype"] == "float32" and clf.info["output_kind"] == "logits"  # probed: rows don't sum to 1
    images = digits[0][:30]
    logits = (images.reshape(30, 784).astype(np.float32) / 255) @ w + b
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    proba = clf.predict_proba(images)
    np.testing.assert_allclose(proba, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(images), logits.argmax(axis=1))
    np.testing.assert_allclose(np.concatenate([clf.predict_proba(i) for i in images]), proba, rtol=1e-5, atol=1e-7)


def test_onnx_manifest_output_kind_is_used(onnx_linear, tmp_path, digits):
    import hashlib
    import json
    import shutil

    path, _, _ = onnx_linear
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    entry = {"format": "onnx", "runtime": "onnx", "sha256": hashlib.sha256(copy.read_bytes()).hexdigest(),
             "output_kind": "logits", "input": {"dtype": "float32"}, "output": {"dtype": "float32"}}
    (tmp_path / "manifest.json").write_text(json.dumps({"schema": "edgedigits-manifest/1", "artifacts": {copy.name: entry}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = DigitClassifier(copy)
    assert clf.info["verified"] and clf.info["format"] == "onnx" and clf.info["output_kind"] == "logits"
    assert np.allclose(clf.predict_proba(digits[0][:5]).sum(axis=1), 1.0, atol=1e-5)


def test_unknown_backend_names_the_closest(shipped):
    with pytest.raises(UsageError, match="unknown backend 'litrt': did you mean 'litert'"):
        DigitClassifier(shipped[0], backend="litrt")
    with pytest.raises(UsageError, match="choose one of litert, tflite-runtime"):
        DigitClassifier(shipped[0], backend="zzz")


def test_backend_of_the_wrong_family(shipped):
    with pytest.raises(UsageError, match="backend 'onnxruntime' runs onnx models, not tflite"):
        DigitClassifier(shipped[0], backend="onnxruntime")


def test_missing_tflite_interpreters_say_what_to_install(shipped, monkeypatch):
    for module in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter",
                   "tensorflow"):
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails
    with pytest.raises(BackendUnavailableError, match=r'no TFLite interpreter works here .*pip install "edgedigits-runtime\[litert\]"'):
        DigitClassifier(shipped[0])
    with pytest.raises(BackendUnavailableError, match=r"backend 'litert' cannot be used: ai-edge-litert not installed"):
        DigitClassifier(shipped[0], backend="litert")


def test_missing_onnxruntime_says_what_to_install(onnx_linear, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.warns(ManifestWarning), pytest.raises(BackendUnavailableError,
                                                      match=r'onnxruntime.*pip install "edgedigits-runtime\[onnx\]"'):
        DigitClassifier(onnx_linear[0])


def test_broken_backend_falls_through_to_the_next(shipped, monkeypatch, digits):
    """A backend that imports but cannot start (tflite-runtime under numpy 2 raises SystemError) is skipped."""
    if "litert" not in TFLITE:
        pytest.skip("needs ai-edge-litert")

    class _Broken:
        class Interpreter:
            def __init__(self, *a, **k):
                raise SystemError("<built-in method CreateWrapperFromBuffer> returned a result with an exception set")

    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", _Broken)
    data = shipped[0].read_bytes()
    with pytest.raises(BackendUnavailableError, match="tflite-runtime fails under numpy"):
        open_model("tflite", data, name="tflite-runtime")
    assert open_model("tflite", data).backend == "litert"


def test_selection_order_and_available(monkeypatch):
    if "litert" in TFLITE:
        assert select_backend("tflite").name == "litert"
        assert "tensorflow-lite" not in available_backends()  # TF is never imported when litert is there
    with pytest.raises(UsageError, match="unknown model family"):
        select_backend("keras")


@pytest.mark.parametrize("body, outcome", [
    ("import os, signal\n        os.kill(os.getpid(), signal.SIGSEGV)", "crashed the fake-pkg interpreter (signal 11)"),
    ("raise ValueError('No subgraph in the model.')", "No subgraph in the model."),
    ("raise SystemError('returned a result with an exception set')", None),  # the backend is broken, not the model
    ("pass", None),
])
def test_unverified_model_is_probed_in_a_child_for_backends_without_a_verifier(tmp_path, monkeypatch, body, outcome):
    """tflite-runtime has no flatbuffer verifier: a truncated file may crash it, so it is opened in a child first."""
    from edgedigits_runtime.backends import Backend, _probe_in_child
    from edgedigits_runtime.errors import ModelError

    (tmp_path / "fake_interp.py").write_text(
        "import numpy as np\n"
        "class Interpreter:\n"
        "    def __init__(self, model_content=None, num_threads=None):\n"
        f"        {body}\n"
        "    def allocate_tensors(self): pass\n"
        "    def get_input_details(self): return [{'index': 0, 'shape': [1, 28, 28, 1], 'dtype': np.int8}]\n"
        "    def set_tensor(self, i, x): pass\n"
        "    def invoke(self): pass\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    fake = Backend("fake", "tflite", "fake_interp", "fake-pkg", "pip install fake", lambda *a: None, verifies=False)
    if outcome is None:
        assert _probe_in_child(fake, b"1234TFL3") is None
    else:
        with pytest.raises(ModelError, match=outcome.replace("(", r"\(").replace(")", r"\)")):
            _probe_in_child(fake, b"1234TFL3")
    assert not BACKENDS["tflite-runtime"].verifies and BACKENDS["litert"].verifies
