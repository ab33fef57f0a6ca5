"""Training targets beyond plain labels: label smoothing and knowledge distillation.

When either is on, each training image's target is a packed float row of 20 numbers: the
(smoothed) one-hot label, then the teacher's soft targets at the distillation temperature.
:func:`packed_loss` and :func:`accuracy` read that row; the model itself is unchanged (it still
ends in a softmax), so export and the runtime see nothing different.

The teacher is one finished run or an ensemble of several (the geometric mean of their
probabilities). Its predictions on the training split are computed once and cached in the
student's run folder (``teacher_targets.npz``), keyed by the teachers' model checksums and the
images, so a resumed run reuses them and a changed teacher is noticed.

Example:

>>> from edgedigits.train import TrainConfig, train
>>> train(TrainConfig(teacher=["runs/wide"], out="runs/edge-kd"))   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from edgedigits.data import to_float
from edgedigits.errors import RunError
from edgedigits.runs import MODEL_FILE, resolve_run

__all__ = ["TEACHER_CACHE", "teacher_log_probs", "packed_targets", "packed_loss", "accuracy", "NUM_CLASSES", "NOT_A_DIGIT"]

TEACHER_CACHE = "teacher_targets.npz"
_FLOOR = 1e-30  # probability floor before taking logs for the distillation term (float32-safe)
NUM_CLASSES = 10
NOT_A_DIGIT = 10  # the label of a generated non-digit: its target is the uniform output ("outlier exposure")


def teacher_log_probs(keras, teachers: list[str], images: np.ndarray, cache_dir: Path, log=print) -> np.ndarray:
    """The teachers' mean log-probabilities for ``images`` (N, 10), computed once and cached.

    Args:
      keras: the ``tf_keras`` module.
      teachers: finished run folders (each holds a ``model.keras``).
      images: uint8 (N, 28, 28): the student's training images, in its order.
      cache_dir: the student's run folder; the cache file goes there.
      log: receives one line when the targets are computed.

    Returns:
      float32 (N, 10): the mean over teachers of ``log p`` (an ensemble's geometric mean, unnormalised).

    Raises:
      RunError: a teacher folder is missing or unfinished.
    """
    runs = [resolve_run(t) for t in teachers]
    sums = [hashlib.sha256((r / MODEL_FILE).read_bytes()).hexdigest() for r in runs]
    key = hashlib.sha256(json.dumps([sums, hashlib.sha256(np.ascontiguousarray(images)).hexdigest()]).encode()).hexdigest()
    cache = Path(cache_dir) / TEACHER_CACHE
    if cache.is_file():
        with np.load(cache) as saved:
            if str(saved["key"]) == key:
                return saved["log_probs"]
    total = np.zeros((len(images), NUM_CLASSES), dtype=np.float64)
    for run in runs:
        try:
            model = keras.models.load_model(run / MODEL_FILE, compile=False)
        except Exception as exc:  # noqa: BLE001 (Keras raises anything on a bad file)
            raise RunError(f"cannot load the teacher {run}/{MODEL_FILE} ({str(exc).splitlines()[0]})") from None
        probs = model.predict(to_float(images), batch_size=1000, verbose=0)
        # A floor far below any real probability: at T = 4 a floor of 1e-7 (Keras' epsilon) would give
        # every wrong class 0.018, i.e. turn the teacher into uniform label smoothing of ~0.16.
        total += np.log(np.clip(probs.astype(np.float64), _FLOOR, 1.0))
    log_probs = (total / len(runs)).astype(np.float32)
    tmp = cache.with_name(cache.name + ".partial.npz")
    np.savez(tmp, log_probs=log_probs, key=np.array(key),
             teachers=np.array(json.dumps([str(r) for r in runs])), sha256=np.array(json.dumps(sums)))
    tmp.replace(cache)
    log(f"teacher soft targets: {len(runs)} model(s) ({', '.join(str(r) for r in runs)}) on {len(images)} "
        f"images, cached in {cache}")
    return log_probs


def packed_targets(labels: np.ndarray, *, label_smoothing: float = 0.0, teacher_log_probs: np.ndarray | None = None,
                   temperature: float = 1.0, negative_weight: float = 1.0, negative_target: str = "uniform") -> np.ndarray:
    """float32 (N, 20): smoothed one-hot labels, then the teacher's softmax at ``temperature``
    (the one-hot labels again when there is no teacher).

    A label of :data:`NOT_A_DIGIT` (10) becomes the uniform output scaled by ``negative_weight``
    (its cross-entropy is then ``negative_weight`` x the cross-entropy to uniform: outlier
    exposure), and its soft half is uniform whatever the teacher says. With ``negative_target="class"``
    its label half is all zeros instead: the rest of the probability, ``1 - sum``, is the "not a
    digit" class (see :func:`packed_loss` with ``not_a_digit_class``)."""
    labels = np.asarray(labels, dtype=np.int64)
    negative = labels == NOT_A_DIGIT
    onehot = np.eye(NUM_CLASSES, dtype=np.float32)[np.where(negative, 0, labels)]
    onehot[negative] = 1.0 / NUM_CLASSES
    hard = onehot * (1.0 - label_smoothing) + label_smoothing / NUM_CLASSES
    hard[negative] = 0.0 if negative_target == "class" else negative_weight / NUM_CLASSES
    if teacher_log_probs is None:
        soft = onehot
    else:
        z = teacher_log_probs.astype(np.float64) / temperature
        z -= z.max(axis=1, keepdims=True)
        soft = np.exp(z)
        soft /= soft.sum(axis=1, keepdims=True)
    soft = soft.astype(np.float32)
    soft[negative] = 1.0 / NUM_CLASSES
    return np.concatenate([hard, soft], axis=1)


def packed_loss(tf, *, distill_weight: float, temperature: float, not_a_digit_class: bool = False):
    """Loss over packed targets: ``(1 - w) * CE(labels, p) + w * T^2 * KL(teacher_T || softmax(log p / T))``.

    ``w`` is 0 without a teacher (then it is the cross-entropy with the smoothed labels). The
    student's logits are recovered as ``log p`` (the models end in a softmax).

    ``not_a_digit_class``: the model's 10 outputs are 11-way softmax probabilities without the
    "not a digit" class; the loss adds ``-(1 - sum(labels)) * log(1 - sum(p))``, i.e. the
    cross-entropy over 11 classes (the label half of a non-digit is all zeros).
    """
    weight, temp = float(distill_weight), float(temperature)

    def packed_loss(y_true, y_pred):
        log_p = tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0))
        labels = y_true[:, :NUM_CLASSES]
        hard = -tf.reduce_sum(labels * log_p, axis=-1)
        if not_a_digit_class:
            rest = tf.clip_by_value(1.0 - tf.reduce_sum(y_pred, axis=-1), 1e-7, 1.0)
            hard = hard - tf.maximum(1.0 - tf.reduce_sum(labels, axis=-1), 0.0) * tf.math.log(rest)
        if weight == 0:
            return hard
        teacher = y_true[:, NUM_CLASSES:]
        logits = tf.math.log(tf.clip_by_value(y_pred, _FLOOR, 1.0))  # the student's logits, up to a constant
        soft = tf.reduce_sum(teacher * (tf.math.log(tf.clip_by_value(teacher, _FLOOR, 1.0))
                                         - tf.nn.log_softmax(logits / temp, axis=-1)), axis=-1)
        return (1.0 - weight) * hard + weight * temp * temp * soft

    return packed_loss


def accuracy(y_true, y_pred):
    """Top-1 accuracy against the label part of packed targets (named ``accuracy`` in the history)."""
    import tensorflow as tf

    same = tf.equal(tf.argmax(y_true[:, :NUM_CLASSES], axis=-1), tf.argmax(y_pred, axis=-1))
    return tf.cast(same, tf.float32)
