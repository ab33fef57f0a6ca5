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


def test_eleven_way_soft_targets_follow_the_teacher_for_digits_and_non_digits():
    labels = np.array([3, targets.NOT_A_DIGIT])
    plain = targets.packed_targets(labels, negative_target="class", not_a_digit_class=True)
    assert plain.shape == (2, 21)
    np.testing.assert_array_equal(plain[:, 10:], np.eye(11, dtype=np.float32)[[3, 10]])  # one-hot, "not a digit" last
    p11 = np.array([[0.05] * 3 + [0.5] + [0.05] * 6 + [0.0], [0.02] * 10 + [0.8]])
    rows = targets.packed_targets(labels, negative_target="class", not_a_digit_class=True,
                                  teacher_log_probs=np.log(np.clip(p11, 1e-30, 1)), temperature=1.0)
    np.testing.assert_allclose(rows[:, 10:], p11 / p11.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_eleven_way_distillation_vanishes_when_the_student_matches_the_teacher():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 11))
    p11 = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = np.array([1, targets.NOT_A_DIGIT, 4])
    rows = targets.packed_targets(labels, negative_target="class", not_a_digit_class=True,
                                  teacher_log_probs=np.log(p11), temperature=4.0)
    loss = targets.packed_loss(tf, distill_weight=1.0, temperature=4.0, not_a_digit_class=True)
    assert np.abs(loss(tf.constant(rows), tf.constant(p11[:, :10].astype(np.float32))).numpy()).max() < 1e-4
    other = np.roll(p11, 1, axis=1)[:, :10].astype(np.float32)  # a different "not a digit" share as well
    assert loss(tf.constant(rows), tf.constant(other)).numpy().min() > 1e-3


def _fake_teacher(tmp_path, name, eleven: bool):
    """A finished run folder holding a small untrained model (10 outputs; with ``eleven`` an 11-way softmax's digits)."""
    from edgedigits.train.trainer import with_not_a_digit_class

    _, keras = __import__("edgedigits._tf", fromlist=["tf_and_keras"]).tf_and_keras()
    keras.utils.set_random_seed(len(name))
    model = keras.Sequential([keras.layers.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(8),
                              keras.layers.Dense(10, activation="softmax")])
    if eleven:
        model = with_not_a_digit_class(keras, model)
    run = tmp_path / name
    run.mkdir()
    model.save(run / "model.keras")
    return run, model


def test_online_soft_targets_are_the_ensembles_tempered_softmax_on_the_batch_it_is_given(tmp_path):
    runs, models = zip(*(_fake_teacher(tmp_path, f"t{i}", eleven=True) for i in range(2)))
    _, keras = __import__("edgedigits._tf", fromlist=["tf_and_keras"]).tf_and_keras()
    x = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    lines = []
    attach = targets.online_soft_targets(tf, keras, [str(r) for r in runs], temperature=2.0, not_a_digit_class=True,
                                         log=lines.append)
    assert "on every augmented batch" in lines[0]
    rows = targets.packed_targets(np.array([0, 1, 2, targets.NOT_A_DIGIT, 4]), negative_target="class",
                                  not_a_digit_class=True)
    images, out = attach(tf.constant(x), tf.constant(rows))
    out = out.numpy()
    np.testing.assert_array_equal(out[:, :10], rows[:, :10])  # the labels are kept
    p = [m.predict(x, verbose=0).astype(np.float64) for m in models]
    log_p = np.mean([np.log(np.concatenate([q, 1 - q.sum(axis=1, keepdims=True)], axis=1)) for q in p], axis=0)
    expected = np.exp(log_p / 2.0) / np.exp(log_p / 2.0).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out[:, 10:], expected, rtol=1e-4, atol=1e-6)
    # the cached mode's function gives the same log-probabilities on the same images
    cached = targets.teacher_log_probs(keras, [str(r) for r in runs], (x[..., 0] * 255).round().astype(np.uint8),
                                       tmp_path, log=lines.append, not_a_digit_class=True)
    assert cached.shape == (5, 11)


def test_online_soft_targets_keep_the_uniform_target_of_outlier_exposure_non_digits(tmp_path):
    run, _ = _fake_teacher(tmp_path, "plain", eleven=False)
    _, keras = __import__("edgedigits._tf", fromlist=["tf_and_keras"]).tf_and_keras()
    attach = targets.online_soft_targets(tf, keras, [str(run)], temperature=1.0, log=lambda line: None)
    rows = targets.packed_targets(np.array([7, targets.NOT_A_DIGIT]), negative_target="uniform")
    x = np.random.default_rng(2).random((2, 28, 28, 1)).astype(np.float32)
    out = attach(tf.constant(x), tf.constant(rows))[1].numpy()
    assert out.shape == (2, 20)
    np.testing.assert_allclose(out[1, 10:], 0.1)  # uniform, whatever the teacher says
    assert abs(out[0, 10:].sum() - 1) < 1e-5 and out[0, 10:].max() < 1  # the teacher's (untrained: not one-hot)
