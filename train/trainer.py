"""`train(config)`: one training run, from MNIST to a finished run folder.

Example:

>>> from edgedigits.train import TrainConfig, train
>>> result = train(TrainConfig(arch="edge", epochs=15))       # doctest: +SKIP
>>> result.test_accuracy, result.run_dir                        # doctest: +SKIP
(0.996, PosixPath('runs/edge'))

Every epoch ends with an atomic checkpoint (model, optimizer state, history), so
an interrupted run loses at most the epoch in progress and ``resume=True``
continues it with the optimizer state, learning-rate schedule, data order and
augmentation an uninterrupted run would have had (Keras' dropout random stream
cannot be restored, so a resumed run is equivalent, not bit-identical).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits import __version__
from edgedigits.data import load_splits, load_test, make_train_dataset, to_float
from edgedigits.errors import RunError, UsageError
from edgedigits.runs import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    CONFUSION_FILE,
    CURVES_FILE,
    EXTRAS_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    REPORT_FILE,
    check_run_dir,
    check_run_model,
    choose_run_dir,
    folder_lock,
    load_run_model,
    resolve_run,
    write_run_file,
)
from edgedigits.train import targets as _targets_mod
from edgedigits.train.architectures import count_macs, create_model
from edgedigits.train.config import TrainConfig, reject_method
from edgedigits.train.extras import Background, load_npz, make_report_images, npz_bytes, report_key, with_negatives
from edgedigits.train.report import confusion_matrix, per_class_accuracy, plot_confusion, plot_curves

__all__ = ["TrainResult", "train", "USABLE_ACCURACY", "epoch_images", "ema_momentum", "calibrate_on_digits",
           "with_not_a_digit_class", "reject_scores", "NOT_A_DIGIT_LABEL", "predict_probs", "model_reject_scores"]

USABLE_ACCURACY = 0.5  # a run ending below this validation accuracy (chance: 0.1) produced no usable model


@dataclasses.dataclass
class TrainResult:
    """What a finished run produced; ``metrics`` is also ``<run_dir>/metrics.json``."""

    run_dir: Path
    test_accuracy: float
    metrics: dict
    files: dict  # role -> path
    problem: str | None = None  # set when the run ended near chance: the model is not usable

    @property
    def ok(self) -> bool:
        """True when the model is usable (validation accuracy at least :data:`USABLE_ACCURACY`)."""
        return self.problem is None


def train(config: TrainConfig, *, log: Callable[[str], None] = print, progress: bool = False) -> TrainResult:
    """Train a model as configured and write the run folder.

    Args:
      config: the options; checked before any work starts.
      log: receives one line per epoch and the closing lines.
      progress: show Keras' per-epoch progress bar (the CLI turns it on in a terminal).

    Returns:
      :class:`TrainResult` with the run folder, test accuracy and metrics; ``result.ok`` is False
      (and ``result.problem`` says why) when the run ended near chance: everything is still
      written, but the model is not worth exporting.

    Raises:
      UsageError: an option makes no sense (checked up front).
      RunError: the run folder exists (and neither resume nor overwrite was asked), another run is writing to it, a resumed
        run has already finished, or the ``init`` run is missing or unfinished; a run's config.json is unreadable.
      ModelError: the ``init`` run's model cannot be loaded (checked before the generated images are made).
      DataError: MNIST is missing or corrupted.
      TrainError: saving failed (for example a full disk); the last checkpoint stays usable.
    """
    config.validate()
    if config.out is None:  # runs/<arch>-N: a fresh folder of its own (choose_run_dir)
        return _train(config, log, progress)
    check_run_dir(config.out, resume=config.resume, overwrite=config.overwrite)  # before TensorFlow and the data
    with folder_lock(Path(config.out), "train"):  # a second run into the same --out at once is refused
        return _train(config, log, progress)


def _train(config: TrainConfig, log: Callable[[str], None], progress: bool) -> TrainResult:
    run_dir = None
    if config.resume:  # from here on the run's own options (its --limit, --seed, split), not this call's defaults
        run_dir = choose_run_dir(config.out, config.arch, resume=True, overwrite=False)
        config = _resumed_config(run_dir, config)
        _refuse_finished(run_dir, config)
    init_file = check_init(config)  # the warm start's model file (None: random weights, or a resumed run)
    _check_teachers(config)  # before TensorFlow, MNIST and the run folder
    tf, keras = _seeded_tf(config.seed)
    init_model = None if init_file is None else load_run_model(keras, init_file)  # before minutes of generated images
    splits = load_splits(config.data_dir, val_fraction=config.val_fraction, limit=config.limit)
    if config.batch_size > len(splits.x_train):
        raise UsageError(f"--batch-size {config.batch_size} is larger than the {len(splits.x_train)} "
                         "training images; choose a smaller batch size")
    run_dir = run_dir or choose_run_dir(config.out, config.arch, resume=False, overwrite=config.overwrite)
    x_train, labels = with_negatives(splits, config, log, cache=run_dir / EXTRAS_FILE)
    started = time.perf_counter()

    y_train, y_val = _targets(keras, config, splits, x_train, labels, run_dir, log)
    per_epoch = epoch_images(config, len(splits.x_train), labels)
    model, state = _model_and_state(tf, keras, config, run_dir, steps_per_epoch=-(-per_epoch // config.batch_size),
                                    init_model=init_model)
    earlier_seconds = state["seconds"]  # epochs a resumed run already spent (the callback adds this run's epochs)
    write_run_file(lambda p: p.write_text(_config_json(config)), run_dir / CONFIG_FILE)
    callbacks = [_epoch_end_callback(keras, run_dir, state, log, config.epochs)]
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=config.early_stopping, restore_best_weights=True))
    # The images the "not a digit" figures are measured on depend on the data and options only, not on the model:
    # made in a second process while this one trains (it leaves a core partly idle), or read from the run folder.
    report_cache = run_dir / REPORT_FILE
    reports_key = report_key(splits, config)
    cached_reports = load_npz(report_cache, reports_key)
    overlap = cached_reports is None and (config.epochs - state["epoch"]) * per_epoch >= REPORT_PARALLEL_MIN_IMAGES
    with Background(make_report_images, splits, config, parallel=overlap) as reports:
        bn_layers, train_seconds = _fit(tf, keras, model, config, splits, x_train, y_train, y_val, labels, per_epoch,
                                        run_dir, state, callbacks, log, started, earlier_seconds, progress)
        images = cached_reports if cached_reports is not None else reports.result()
    if cached_reports is None:
        write_run_file(lambda p: p.write_bytes(npz_bytes(images, reports_key)), report_cache)
    return _finish(model, config, run_dir, state["history"], train_seconds, log, splits, bn_layers, images)


# The per-epoch validation pass, and every whole-set prediction (predict_probs), in batches of this size (Keras'
# default, 32, cost about 0.6 s more per epoch here): the same predictions whatever the batch, so the same accuracy;
# the mean loss may differ in its seventh digit (summed in another order). Training never sees it, so the model is
# the same.
VALIDATION_BATCH = 1000

REPORT_PARALLEL_MIN_IMAGES = 100_000  # a run drawing fewer training images makes its report images after training


def _fit(tf, keras, model, config: TrainConfig, splits, x_train, y_train, y_val, labels, per_epoch: int, run_dir: Path,
         state: dict, callbacks, log, started: float, earlier_seconds: float, progress: bool) -> tuple[int, float]:
    """The epochs still to train, then the BatchNorm re-estimation; returns ``(BatchNorm layers, training seconds)``."""
    if state["epoch"] < config.epochs:
        ds, steps = make_train_dataset(
            x_train, y_train, batch_size=config.batch_size, seed=config.seed,
            epochs=config.epochs, start_epoch=state["epoch"], augment=config.augment, elastic=config.elastic,
            epoch_images=per_epoch,
        )
        if config.teacher and config.teacher_targets == "online":  # the teachers answer each augmented batch
            ds = ds.map(_targets_mod.online_soft_targets(tf, keras, config.teacher, temperature=config.temperature,
                                                         not_a_digit_class=reject_method(config) == "digit_mass", log=log),
                        num_parallel_calls=1, deterministic=True).prefetch(2)
        nondigits = int((np.asarray(labels) == NOT_A_DIGIT_LABEL).sum())
        photos = len(x_train) - len(splits.x_train) - nondigits
        extra = (f" + {nondigits} non-digits" if nondigits else "") + (f" + {photos} photo-path digits" if photos else "")
        each = "" if per_epoch == len(x_train) else f" of {steps} steps ({per_epoch} images drawn from all {len(x_train)})"
        warm = f", starting from {config.init}'s model" if config.init and not config.resume else ""
        if config.sam:
            from edgedigits.train.sam import plain_epochs

            warm += f"; SAM (rho {config.sam:g}) in epochs {plain_epochs(config.epochs, config.sam_epochs) + 1}..{config.epochs}"
        log(f"training {config.arch} on {len(splits.x_train)} images{extra} ({len(splits.x_val)} held out for validation), "
            f"epochs {state['epoch'] + 1}..{config.epochs}{each}{warm} -> {run_dir}")
        model.fit(
            ds, epochs=config.epochs, initial_epoch=state["epoch"], steps_per_epoch=steps,
            validation_data=(to_float(splits.x_val), y_val), validation_batch_size=VALIDATION_BATCH, callbacks=callbacks,
            verbose=1 if progress else 0,
        )
    bn_layers = recalibrate_batchnorm(keras, model, _recalibration_images(x_train, config.seed))
    return bn_layers, earlier_seconds + (time.perf_counter() - started)


# --------------------------------------------------------------------------- internals


def epoch_images(config: TrainConfig, digits: int, labels) -> int:
    """Images per epoch of a run training on ``labels`` (its ``digits`` training digits first, then the generated
    extras: non-digits labelled :data:`NOT_A_DIGIT_LABEL` and photo-path digits), as ``config.epoch_basis`` counts."""
    if config.epoch_basis == "all":
        return len(labels)
    if config.epoch_basis == "digits":
        return digits
    return digits + int((np.asarray(labels) == NOT_A_DIGIT_LABEL).sum())


def _seeded_tf(seed: int):
    from edgedigits._tf import tf_and_keras

    tf, keras = tf_and_keras()
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except RuntimeError:  # already set up in this process
        pass
    return tf, keras


def _packed(config: TrainConfig) -> bool:
    """Label smoothing, distillation and non-digits train on packed float targets (see :mod:`edgedigits.train.targets`)."""
    return bool(config.teacher) or config.label_smoothing > 0 or config.negatives > 0


NOT_A_DIGIT_LABEL = _targets_mod.NOT_A_DIGIT  # training label of a generated non-digit (the model keeps 10 outputs)


def with_not_a_digit_class(keras, model):
    """The model with an 11-way softmax head (10 digits + "not a digit") whose 10 digit probabilities are its output.

    The last Dense layer is replaced by Dense(11) + Softmax, then the "not a digit" column is cut off
    (Reshape to (11, 1), Cropping1D, Reshape to (10,)): built-in layers only (saved, quantized by tfmot and
    converted to int8 like any other), the output stays (N, 10) for every consumer, and its rows sum to
    ``1 - p(not a digit)`` (the runtime's ``digit_mass`` score). Cutting (rather than a fixed selecting
    Dense layer, as before) keeps the softmax's own int8 output range, 1/256 steps in [0, 1): a Dense
    after the softmax got a range of its own from calibration (steps of 0.03, zero at -0.03).
    """
    features = model.layers[-2].output
    logits = keras.layers.Dense(NOT_A_DIGIT_LABEL + 1, name="digits_and_not_a_digit")(features)
    probs = keras.layers.Softmax(name="softmax_11")(logits)
    column_name, drop_name, out_name = CUT_LAYERS
    column = keras.layers.Reshape((NOT_A_DIGIT_LABEL + 1, 1), name=column_name)(probs)
    digits = keras.layers.Cropping1D((0, 1), name=drop_name)(column)
    out = keras.layers.Reshape((NOT_A_DIGIT_LABEL,), name=out_name)(digits)
    return keras.Model(model.inputs, out, name=model.name)


# The layers that cut the "not a digit" column off the 11-way softmax (last in the model, in this order). Keras'
# Reshape computes the batch size at run time, which TFLite keeps as nine shape ops; the TFLite export converts the
# same function with one slice instead (edgedigits.export.convert_tflite).
CUT_LAYERS = ("softmax_11_column", "drop_not_a_digit", "digit_probabilities")


def eleven_way_output(model):
    """The 11-way softmax tensor of a model built by :func:`with_not_a_digit_class` (its QAT version too, whose layers
    tfmot names ``quant_<name>``), or None for any other model."""
    if len(model.layers) < 4:
        return None
    names = [layer.name.removeprefix("quant_") for layer in model.layers[-3:]]
    return model.layers[-4].output if tuple(names) == CUT_LAYERS else None


def _targets(keras, config: TrainConfig, splits, x_train, labels, run_dir: Path, log):
    """The training and validation targets: the labels, or packed rows for smoothing/distillation/non-digits."""
    if not _packed(config):
        return labels, splits.y_val
    teacher = None
    eleven = reject_method(config) == "digit_mass"  # the soft targets carry the "not a digit" class too
    if config.teacher and config.teacher_targets == "cached":
        teacher = _targets_mod.teacher_log_probs(keras, config.teacher, x_train, run_dir, log=log, not_a_digit_class=eleven)
    y_train = _targets_mod.packed_targets(labels, label_smoothing=config.label_smoothing,
                                          teacher_log_probs=teacher, temperature=config.temperature,
                                          negative_weight=config.negative_weight, negative_target=config.negative_target,
                                          not_a_digit_class=eleven)
    return y_train, _targets_mod.packed_targets(splits.y_val, not_a_digit_class=eleven)  # validation: the plain labels


def _check_teachers(config: TrainConfig) -> None:
    """A student learning "not a digit" as a class needs teachers that have that class (their soft targets carry it)."""
    _targets_mod.check_teacher_classes(config.teacher, not_a_digit_class=reject_method(config) == "digit_mass")


def _loss_and_metric(tf, config: TrainConfig):
    if not _packed(config):
        return "sparse_categorical_crossentropy", "accuracy"
    weight = config.distill_weight if config.teacher else 0.0
    return (_targets_mod.packed_loss(tf, distill_weight=weight, temperature=config.temperature,
                                     not_a_digit_class=reject_method(config) == "digit_mass"), _targets_mod.accuracy)


def _model_and_state(tf, keras, config: TrainConfig, run_dir: Path, steps_per_epoch: int, init_model):
    ckpt = run_dir / CHECKPOINT_DIR
    loss, metric = _loss_and_metric(tf, config)
    if config.resume:
        state = json.loads((ckpt / "state.json").read_text())
        custom = {} if isinstance(loss, str) else {"packed_loss": loss, "accuracy": metric}
        model = keras.models.load_model(ckpt / "last.keras", custom_objects=custom)
        _use_sam(tf, keras, model, config, steps_per_epoch)
        return model, state
    if init_model is not None:  # a warm start: the run's trained model, compiled below with a fresh optimiser
        model = init_model
    else:
        model = create_model(config.arch, keras)
        if reject_method(config) == "digit_mass":
            model = with_not_a_digit_class(keras, model)
    _fit_batchnorm_momentum(keras, model, steps_per_epoch * config.epochs)
    model.compile(optimizer=make_optimizer(keras, config, steps_per_epoch), loss=loss, metrics=[metric])
    _use_sam(tf, keras, model, config, steps_per_epoch)
    return model, {"epoch": 0, "history": {}, "seconds": 0.0}


def make_optimizer(keras, config: TrainConfig, steps_per_epoch: int):
    """The run's Adam: its learning-rate schedule, ``--ema`` and ``--weight-decay`` (decoupled, on kernels only)."""
    optimizer = keras.optimizers.Adam(_schedule(keras, config, steps_per_epoch), weight_decay=config.weight_decay or None,
                                      use_ema=config.ema > 0,
                                      ema_momentum=ema_momentum(config.ema, steps_per_epoch * config.epochs) or 0.99)
    if config.weight_decay:
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


