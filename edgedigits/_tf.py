"""The one place TensorFlow is imported from, with Keras 2 (tf_keras) selected.

tensorflow-model-optimization only works with Keras 2, so ``TF_USE_LEGACY_KERAS=1``
must be set before TensorFlow is first imported. Call :func:`tf_and_keras` inside
functions; never import TensorFlow at module level.

TensorFlow's C++ start-up writes several lines to the process's stderr before its
logging is configured (oneDNN notices, "could not find cuda drivers", a failed
``cuInit`` on machines without a GPU); ``TF_CPP_MIN_LOG_LEVEL`` does not reach them.
They are captured while TensorFlow loads and shown only if loading fails, or when
``EDGEDIGITS_TF_VERBOSE=1``. :func:`quiet_native_stderr` does the same around other native
calls that print (the TFLite converter's "fully_quantize: 0, ..." line, LiteRT's XNNPACK notice).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

_LOADED = None


def tf_and_keras():
    """Return ``(tensorflow, tf_keras)``, importing them quietly with Keras 2 selected."""
    global _LOADED
    if _LOADED is None:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also its harmless graph-version "E" lines; real failures raise
        with quiet_native_stderr():
            import tensorflow as tf  # noqa: PLC0415
            import tf_keras as keras  # noqa: PLC0415

            tf.config.list_physical_devices()  # device discovery (the cuInit message) happens here
        tf.get_logger().setLevel("ERROR")
        _LOADED = tf, keras
    return _LOADED


@contextlib.contextmanager
def quiet_native_stderr(replay_on_error: bool = True):
    """Send file descriptor 2 to a temporary file during the block (native code's prints included).

    Args:
      replay_on_error: if the block raises, write what was captured to stderr first (for a crash
        in TensorFlow's own start-up); callers that turn failures into one-line errors pass False.

    ``EDGEDIGITS_TF_VERBOSE=1`` turns the capture off.
    """
    if os.environ.get("EDGEDIGITS_TF_VERBOSE") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters): nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            if replay_on_error:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
