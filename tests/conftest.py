"""Shared fixtures: where the real MNIST files are for tests.

Tests find MNIST through ``$EDGEDIGITS_DATA`` (``.ci/run`` sets it) or the
``shared/data/mnist`` folder beside the checkout; without either they skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:  # before any test module imports TensorFlow (pytest.importorskip): the toolkit's settings, oneDNN among them
    from edgedigits._tf import set_tf_environment
except ImportError:  # the runtime-only environment: no toolkit, no TensorFlow
    pass
else:
    set_tf_environment()

_BESIDE_CHECKOUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _find_mnist_dir() -> Path | None:
    env = os.environ.get("EDGEDIGITS_DATA")
    for candidate in (Path(env) if env else None, _BESIDE_CHECKOUT):
        if candidate is not None and (candidate / "t10k-labels-idx1-ubyte.gz").is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder holding the four real MNIST files."""
    found = _find_mnist_dir()
    if found is None:
        pytest.skip("real MNIST not found: set EDGEDIGITS_DATA to the folder holding the four .gz files")
    return found