def _use_sam(tf, keras, model, config: TrainConfig, steps_per_epoch: int) -> None:
    """With ``config.sam``, SAM steps in the last ``config.sam_epochs`` epochs (:mod:`edgedigits.train.sam`)."""
    if config.sam:
        from edgedigits.train.sam import sam_start_step, use_sam

        use_sam(tf, keras, model, rho=config.sam,
                start_step=sam_start_step(config.epochs, config.sam_epochs, steps_per_epoch))


def check_init(config: TrainConfig) -> Path | None:
    """The ``init`` run's model file, checked against this run's architecture and outputs (before any work starts).

    Raises:
      RunError: the folder is missing or unfinished, or has no readable config.json.
      UsageError: it was trained with another architecture, or with/without the "not a digit" class when this run is not.
    """
    if not config.init or config.resume:  # a resumed run continues from its own checkpoint
        return None
    run_dir = resolve_run(config.init)
    if config.out and Path(config.out).resolve() == run_dir.resolve():
        raise UsageError(f"--init and --out are the same folder ({run_dir}): write the warm start to a new --out")
    saved = TrainConfig.from_file(run_dir / CONFIG_FILE)
    if saved.arch != config.arch:
        raise UsageError(f"--init {config.init} was trained as --arch {saved.arch}, this run is --arch {config.arch}: "
                         f"a warm start keeps the architecture (pass --arch {saved.arch})")
    if reject_method(saved) != reject_method(config):
        had = {None: "digits only", "digit_mass": "a 'not a digit' class", "max_prob": "uniform non-digit targets"}
        raise UsageError(f"--init {config.init} was trained with {had[reject_method(saved)]} and this run with "
                         f"{had[reject_method(config)]}: give the same --negatives/--negative-target as that run")
    check_run_model(run_dir / MODEL_FILE)  # before TensorFlow: a file that is no tf_keras model at all
    return run_dir / MODEL_FILE


