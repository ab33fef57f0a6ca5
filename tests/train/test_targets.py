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


def test_non_digits_uniform_target_is_weighted_outlier_exposure():
    packed = targets.packed_targets(np.array([3, targets.NOT_A_DIGIT]), negative_weight=0.5)
    np.testing.assert_allclose(packed[1, :10], 0.05)
    np.testing.assert_allclose(packed[1, 10:], 0.1)
    p = np.full((2, 10), 0.1, np.float32)
    loss = targets.packed_loss(tf, distill_weight=0.0, temperature=1.0)(tf.constant(packed), tf.constant(p)).numpy()
    np.testing.assert_allclose(loss[1], 0.5 * -np.log(0.1), rtol=1e-5)


def test_not_a_digit_class_loss_is_the_11_way_cross_entropy():
    """Outputs are 11-way softmax probabilities without the last class; the loss is CE over 11 classes."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 11))
    p11 = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = np.array([0, 7, targets.NOT_A_DIGIT, 2])
    packed = targets.packed_targets(labels, negative_target="class")
    assert packed[2, :10].sum() == 0
    loss = targets.packed_loss(tf, distill_weight=0.0, temperature=1.0, not_a_digit_class=True)
    got = loss(tf.constant(packed), tf.constant(p11[:, :10].astype(np.float32))).numpy()
    np.testing.assert_allclose(got, -np.log(p11[np.arange(4), labels]), rtol=1e-4)


def test_not_a_digit_head_keeps_ten_outputs_summing_to_one_minus_not_a_digit():
    from edgedigits.train.architectures import create_model
    from edgedigits.train.trainer import with_not_a_digit_class

    _, keras = __import__("edgedigits._tf", fromlist=["tf_and_keras"]).tf_and_keras()
    model = with_not_a_digit_class(keras, create_model("edge", keras))
    assert model.output_shape == (None, 10)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    out = model.predict(x, verbose=0)
    head = keras.Model(model.inputs, model.get_layer("softmax_11").output).predict(x, verbose=0)
    np.testing.assert_allclose(out, head[:, :10], rtol=1e-5, atol=1e-7)
    assert (out.sum(axis=1) < 1).all()
    assert not model.get_layer("digit_probabilities").trainable_weights
