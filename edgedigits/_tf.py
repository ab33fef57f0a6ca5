"""The one place TensorFlow is imported from, with Keras 2 (tf_keras) selected.

tensorflow-model-optimization only works with Keras 2, so ``TF_USE_LEGACY_KERAS=1``
must be set before TensorFlow is first imported. Call :func:`tf_and_keras` inside
functions; never import TensorFlow at module level.
"""

from __future__ import annotations

import os


def tf_and_keras():
    """Return ``(tensorflow, tf_keras)``, importing them quietly with Keras 2 selected."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # noqa: PLC0415
    import tf_keras as keras  # noqa: PLC0415

    tf.get_logger().setLevel("ERROR")
    return tf, keras
