"""`edgedigits export`: a trained run to verified int8/float TFLite and ONNX artifacts.

The format options come from the export formats registry (:data:`edgedigits.export.formats.FORMATS`):
one ``--<name>`` flag per row (``--int8`` is the documented Raspberry Pi shorthand) and
``--formats a,b`` listing the names; a new registry row needs nothing here.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Optional

import typer

from edgedigits.cli_common import friendly_errors, progress_echo
from edgedigits.export.config import QAT_DEFAULTS as _QAT
from edgedigits.export.config import ExportConfig as _ExportConfig
from edgedigits.export.formats import DEFAULT_FORMATS, FORMATS, formats_table
from edgedigits.runs import export_dir

__all__ = ["export", "EPILOG", "flag_name"]

_D = _ExportConfig()  # the QAT options' defaults come from the config, never restated here
_BY_ARCH = "default: the architecture's export recipe (its registry row), else {}"

EPILOG = "\b\nFormats (default: " + ", ".join(DEFAULT_FORMATS) + "):\n\b\n" + formats_table() + (
    "\n\nEvery artifact is loaded back through the runtime (edgedigits_runtime.DigitClassifier) and scored on the "
    "10,000 test images before it is written: int8 formats must reach --min-accuracy and lose at most --max-drop "
    "points against the Keras model; float formats must agree with it on --min-agreement of the images.")


def flag_name(fmt: str) -> str:
    """The Python parameter behind a format's ``--<name>`` flag (``onnx-int8`` -> ``onnx_int8``)."""
    return fmt.replace("-", "_")


