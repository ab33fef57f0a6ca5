"""`edgedigits export`: a trained run to verified int8/float TFLite and ONNX artifacts."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import typer

from edgedigits.cli_common import friendly_errors
from edgedigits.export.formats import DEFAULT_FORMATS, formats_table

# Each format flag and the registry row it selects (tests check that every row has one).
FLAGS = {"int8": "int8", "ptq": "ptq", "float32": "float32", "float16": "float16",
         "dynamic": "dynamic", "onnx": "onnx", "onnx_int8": "onnx-int8"}

EPILOG = "\b\nFormats (default: " + ", ".join(DEFAULT_FORMATS) + "):\n\b\n" + formats_table() + (
    "\n\nEvery artifact is loaded back in its runtime and checked on the 10,000 test images before it is "
    "written: int8 formats must reach --min-accuracy and lose at most --max-drop points against the Keras "
    "model; float formats must agree with it on --min-agreement of the images.")


@friendly_errors
def export(
    run: Optional[Path] = typer.Argument(None, help="Run folder written by `edgedigits train` (holds model.keras). Default: the latest run under runs/."),
    int8: bool = typer.Option(False, "--int8", help="QAT full-integer TFLite: the Raspberry Pi model."),
    ptq: bool = typer.Option(False, "--ptq", help="Post-training full-integer TFLite (compare with QAT)."),
    float32: bool = typer.Option(False, "--float32", help="Plain float32 TFLite."),
    float16: bool = typer.Option(False, "--float16", help="float16-weight TFLite."),
    dynamic: bool = typer.Option(False, "--dynamic", help="Dynamic-range TFLite (int8 weights)."),
    onnx: bool = typer.Option(False, "--onnx", help="ONNX float32 (tf2onnx)."),
    onnx_int8: bool = typer.Option(False, "--onnx-int8", help="ONNX int8 (QDQ static quantization)."),
    formats: Optional[str] = typer.Option(None, "--formats", "-f", help="Comma-separated format names, e.g. int8,ptq,onnx (adds to the flags)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Export folder (default RUN/export, where `edgedigits bench RUN` looks)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier export in the folder (all of it)."),
    min_accuracy: float = typer.Option(0.994, "--min-accuracy", help="Gate: int8 formats' test accuracy, a fraction."),
    max_drop: float = typer.Option(0.15, "--max-drop", help="Gate: int8 formats may lose at most this many percentage points vs Keras."),
    min_agreement: float = typer.Option(0.999, "--min-agreement", help="Gate: float formats' share of test images with Keras' top-1."),
    qat_epochs: float = typer.Option(1.0, "--qat-epochs", help="Quantization-aware fine-tune passes over the training split (fractions allowed)."),
    qat_lr: float = typer.Option(1e-4, "--qat-lr", help="Learning rate of the QAT fine-tune (Adam)."),
    qat_limit: Optional[int] = typer.Option(None, "--qat-limit", help="Fine-tune on only N training images (quick runs)."),
    calibration_samples: int = typer.Option(500, "--calibration-samples", help="Training images used to calibrate int8 activations."),
    per_tensor: bool = typer.Option(False, "--per-tensor", help="Per-tensor weights for the post-training int8 model (--ptq); QAT fixes per-channel conv weights itself."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder with the MNIST files (else $EDGEDIGITS_DATA, cache, download)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the calibration images and the QAT fine-tune order."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON instead of a table."),
) -> None:
    """Export a trained run to int8/float TFLite and ONNX, each verified on the full MNIST test set."""
    from edgedigits.export import ExportConfig, export as run_export
    from edgedigits.runs import resolve_run

    run = resolve_run(run)  # None -> the latest finished run; the config records the folder actually used

    flags = {"int8": int8, "ptq": ptq, "float32": float32, "float16": float16, "dynamic": dynamic,
             "onnx": onnx, "onnx_int8": onnx_int8}
    chosen = [FLAGS[flag] for flag, on in flags.items() if on]
    if formats is not None:
        chosen += formats.split(",")
    config = ExportConfig(
        run=str(run), formats=chosen if (chosen or formats is not None) else list(DEFAULT_FORMATS),
        out=None if out is None else str(out), overwrite=overwrite, qat_epochs=qat_epochs,
        qat_learning_rate=qat_lr, qat_limit=qat_limit, calibration_samples=calibration_samples,
        per_channel=not per_tensor, min_accuracy=min_accuracy, max_drop=max_drop, min_agreement=min_agreement,
        data_dir=None if data_dir is None else str(data_dir), seed=seed,
    ).validate()
    result = run_export(config, progress=functools.partial(typer.echo, err=True))
    if json_out:
        typer.echo(result.to_json())
    else:
        typer.echo("\n" + result.to_table())
    result.raise_for_errors()
    if not json_out:
        typer.echo(f"\nexported to {result.out_dir}/ (manifest.json, {len(result.rows)} artifacts, "
                   f"each checked on {result.test_images:,} test images)")
        typer.echo(_next_steps(result))


def _next_steps(result) -> str:
    paths = {row.format: row.path for row in result.rows if row.path}
    model = paths.get("int8") or next(iter(paths.values()))
    default_out = result.out_dir == result.run_dir / "export"
    target = result.run_dir if default_out else result.out_dir
    return ("next:\n"
            f"  edgedigits bench {target}    # speed, size and accuracy of every artifact, side by side\n"
            f"  edgedigits predict IMAGE.png --model {model}    # classify a digit image")

