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
      negative_weight: when the run learnt "not a digit": ``train_x`` also holds its generated
        non-digits (label 10) and the QAT fine-tune uses the run's outlier-exposure loss with this
        weight; None for a digits-only run. ``negative_target``: the run's ``class`` or ``uniform``.
      pass_images: how many images one QAT pass counts (a training epoch of the run: for a run that learnt "not a
        digit", its digits and non-digits, not the photo-path copies of its digits), drawn from all of ``train_x``;
        None: ``len(train_x)``.
      run_dir: the run folder (the QAT fine-tune's teacher soft targets are cached there); None: not cached.
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
    negative_weight: float | None = None
    negative_target: str | None = None
    pass_images: int | None = None
    run_dir: Any = None