def _schedule(keras, config: TrainConfig, steps_per_epoch: int):
    total = steps_per_epoch * config.epochs
    lr = config.learning_rate
    if config.lr_schedule == "constant":
        return lr
    if config.lr_schedule == "step":
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(total * 0.5), int(total * 0.75)], [lr, lr * 0.1, lr * 0.01])
    warmup = steps_per_epoch if config.epochs > 1 else 0
    return keras.optimizers.schedules.CosineDecay(
        lr * 0.1 if warmup else lr, decay_steps=max(1, total - warmup),
        warmup_target=lr if warmup else None, warmup_steps=warmup, alpha=0.01)


def _fit_batchnorm_momentum(keras, model, total_steps: int) -> None:
    """Lower BatchNorm's moving-average momentum for short runs (0.99 needs ~1000 steps to forget its start).

    With Keras' 0.99 a 120-step run keeps ~30% of the initial statistics (mean 0, variance 1) and its
    inference-mode accuracy collapses to chance while the training accuracy climbs; 1 - 10/steps lets
    the statistics settle within the run. Runs of 1000 steps or more keep 0.99.
    """
    momentum = min(0.99, max(0.5, 1.0 - 10.0 / max(1, total_steps)))
    for layer in _batchnorm_layers(keras, model):
        layer.momentum = momentum


