"""What every converter receives: the loaded model and the data it may calibrate on."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

__all__ = ["ConvertContext"]


@dataclasses.dataclass
class ConvertContext:
    """Inputs shared by the converters of one export.

    Attributes:
      tf: the ``tensorflow`` module (imported through :func:`edgedigits._tf.tf_and_keras`).
      keras: the ``tf_keras`` module.
      model: the trained Keras model of the run.
      train_x: uint8 training images (N, 28, 28), validation split excluded.
      train_y: their labels.
      calibration: float32 (n, 28, 28, 1) in [0, 1], training images for int8 calibration.
      config: the :class:`~edgedigits.export.config.ExportConfig`.
      log: progress messages.
      cache: intermediate results shared between converters (e.g. the float ONNX model).
      notes: per-format facts the manifest records (opset, QAT images, ...), by format name.
    """

    tf: Any
    keras: Any
    model: Any
    train_x: np.ndarray
    train_y: np.ndarray
    calibration: np.ndarray
    config: Any
    log: Callable[[str], None] = lambda message: None
    cache: dict = dataclasses.field(default_factory=dict)
    notes: dict = dataclasses.field(default_factory=dict)
