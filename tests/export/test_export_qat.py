"""The QAT fine-tune's options: frozen BatchNorm, augmented images, cosine learning rate."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]


def _context(model, mnist_dir, *, images=256, pass_images=None, **options):
    from edgedigits._tf import tf_and_keras
    from edgedigits.export import ExportConfig
    from edgedigits.export.context import ConvertContext
    from edgedigits_runtime.mnist import load_mnist

    tf, keras = tf_and_keras()
    x, y = load_mnist("train", mnist_dir)
    options.setdefault("qat_limit", 256)
    config = ExportConfig(run="unused", qat_epochs=1.0, **options).resolved()
    return ConvertContext(tf=tf, keras=keras, model=model, train_x=x[:images], train_y=y[:images],
                          calibration=x[:16].astype(np.float32)[..., None] / 255.0, config=config,
                          pass_images=pass_images)


def _batchnorm_weights(qmodel, keras):
    return [w.copy() for layer in qmodel.layers if isinstance(getattr(layer, "layer", None), keras.layers.BatchNormalization)
            for w in layer.layer.get_weights()]


def test_frozen_batchnorm_keeps_the_trained_statistics_and_the_rest_trains(tiny_model, mnist_dir):
    from edgedigits.export.convert_tflite import qat_model

    ctx = _context(tiny_model, mnist_dir, qat_batchnorm="frozen", qat_augment=True, qat_schedule="cosine")
    qmodel = qat_model(ctx)
    bn = [layer for layer in tiny_model.layers if isinstance(layer, ctx.keras.layers.BatchNormalization)]
    trained = [w for layer in bn for w in layer.get_weights()]
    assert len(_batchnorm_weights(qmodel, ctx.keras)) == len(trained) == 4 * len(bn) > 0  # gamma, beta, mean, variance
    for before, after in zip(trained, _batchnorm_weights(qmodel, ctx.keras)):
        np.testing.assert_array_equal(before, after)
    conv = tiny_model.layers[0].get_weights()[0]
    kernel = next(w for w in qmodel.layers[1].weights if w.name.endswith("kernel:0")).numpy()
    assert kernel.shape == conv.shape and not np.array_equal(conv, kernel)  # the convolutions adapt
    notes = ctx.notes["int8"]
    assert (notes["qat_batchnorm"], notes["qat_augment"], notes["qat_schedule"], notes["qat_images"]) == (
        "frozen", True, "cosine", 256)
    # 2 steps of 128 images; the second ran at the cosine's midpoint: (1 + 0.01) / 2 of the peak (constant: the peak)
    assert float(qmodel.optimizer.learning_rate.numpy()) == pytest.approx(1e-4 * 0.505)


def test_default_fine_tune_updates_batchnorm_statistics(tiny_model, mnist_dir):
    from edgedigits.export.convert_tflite import qat_model

    ctx = _context(tiny_model, mnist_dir)
    qmodel = qat_model(ctx)
    trained_mean = tiny_model.layers[1].get_weights()[2]
    assert not np.array_equal(trained_mean, _batchnorm_weights(qmodel, ctx.keras)[2])
    assert ctx.notes["int8"]["qat_batchnorm"] == "train" and ctx.notes["int8"]["qat_augment"] is False


def test_export_fine_tunes_on_the_runs_own_training_split(tiny_model, mnist_dir, tmp_path):
    """A ``--limit`` run is fine-tuned (and calibrated) on its own split, not on images it held out or never saw."""
    import json

    from export_helpers import TINY_GATES, write_run

    from edgedigits.export import ExportConfig, export
    from edgedigits.export.api import _split_options

    run = write_run(tmp_path / "run", tiny_model)  # its config.json says limit 1000 (default val_fraction 1/12)
    assert _split_options(run) == {"limit": 1000}
    result = export(ExportConfig(run=str(run), formats=["int8"], data_dir=str(mnist_dir), qat_epochs=0.25,
                                 calibration_samples=64, **TINY_GATES))
    entry = json.loads(result.manifest_path.read_text())["artifacts"]["edge_int8.tflite"]
    assert entry["qat_images"] == round(0.25 * (1000 - round(1000 / 12)))  # 917 training images, not 55,000
    (run / "config.json").write_text("not json")
    assert _split_options(run) == {}  # an unreadable config: the full default split, as before


def test_a_pass_counts_the_training_digits_not_the_generated_extras(tiny_model, mnist_dir):
    from edgedigits.export.convert_tflite import qat_model

    # 256 "digits" followed by 256 more images standing in for a run's generated extras: one pass is 256 images
    ctx = _context(tiny_model, mnist_dir, images=512, pass_images=256, qat_limit=None)
    qat_model(ctx)
    assert ctx.notes["int8"]["qat_images"] == 256


def test_conversion_gives_the_same_bytes_as_from_the_keras_model_itself(mnist_dir, monkeypatch):
    """The converter is handed a plain module owning the variables instead of the Keras model (whose SavedModel
    costs seconds of tracing): the int8 file of a quantization-aware "not a digit" model is byte for byte the same."""
    import tensorflow_model_optimization as tfmot

    from edgedigits._tf import tf_and_keras
    from edgedigits.export import convert_tflite
    from edgedigits.train.architectures import create_model
    from edgedigits.train.trainer import with_not_a_digit_class
    from edgedigits_runtime.mnist import load_mnist

    tf, keras = tf_and_keras()
    keras.utils.set_random_seed(3)
    model = tfmot.quantization.keras.quantize_model(with_not_a_digit_class(keras, create_model("tiny", keras)))
    calibration = load_mnist("train", mnist_dir)[0][:16].astype(np.float32)[..., None] / 255.0
    data = convert_tflite.full_integer(tf, model, calibration)
    monkeypatch.setattr(convert_tflite, "_holding", lambda tf, model: model)  # as before: the Keras model itself
    assert convert_tflite.full_integer(tf, model, calibration) == data


def test_fine_tune_batches_are_the_scaled_images_in_order():
    """The tf.data batches the fine-tune trains on are the numpy slices it trained on before, value for value."""
    from edgedigits._tf import tf_and_keras
    from edgedigits.export.convert_tflite import _QAT_BATCH, plain_batches

    tf, _ = tf_and_keras()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    y = rng.random((300, 12)).astype(np.float32)  # packed targets (plain labels go through the same gather)
    order = np.concatenate([rng.permutation(300), rng.permutation(300)])[:_QAT_BATCH * 2 + 5]
    before = (x[order].astype(np.float32) / 255.0)[..., None]
    batches = list(plain_batches(tf, x, y, order).as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [_QAT_BATCH, _QAT_BATCH, 5]
    assert np.array_equal(np.concatenate([b[0] for b in batches]), before)
    assert np.array_equal(np.concatenate([b[1] for b in batches]), y[order])
    labels = rng.integers(0, 10, 300).astype(np.int64)
    assert np.array_equal(np.concatenate([b[1] for b in plain_batches(tf, x, labels, order).as_numpy_iterator()]),
                          labels[order])
