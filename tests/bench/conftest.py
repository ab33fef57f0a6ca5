"""Fixtures for the bench tests: tiny models converted in the session, in export folders with manifests.

``tiny_run``: a run folder whose ``export/`` holds an int8 and a float32 TFLite model and
an ONNX model of a tiny CNN trained for two epochs on 2,000 images (well below 99%),
with ``keras_predictions.npy``. ``bad_run``: the same CNN untrained (about 10%).
Every measurement goes through the real ``edgedigits_runtime.DigitClassifier``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_helpers import tiny_model, to_onnx, to_tflite, write_export


@pytest.fixture(scope="session")
def tf_keras():
    pytest.importorskip("tensorflow")
    from edgedigits._tf import tf_and_keras

    return tf_and_keras()


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from edgedigits_runtime.mnist import load_mnist

    x, y = load_mnist("train", mnist_dir)
    xt, yt = load_mnist("test", mnist_dir)
    return x[:2000].astype(np.float32)[..., None] / 255.0, y[:2000], xt.astype(np.float32)[..., None] / 255.0, yt


def _export(tf, model, folder: Path, calibration, x_test, formats=("int8", "float32", "onnx")) -> Path:
    reference = model.predict(x_test, batch_size=1000, verbose=0).argmax(axis=1)
    makers = {"int8": ("tiny_int8.tflite", "tflite", lambda: to_tflite(tf, model, int8=True, calibration=calibration)),
              "float32": ("tiny_float32.tflite", "tflite", lambda: to_tflite(tf, model)),
              "onnx": ("tiny_float32.onnx", "onnx", lambda: to_onnx(tf, model))}
    files = {makers[f][0]: (f, makers[f][1], makers[f][2]()) for f in formats}
    return write_export(folder, files, reference)


@pytest.fixture(scope="session")
def tiny_run(tf_keras, mnist, tmp_path_factory) -> Path:
    """A run folder with ``export/``: int8, float32 TFLite and ONNX of a briefly trained tiny CNN."""
    tf, keras = tf_keras
    x, y, x_test, _ = mnist
    model = tiny_model(keras, x, y, epochs=2)
    run = tmp_path_factory.mktemp("runs") / "tiny"
    _export(tf, model, run / "export", x[:64], x_test)
    return run


@pytest.fixture(scope="session")
def bad_run(tf_keras, mnist, tmp_path_factory) -> Path:
    """A run folder with ``export/`` holding one float32 TFLite model of an untrained CNN (about 10%)."""
    tf, keras = tf_keras
    x, _, x_test, _ = mnist
    run = tmp_path_factory.mktemp("runs") / "bad"
    _export(tf, tiny_model(keras), run / "export", x[:64], x_test, formats=("float32",))
    return run
