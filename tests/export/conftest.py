"""Fixtures for the export tests: a tiny model trained in the session, as a fake run folder.

The model is the registered ``edge`` architecture trained for a few epochs on a
thousand MNIST images, so QAT sees the real Conv-BN-ReLU patterns; one export
of every registered format is shared by the round-trip tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from export_helpers import QUICK, TINY_GATES, write_run


@pytest.fixture(scope="session")
def tiny_model(mnist_dir):
    """The ``edge`` architecture trained for 4 epochs on 1,000 training images."""
    from edgedigits._tf import tf_and_keras
    from edgedigits.train.architectures import create_model
    from edgedigits_runtime.mnist import load_mnist

    tf, keras = tf_and_keras()
    keras.utils.set_random_seed(0)
    x, y = load_mnist("train", mnist_dir)
    model = create_model("edge", keras)
    for layer in model.layers:  # let batch-norm statistics settle within a few dozen steps
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.8
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:1000].astype(np.float32)[..., None] / 255.0, y[:1000], batch_size=32, epochs=4, verbose=0)
    for layer in model.layers:  # back to the default, so the short QAT fine-tune moves them gently
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.99
    return model


@pytest.fixture(scope="session")
def tiny_run(tiny_model, tmp_path_factory) -> Path:
    """A fake run folder holding the tiny model (export into other folders: use ``--out``)."""
    return write_run(tmp_path_factory.mktemp("runs") / "edge", tiny_model)


@pytest.fixture(scope="session")
def exported(tiny_run, mnist_dir):
    """One export of every registered format into ``<tiny_run>/export``."""
    from edgedigits.export import FORMATS, ExportConfig, export

    config = ExportConfig(run=str(tiny_run), formats=list(FORMATS), data_dir=str(mnist_dir), **TINY_GATES, **QUICK)
    return export(config)


@pytest.fixture(scope="session")
def test_images(mnist_dir):
    from edgedigits_runtime.mnist import load_mnist

    return load_mnist("test", mnist_dir)