def ema_momentum(ema: float, total_steps: int) -> float:
    """The weight-averaging momentum a run of ``total_steps`` uses for ``--ema`` (0: off).

    Keras' moving average starts from the initial (random) weights and has no bias correction: with
    0.999 a 116-step run would finish with ~89% of its initial weights. As for BatchNorm, the momentum is
    capped at ``1 - 10 / steps`` (never below 0.5), so the start is forgotten within the run; a full run
    (thousands of steps) keeps the asked value.
    """
    if not ema:
        return 0.0
    return min(ema, max(0.5, 1.0 - 10.0 / max(1, total_steps)))


def _batchnorm_layers(keras, model) -> list:
    return [m for m in model.submodules if isinstance(m, keras.layers.BatchNormalization)]


def recalibrate_batchnorm(keras, model, images: np.ndarray, *, batch_size: int = 250) -> int:
    """Set every BatchNorm layer's inference statistics to their average over ``images``.

    The model runs in training mode over the images, batch after batch, with each layer's momentum
    set so that its moving mean and variance become the plain average of the batch statistics
    (what PyTorch's ``update_bn`` does). Short runs and EMA weights get statistics that match their
    final weights instead of a lagging moving average. Weights are not changed.

    Args:
      keras: the ``tf_keras`` module.
      model: a built model; models without BatchNorm are left alone.
      images: float32 ``(N, 28, 28, 1)`` training images (not augmented).
      batch_size: images per forward pass (the statistics are per batch, as in training).

    Returns:
      The number of BatchNorm layers updated.
    """
    layers = _batchnorm_layers(keras, model)
    if not layers or not len(images):
        return 0
    saved = [layer.momentum for layer in layers]
    try:
        for k, start in enumerate(range(0, len(images), batch_size)):
            batch = images[start:start + batch_size]
            if len(batch) < 2:
                break
            for layer in layers:
                layer.momentum = k / (k + 1)  # moving = (k * moving + batch) / (k + 1): the running mean
            model(batch, training=True)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    return len(layers)


