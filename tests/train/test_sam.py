"""--sam: a SAM step takes its gradient at perturbed weights, moves them back, and updates BatchNorm's moving
statistics once; a run with it saves a plain model that exports as any other."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.needs_tf]

from edgedigits.train.sam import sam_gradients, sam_start_step, use_sam  # noqa: E402


def _toy(keras, seed=0, loss="sparse_categorical_crossentropy"):
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, use_bias=False), layers.BatchNormalization(),
                              layers.ReLU(), layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    return model


def _batch():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 8, 8, 1)).astype(np.float32)
    y = (x[:, 2:5, 2:5, 0].mean(axis=(1, 2)) > 0).astype(np.int64) + (x[:, 0, 0, 0] > 1)
    return x, y


def _moving(keras, model):
    return [w.numpy().copy() for m in model.submodules if isinstance(m, keras.layers.BatchNormalization)
            for w in (m.moving_mean, m.moving_variance)]


def _training_loss(tf, model, x, y):
    return float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))))


@pytest.fixture(scope="module")
def tfk():
    from edgedigits._tf import tf_and_keras

    return tf_and_keras()


def test_sam_starts_with_the_last_epochs():
    assert sam_start_step(25, 5, 100) == 2000
    assert sam_start_step(3, 5, 100) == 0  # more SAM epochs than epochs: SAM from the start


def test_the_sam_gradient_leaves_weights_and_moving_statistics_as_they_were(tfk):
    tf, keras = tfk
    model = _toy(keras)
    x, y = _batch()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    weights, moving = [v.numpy().copy() for v in model.trainable_variables], _moving(keras, model)
    sharp = sam_gradients(tf, keras, model, keras.losses.sparse_categorical_crossentropy, x, y, grads, rho=0.5)
    for var, before in zip(model.trainable_variables, weights):
        np.testing.assert_allclose(var.numpy(), before, atol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(moving, _moving(keras, model)))
    assert len(sharp) == len(grads)
    assert any(not np.allclose(g.numpy(), s.numpy(), atol=1e-4) for g, s in zip(grads, sharp))


def test_a_sam_step_differs_from_a_plain_step_and_lowers_the_loss(tfk):
    tf, keras = tfk
    x, y = _batch()
    plain, sharp = _toy(keras), _toy(keras)
    sharp.set_weights(plain.get_weights())
    use_sam(tf, keras, sharp, rho=0.5)
    before = _training_loss(tf, _toy(keras), x, y)
    plain.train_on_batch(x, y)
    sharp.train_on_batch(x, y)
    assert any(not np.allclose(a, b) for a, b in zip(plain.trainable_weights, sharp.trainable_weights))
    # the same first pass: BatchNorm's moving statistics updated once, exactly as by a plain step
    assert all(np.allclose(a, b) for a, b in zip(_moving(keras, plain), _moving(keras, sharp)))
    assert _training_loss(tf, sharp, x, y) < before


def test_sam_trains_on_packed_targets_with_non_digits(tfk):
    from edgedigits.train.targets import packed_loss, packed_targets

    tf, keras = tfk
    x, labels = _batch()
    labels = np.where(np.arange(len(labels)) % 4 == 0, 10, labels)  # a quarter "not a digit"
    y = packed_targets(labels, negative_target="class", not_a_digit_class=True)
    loss = packed_loss(tf, distill_weight=0.0, temperature=1.0, not_a_digit_class=True)
    model = _toy(keras, loss=loss)
    use_sam(tf, keras, model, rho=0.5)
    first = model.train_on_batch(x, y)
    for _ in range(5):
        last = model.train_on_batch(x, y)
    assert np.isfinite(last) and last < first


def test_steps_before_the_start_are_plain(tfk):
    tf, keras = tfk
    x, y = _batch()
    plain, late = _toy(keras), _toy(keras)
    late.set_weights(plain.get_weights())
    use_sam(tf, keras, late, rho=0.5, start_step=1)
    plain.train_on_batch(x, y)
    late.train_on_batch(x, y)
    assert all(np.allclose(a, b) for a, b in zip(plain.get_weights(), late.get_weights()))
    plain.train_on_batch(x, y)
    late.train_on_batch(x, y)  # the second step (step 1) is a SAM step
    assert any(not np.allclose(a, b) for a, b in zip(plain.trainable_weights, late.trainable_weights))


def test_use_sam_needs_a_compiled_model(tfk):
    tf, keras = tfk
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="compiled"):
        use_sam(tf, keras, model, rho=0.05)


@pytest.mark.slow
def test_a_run_with_sam_trains_resumes_with_it_and_exports(tmp_path, mnist_dir, monkeypatch):
    import json

    from edgedigits.export import ExportConfig, export
    from edgedigits.runs import CONFIG_FILE
    from edgedigits.train import TrainConfig, sam, train

    def interrupt_in_epoch_2(line):
        if line.startswith("epoch 2/2"):
            raise KeyboardInterrupt

    config = TrainConfig(arch="edge", epochs=2, limit=600, batch_size=32, sam=0.05, sam_epochs=1, negatives=0,
                         data_dir=str(mnist_dir), out=str(tmp_path / "sam"))
    with pytest.raises(KeyboardInterrupt):
        train(config, log=interrupt_in_epoch_2)
    saved = json.loads((tmp_path / "sam" / CONFIG_FILE).read_text())
    assert saved["sam"] == 0.05 and saved["sam_epochs"] == 1
    traced, real = [], sam.sam_gradients
    monkeypatch.setattr(sam, "sam_gradients", lambda *a, **k: traced.append(1) or real(*a, **k))
    lines = []
    result = train(TrainConfig(out=str(tmp_path / "sam"), resume=True, data_dir=str(mnist_dir)), log=lines.append)
    assert result.ok and result.metrics["epochs_run"] == 2
    assert any("epochs 2..2" in line and "SAM (rho 0.05) in epochs 2..2" in line for line in lines)
    assert traced  # the resumed epoch took SAM steps
    res = export(ExportConfig(run=str(result.run_dir), formats=["float32"], min_accuracy=0.5, data_dir=str(mnist_dir)))
    assert res.rows[0].status == "ok"  # model.keras loads without custom objects
