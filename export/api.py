"""`export(config) -> ExportResult`: a trained run in, verified artifacts and a manifest out.

Each format is converted in memory, loaded back in its own runtime, evaluated on
the full MNIST test set and held to its gate; only then is its file written
(atomically). A format that fails, whether inside the converter or at its gate,
becomes an error row and leaves no file behind; the others still go through.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits import runs
from edgedigits.errors import EdgeDigitsError, ExportError, GateError, ModelError, RunError
from edgedigits.export import manifest as _manifest
from edgedigits.export.config import ExportConfig, architecture_qat
from edgedigits.export.context import ConvertContext
from edgedigits.export.formats import FORMATS, get_format
from edgedigits.export.record import embed_record, record_document
from edgedigits.export.results import ExportResult, ExportRow
from edgedigits.export.verify import RejectCalibration, check_gate, check_reject_gate, evaluate
from edgedigits.runs import EXTRAS_FILE, MODEL_FILE, REPORT_FILE, resolve_run
from edgedigits_runtime.errors import first_line
from edgedigits_runtime.fileio import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file

__all__ = ["export", "CONFIG_FILE", "RESULTS_FILE"]

CONFIG_FILE = "export_config.json"
RESULTS_FILE = "export_results.json"
_OWN_FILES = (_manifest.MANIFEST_FILE, _manifest.REFERENCE_FILE, CONFIG_FILE, RESULTS_FILE)
_INPUT_SHAPE, _OUTPUT_SHAPE = (None, 28, 28, 1), (None, 10)


def export(config: ExportConfig, progress: Callable[[str], None] | None = None) -> ExportResult:
    """Convert a trained run into the requested formats, verify each, write them and a manifest.

    Example:

    >>> from edgedigits.export import ExportConfig, export
    >>> result = export(ExportConfig(run="runs/edge", formats=["int8", "float32"]))  # doctest: +SKIP
    >>> print(result.to_table())                                                     # doctest: +SKIP

    Args:
      config: what to export and the gates; see :class:`ExportConfig`.
      progress: called with one-line progress messages (e.g. ``print``); silent when None.

    Returns:
      :class:`ExportResult`, one row per format. Check ``result.ok`` or call
      ``result.raise_for_errors()``: a failed format is a row, not an exception.

    Raises:
      UsageError: bad options (unknown format, gate outside its range, ...).
      RunError: the run folder is missing or unfinished, its config.json is unreadable, or the output folder
        already holds an export and ``overwrite`` is off.
      ModelError: ``model.keras`` cannot be loaded or has another input/output shape.
      DataError: MNIST cannot be found or read.
      ExportError: the output folder cannot be written.
    """
    log = progress or (lambda message: None)
    config.validate()
    run_dir = resolve_run(config.run)
    out_dir = config.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise RunError(f"--out {out_dir} is a file, not a folder; choose another --out")
    with runs.folder_lock(out_dir, "export"):  # a second export into the same folder at once is refused
        return _export(config, run_dir, out_dir, log)


def _export(config: ExportConfig, run_dir: Path, out_dir: Path, log) -> ExportResult:
    _check_out_dir(out_dir, config.overwrite)
    train_config = _train_config(run_dir)
    if config.teacher:  # a teacher exists, finished, and must know "not a digit" when the run's model has that class
        from edgedigits.train.config import reject_method
        from edgedigits.train.targets import check_teacher_classes

        check_teacher_classes(config.teacher, not_a_digit_class=train_config is not None
                              and reject_method(train_config) == "digit_mass")
    runs.check_run_model(run_dir / MODEL_FILE)  # before TensorFlow

    from edgedigits._tf import tf_and_keras
    from edgedigits.data import load_splits, load_test
    from edgedigits.train.trainer import predict_probs

    tf, keras = tf_and_keras()
    model = _load_model(keras, run_dir / MODEL_FILE)
    arch = _arch_of(run_dir, model)
    from_arch = {key: value for key, value in architecture_qat(arch).items() if getattr(config, key) is None}
    config = config.resolved(arch)
    x_test, y_test = load_test(config.data_dir)
    splits = load_splits(config.data_dir, **_split_options(run_dir))
    keras_probs = predict_probs(model, x_test)
    reference = keras_probs.argmax(axis=1)
    keras_accuracy = float((reference == y_test).mean())
    log(f"{run_dir}/{MODEL_FILE}: {arch}, Keras test accuracy {keras_accuracy:.2%} on {len(y_test)} images")
    if from_arch:
        log(f"export options from {arch}'s export recipe (its registry row): "
            + ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in from_arch.items()))

    from edgedigits.train.trainer import epoch_images

    train_x, train_y = splits.x_train, splits.y_train
    calibrate = None
    if train_config is not None and train_config.negatives:
        # The run learnt "not a digit": the QAT fine-tune sees the same non-digits with the same loss, and each
        # artifact gets its own threshold, chosen on validation digits.
        from edgedigits.train.extras import with_negatives

        train_x, train_y = with_negatives(splits, train_config, log, cache=run_dir / EXTRAS_FILE)
        calibrate = _reject_calibration(model, splits, train_config, config, keras_probs, y_test, run_dir)
        log(f"Keras 'not a digit' threshold {calibrate.keras['threshold']:.4f}: keeps "
            f"{calibrate.keras['test_digits_accepted']:.2%} of test digits, rejects {calibrate.keras['holdout_rejected']:.1%} "
            f"of the held-out kind '{calibrate.holdout_kind}'")

    rng = np.random.default_rng(config.seed)
    pick = np.sort(rng.choice(len(train_x), size=min(config.calibration_samples, len(train_x)), replace=False))
    ctx = ConvertContext(tf=tf, keras=keras, model=model, train_x=train_x, train_y=train_y,
                         calibration=train_x[pick].astype(np.float32)[..., None] / 255.0, config=config, log=log,
                         negative_weight=None if calibrate is None else train_config.negative_weight,
                         negative_target=None if calibrate is None else train_config.negative_target,
                         pass_images=None if train_config is None else epoch_images(train_config, len(splits.x_train), train_y),
                         run_dir=run_dir)

    try:
        if config.overwrite:
            _clear_out_dir(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write to {out_dir}: {runs.write_problem(exc)}; choose another --out") from None
    source = {"path": str(run_dir), "arch": arch, "model_sha256": sha256_file(run_dir / MODEL_FILE),
              "test_accuracy": keras_accuracy}
    shared = {"labels": _manifest.LABELS, "preprocessing": _manifest.PREPROCESSING, "tools": _manifest.tool_versions(),
              "source_run": {key: source[key] for key in ("arch", "model_sha256", "test_accuracy")}}
    rows, entries = [], {}
    for name in config.formats:
        row, entry = _export_one(get_format(name), arch, ctx, out_dir, x_test, y_test, reference, keras_accuracy, log,
                                 shared, calibrate)
        rows.append(row)
        if entry is not None:
            entries[Path(row.path).name] = entry

    manifest_path = None
    try:
        if entries:
            reference_path = atomic_write_bytes(out_dir / _manifest.REFERENCE_FILE, _npy_bytes(reference.astype(np.uint8)))
            document = _manifest.build_manifest(source_run=source, artifacts=entries, reference={
                "file": reference_path.name, "sha256": sha256_file(reference_path),
                "what": "top-1 predictions (uint8) of the Keras model on the MNIST test set, in file order"})
            manifest_path = _manifest.write_manifest(out_dir, document)
        result = ExportResult(rows=rows, out_dir=out_dir, manifest_path=manifest_path, run_dir=run_dir,
                              keras_accuracy=keras_accuracy, test_images=int(len(y_test)),
                              keras_reject=None if calibrate is None else calibrate.keras)
        atomic_write_text(out_dir / CONFIG_FILE, config.to_json() + "\n")
        atomic_write_text(out_dir / RESULTS_FILE, result.to_json() + "\n")
    except OSError as exc:
        raise ExportError(f"could not finish the export in {out_dir}: {runs.write_problem(exc)}"
                          f"{'' if manifest_path else ' (its artifacts have no manifest.json)'}; free some space or "
                          "choose another --out, then export again (with --overwrite in the same folder)") from None
    return result


def _export_one(fmt, arch, ctx, out_dir, x_test, y_test, reference, keras_accuracy, log, shared, calibrate=None):
    """Convert, verify (and calibrate "not a digit"), gate, embed the integrity record, then write one format.

    Returns ``(row, manifest entry or None)``.
    """
    row = ExportRow(format=fmt.name, runtime=fmt.runtime)
    log(f"{fmt.name}: converting ({fmt.summary})")
    start = time.perf_counter()
    try:
        data = fmt.convert(ctx)
    except EdgeDigitsError as exc:
        return _failed(row, f"{fmt.name}: {exc}", "conversion", log), None
    except Exception as exc:  # noqa: BLE001 (TensorFlow, tfmot and tf2onnx raise anything)
        message = f"{fmt.name}: conversion failed inside the converter: {first_line(exc, with_type=True)}"
        return _failed(row, message, "conversion", log), None
    row.seconds = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    try:
        if fmt.verify is not None:
            verification = fmt.verify(data, fmt, x_test, y_test, reference, name=fmt.filename(arch))
        else:
            verification = evaluate(data, fmt, x_test, y_test, reference, name=fmt.filename(arch), calibrate=calibrate)
    except EdgeDigitsError as exc:
        return _failed(row, f"{fmt.name}: {exc}", "conversion", log), None
    row.verify_seconds = round(time.perf_counter() - start, 2)
    row.accuracy, row.agreement, row.size = verification.accuracy, verification.agreement, len(data)
    if verification.reject is not None:
        row.reject_threshold = verification.reject["threshold"]
        row.digits_accepted = verification.reject["test_digits_accepted"]
        row.holdout_rejected = verification.reject["holdout_rejected"]
    try:
        check_gate(fmt.gate, verification, keras_accuracy, ctx.config, fmt.name)
        check_reject_gate(verification, calibrate, ctx.config, fmt.name)
    except GateError as exc:
        return _failed(row, str(exc), "gate", log), None
    entry = _manifest.artifact_entry(fmt=fmt, sha256="", size=0, verification=verification,
                                     export_seconds=row.seconds, notes=ctx.notes.get(fmt.name))
    try:
        data = _with_record(data, fmt, entry, shared, verification, x_test, y_test, reference, fmt.filename(arch))
    except EdgeDigitsError as exc:
        return _failed(row, f"{fmt.name}: {exc}", "conversion", log), None
    entry.update(sha256=sha256_bytes(data), size=len(data))
    row.size = len(data)
    try:
        path = fmt.write(out_dir / fmt.filename(arch), data, ctx) if fmt.write else atomic_write_bytes(out_dir / fmt.filename(arch), data)
    except EdgeDigitsError as exc:  # a writer that verifies further (the micro pack in TFLM) may refuse
        return _failed(row, f"{fmt.name}: {exc}", "conversion", log), None
    except OSError as exc:  # passed its gate, but a full disk or a read-only folder: this format fails, the others go on
        target = out_dir / fmt.filename(arch)
        if target.is_dir() and not target.is_symlink():  # a source pack cut short: no half-written folder stays
            shutil.rmtree(target, ignore_errors=True)
        return _failed(row, f"{fmt.name}: could not write {target}: {runs.write_problem(exc)}", "write", log), None
    entry.update(ctx.notes.get(fmt.name) or {})  # what the writer measured (the micro pack's figures)
    row.path = str(path)
    log(f"{fmt.name}: {path.name} {len(data):,} bytes, accuracy {row.accuracy:.2%}, "
        f"agreement {row.agreement:.2%} ({row.seconds:.1f}s + {row.verify_seconds:.1f}s verify)")
    if verification.reject is not None:
        log(f"  not a digit: threshold {row.reject_threshold:.4f} keeps {row.digits_accepted:.2%} of test digits, "
            f"rejects {row.holdout_rejected:.1%} of the held-out kind")
    return row, entry


def _with_record(data, fmt, entry, shared, verification, x_test, y_test, reference, name) -> bytes:
    """The artifact with its integrity record inside, checked to predict exactly as without it."""
    sealed = embed_record(data, fmt.runtime, record_document(entry, shared))
    again = evaluate(sealed, fmt, x_test, y_test, reference, name=name)
    if not np.array_equal(again.predictions, verification.predictions):
        raise ExportError("adding the integrity record changed the model's predictions; report this as a bug")
    return sealed


def _split_options(run_dir: Path) -> dict:
    """The run's own ``limit`` and ``val_fraction`` (from its config.json), so export's QAT fine-tune and
    calibration use the run's training and validation images: a ``--limit`` run's validation digits are never
    ones it trained on. Empty (the full default split) when the run has no readable config."""
    try:
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict):
        return {}
    return {key: saved[key] for key in ("limit", "val_fraction") if saved.get(key) is not None}


def _train_config(run_dir: Path):
    """The run's TrainConfig when it was trained with non-digits; None otherwise (older runs, and a model.keras from
    elsewhere in a folder without config.json: exported as a digits-only model).

    Raises:
      RunError: config.json is there but unreadable: exporting without it would silently drop the run's
        "not a digit" rule and use other validation images than the run's.
    """
    from edgedigits.train.config import TrainConfig

    path = run_dir / runs.CONFIG_FILE
    if not path.is_file():
        return None
    config = TrainConfig.from_file(path)
    saved = json.loads(path.read_text(encoding="utf-8"))  # which options the run recorded at all
    if "negatives" not in saved:
        return None  # a run from before "not a digit": exported as before
    if "negative_target" not in saved:  # runs from before the 11th class taught a uniform output
        config = dataclasses.replace(config, negative_target="uniform")
    if "photo_digits" not in saved:  # runs from before photo-path digits were part of training
        config = dataclasses.replace(config, photo_digits=0.0)
    if "photo_negatives" not in saved:
        config = dataclasses.replace(config, photo_negatives=0.0)
    return config


def _reject_calibration(model, splits, train_config, config, keras_probs, y_test, run_dir: Path) -> RejectCalibration:
    """Validation digits and held-out non-digits for per-artifact calibration, plus the Keras model's own figures.
    The generated ones are the run's (``edgedigits train`` saved them in the run folder; made again when missing)."""
    from edgedigits.train.config import reject_method
    from edgedigits.train.extras import report_images
    from edgedigits.train.trainer import calibrate_on_digits, model_reject_scores, reject_scores
    from edgedigits_runtime.reject import reject_figures

    method = reject_method(train_config)
    holdout = train_config.holdout_kind
    images = report_images(splits, train_config, parts=("photo", "holdout"), cache=run_dir / REPORT_FILE)
    nondigits = images.get("holdout_x")
    val_scores = model_reject_scores(model, splits.x_val, method)
    photo_x = images.get("photo_x")
    photo_scores = None if photo_x is None else model_reject_scores(model, photo_x, method)
    threshold, _ = calibrate_on_digits(val_scores, photo_scores, config.reject_accept)
    held = [] if nondigits is None else model_reject_scores(model, nondigits, method)
    figures = reject_figures(reject_scores(keras_probs, method), held, threshold, keras_probs.argmax(axis=1) == y_test)
    keras = {"method": method, "threshold": threshold, "holdout_kind": holdout,
             "test_digits_accepted": figures["digits_accepted"], "test_accuracy_on_accepted": figures["accuracy_on_accepted"],
             "holdout_rejected": figures["nondigits_rejected"]}
    return RejectCalibration(val_x=splits.x_val, val_y=splits.y_val, nondigits=nondigits, holdout_kind=holdout,
                             accept=config.reject_accept, keras=keras, method=method, photo_x=photo_x,
                             split=config.reject_split)


