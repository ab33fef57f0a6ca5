"""Training targets beyond plain labels: label smoothing and knowledge distillation.

When either is on, each training image's target is a packed float row of 20 numbers (21 for a model with the
"not a digit" class): the (smoothed) one-hot label, then the teacher's soft targets at the distillation temperature.
:func:`packed_loss` and :func:`accuracy` read that row; the model itself is unchanged (it still
ends in a softmax), so export and the runtime see nothing different.

The teacher is one finished run or an ensemble of several (the geometric mean of their
probabilities). Its soft targets are either computed once on the unaugmented training images and cached in the
student's run folder (``teacher_targets.npz``, keyed by the teachers' model checksums and the images, so a resumed
run reuses them and a changed teacher is noticed), or computed on every augmented batch the student sees
(``teacher_targets="online"``, :func:`online_soft_targets`: about twice a step's cost with three teachers).

Example:

>>> from edgedigits.train import TrainConfig, train
>>> train(TrainConfig(teacher=["runs/vgg"], out="runs/edge-kd"))   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from edgedigits.data import to_float
from edgedigits.errors import RunError, UsageError
from edgedigits.runs import MODEL_FILE, check_run_model, resolve_run

__all__ = ["TEACHER_CACHE", "load_teachers", "ensemble_log_probs", "teacher_log_probs", "online_soft_targets",
           "packed_targets", "packed_loss", "accuracy", "check_distillation", "check_teacher_classes",
           "NUM_CLASSES", "NOT_A_DIGIT"]

TEACHER_CACHE = "teacher_targets.npz"
_FLOOR = 1e-30  # probability floor before taking logs for the distillation term (float32-safe)
NUM_CLASSES = 10
NOT_A_DIGIT = 10  # the label of a generated non-digit: its target is the uniform output ("outlier exposure")


def check_distillation(distill_weight: float, temperature: float) -> None:
    """The distillation options' ranges, the same for ``edgedigits train`` and ``edgedigits export``.

    Raises:
      UsageError: naming the option and the value received.
    """
    if not 0 < distill_weight <= 1:
        raise UsageError(f"--distill-weight must be in (0, 1], got {distill_weight!r}")
    if not 0.5 <= temperature <= 20:
        raise UsageError(f"--temperature must be in [0.5, 20], got {temperature!r}")


def check_teacher_classes(teachers: list[str], *, not_a_digit_class: bool) -> None:
    """Every teacher is a finished run, and a student with the "not a digit" class needs teachers that have it (their
    soft targets carry it).

    Raises:
      RunError: a teacher folder is missing or unfinished, or its config.json unreadable.
      ModelError: a teacher's model.keras is no tf_keras model file (not an archive, or saved by Keras 3).
      UsageError: a teacher run was trained without that class.
    """
    from edgedigits.runs import CONFIG_FILE
    from edgedigits.train.config import TrainConfig, reject_method

    for teacher in teachers:
        saved = resolve_run(teacher) / CONFIG_FILE
        if not_a_digit_class and saved.is_file() and reject_method(TrainConfig.from_file(saved)) != "digit_mass":
            raise UsageError(f"the teacher {teacher} has no 'not a digit' class but this run learns one: distil from "
                             "runs trained with the same --negatives/--negative-target, or train with --negatives 0")
        check_run_model(saved.parent / MODEL_FILE)  # before TensorFlow and minutes of generated images


def load_teachers(keras, teachers: list[str]) -> tuple[list, list[Path], list[str]]:
    """The teachers' models (loaded without their training loss), run folders and model checksums.

    Raises:
      RunError: a teacher folder is missing, unfinished or its model cannot be loaded.
    """
    runs, sums = _teacher_runs(teachers)
    return _load_models(keras, runs), runs, sums


def _teacher_runs(teachers: list[str]) -> tuple[list[Path], list[str]]:
    """The teachers' run folders and their models' checksums (RunError: a folder missing or unfinished)."""
    runs = [resolve_run(t) for t in teachers]
    return runs, [hashlib.sha256((r / MODEL_FILE).read_bytes()).hexdigest() for r in runs]


def _load_models(keras, runs: list[Path]) -> list:
    models = []
    for run in runs:
        try:
            models.append(keras.models.load_model(run / MODEL_FILE, compile=False))
        except Exception as exc:  # noqa: BLE001 (Keras raises anything on a bad file)
            raise RunError(f"cannot load the teacher {run}/{MODEL_FILE} ({str(exc).splitlines()[0]})") from None
    return models


def ensemble_log_probs(tf, models: list, images, *, not_a_digit_class: bool = False):
    """The teachers' mean log-probabilities for a batch of float images (an ensemble's geometric mean, unnormalised):
    ``(N, 10)``, or ``(N, 11)`` with ``not_a_digit_class`` (the 11th: ``log(1 - sum p)``, the "not a digit"
    probability of models whose 10 outputs are the digits of an 11-way softmax). The one teacher computation of
    both modes: once over the unaugmented training images (:func:`teacher_log_probs`, cached) or on every augmented
    batch (:func:`online_soft_targets`)."""
    total = 0.0
    for model in models:
        total = total + _log_probs(tf, model(images, training=False), not_a_digit_class)
    return total / len(models)


def _log_probs(tf, probs, not_a_digit_class: bool):
    """``log p`` of a model's outputs, with the "not a digit" column ``log(1 - sum p)`` appended when asked.

    A floor far below any real probability: at T = 4 a floor of 1e-7 (Keras' epsilon) would give every wrong class
    0.018, i.e. turn the teacher into uniform label smoothing of ~0.16.
    """
    log_p = tf.math.log(tf.clip_by_value(probs, _FLOOR, 1.0))
    if not not_a_digit_class:
        return log_p
    rest = tf.clip_by_value(1.0 - tf.reduce_sum(probs, axis=-1, keepdims=True), _FLOOR, 1.0)
    return tf.concat([log_p, tf.math.log(rest)], axis=-1)


def teacher_log_probs(keras, teachers: list[str], images: np.ndarray, cache_dir: Path | None, log=print, *,
                      not_a_digit_class: bool = False) -> np.ndarray:
    """The teachers' mean log-probabilities for ``images`` (N, 10 or 11), computed once and cached.

    Args:
      keras: the ``tf_keras`` module.
      teachers: finished run folders (each holds a ``model.keras``).
      images: uint8 (N, 28, 28): the student's training images, in its order.
      cache_dir: the student's run folder; the cache file goes there (None: not cached).
      log: receives one line when the targets are computed.
      not_a_digit_class: add the "not a digit" column (see :func:`ensemble_log_probs`).

    Returns:
      float32 (N, 10 or 11): the mean over teachers of ``log p``.

    Raises:
      RunError: a teacher folder is missing or unfinished.
    """
    import tensorflow as tf

    runs, sums = _teacher_runs(teachers)
    key = hashlib.sha256(json.dumps([sums, hashlib.sha256(np.ascontiguousarray(images)).hexdigest(),
                                     bool(not_a_digit_class)]).encode()).hexdigest()
    cache = None if cache_dir is None else Path(cache_dir) / TEACHER_CACHE
    if cache is not None and cache.is_file():
        with np.load(cache) as saved:
            if str(saved["key"]) == key:
                return saved["log_probs"]
    models = _load_models(keras, runs)
    log_probs = np.concatenate([
        ensemble_log_probs(tf, models, to_float(images[i:i + 1000]), not_a_digit_class=not_a_digit_class).numpy()
        for i in range(0, len(images), 1000)]).astype(np.float32)
    if cache is not None:
        tmp = cache.with_name(cache.name + ".partial.npz")
        np.savez(tmp, log_probs=log_probs, key=np.array(key),
                 teachers=np.array(json.dumps([str(r) for r in runs])), sha256=np.array(json.dumps(sums)))
        tmp.replace(cache)
    log(f"teacher soft targets: {len(runs)} model(s) ({', '.join(str(r) for r in runs)}) on {len(images)} "
        f"images" + ("" if cache is None else f", cached in {cache}"))
    return log_probs


def online_soft_targets(tf, keras, teachers: list[str], *, temperature: float, not_a_digit_class: bool = False, log=print):
    """A ``tf.data`` map function ``(images, packed rows) -> (images, packed rows)`` that replaces each row's soft half
    with the teachers' tempered softmax on the batch's own (augmented) images: the student learns the teacher's
    answer to exactly what it sees. Rows without a teacher part (a uniform-target non-digit: a soft half whose
    largest value is under 0.5) keep theirs, as :func:`packed_targets` does.

    Raises:
      RunError: a teacher folder is missing, unfinished or unreadable.
    """
    models, runs, _ = load_teachers(keras, teachers)
    temp = float(temperature)
    log(f"teacher soft targets: {len(runs)} model(s) ({', '.join(str(r) for r in runs)}) on every augmented batch")

    def attach(images, rows):
        soft = tf.nn.softmax(ensemble_log_probs(tf, models, images, not_a_digit_class=not_a_digit_class) / temp, axis=-1)
        placeholder = rows[:, NUM_CLASSES:]
        if not not_a_digit_class:
            soft = tf.where(tf.reduce_max(placeholder, axis=-1, keepdims=True) < 0.5, placeholder, soft)
        return images, tf.concat([rows[:, :NUM_CLASSES], soft], axis=-1)

    return attach


def packed_targets(labels: np.ndarray, *, label_smoothing: float = 0.0, teacher_log_probs: np.ndarray | None = None,
                   temperature: float = 1.0, negative_weight: float = 1.0, negative_target: str = "uniform",
                   not_a_digit_class: bool = False) -> np.ndarray:
    """float32 (N, 20), or (N, 21) with ``not_a_digit_class``: smoothed one-hot labels, then the teacher's softmax at
    ``temperature`` (the one-hot labels again when there is no teacher).

    A label of :data:`NOT_A_DIGIT` (10) becomes the uniform output scaled by ``negative_weight``
    (its cross-entropy is then ``negative_weight`` x the cross-entropy to uniform: outlier
    exposure), and its soft half is uniform whatever the teacher says. With ``negative_target="class"``
    its label half is all zeros instead: the rest of the probability, ``1 - sum``, is the "not a
    digit" class (see :func:`packed_loss` with ``not_a_digit_class``). With ``not_a_digit_class`` the soft half
    has 11 columns, the 11th "not a digit" (one-hot for a non-digit without a teacher), and follows the teacher for
    every image, non-digits included (``teacher_log_probs`` (N, 11))."""
    labels = np.asarray(labels, dtype=np.int64)
    negative = labels == NOT_A_DIGIT
    onehot = np.eye(NUM_CLASSES, dtype=np.float32)[np.where(negative, 0, labels)]
    onehot[negative] = 1.0 / NUM_CLASSES
    hard = onehot * (1.0 - label_smoothing) + label_smoothing / NUM_CLASSES
    hard[negative] = 0.0 if negative_target == "class" else negative_weight / NUM_CLASSES
    if teacher_log_probs is None:
        soft = np.eye(NUM_CLASSES + 1, dtype=np.float32)[labels] if not_a_digit_class else onehot
    else:
        z = teacher_log_probs.astype(np.float64) / temperature
        z -= z.max(axis=1, keepdims=True)
        soft = np.exp(z)
        soft /= soft.sum(axis=1, keepdims=True)
    soft = soft.astype(np.float32)
    if not not_a_digit_class:
        soft[negative] = 1.0 / NUM_CLASSES
    return np.concatenate([hard, soft], axis=1)


def packed_loss(tf, *, distill_weight: float, temperature: float, not_a_digit_class: bool = False):
    """Loss over packed targets: ``(1 - w) * CE(labels, p) + w * T^2 * KL(teacher_T || softmax(log p / T))``.

    ``w`` is 0 without a teacher (then it is the cross-entropy with the smoothed labels). The
    student's logits are recovered as ``log p`` (the models end in a softmax).

    ``not_a_digit_class``: the model's 10 outputs are 11-way softmax probabilities without the
    "not a digit" class; the loss adds ``-(1 - sum(labels)) * log(1 - sum(p))``, i.e. the
    cross-entropy over 11 classes (the label half of a non-digit is all zeros), and the distillation term is
    over the 11 classes (the packed rows' soft half has 11 columns).
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
        # the student's logits, up to a constant (with 11 soft columns: its "not a digit" logit too)
        logits = _log_probs(tf, y_pred, not_a_digit_class)
        soft = tf.reduce_sum(teacher * (tf.math.log(tf.clip_by_value(teacher, _FLOOR, 1.0))
                                         - tf.nn.log_softmax(logits / temp, axis=-1)), axis=-1)
        return (1.0 - weight) * hard + weight * temp * temp * soft

    return packed_loss


def accuracy(y_true, y_pred):
    """Top-1 accuracy against the label part of packed targets (named ``accuracy`` in the history)."""
    import tensorflow as tf

    same = tf.equal(tf.argmax(y_true[:, :NUM_CLASSES], axis=-1), tf.argmax(y_pred, axis=-1))
    return tf.cast(same, tf.float32)
