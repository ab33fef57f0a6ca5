"""The QAT fine-tune distilled from a teacher (`edgedigits export --teacher`): training's loss and soft targets.

Fast: a small untrained model, random images, two fine-tune steps; no MNIST and no real training.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.needs_tf

_TEACHER_SAYS = 3  # the constant teacher's answer


def _keras():
    from edgedigits._tf import tf_and_keras

    return tf_and_keras()


def _student(keras):
    keras.utils.set_random_seed(0)
    layers = keras.layers
    return keras.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(4, 3, strides=2, use_bias=False),
                             layers.BatchNormalization(), layers.ReLU(), layers.Flatten(),
                             layers.Dense(10, activation="softmax")])


def _teacher_run(keras, path, *, negatives: float = 0.0):
    """A finished run whose model answers class 3 for every image (probability ~0.997)."""
    from export_helpers import write_run

    layers = keras.layers
    bias = np.zeros(10, np.float32)
    bias[_TEACHER_SAYS] = 8.0
    model = keras.Sequential([layers.Input((28, 28, 1)), layers.Flatten(),
                              layers.Dense(10, activation="softmax", kernel_initializer="zeros",
                                           bias_initializer=keras.initializers.Constant(bias))])
    run = write_run(path, model)
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**saved, "negatives": negatives}))
    return run


def _context(model, run_dir, **options):
    from edgedigits.export import ExportConfig
    from edgedigits.export.context import ConvertContext

    tf, keras = _keras()
    x = np.random.default_rng(0).integers(0, 256, size=(256, 28, 28), dtype=np.uint8)
    config = ExportConfig(run="unused", qat_epochs=1.0, qat_limit=256, qat_learning_rate=0.01, **options).resolved()
    return ConvertContext(tf=tf, keras=keras, model=model, train_x=x, train_y=np.zeros(256, np.int64),
                          calibration=x[:16].astype(np.float32)[..., None] / 255.0, config=config, run_dir=run_dir)


def test_the_qat_fine_tune_learns_the_teachers_answer_instead_of_only_the_labels(tmp_path):
    from edgedigits.export.convert_tflite import qat_model
    from edgedigits.train.targets import TEACHER_CACHE

    _, keras = _keras()
    student, teacher = _student(keras), _teacher_run(keras, tmp_path / "teacher")
    (tmp_path / "student").mkdir()
    plain = _context(student, tmp_path / "student")
    taught = _context(student, tmp_path / "student", teacher=[str(teacher)], distill_weight=1.0, temperature=2.0)
    images = plain.train_x.astype(np.float32)[..., None] / 255.0
    says = [qat_model(ctx).predict(images, verbose=0)[:, _TEACHER_SAYS].mean() for ctx in (plain, taught)]
    # every label is 0: on the labels alone class 3 loses probability; with the teacher (weight 1) it gains
    assert says[1] > says[0]
    with np.load(tmp_path / "student" / TEACHER_CACHE) as cached:  # computed once on the fine-tune's images
        assert cached["log_probs"].shape == (256, 10) and (cached["log_probs"].argmax(axis=1) == _TEACHER_SAYS).all()
    notes = taught.notes["int8"]
    assert (notes["qat_teacher"], notes["qat_distill_weight"], notes["qat_temperature"]) == ([str(teacher)], 1.0, 2.0)
    assert "qat_teacher" not in plain.notes["int8"]


def test_a_teacher_without_the_not_a_digit_class_is_refused_for_a_model_with_it(tmp_path):
    from edgedigits.errors import UsageError
    from edgedigits.train.targets import check_teacher_classes

    _, keras = _keras()
    plain = _teacher_run(keras, tmp_path / "plain")
    check_teacher_classes([str(plain)], not_a_digit_class=False)  # a digits-only model may learn from it
    with pytest.raises(UsageError, match="no 'not a digit' class"):
        check_teacher_classes([str(plain)], not_a_digit_class=True)


@pytest.mark.parametrize("option, flag", [({"distill_weight": 0.0}, "--distill-weight"), ({"temperature": 50.0}, "--temperature")])
def test_distillation_options_are_checked_as_trainings(option, flag):
    from edgedigits.errors import UsageError
    from edgedigits.export import ExportConfig
    from edgedigits.train import TrainConfig

    with pytest.raises(UsageError, match=flag):
        ExportConfig(run="r", teacher=["t"], **option).validate()
    config, train = ExportConfig(run="r"), TrainConfig()
    assert (config.teacher, config.distill_weight, config.temperature) == ([], train.distill_weight, train.temperature)


def test_export_refuses_a_missing_teacher_before_loading_anything(tmp_path):
    from edgedigits.errors import RunError
    from edgedigits.export import ExportConfig, export

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"not read: the teacher is checked first")
    with pytest.raises(RunError, match="no-such-teacher does not exist"):
        export(ExportConfig(run=str(run), teacher=[str(tmp_path / "no-such-teacher")]))


def test_with_augmentation_the_teacher_answers_each_augmented_batch(tmp_path):
    from edgedigits.export.convert_tflite import qat_model
    from edgedigits.train.targets import TEACHER_CACHE

    _, keras = _keras()
    student, teacher = _student(keras), _teacher_run(keras, tmp_path / "teacher")
    (tmp_path / "student").mkdir()
    lines = []
    ctx = _context(student, tmp_path / "student", teacher=[str(teacher)], distill_weight=1.0, qat_augment=True)
    ctx.log = lines.append
    plain = _context(student, tmp_path / "student", qat_augment=True)
    images = ctx.train_x.astype(np.float32)[..., None] / 255.0
    says = [qat_model(c).predict(images, verbose=0)[:, _TEACHER_SAYS].mean() for c in (plain, ctx)]
    assert says[1] > says[0]
    assert any(line.endswith("on every augmented batch") for line in lines)
    assert not (tmp_path / "student" / TEACHER_CACHE).exists()  # nothing computed once, nothing cached
