"""Fixtures for the runtime tests: the shipped model, copies of it to damage, small committed fixtures.

Everything here runs without TensorFlow and without the `edgedigits` toolkit (CI runs these
tests in an environment that has only ``./runtime[all,test]``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(HERE))  # photos.py, damage.py

from damage import without_record  # noqa: E402


@pytest.fixture(scope="session")
def shipped():
    """(model path, manifest path) of the shipped default model."""
    from edgedigits_runtime import DEFAULT_MODEL

    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"the shipped model {DEFAULT_MODEL} is missing: run scripts/ship_default_model.py RUN")
    return DEFAULT_MODEL, DEFAULT_MODEL.parent / "manifest.json"


@pytest.fixture(scope="session")
def clf():
    """The shipped classifier (one per session: tests must not change it)."""
    from edgedigits_runtime import load_default

    return load_default(num_threads=1)


@pytest.fixture(scope="session")
def reader():
    """The shipped number reader (one per session)."""
    from edgedigits_runtime.reader import load_reader

    return load_reader(num_threads=1)


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    """The MNIST test set: uint8 (10000, 28, 28) read-only images, labels."""
    from edgedigits_runtime.mnist import load_mnist

    return load_mnist("test", mnist_dir)


@pytest.fixture(scope="session")
def digits(mnist_test):
    """200 test images and labels (fast API checks)."""
    images, labels = mnist_test
    return images[:200], labels[:200]


@pytest.fixture
def model_copy(shipped, tmp_path) -> Path:
    """A copy of the shipped model with its manifest, in a fresh folder (free to damage)."""
    model, manifest = shipped
    shutil.copy(model, tmp_path / model.name)
    shutil.copy(manifest, tmp_path / "manifest.json")
    return tmp_path / model.name


@pytest.fixture
def bare_copy(shipped, tmp_path) -> Path:
    """The shipped model alone in a fresh folder, without manifest and without integrity record (third-party-like)."""
    model, _ = shipped
    path = tmp_path / model.name
    path.write_bytes(without_record(model.read_bytes()))
    return path


@pytest.fixture(scope="session")
def recorded():
    """(TFLite, ONNX) exported files that carry an integrity record (committed fixtures, see make_fixtures.py)."""
    return FIXTURES / "edge_int8_record.tflite", FIXTURES / "linear_logits_record.onnx"


@pytest.fixture
def lone_copy(recorded, tmp_path) -> Path:
    """An exported int8 model copied alone (no manifest beside it), free to damage."""
    path = tmp_path / "edge_int8.tflite"
    path.write_bytes(recorded[0].read_bytes())
    return path


@pytest.fixture(scope="session")
def onnx_linear():
    """(ONNX model path, W, b): a linear map to logits, committed (made by fixtures/make_fixtures.py)."""
    pytest.importorskip("onnxruntime")
    weights = np.load(FIXTURES / "linear_weights.npz")
    return FIXTURES / "linear_logits.onnx", weights["w"], weights["b"]


@pytest.fixture(scope="session")
def tiny_float_tflite() -> Path:
    """A tiny untrained CNN as float32-input TFLite (committed fixture)."""
    return FIXTURES / "tiny_float32.tflite"