def _failed(row: ExportRow, message: str, kind: str, log) -> ExportRow:
    row.status, row.error, row.error_kind = "error", message, kind
    log(f"  FAILED: {message}")
    return row


def _existing_export(out_dir: Path, *, records: bool = True) -> list[str]:
    """What an earlier export left in ``out_dir``: its own files and anything named like a format's artifact.
    ``records=False`` leaves out ``export_config.json``/``export_results.json``: alone, they are what an export whose
    every format failed leaves, nothing that could pass for a result."""
    if not out_dir.is_dir():
        return []
    suffixes = tuple({row.suffix for row in FORMATS.values()} | {".tflite", ".onnx"})
    own = _OWN_FILES if records else tuple(name for name in _OWN_FILES if name not in (CONFIG_FILE, RESULTS_FILE))
    return sorted(p.name for p in out_dir.iterdir() if p.name in own or p.name.endswith(suffixes))


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    found = _existing_export(out_dir, records=False)  # a failed export's records alone are replaced (a retry)
    if found and not overwrite:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise RunError(f"{out_dir} already holds an export ({shown}); pass --overwrite to replace it, or choose another --out")


def _clear_out_dir(out_dir: Path) -> None:
    """Remove what an earlier export wrote, so the new manifest describes exactly what is there."""
    for name in _existing_export(out_dir):
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)  # a format whose artifact is a folder
        else:
            path.unlink()


def _load_model(keras, path: Path):
    model = runs.load_run_model(keras, path)
    inp, out = tuple(model.input_shape), tuple(model.output_shape)
    if inp != _INPUT_SHAPE or out != _OUTPUT_SHAPE:
        raise ModelError(f"{path} takes input {inp} and gives output {out}; edgedigits exports MNIST classifiers "
                         f"with input {_INPUT_SHAPE} and output {_OUTPUT_SHAPE} (train one with `edgedigits train`)")
    return model


def _arch_of(run_dir: Path, model) -> str:
    try:
        arch = json.loads((run_dir / runs.CONFIG_FILE).read_text()).get("arch")
    except (OSError, ValueError):
        arch = None
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(arch or model.name or "model"))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()

