"""--weight-decay: decoupled (AdamW) decay of the conv and dense kernels only, following the learning rate."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.needs_tf]

from edgedigits._tf import tf_and_keras  # noqa: E402
from edgedigits.train import TrainConfig  # noqa: E402
from edgedigits.train.architectures import create_model  # noqa: E402
from edgedigits.train.trainer import make_optimizer  # noqa: E402


def _one_step_without_gradient(config: TrainConfig):
    """Weights before and after one optimizer step whose gradients are all zero: only the decay can move them."""
    _, k = tf_and_keras()
    model = create_model("edge", k)
    optimizer = make_optimizer(k, config, steps_per_epoch=10)
    before = {v.name: v.numpy().copy() for v in model.trainable_variables}
    optimizer.apply_gradients([(np.zeros(v.shape, np.float32), v) for v in model.trainable_variables])
    return before, {v.name: v.numpy() for v in model.trainable_variables}, float(optimizer.learning_rate.numpy())


def test_kernels_shrink_by_learning_rate_times_decay_and_the_rest_stays():
    before, after, lr = _one_step_without_gradient(TrainConfig(weight_decay=0.5, lr_schedule="constant"))
    kernels = [n for n in before if "kernel" in n]
    others = [n for n in before if "kernel" not in n]
    assert kernels and any("gamma" in n for n in others) and any("bias" in n for n in others)
    for name in kernels:
        np.testing.assert_allclose(after[name], before[name] * (1 - lr * 0.5), rtol=1e-5, atol=1e-8)
    for name in others:
        np.testing.assert_array_equal(after[name], before[name])


def test_off_by_default_nothing_moves():
    before, after, _ = _one_step_without_gradient(TrainConfig(lr_schedule="constant"))
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])
