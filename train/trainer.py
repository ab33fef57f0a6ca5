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
import errno
import json
import time
from pathlib import Path
from typing import Callable

from edgedigits import __version__
from edgedigits.data import load_splits, load_test, make_train_dataset, to_float
from edgedigits.errors import TrainError, UsageError
from edgedigits.runs import CHECKPOINT_DIR, MODEL_FILE, choose_run_dir
from edgedigits.train.architectures import count_macs, create_model
from edgedigits.train.config import TrainConfig
from edgedigits.train.report import confusion_matrix, per_class_accuracy, plot_confusion, plot_curves
from edgedigits_runtime.fileio import atomic_path

__all__ = ["TrainResult", "train"]


@dataclasses.dataclass
class TrainResult:
    """What a finished run produced; ``metrics`` is also ``<run_dir>/metrics.json``."""

    run_dir: Path
    test_accuracy: float
    metrics: dict
    files: dict  # role -> path


def train(config: TrainConfig, *, log: Callable[[str], None] = print, progress: bool = False) -> TrainResult:
    """Train a model as configured and write the run folder.

    Args:
      config: the options; checked before any work starts.
      log: receives one line per epoch and the closing lines.
      progress: show Keras' per-epoch progress bar (the CLI turns it on in a terminal).

    Returns:
      :class:`TrainResult` with the run folder, test accuracy and metrics.

    Raises:
      UsageError: an option makes no sense (checked up front).
      RunError: the run folder exists (and neither resume nor overwrite was asked).
      DataError: MNIST is missing or corrupted.
      TrainError: saving failed (for example a full disk); the last checkpoint stays usable.
    """
    config.validate()
    tf, keras = _seeded_tf(config.seed)
    splits = load_splits(config.data_dir, val_fraction=config.val_fraction, limit=config.limit)
    if config.batch_size > len(splits.x_train):
        raise UsageError(f"--batch-size {config.batch_size} is larger than the {len(splits.x_train)} "
                         "training images; choose a smaller batch size")
    run_dir = choose_run_dir(config.out, config.arch, resume=config.resume, overwrite=config.overwrite)
    if config.resume:
        config = _resumed_config(run_dir, config)
    started = time.perf_counter()

    model, state = _model_and_state(keras, config, run_dir, steps_per_epoch=-(-len(splits.x_train) // config.batch_size))
    earlier_seconds = state["seconds"]  # epochs a resumed run already spent (the callback adds this run's epochs)
    ds, steps = make_train_dataset(
        splits.x_train, splits.y_train, batch_size=config.batch_size, seed=config.seed,
        epochs=config.epochs, start_epoch=state["epoch"], augment=config.augment,
    )
    _save(lambda p: p.write_text(_config_json(config)), run_dir / "config.json")
    callbacks = [_epoch_end_callback(keras, run_dir, state, log, config.epochs)]
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=config.early_stopping, restore_best_weights=True))
    if state["epoch"] < config.epochs:
        log(f"training {config.arch} on {len(splits.x_train)} images ({len(splits.x_val)} held out for validation), "
            f"epochs {state['epoch'] + 1}..{config.epochs} -> {run_dir}")
        model.fit(
            ds, epochs=config.epochs, initial_epoch=state["epoch"], steps_per_epoch=steps,
            validation_data=(to_float(splits.x_val), splits.y_val), callbacks=callbacks,
            verbose=1 if progress else 0,
        )
    train_seconds = earlier_seconds + (time.perf_counter() - started)
    return _finish(model, config, run_dir, state["history"], train_seconds, log)


# --------------------------------------------------------------------------- internals


def _seeded_tf(seed: int):
    from edgedigits._tf import tf_and_keras

    tf, keras = tf_and_keras()
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except RuntimeError:  # already set up in this process
        pass
    return tf, keras


def _model_and_state(keras, config: TrainConfig, run_dir: Path, steps_per_epoch: int):
    ckpt = run_dir / CHECKPOINT_DIR
    if config.resume:
        state = json.loads((ckpt / "state.json").read_text())
        model = keras.models.load_model(ckpt / "last.keras")
        return model, state
    model = create_model(config.arch, keras)
    model.compile(
        optimizer=keras.optimizers.Adam(_schedule(keras, config, steps_per_epoch)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model, {"epoch": 0, "history": {}, "seconds": 0.0}


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


def _resumed_config(run_dir: Path, config: TrainConfig) -> TrainConfig:
    saved = TrainConfig.from_file(run_dir / "config.json")
    # The run keeps its own options; only where it lives and how it was started change.
    return dataclasses.replace(saved, out=str(run_dir), resume=True, overwrite=False,
                               data_dir=config.data_dir or saved.data_dir)


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
            _save(lambda p: self.model.save(p), ckpt / "last.keras")
            _save(lambda p: p.write_text(json.dumps(state, indent=1)), ckpt / "state.json")

    return _EpochEnd()


def _finish(model, config: TrainConfig, run_dir: Path, history: dict, train_seconds: float, log) -> TrainResult:
    x_test, y_test = load_test(config.data_dir)
    t0 = time.perf_counter()
    probs = model.predict(to_float(x_test), batch_size=1000, verbose=0)
    eval_seconds = time.perf_counter() - t0
    predicted = probs.argmax(axis=1)
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
        "best_val_accuracy": max(history.get("val_accuracy", [float("nan")])),
        "edgedigits_version": __version__,
    }
    files = {
        "model": run_dir / MODEL_FILE,
        "config": run_dir / "config.json",
        "history": run_dir / "history.json",
        "metrics": run_dir / "metrics.json",
        "curves": run_dir / "curves.png",
        "confusion": run_dir / "confusion.png",
    }
    _save(lambda p: p.write_text(json.dumps(history, indent=1)), files["history"])
    _save(lambda p: plot_curves(history, p), files["curves"], direct=True)
    _save(lambda p: plot_confusion(matrix, p), files["confusion"], direct=True)
    _save(lambda p: p.write_text(json.dumps(metrics, indent=2)), files["metrics"])
    _save(lambda p: model.save(p), files["model"])  # last: its presence marks a finished run
    log(f"test accuracy {accuracy:.2%} on {len(y_test)} images | {metrics['params']:,} params, "
        f"{metrics['macs']:,} MACs/image | trained in {train_seconds:.0f}s")
    log(f"run folder: {run_dir}/ ({', '.join(p.name for p in files.values())})")
    return TrainResult(run_dir=run_dir, test_accuracy=accuracy, metrics=metrics, files=files)


def _save(write: Callable[[Path], object], dest: Path, *, direct: bool = False) -> None:
    """Write ``dest`` atomically (or let ``write`` do so when ``direct``); a full disk is a TrainError."""
    try:
        if direct:
            write(dest)
            return
        with atomic_path(dest) as tmp:
            write(tmp)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TrainError(f"disk full while writing {dest}; free some space, then resume with "
                             f"`edgedigits train --resume --out {dest.parent}`") from None
        raise TrainError(f"could not write {dest}: {exc.strerror or exc}") from None


def _config_json(config: TrainConfig) -> str:
    data = dataclasses.asdict(config)
    data["edgedigits_version"] = __version__
    return json.dumps(data, indent=2, sort_keys=True)
