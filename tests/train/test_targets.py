"""Packed targets for label smoothing and distillation, their loss, and the teachers' cached soft targets."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from edgedigits.train import targets  # noqa: E402


def test_packed_targets_smooth_the_labels_and_add_the_teachers_tempered_softmax():
    teacher = np.log(np.array([[0.7, 0.2, 0.1] + [1e-9] * 7], dtype=np.float32))
    rows = targets.packed_targets(np.array([0]), label_smoothing=0.1, teacher_log_probs=teacher, temperature=2.0)
    assert rows.shape == (1, 20)
    np.testing.assert_allclose(rows[0, :10], [0.91] + [0.01] * 9, rtol=1e-6)
    expected = np.sqrt([0.7, 0.2, 0.1]) / np.sqrt([0.7, 0.2, 0.1]).sum()  # p^(1/T), renormalised
    np.testing.assert_allclose(rows[0, 10:13], expected, rtol=1e-3)
    np.testing.assert_allclose(rows.sum(axis=1), 2.0, rtol=1e-5)


def test_without_teacher_the_loss_is_the_cross_entropy_with_the_labels():
    probs = np.array([[0.6, 0.3, 0.1] + [0.0] * 7], dtype=np.float32)
    rows = targets.packed_targets(np.array([1]))
    loss = targets.packed_loss(tf, distill_weight=0.0, temperature=4.0)(tf.constant(rows), tf.constant(probs))
    np.testing.assert_allclose(loss.numpy(), [-np.log(0.3)], rtol=1e-5)


def test_distillation_term_vanishes_when_the_student_matches_the_teacher():
    probs = np.array([[0.6, 0.3, 0.1 - 7e-6] + [1e-6] * 7], dtype=np.float32)
    rows = targets.packed_targets(np.array([0]), teacher_log_probs=np.log(probs), temperature=4.0)
    loss = targets.packed_loss(tf, distill_weight=1.0, temperature=4.0)(tf.constant(rows), tf.constant(probs))
    assert abs(float(loss.numpy()[0])) < 1e-3
    other = np.array([[0.1, 0.3, 0.6] + [1e-9] * 7], dtype=np.float32)
    assert float(targets.packed_loss(tf, distill_weight=1.0, temperature=4.0)(tf.constant(rows), tf.constant(other))[0]) > 0.1


def test_accuracy_reads_the_label_part():
    rows = targets.packed_targets(np.array([2, 0]))
    probs = np.eye(10, dtype=np.float32)[[2, 1]]
    np.testing.assert_array_equal(targets.accuracy(tf.constant(rows), tf.constant(probs)).numpy(), [1.0, 0.0])


def test_small_probabilities_keep_their_information_at_high_temperature():
    # The teacher's and student's tiny wrong-class probabilities are the "dark knowledge": a floor at
    # Keras' 1e-7 would flatten them into uniform smoothing; they must survive the logs.
    probs = np.array([[1.0 - 2e-9, 1e-9, 1e-12] + [1e-15] * 7], dtype=np.float32)
    rows = targets.packed_targets(np.array([0]), teacher_log_probs=np.log(probs.astype(np.float64)), temperature=4.0)
    assert rows[0, 11] > 5 * rows[0, 12] > 5 * rows[0, 13]  # 1e-9 > 1e-12 > 1e-15 still ordered, still apart
    loss = targets.packed_loss(tf, distill_weight=1.0, temperature=4.0)(tf.constant(rows), tf.constant(probs))
    assert abs(float(loss.numpy()[0])) < 1e-3  # matching student: no distillation loss
