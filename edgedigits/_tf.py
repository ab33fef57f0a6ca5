"""The one place TensorFlow is imported from, with Keras 2 (tf_keras) selected.

tensorflow-model-optimization only works with Keras 2, so ``TF_USE_LEGACY_KERAS=1``
must be set before TensorFlow is first imported. Call :func:`tf_and_keras` inside
functions; never import TensorFlow at module level.

TensorFlow's C++ start-up writes several lines to the process's stderr before its
logging is configured (oneDNN notices, "could not find cuda drivers", a failed
``cuInit`` on machines without a GPU); ``TF_CPP_MIN_LOG_LEVEL`` does not reach them.
They are captured while TensorFlow loads and shown only if loading fails, or when
``EDGEDIGITS_VERBOSE=1`` (see :mod:`edgedigits_runtime.native`).

On x86-64, TensorFlow's oneDNN kernels are asked for (``TF_ENABLE_ONEDNN_OPTS=1``, unless the variable is set
already): TensorFlow turns them on by itself only on CPUs with Intel's neural-network instructions (AVX-512 VNNI,
BF16, AMX), and without them a training epoch took 1.5 to 2 times as long on an AVX2 AMD EPYC (benchmarks/RESULTS.md,
"The README's main command"). Runs stay reproducible with the
same seed on the same machine; a different kernel library gives different round-off, so a seed's model differs
between machines either way.
"""

from __future__ import annotations

import os
import platform

from edgedigits_runtime.native import quiet_native_stderr

__all__ = ["set_tf_environment", "tf_and_keras"]

_LOADED = None


def set_tf_environment() -> None:
    """Set the variables TensorFlow reads once, when it loads: Keras 2, oneDNN on x86-64, quiet C++ logging.

    :func:`tf_and_keras` calls it; call it yourself only where TensorFlow may be imported some other way first
    (the test suite's ``conftest.py``). Variables already set are kept, but ``TF_USE_LEGACY_KERAS``.
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also its harmless graph-version "E" lines; real failures raise


def tf_and_keras():
    """Return ``(tensorflow, tf_keras)``, importing them quietly with Keras 2 selected."""
    global _LOADED
    if _LOADED is None:
        set_tf_environment()
        with quiet_native_stderr():
            import tensorflow as tf
            import tf_keras as keras

            tf.config.list_physical_devices()  # device discovery (the cuInit message) happens here
        tf.get_logger().setLevel("ERROR")
        _LOADED = tf, keras
    return _LOADED
