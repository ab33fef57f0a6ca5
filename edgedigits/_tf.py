"""The one place TensorFlow is imported from, with Keras 2 (tf_keras) selected.

tensorflow-model-optimization only works with Keras 2, so ``TF_USE_LEGACY_KERAS=1``
must be set before TensorFlow is first imported. Call :func:`tf_and_keras` inside
functions; never import TensorFlow at module level.

TensorFlow's C++ start-up writes several lines to the process's stderr before its
logging is configured (oneDNN notices, "could not find cuda drivers", a failed
``cuInit`` on machines without a GPU); ``TF_CPP_MIN_LOG_LEVEL`` does not reach them.
They are captured while TensorFlow loads and shown only if loading fails, or when
``EDGEDIGITS_VERBOSE=1`` (see :mod:`edgedigits_runtime.native`).
"""

from __future__ import annotations

import os

from edgedigits_runtime.native import quiet_native_stderr

__all__ = ["tf_and_keras"]

_LOADED = None


def tf_and_keras():
    """Return ``(tensorflow, tf_keras)``, importing them quietly with Keras 2 selected."""
    global _LOADED
    if _LOADED is None:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also its harmless graph-version "E" lines; real failures raise
        with quiet_native_stderr():
            import tensorflow as tf
            import tf_keras as keras

            tf.config.list_physical_devices()  # device discovery (the cuInit message) happens here
        tf.get_logger().setLevel("ERROR")
        _LOADED = tf, keras
    return _LOADED