def _with_format_flags(fn):
    """Give the command one ``--<name>`` flag per registry row; the command receives the names chosen."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    flags = [inspect.Parameter(flag_name(name), inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=bool,
                               default=typer.Option(False, f"--{name}", help=f"Export {row.filename('<arch>')} (table below)."))
             for name, row in FORMATS.items()]
    public = [p for p in params if p.name != "flagged"]
    public = public[:1] + flags + public[1:]  # after RUN, before the other options

    @functools.wraps(fn)
    def command(*args, **kwargs):
        flagged = [name for name in FORMATS if kwargs.pop(flag_name(name), False)]
        return fn(*args, flagged=flagged, **kwargs)

    command.__signature__ = signature.replace(parameters=public)
    return command


@_with_format_flags
@friendly_errors
def export(
    run: Optional[Path] = typer.Argument(None, help="Run folder written by `edgedigits train` (holds model.keras). Default: the latest run under runs/."),
    formats: Optional[str] = typer.Option(None, "--formats", "-f", metavar="NAME,...",
                                          help=f"Comma-separated format names from {', '.join(FORMATS)} (adds to the flags)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Export folder (default RUN/export, where `edgedigits bench RUN` looks)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier export in the folder (all of it)."),
    min_accuracy: Optional[float] = typer.Option(None, "--min-accuracy", help="Gate: int8 formats' test accuracy, a fraction; " + _BY_ARCH.format(f"{_QAT['min_accuracy']:g}") + "."),
    max_drop: float = typer.Option(0.15, "--max-drop", help="Gate: int8 formats may lose at most this many percentage points vs Keras."),
    min_agreement: float = typer.Option(0.999, "--min-agreement", help="Gate: float formats' share of test images with Keras' top-1."),
    reject_accept: float = typer.Option(0.99, "--reject-accept", help="Runs that learnt 'not a digit': each artifact's threshold keeps this share of validation digits."),
    reject_split: float = typer.Option(_D.reject_split, "--reject-split", help="Runs with the 11th class: also reject this share of the kept validation digits, those split most between two digits (0: off)."),
    min_digits_accepted: float = typer.Option(0.98, "--min-digits-accepted", help="Gate: that threshold keeps at least this share of test digits."),
    max_reject_drop: float = typer.Option(5.0, "--max-reject-drop", help="Gate: reject the held-out non-digit kind at most this many points less than Keras."),
    qat_epochs: Optional[float] = typer.Option(_D.qat_epochs, "--qat-epochs", help="Quantization-aware fine-tune passes, each as many images as one of the run's training epochs (fractions allowed); " + _BY_ARCH.format(f"{_QAT['qat_epochs']:g}") + "."),
    qat_lr: Optional[float] = typer.Option(_D.qat_learning_rate, "--qat-lr", help="Learning rate of the QAT fine-tune (Adam); " + _BY_ARCH.format(f"{_QAT['qat_learning_rate']:g}") + "."),
    qat_limit: Optional[int] = typer.Option(None, "--qat-limit", help="Fine-tune on only N training images (quick runs)."),
    qat_augment: bool = typer.Option(_D.qat_augment, "--qat-augment/--no-qat-augment", help="QAT fine-tune on augmented images (the training augmentation)."),
    qat_batchnorm: str = typer.Option(_D.qat_batchnorm, "--qat-batchnorm", help="BatchNorm during the QAT fine-tune: train (batch statistics) or frozen (as trained)."),
    qat_schedule: Optional[str] = typer.Option(_D.qat_schedule, "--qat-schedule", help="QAT learning rate: constant or cosine (decays to 1%); " + _BY_ARCH.format(_QAT["qat_schedule"]) + "."),
    teacher: Optional[list[Path]] = typer.Option(None, "--teacher", help="Distil the QAT fine-tune from this finished run "
                                                 "(repeat for an ensemble), as `edgedigits train --teacher`; default: the labels only."),
    distill_weight: float = typer.Option(_D.distill_weight, "--distill-weight", help="Weight of the teacher's soft targets in the QAT loss (with --teacher)."),
    temperature: float = typer.Option(_D.temperature, "--temperature", help="Softmax temperature of the QAT distillation (with --teacher)."),
    calibration_samples: int = typer.Option(500, "--calibration-samples", help="Training images used to calibrate int8 activations."),
    per_tensor: bool = typer.Option(False, "--per-tensor", help="Per-tensor weights for the post-training int8 model (--ptq); QAT fixes per-channel conv weights itself."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder with the MNIST files (else $EDGEDIGITS_DATA, cache, download)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the calibration images and the QAT fine-tune order."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON instead of a table."),
    flagged: list[str] = (),
) -> None:
    """Export a trained run to int8/float TFLite and ONNX, each verified on the full MNIST test set."""
    from edgedigits.export import ExportConfig
    from edgedigits.export import export as run_export
    from edgedigits.runs import resolve_run

    run = resolve_run(run)  # None -> the latest finished run; the config records the folder actually used
    chosen = list(flagged) + ([] if formats is None else formats.split(","))
    config = ExportConfig(
        run=str(run), formats=chosen if (chosen or formats is not None) else list(DEFAULT_FORMATS),
        out=None if out is None else str(out), overwrite=overwrite, qat_epochs=qat_epochs,
        qat_learning_rate=qat_lr, qat_limit=qat_limit, qat_augment=qat_augment, qat_batchnorm=qat_batchnorm,
        qat_schedule=qat_schedule, teacher=[str(t) for t in teacher or []], distill_weight=distill_weight,
        temperature=temperature, calibration_samples=calibration_samples,
        per_channel=not per_tensor, min_accuracy=min_accuracy, max_drop=max_drop, min_agreement=min_agreement,
        reject_accept=reject_accept, reject_split=reject_split, min_digits_accepted=min_digits_accepted, max_reject_drop=max_reject_drop,
        data_dir=None if data_dir is None else str(data_dir), seed=seed,
    ).validate()
    result = run_export(config, progress=progress_echo(err=True))
    if json_out:
        typer.echo(result.to_json())
    else:
        typer.echo("\n" + result.to_table())
    result.raise_for_errors()
    if not json_out:
        count = len(result.rows)
        typer.echo(f"\nexported to {result.out_dir}/ (manifest.json, {count} artifact{'' if count == 1 else 's'}, "
                   f"each checked on {result.test_images:,} test images)")
        typer.echo(_next_steps(result))


def _next_steps(result) -> str:
    paths = {row.format: row.path for row in result.rows if row.path}
    model = paths.get("int8") or next(iter(paths.values()))
    default_out = result.out_dir == export_dir(result.run_dir)
    target = result.run_dir if default_out else result.out_dir
    return ("next:\n"
            f"  edgedigits bench {target}    # speed, size and accuracy of every artifact, side by side\n"
            f"  edgedigits predict IMAGE.png --model {model}    # classify a digit image")