def _resumed_config(run_dir: Path, config: TrainConfig) -> TrainConfig:
    saved = TrainConfig.from_file(run_dir / CONFIG_FILE)
    # The run keeps its own options; only where it lives and how it was started change.
    return dataclasses.replace(saved, out=str(run_dir), resume=True, overwrite=False,
                               data_dir=config.data_dir or saved.data_dir)


def _refuse_finished(run_dir: Path, config: TrainConfig) -> None:
    if not (run_dir / MODEL_FILE).is_file():
        return  # unfinished (or interrupted while writing its results): resuming completes it
    raise RunError(
        f"{run_dir} has already finished ({config.epochs} epochs): nothing to resume; "
        f"to train longer, start a new run with more epochs, e.g. `edgedigits train --epochs {2 * config.epochs} "
        f"--out {run_dir}-longer` (a finished run's learning-rate schedule has decayed to its end)")


def _epoch_end_callback(keras, run_dir: Path, state: dict, log, epochs: int):
    """A Keras callback: one summary line, then an atomic checkpoint, after every epoch."""

    class _EpochEnd(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._t0
            logs = dict(logs or {})
            lr = self.model.optimizer.learning_rate
            logs["lr"] = float(lr(self.model.optimizer.iterations) if callable(lr) else lr.numpy())
            logs["seconds"] = seconds
            for key, value in logs.items():
                state["history"].setdefault(key, []).append(float(value))
            state["epoch"] = epoch + 1
            state["seconds"] += seconds
            log(f"epoch {epoch + 1}/{epochs}  loss {logs['loss']:.4f}  acc {logs['accuracy']:.4f}  "
                f"val_loss {logs.get('val_loss', float('nan')):.4f}  val_acc {logs.get('val_accuracy', float('nan')):.4f}  "
                f"lr {logs['lr']:.2e}  {seconds:.1f}s")
            ckpt = run_dir / CHECKPOINT_DIR
            write_run_file(lambda p: self.model.save(p), ckpt / "last.keras")
            write_run_file(lambda p: p.write_text(json.dumps(state, indent=1)), ckpt / "state.json")

    return _EpochEnd()


def _recalibration_images(x_train: np.ndarray, seed: int, count: int = 10_000) -> np.ndarray:
    """A fixed random subset of the (unaugmented) training images, for :func:`recalibrate_batchnorm`."""
    pick = np.random.default_rng([seed, 7]).permutation(len(x_train))[:count]
    return to_float(x_train[pick])


def _finish(model, config: TrainConfig, run_dir: Path, history: dict, train_seconds: float, log,
            splits, bn_layers: int, images: dict) -> TrainResult:
    val_probs = predict_probs(model, splits.x_val)
    val_accuracy = float((val_probs.argmax(axis=1) == splits.y_val).mean())
    problem = None
    if val_accuracy < USABLE_ACCURACY:
        problem = (f"the run ended near chance: only {val_accuracy:.1%} validation accuracy (chance is 10%), "
                   f"so the model in {run_dir} is not usable; train longer or on more images "
                   "(drop --limit, more --epochs) or with a lower --lr")
    x_test, y_test = load_test(config.data_dir)
    t0 = time.perf_counter()
    probs = predict_probs(model, x_test)
    eval_seconds = time.perf_counter() - t0
    predicted = probs.argmax(axis=1)
    not_a_digit = _reject_report(model, config, val_probs, images, probs, predicted == y_test)
    matrix = confusion_matrix(y_test, predicted)
    accuracy = float((predicted == y_test).mean())
    metrics = {
        "arch": config.arch,
        "test_accuracy": accuracy,
        "test_images": int(len(y_test)),
        "per_class_accuracy": per_class_accuracy(matrix),
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "epochs_run": len(history.get("loss", [])),
        "train_images": None if config.limit is None else int(config.limit),
        "train_seconds": round(train_seconds, 2),
        "test_eval_seconds": round(eval_seconds, 3),
        "val_accuracy": val_accuracy,  # the final model's, after BatchNorm recalibration
        "best_val_accuracy": max(history.get("val_accuracy", [float("nan")])),
        "batchnorm_recalibrated": bn_layers,
        "usable": problem is None,
        "edgedigits_version": __version__,
        "not_a_digit": not_a_digit,
    }
    files = {
        "model": run_dir / MODEL_FILE,
        "config": run_dir / CONFIG_FILE,
        "history": run_dir / HISTORY_FILE,
        "metrics": run_dir / METRICS_FILE,
        "curves": run_dir / CURVES_FILE,
        "confusion": run_dir / CONFUSION_FILE,
    }
    write_run_file(lambda p: p.write_text(json.dumps(history, indent=1)), files["history"])
    write_run_file(lambda p: plot_curves(history, p), files["curves"], direct=True)
    write_run_file(lambda p: plot_confusion(matrix, p), files["confusion"], direct=True)
    write_run_file(lambda p: p.write_text(json.dumps(metrics, indent=2)), files["metrics"])
    if _packed(config):  # model.keras loads anywhere: the plain loss, not the packed-target one
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    write_run_file(lambda p: model.save(p), files["model"])  # last: its presence marks a finished run
    log(f"validation accuracy {val_accuracy:.2%} | test accuracy {accuracy:.2%} on {len(y_test)} images | {metrics['params']:,} params, "
        f"{metrics['macs']:,} MACs/image | trained in {train_seconds:.0f}s")
    held = not_a_digit.get("holdout")
    if held:
        log(f"not a digit (Keras, threshold {not_a_digit['threshold']:.3f} keeps >= {not_a_digit['target_accept']:.0%} of validation "
            f"digits): rejects {held['nondigits_rejected']:.1%} of the held-out kind '{config.holdout_kind}', keeps "
            f"{not_a_digit['test']['digits_accepted']:.2%} of test digits ({not_a_digit['test']['accuracy_on_accepted']:.2%} right)")
        if "validation_photo_digits_accepted" in not_a_digit:
            log(f"not a digit: the threshold keeps {not_a_digit['validation_digits_accepted']:.2%} of validation digits and "
                f"{not_a_digit['validation_photo_digits_accepted']:.2%} of them through the photo path")
    log(f"run folder: {run_dir}/ ({', '.join(p.name for p in files.values())})")
    return TrainResult(run_dir=run_dir, test_accuracy=accuracy, metrics=metrics, files=files, problem=problem)


REJECT_ACCEPT = 0.99  # the reject threshold keeps this share of validation digits (export calibrates its own per artifact)


def _reject_report(model, config: TrainConfig, val_probs, images: dict, test_probs, test_correct) -> dict:
    """"Not a digit" figures of the Keras model with its run's rule (``max_prob`` for a digits-only run): threshold
    from validation digits (``val_probs``: the model's outputs on them), then the held-out kind, freshly drawn images
    of the trained kinds (``images``: :func:`report_images`), and the test digits (reported only; nothing is chosen
    on them)."""
    from edgedigits_runtime.reject import reject_figures

    method = reject_method(config) or "max_prob"
    val_scores = reject_scores(val_probs, method)
    photo_scores = model_reject_scores(model, images["photo_x"], method) if "photo_x" in images else None
    threshold, chosen_on = calibrate_on_digits(val_scores, photo_scores, REJECT_ACCEPT)
    report = {"method": method, "threshold": threshold, "target_accept": REJECT_ACCEPT, "chosen_on": chosen_on,
              "test": reject_figures(reject_scores(test_probs, method), [], threshold, test_correct)}
    if photo_scores is not None:
        report["validation_photo_digits_accepted"] = float((photo_scores >= np.float32(threshold)).mean())
        report["validation_digits_accepted"] = float((val_scores >= np.float32(threshold)).mean())
    if "holdout_x" in images:
        held = model_reject_scores(model, images["holdout_x"], method)
        report["holdout"] = {"kind": config.holdout_kind, **reject_figures(val_scores, held, threshold)}
    kinds = images["trained_kinds"]
    scores = model_reject_scores(model, images["trained_x"], method)
    report["trained_kinds"] = {k: float((scores[kinds == k] < threshold).mean()) for k in sorted(set(kinds.tolist()))}
    return report


def calibrate_on_digits(val_scores, photo_scores, accept: float) -> tuple[float, str]:
    """The reject threshold keeping ``accept`` of the raw validation digits *and* of the photo-path validation digits
    (the lower of the two thresholds), and a sentence saying how it was chosen (for the manifest).

    Args:
      val_scores: scores of the MNIST validation digits.
      photo_scores: scores of validation digits prepared by the photo path, or None (raw digits only).
      accept: share of each set to keep.
    """
    from edgedigits_runtime.reject import calibrate_threshold

    threshold = calibrate_threshold(val_scores, accept)
    if photo_scores is None or not len(photo_scores):
        return threshold, f"{len(val_scores)} MNIST validation digits"
    threshold = min(threshold, calibrate_threshold(photo_scores, accept))
    return threshold, (f"{len(val_scores)} MNIST validation digits and {len(photo_scores)} of them rendered as synthetic "
                       f"photos and prepared by the runtime's photo path: the lower of the two thresholds keeping "
                       f">= {accept:.1%} of each")


def reject_scores(probs, method: str):
    """The runtime's score of a reject method from a Keras model's outputs (see :mod:`edgedigits_runtime.reject`)."""
    from edgedigits_runtime.reject import classification_from_probs

    return classification_from_probs(probs, None, method).score


def predict_probs(model, images: np.ndarray) -> np.ndarray:
    """A Keras model's outputs on uint8 images (N, 28, 28), in batches of ``VALIDATION_BATCH``.

    The one place training, its report and export run a Keras model over a whole image set.

    Example:
        >>> probs = predict_probs(model, x_test)  # (10000, classes) float32

    Args:
        model: a Keras model taking float32 (N, 28, 28, 1) in [0, 1].
        images: uint8 (N, 28, 28).

    Returns:
        The model's output rows, float32 (N, classes).
    """
    return model.predict(to_float(images), batch_size=VALIDATION_BATCH, verbose=0)


def model_reject_scores(model, images: np.ndarray, method: str) -> np.ndarray:
    """The "not a digit" score (``reject_scores``) of a Keras model on uint8 images (N, 28, 28), one per image."""
    return reject_scores(predict_probs(model, images), method)


def _config_json(config: TrainConfig) -> str:
    data = dataclasses.asdict(config)
    data["edgedigits_version"] = __version__
    return json.dumps(data, indent=2, sort_keys=True)
