"""TensorFlow is loaded with the toolkit's settings (edgedigits._tf): Keras 2, and oneDNN's kernels on x86-64
unless the user chose otherwise. Each case loads TensorFlow in a fresh process, as the CLI does."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.needs_tf]

_PROBE = ("from edgedigits._tf import tf_and_keras; tf, keras = tf_and_keras(); "
          "from tensorflow.python.util import _pywrap_util_port as port; "
          "print(port.IsMklEnabled(), keras.__name__, tf.keras.__name__)")


def _loaded_with(**env) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "TF_USE_LEGACY_KERAS")}
    done = subprocess.run([sys.executable, "-c", _PROBE], env={**base, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN is asked for on x86-64 only")
def test_onednn_is_on_by_default_and_a_users_choice_is_kept():
    onednn, keras, tf_keras = _loaded_with()
    assert onednn == "True"
    assert keras == "tf_keras" and tf_keras.startswith("tf_keras")  # Keras 2 behind tf.keras too (tfmot needs it)
    assert _loaded_with(TF_ENABLE_ONEDNN_OPTS="0")[0] == "False"
