"""End to end: train on a few hundred real MNIST images and check the run folder."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]

from edgedigits.errors import RunError, UsageError  # noqa: E402
from edgedigits.train import TrainConfig, train  # noqa: E402

EXPECTED_FILES = {"model.keras", "config.json", "history.json", "metrics.json", "curves.png", "confusion.png", "checkpoint"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("runs") / "small"
    config = TrainConfig(arch="seed", epochs=1, limit=600, batch_size=16, learning_rate=5e-3, augment=False,
                         data_dir=str(mnist_dir), out=str(out))
    lines = []
    start = time.perf_counter()
    result = train(config, log=lines.append)
    result.wall_seconds = time.perf_counter() - start
    return result, lines


def test_run_folder_holds_everything(small_run):
    result, _ = small_run
    assert EXPECTED_FILES <= {p.name for p in result.run_dir.iterdir()}
    assert not [p for p in result.run_dir.rglob("*partial*")]  # no temporary file left behind
    for png in ("curves.png", "confusion.png"):
        assert (result.run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_accuracy_is_well_above_chance(small_run):
    result, _ = small_run
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["test_images"] == 10000
    assert metrics["test_accuracy"] == result.test_accuracy > 0.6  # chance is 0.1
    assert len(metrics["per_class_accuracy"]) == 10
    # seed as the keras.io tutorial builds it (34,826), its last Dense 11-way by default: the "not a digit" class
    assert metrics["params"] == 34826 + 1601 and metrics["macs"] > 0
    assert metrics["not_a_digit"]["method"] == "digit_mass" and "photo path" in metrics["not_a_digit"]["chosen_on"]


def test_train_time_is_the_wall_time_of_the_run(small_run):
    result, _ = small_run
    epochs = sum(json.loads((result.run_dir / "history.json").read_text())["seconds"])
    assert epochs <= result.metrics["train_seconds"] <= result.wall_seconds


def test_config_and_history_are_saved(small_run, mnist_dir):
    result, lines = small_run
    saved = TrainConfig.from_file(result.run_dir / "config.json")
    assert saved.arch == "seed" and saved.limit == 600
    history = json.loads((result.run_dir / "history.json").read_text())
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(history)
    assert any(line.startswith("epoch 1/1") for line in lines)
    assert any("test accuracy" in line for line in lines)


def test_existing_run_is_never_overwritten_silently(small_run, mnist_dir):
    result, _ = small_run
    before = (result.run_dir / "model.keras").read_bytes()
    config = TrainConfig(arch="seed", epochs=1, limit=100, batch_size=16, data_dir=str(mnist_dir), out=str(result.run_dir))
    with pytest.raises(RunError, match="already exists; pass --overwrite"):
        train(config)
    assert (result.run_dir / "model.keras").read_bytes() == before


def test_batch_larger_than_data_is_refused(tmp_path, mnist_dir):
    config = TrainConfig(epochs=1, limit=100, batch_size=500, data_dir=str(mnist_dir), out=str(tmp_path / "r"))
    with pytest.raises(UsageError, match="larger than the 92 training images"):
        train(config)
    assert not (tmp_path / "r").exists()


def _edge_config(out, mnist_dir, **kw):
    return TrainConfig(arch="edge", epochs=3, limit=300, batch_size=32, data_dir=str(mnist_dir), out=str(out), **kw)


def _history(run_dir):
    return json.loads((run_dir / "history.json").read_text())


@pytest.fixture(scope="module")
def full_edge_run(tmp_path_factory, mnist_dir):
    return train(_edge_config(tmp_path_factory.mktemp("full") / "run", mnist_dir), log=lambda line: None)


def test_same_seed_same_result(full_edge_run, tmp_path, mnist_dir, monkeypatch):
    from edgedigits.train import trainer

    # this time the "not a digit" report images are made in a second process while the model trains, and the
    # validation pass after each epoch runs in Keras' default batches of 32 (as before VALIDATION_BATCH)
    monkeypatch.setattr(trainer, "REPORT_PARALLEL_MIN_IMAGES", 0)
    monkeypatch.setattr(trainer, "VALIDATION_BATCH", 32)
    again = train(_edge_config(tmp_path / "again", mnist_dir), log=lambda line: None)
    first, second = _history(full_edge_run.run_dir), _history(again.run_dir)
    assert second["loss"] == first["loss"] and second["val_accuracy"] == first["val_accuracy"]
    assert second["val_loss"] == pytest.approx(first["val_loss"], rel=1e-5)  # summed in another order
    assert again.test_accuracy == full_edge_run.test_accuracy
    assert again.metrics["not_a_digit"] == full_edge_run.metrics["not_a_digit"]  # the same images, however made
    assert (again.run_dir / "report_images.npz").is_file() and (full_edge_run.run_dir / "report_images.npz").is_file()


def test_resume_after_interruption_loses_at_most_one_epoch(full_edge_run, tmp_path, mnist_dir):
    first_lines, resumed_lines = [], []

    def interrupt_in_epoch_3(line):
        first_lines.append(line)
        if line.startswith("epoch 3/3"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_edge_config(tmp_path / "cut", mnist_dir), log=interrupt_in_epoch_3)
    state = json.loads((tmp_path / "cut" / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2  # only the epoch in progress was lost
    assert not (tmp_path / "cut" / "model.keras").exists()  # an unfinished run has no model

    resumed = train(TrainConfig(out=str(tmp_path / "cut"), resume=True, data_dir=str(mnist_dir)), log=resumed_lines.append)
    assert resumed.metrics["epochs_run"] == 3
    # the run's own --limit and generated images, not the full training set this call's defaults would load
    def what(lines):  # "training edge on N images + ... (M held out for validation)", without the epochs and folder
        return [ln.split(", epochs")[0] for ln in lines if ln.startswith("training ")]

    assert what(resumed_lines) == what(first_lines) and len(what(first_lines)) == 1
    assert any(ln.startswith("reusing ") for ln in resumed_lines)
    full, cut = _history(full_edge_run.run_dir), _history(resumed.run_dir)
    assert cut["loss"][:2] == full["loss"][:2]  # the checkpointed epochs are kept as they were
    assert cut["lr"][:2] == full["lr"][:2]
    assert cut["lr"][2] < cut["lr"][1]  # the schedule continues decaying, not restarted
    assert (resumed.run_dir / "model.keras").is_file()
    # both sessions' time, counted once: the three epochs and at most the overheads around them
    assert sum(cut["seconds"]) <= resumed.metrics["train_seconds"] <= sum(cut["seconds"]) + 120


def test_resuming_a_finished_run_is_refused(small_run, mnist_dir):
    result, _ = small_run
    before = (result.run_dir / "model.keras").read_bytes()
    with pytest.raises(RunError, match=r"has already finished \(1 epochs\): nothing to resume; .*--epochs 2"):
        train(TrainConfig(out=str(result.run_dir), resume=True, data_dir=str(mnist_dir)))
    assert (result.run_dir / "model.keras").read_bytes() == before


def test_a_short_run_gives_a_usable_model(tmp_path, mnist_dir):
    # Issue 13: ~60 steps used to leave BatchNorm's inference statistics near their initial values
    # (validation stuck at 8.7%, test 11%); short runs now lower the momentum and re-estimate them.
    # The same holds for the weights' moving average (--ema): its momentum is capped for short runs.
    config = TrainConfig(arch="edge", epochs=4, limit=2000, ema=0.999, data_dir=str(mnist_dir), out=str(tmp_path / "short"))
    result = train(config, log=lambda line: None)
    assert result.ok and result.metrics["usable"]
    from edgedigits.train.architectures import create_model

    batchnorms = sum(type(layer).__name__ == "BatchNormalization" for layer in create_model("edge").layers)
    assert result.metrics["batchnorm_recalibrated"] == batchnorms == 4
    assert result.metrics["val_accuracy"] > 0.85 and result.test_accuracy > 0.85


def test_batchnorm_recalibration_sets_the_average_batch_statistics():
    from edgedigits._tf import tf_and_keras
    from edgedigits.train.trainer import recalibrate_batchnorm

    _, keras = tf_and_keras()
    conv = keras.layers.Conv2D(4, 3, use_bias=False)
    bn = keras.layers.BatchNormalization(momentum=0.99)
    model = keras.Sequential([keras.layers.Input((28, 28, 1)), conv, bn])
    images = np.random.default_rng(0).random((40, 28, 28, 1), dtype=np.float32)
    assert recalibrate_batchnorm(keras, model, images, batch_size=10) == 1
    features = conv(images).numpy().reshape(4, -1, 4)  # 4 batches of 10 images, all positions
    np.testing.assert_allclose(bn.moving_mean.numpy(), features.mean(axis=1).mean(axis=0), rtol=1e-4, atol=1e-6)
    assert bn.momentum == 0.99  # restored
    assert np.all(bn.moving_variance.numpy() > 0)


def test_distillation_caches_the_teachers_soft_targets(small_run, tmp_path, mnist_dir):
    from edgedigits._tf import tf_and_keras
    from edgedigits.data import load_splits
    from edgedigits.train.extras import with_negatives
    from edgedigits.train.targets import TEACHER_CACHE, teacher_log_probs

    teacher, _ = small_run
    lines = []
    config = TrainConfig(arch="edge", epochs=1, limit=600, batch_size=16, data_dir=str(mnist_dir), out=str(tmp_path / "kd"),
                         teacher=[str(teacher.run_dir)] * 2, label_smoothing=0.1, ema=0.9, elastic=8.0)
    result = train(config, log=lines.append)
    assert result.ok and (result.run_dir / TEACHER_CACHE).is_file()
    assert any(line.startswith("teacher soft targets: 2 model(s)") for line in lines)
    assert TrainConfig.from_file(result.run_dir / "config.json").teacher == [str(teacher.run_dir)] * 2
    # the cache answers the second time (no new line), and it holds the teacher's own predictions
    _, keras = tf_and_keras()
    splits = load_splits(mnist_dir, limit=600)
    x_train, _ = with_negatives(splits, config, lambda line: None)  # the student's training images (digits; + non-digits when opted in)
    again = []
    cached = teacher_log_probs(keras, [str(teacher.run_dir)] * 2, x_train, result.run_dir, log=again.append,
                               not_a_digit_class=True)
    assert again == [] and cached.shape == (len(x_train), 11)  # the soft targets carry "not a digit" too
    model = keras.models.load_model(teacher.run_dir / "model.keras", compile=False)
    own = model.predict(x_train[..., None] / 255.0, verbose=0)
    own = np.concatenate([own, 1 - own.sum(axis=1, keepdims=True)], axis=1)  # its 11th class: "not a digit"
    np.testing.assert_array_equal(cached.argmax(axis=1), own.argmax(axis=1))
    # the finished model loads without the training loss (export loads it this way)
    keras.models.load_model(result.run_dir / "model.keras")


def test_online_distillation_asks_the_teacher_on_every_batch_and_caches_nothing(small_run, tmp_path, mnist_dir):
    from edgedigits.train.targets import TEACHER_CACHE

    teacher, _ = small_run
    lines = []
    config = TrainConfig(arch="edge", epochs=2, limit=600, batch_size=16, data_dir=str(mnist_dir), out=str(tmp_path / "kd"),
                         teacher=[str(teacher.run_dir)], teacher_targets="online", temperature=2.0)
    result = train(config, log=lines.append)
    assert result.ok and not (result.run_dir / TEACHER_CACHE).exists()
    assert any(line.startswith("teacher soft targets: 1 model(s)") and line.endswith("on every augmented batch")
               for line in lines)
    assert TrainConfig.from_file(result.run_dir / "config.json").teacher_targets == "online"


def test_a_teacher_without_the_not_a_digit_class_is_refused_for_a_student_with_it(small_run, tmp_path, mnist_dir):
    import shutil

    teacher, _ = small_run
    plain = tmp_path / "plain-teacher"
    shutil.copytree(teacher.run_dir, plain)
    saved = json.loads((plain / "config.json").read_text())
    (plain / "config.json").write_text(json.dumps({**saved, "negatives": 0.0}))
    config = TrainConfig(arch="edge", epochs=1, limit=600, data_dir=str(mnist_dir), out=str(tmp_path / "kd"),
                         teacher=[str(plain)])
    with pytest.raises(UsageError, match="no 'not a digit' class"):
        train(config, log=lambda line: None)


def _kernels(run_dir):
    import tf_keras as keras

    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    return [w for layer in model.layers for w in layer.get_weights()[:1] if w.ndim == 4]


def test_a_warm_start_begins_from_the_init_runs_model(small_run, tmp_path, mnist_dir):
    # --init: the new run's model starts as the finished run's (at a learning rate too small to move it, it ends there
    # too), with its own config.json saying where it started; a fresh run of the same options does not.
    init, _ = small_run
    lines = []
    options = dict(arch="seed", epochs=1, limit=600, batch_size=16, learning_rate=1e-9, augment=False, data_dir=str(mnist_dir))
    warm = train(TrainConfig(**options, init=str(init.run_dir), out=str(tmp_path / "warm")), log=lines.append)
    cold = train(TrainConfig(**options, out=str(tmp_path / "cold")), log=lambda line: None)
    for before, after in zip(_kernels(init.run_dir), _kernels(warm.run_dir)):
        np.testing.assert_allclose(after, before, atol=1e-6)
    assert not np.allclose(_kernels(cold.run_dir)[0], _kernels(init.run_dir)[0], atol=1e-3)
    assert abs(warm.test_accuracy - init.test_accuracy) < 0.02 < init.test_accuracy - cold.test_accuracy
    assert TrainConfig.from_file(warm.run_dir / "config.json").init == str(init.run_dir)
    assert any(f"starting from {init.run_dir}'s model" in line for line in lines)


@pytest.mark.parametrize("change, message", [
    (dict(arch="edge"), "was trained as --arch seed, this run is --arch edge: .* \\(pass --arch seed\\)"),
    (dict(negatives=0.0), "with a 'not a digit' class and this run with digits only"),
])
def test_a_warm_start_from_an_incompatible_run_is_refused_up_front(small_run, tmp_path, mnist_dir, change, message):
    init, _ = small_run
    config = TrainConfig(**{**dict(arch="seed", epochs=1, limit=600, data_dir=str(mnist_dir)), **change},
                         init=str(init.run_dir), out=str(tmp_path / "warm"))
    with pytest.raises(UsageError, match=message):
        train(config, log=lambda line: None)
    assert not (tmp_path / "warm").exists()


def test_a_warm_start_needs_a_finished_run_and_a_new_folder(small_run, tmp_path, mnist_dir):
    init, _ = small_run
    with pytest.raises(RunError, match="holds no model.keras"):
        train(TrainConfig(arch="seed", init=str(tmp_path), out=str(tmp_path / "warm"), data_dir=str(mnist_dir)))
    with pytest.raises(UsageError, match="--init and --out are the same folder"):
        train(TrainConfig(arch="seed", init=str(init.run_dir), out=str(init.run_dir), overwrite=True,
                          data_dir=str(mnist_dir)))
    assert (init.run_dir / "model.keras").is_file()
