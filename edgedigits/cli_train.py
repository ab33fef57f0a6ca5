"""`edgedigits train` and `edgedigits archs`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from edgedigits.cli_common import fail, friendly_errors, progress_echo
from edgedigits.train.config import TrainConfig  # no TensorFlow: dataclass and checks only
from edgedigits.train.negatives import VARIANTS  # the variants' registry (numpy only)
from edgedigits.train.reader import ReaderConfig

_D = TrainConfig()  # the options' defaults come from the config, never restated here


@friendly_errors
def train(
    ctx: typer.Context,
    arch: str = typer.Option(_D.arch, "--arch", "-a", help="Architecture (see `edgedigits archs`)."),
    epochs: int = typer.Option(_D.epochs, "--epochs", "-e", help="Passes over the training split."),
    epoch_basis: str = typer.Option(_D.epoch_basis, "--epoch-basis", help="What an epoch counts: distinct (the digits "
                                    "and non-digits, not the photo-path copies of the digits), digits, or all; drawn from all."),
    batch_size: int = typer.Option(_D.batch_size, "--batch-size", "-b", help="Images per step."),
    lr: float = typer.Option(_D.learning_rate, "--lr", help="Peak learning rate (Adam)."),
    lr_schedule: str = typer.Option(_D.lr_schedule, "--lr-schedule", help="cosine (1 warm-up epoch, then decay), step, or constant."),
    augment: bool = typer.Option(_D.augment, "--augment/--no-augment", help="Random small rotations, zooms and shifts."),
    elastic: float = typer.Option(_D.elastic, "--elastic", help="Add elastic distortion of this strength (pixels) to the augmentation (0: off)."),
    ema: float = typer.Option(_D.ema, "--ema", help="Finish with an exponential moving average of the weights, this momentum (e.g. 0.999; 0: off)."),
    label_smoothing: float = typer.Option(_D.label_smoothing, "--label-smoothing", help="Spread this share of each one-hot target over the classes (0: off)."),
    weight_decay: float = typer.Option(_D.weight_decay, "--weight-decay", help="Decoupled weight decay of the conv and dense kernels, times the learning rate (AdamW; e.g. 0.02; 0: off)."),
    sam: float = typer.Option(_D.sam, "--sam", help="Sharpness-aware minimisation with this radius rho (e.g. 0.05) in the "
                              "last --sam-epochs epochs: two passes per step there (0: off)."),
    sam_epochs: int = typer.Option(_D.sam_epochs, "--sam-epochs", help="With --sam: how many of the last epochs use it."),
    teacher: Optional[list[Path]] = typer.Option(None, "--teacher", help="Distil from this finished run (repeat for an ensemble); soft targets are cached in the run folder."),
    teacher_targets: str = typer.Option(_D.teacher_targets, "--teacher-targets", help="cached: the teacher's soft targets "
                                        "computed once on the unaugmented images; online: on every augmented batch (slower)."),
    distill_weight: float = typer.Option(_D.distill_weight, "--distill-weight", help="Weight of the teacher's soft targets in the loss (with --teacher)."),
    temperature: float = typer.Option(_D.temperature, "--temperature", help="Softmax temperature of the distillation (with --teacher)."),
    seed: int = typer.Option(_D.seed, "--seed", help="Same seed, same data order, same result on the same machine."),
    early_stopping: int = typer.Option(_D.early_stopping, "--early-stopping", help="Stop after N epochs without better validation accuracy (0: off)."),
    negatives: float = typer.Option(_D.negatives, "--negatives", help="Generated non-digits added to training, as a share "
                                    "of the digits (0: off): the model learns to say 'not a digit'."),
    photo_digits: float = typer.Option(_D.photo_digits, "--photo-digits", help="With --negatives: this share of the "
                                       "training digits rendered as photos and prepared by the runtime's photo path, "
                                       "added as digits (0: off)."),
    photo_negatives: float = typer.Option(_D.photo_negatives, "--photo-negatives", help="With --photo-digits: this share "
                                          "of the non-digits also goes through the photo path (0: off)."),
    negative_target: str = typer.Option(_D.negative_target, "--negative-target", help="class: an 11th 'not a digit' class "
                                        "inside the softmax (outputs sum to 1 - p(not a digit)); uniform: outlier exposure."),
    negative_weight: float = typer.Option(_D.negative_weight, "--negative-weight", help="Loss weight of the non-digits "
                                          "with --negative-target uniform (cross-entropy to a uniform output)."),
    negative_variant: str = typer.Option(_D.negative_variant, "--negative-variant", help="Generator variant of the "
                                         "non-digits: " + "; ".join(f"{name}: {what}" for name, what in VARIANTS.items()) + "."),
    holdout_kind: str = typer.Option(_D.holdout_kind or "none", "--holdout-kind", help="Non-digit kind kept out of training "
                                     "to measure rejection of an unseen kind ('none': train on all)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Train on only N training images (quick runs)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder with the MNIST files (else $EDGEDIGITS_DATA, cache, download)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/<arch>, runs/<arch>-2, ... if taken)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this finished run's trained model instead of "
                                        "random weights (a warm start: fresh optimiser, this run's schedule and data; "
                                        "its --arch unless given)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last completed epoch."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out folder."),
) -> None:
    """Train a CNN on MNIST and write a run folder (model, config, history, plots, metrics)."""
    from edgedigits.train import train as run_training

    if resume:
        _refuse_options_on_resume(ctx, out)
    if init is not None and getattr(ctx.get_parameter_source("arch"), "name", None) != "COMMANDLINE":
        arch = _init_arch(init, arch)
    config = TrainConfig(
        arch=arch, epochs=epochs, epoch_basis=epoch_basis, batch_size=batch_size, learning_rate=lr, lr_schedule=lr_schedule,
        augment=augment, elastic=elastic, ema=ema, label_smoothing=label_smoothing, weight_decay=weight_decay, sam=sam, sam_epochs=sam_epochs,
        teacher=[str(t) for t in teacher or []], teacher_targets=teacher_targets, distill_weight=distill_weight, temperature=temperature, seed=seed, early_stopping=early_stopping, limit=limit,
        negatives=negatives, photo_digits=photo_digits, photo_negatives=photo_negatives, negative_target=negative_target, negative_weight=negative_weight, negative_variant=negative_variant, holdout_kind=None if holdout_kind == "none" else holdout_kind,
        data_dir=None if data_dir is None else str(data_dir), out=None if out is None else str(out),
        init=None if init is None else str(init), resume=resume, overwrite=overwrite,
    ).validate()
    result = run_training(config, log=progress_echo(), progress=sys.stdout.isatty())
    if not result.ok:
        raise fail(result.problem)
    typer.echo(f"\nnext: edgedigits export {result.run_dir} --int8")


# A resumed run keeps the options it was started with (its schedule and data order depend on them).
_RESUME_KEEPS = {"arch": "--arch", "epochs": "--epochs", "epoch_basis": "--epoch-basis", "batch_size": "--batch-size", "lr": "--lr",
                 "lr_schedule": "--lr-schedule", "augment": "--augment", "seed": "--seed", "elastic": "--elastic",
                 "ema": "--ema", "label_smoothing": "--label-smoothing", "weight_decay": "--weight-decay", "sam": "--sam", "sam_epochs": "--sam-epochs", "teacher": "--teacher", "teacher_targets": "--teacher-targets",
                 "distill_weight": "--distill-weight", "temperature": "--temperature",
                 "early_stopping": "--early-stopping", "limit": "--limit", "negatives": "--negatives", "photo_digits": "--photo-digits", "photo_negatives": "--photo-negatives",
                 "negative_target": "--negative-target",
                 "negative_weight": "--negative-weight", "negative_variant": "--negative-variant", "holdout_kind": "--holdout-kind", "init": "--init"}


def _refuse_options_on_resume(ctx: typer.Context, out) -> None:
    # Compared by name: Typer may bring its own copy of Click's ParameterSource enum.
    given = [flag for name, flag in _RESUME_KEEPS.items()
             if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"]
    if given:
        epochs = ctx.params.get("epochs")
        hint = (f"to train {epochs} epochs, start a new run: `edgedigits train --epochs {epochs} --out NEW_FOLDER`"
                if "--epochs" in given else "to change them, start a new run with another --out")
        raise fail(f"--resume continues {out} with the options it was started with (its config.json); "
                   f"{', '.join(given)} cannot change on resume: {hint}")


def _init_arch(init: Path, default: str) -> str:
    """A warm start keeps its run's architecture: --init's saved --arch (the library checks the run itself)."""
    from edgedigits.runs import CONFIG_FILE

    saved = init / CONFIG_FILE
    return TrainConfig.from_file(saved).arch if saved.is_file() else default


@friendly_errors
def archs(
    details: bool = typer.Option(False, "--details", help="Also build each model to count parameters and MACs (imports TensorFlow)."),
) -> None:
    """List the registered architectures."""
    from edgedigits.train.architectures import count_macs, create_model, get_architecture, list_architectures

    for name in list_architectures():
        line = f"{name:8s} {get_architecture(name).summary}"
        if details:
            model = create_model(name)
            line += f"  [{model.count_params():,} params, {count_macs(model):,} MACs/image]"
        typer.echo(line)


_RD = ReaderConfig()  # train-reader's defaults (a dataclass: no TensorFlow imported)


@friendly_errors
def train_reader(
    samples: int = typer.Option(_RD.samples, "--samples", help="Synthetic training numbers (from MNIST training digits)."),
    val_samples: int = typer.Option(_RD.val_samples, "--val-samples", help="Validation numbers (another seed)."),
    epochs: int = typer.Option(_RD.epochs, "--epochs", "-e", help="Passes over the training numbers."),
    batch_size: int = typer.Option(_RD.batch_size, "--batch-size", "-b", help="Numbers per step."),
    lr: float = typer.Option(_RD.learning_rate, "--lr", help="Peak learning rate (Adam, cosine decay)."),
    width: float = typer.Option(_RD.width, "--width", help="Channel multiplier of the conv blocks."),
    seed: int = typer.Option(_RD.seed, "--seed", help="Training data and weights seed (validation: seed + 1)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N MNIST training digits (quick runs)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this finished reader run's weights (a second stage)."),
    marks: float = typer.Option(_RD.marks, "--marks", help="Share of lines with non-digit marks (letters, symbols, "
                                "scribbles...: read as a mark, not a digit)."),
    mark_pool: int = typer.Option(_RD.mark_pool, "--mark-pool", help="Non-digit images generated for those lines."),
    fine_pen: float = typer.Option(_RD.fine_pen, "--fine-pen", help="Share of numbers written with a fine pen "
                                   "(strokes a pixel or two wide)."),
    rules: float = typer.Option(_RD.rules, "--rules", help="Share of numbers drawn with an underline they touch or on "
                                "ruled or squared paper."),
    marks_apart: bool = typer.Option(_RD.marks_apart, "--marks-apart", help="Keep the non-digit marks a digit's width or "
                                     "more from the digits in lines of both."),
    freeze_bn: bool = typer.Option(_RD.freeze_bn, "--freeze-bn", help="Keep the batch-norm layers as --init left them."),
    holdout_kind: str = typer.Option(_RD.holdout or "none", "--holdout-kind", help="Non-digit kind never drawn into "
                                     "lines (the unseen kind the benchmark reports), or 'none'."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder with the MNIST files (else $EDGEDIGITS_DATA, cache, download)."),
    out: Path = typer.Option(Path(_RD.out), "--out", "-o", help="Run folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out folder."),
) -> None:
    """Train the sequence reader (whole numbers, CTC) on synthetic numbers and export it to int8 TFLite."""
    from edgedigits.train.reader import train_reader as run

    config = ReaderConfig(samples=samples, val_samples=val_samples, epochs=epochs, batch_size=batch_size, learning_rate=lr,
                          width=width, seed=seed, limit=limit, init=None if init is None else str(init),
                          marks=marks, mark_pool=mark_pool, fine_pen=fine_pen, rules=rules, marks_apart=marks_apart,
                          freeze_bn=freeze_bn, holdout="" if holdout_kind == "none" else holdout_kind,
                          data_dir=None if data_dir is None else str(data_dir),
                          out=str(out), overwrite=overwrite).validate()
    metrics = run(config, progress=progress_echo())
    typer.echo(json.dumps(metrics, indent=2))
    typer.echo(f"\nnext: python scripts/ship_reader_model.py {out}")
