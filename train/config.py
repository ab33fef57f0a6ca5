"""`TrainConfig`: every option of `edgedigits train`, typed, checked up front."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from edgedigits.errors import RunError, UsageError
from edgedigits.train.architectures import get_architecture
from edgedigits.train.targets import check_distillation

__all__ = ["TrainConfig", "EPOCH_BASES", "LR_SCHEDULES", "NEGATIVE_TARGETS", "TEACHER_TARGETS", "reject_method"]

LR_SCHEDULES = ("cosine", "constant", "step")
EPOCH_BASES = ("distinct", "digits", "all")
NEGATIVE_TARGETS = ("class", "uniform")
TEACHER_TARGETS = ("cached", "online")


@dataclasses.dataclass
class TrainConfig:
    """Resolved options of one training run (saved as ``config.json`` in the run folder).

    Attributes:
      arch: registered architecture name (``edge`` by default, ``seed`` the baseline).
      epochs: passes over the training split.
      epoch_basis: what one epoch counts when the run adds generated images to its digits: ``distinct`` (default) —
        the training digits and the generated non-digits, not the photo-path digits (renderings of the same training
        digits); ``digits`` — the training digits only; ``all`` — every image (the behaviour before: with the default
        extras 2.5x the digits' steps, against 1.5x for ``distinct``). The images of an epoch are drawn from all of
        them (one stream of permutations, so each is seen about as often). The same for a digits-only run. Export's
        QAT passes count the same images.
      batch_size: images per step.
      learning_rate: peak learning rate of the Adam optimizer.
      lr_schedule: ``cosine`` (one warm-up epoch, then cosine decay; default),
        ``step`` (x0.1 at 50% and 75% of the epochs) or ``constant``.
      augment: random small rotations, zooms and shifts of the training images.
      elastic: strength in pixels of an elastic distortion added to the augmentation (0: off).
      ema: keep an exponential moving average of the weights with this momentum (e.g. 0.999)
        and finish with it (0: off).
      label_smoothing: share of each one-hot target spread over the 10 classes (0: off).
      weight_decay: decoupled weight decay (AdamW, Loshchilov & Hutter 2019): each step shrinks the conv and dense
        kernels by ``learning rate x weight_decay`` of themselves, following the schedule; BatchNorm's scales and
        offsets and the biases are left alone (0: off).
      sam: radius ``rho`` of sharpness-aware minimisation (:mod:`edgedigits.train.sam`; e.g. 0.05): each step of the
        last ``sam_epochs`` epochs takes its gradient at weights moved uphill by ``rho`` (two passes per step). 0: off.
      sam_epochs: with ``sam``, how many of the last epochs use it (all of them if ``epochs`` or more).
      teacher: run folders whose models teach this one (knowledge distillation; several: their
        ensemble, the geometric mean of their probabilities). Their soft targets for the training
        images are computed once and cached in the run folder (or on every batch: ``teacher_targets``).
      teacher_targets: ``cached`` (default): the teachers' soft targets computed once on the unaugmented training
        images and cached; ``online``: computed on every augmented batch, the images the student sees (three
        teachers about double a step's cost).
      distill_weight: weight of the teacher's soft targets in the loss (the rest: the labels).
      temperature: softmax temperature of the distillation term (Hinton et al. 2015).
      seed: seeds data order, augmentation and weights: same seed, same result on the same machine.
      val_fraction: share of the training set held out for validation (never the test set).
      limit: train on only this many training images (quick runs and tests).
      early_stopping: stop after this many epochs without a better validation accuracy (0: off).
      negatives: generated non-digit images (:mod:`edgedigits.train.negatives`) added to training, as a
        share of the training digits (default 0.5), taught as ``negative_target`` says, so that the model can
        say "not a digit". 0 turns it off: a plain digit model.
      photo_digits: with ``negatives``, also this share of the training digits rendered as synthetic photos and
        prepared by the runtime's photo path (:mod:`edgedigits.train.photo_digits`), added as labelled digits:
        the soft, re-scaled digits the device feeds the model are digits too (without them the model learnt to
        reject most photographed digits). 0: off. Also used to calibrate the reject threshold (validation digits).
      photo_negatives: with ``photo_digits``, this share of the generated non-digits is also rendered as photos
        and prepared by the photo path (so that its soft look tells nothing apart). 0: off.
      negative_target: what the non-digits are taught: ``class`` (default: an 11th "not a digit"
        class inside the softmax, left out of the 10 outputs, which then sum to 1 - p(not a digit);
        measured best, benchmarks/RESULTS.md "Not a digit") or ``uniform`` (outlier exposure: a
        uniform output, rejected by a low top probability).
      negative_weight: weight of the non-digits' loss with ``uniform`` (cross-entropy to the uniform output).
      negative_variant: the generator variant of the training non-digits (:data:`edgedigits.train.negatives.VARIANTS`):
        ``standard`` (default) or ``near`` (near-digit non-digits too: circled and barred symbols, more plain Latin
        letters, clock faces and discs) or ``wide`` (``near`` plus kinds of its own: pictograms, patterns, pieces of
        glyphs cut by the frame, brush strokes) or ``marks`` (``near`` plus hand-drawn marks and operators: + x - = < >
        arrows, ticks). The images that measure rejection (held-out kind, reports) are
        ``standard``.
      holdout_kind: the non-digit kind kept out of training, to measure rejection of a kind never
        seen (the honest estimate); None trains on every kind.
      data_dir: folder with the MNIST files (else ``$EDGEDIGITS_DATA``, user cache, download).
      out: run folder; default ``runs/<arch>`` (``runs/<arch>-2``, ... if taken).
      init: a finished run folder whose trained model (weights, BatchNorm statistics, head) this run starts from,
        instead of random weights: a warm start, with a fresh optimiser and this run's own schedule, data and seed
        (e.g. a few epochs at a low ``learning_rate`` on new non-digits). Same architecture and outputs as this run.
      resume: continue the run in ``out`` from its last completed epoch.
      overwrite: replace an existing run folder.
    """

    arch: str = "edge"
    epochs: int = 25
    epoch_basis: str = "distinct"
    batch_size: int = 128
    learning_rate: float = 4e-3
    lr_schedule: str = "cosine"
    augment: bool = True
    elastic: float = 0.0
    ema: float = 0.0
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    sam: float = 0.0
    sam_epochs: int = 5
    teacher: list[str] = dataclasses.field(default_factory=list)
    teacher_targets: str = "cached"
    distill_weight: float = 0.7
    temperature: float = 4.0
    seed: int = 0
    val_fraction: float = 1 / 12
    limit: int | None = None
    early_stopping: int = 0
    negatives: float = 0.5
    photo_digits: float = 1.0
    photo_negatives: float = 0.33
    negative_target: str = "class"
    negative_weight: float = 0.5
    negative_variant: str = "standard"
    holdout_kind: str | None = "shapes"
    data_dir: str | None = None
    out: str | None = None
    init: str | None = None
    resume: bool = False
    overwrite: bool = False

    def validate(self) -> "TrainConfig":
        """Check every option; return self.

        Raises:
          UsageError: naming the option and the value received.
        """
        get_architecture(self.arch)
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise UsageError(f"--epochs must be a whole number >= 1, got {self.epochs!r}")
        if self.epoch_basis not in EPOCH_BASES:
            raise UsageError(f"--epoch-basis must be one of {', '.join(EPOCH_BASES)}, got {self.epoch_basis!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise UsageError(f"--batch-size must be a whole number >= 1, got {self.batch_size!r}")
        if not self.learning_rate > 0 or self.learning_rate > 1:
            raise UsageError(f"--lr must be in (0, 1], got {self.learning_rate!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UsageError(f"--lr-schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if not 0 <= self.elastic <= 64:
            raise UsageError(f"--elastic must be in [0, 64] pixels (0 turns it off), got {self.elastic!r}")
        if not (self.ema == 0 or 0.5 <= self.ema < 1):
            raise UsageError(f"--ema must be 0 (off) or a momentum in [0.5, 1), e.g. 0.999, got {self.ema!r}")
        if not 0 <= self.label_smoothing < 0.5:
            raise UsageError(f"--label-smoothing must be in [0, 0.5), got {self.label_smoothing!r}")
        if not 0 <= self.weight_decay <= 1:
            raise UsageError(f"--weight-decay must be in [0, 1] (0 turns it off), e.g. 0.02, got {self.weight_decay!r}")
        if not 0 <= self.sam <= 1:
            raise UsageError(f"--sam must be a radius in [0, 1] (0 turns it off), e.g. 0.05, got {self.sam!r}")
        if not isinstance(self.sam_epochs, int) or self.sam_epochs < 1:
            raise UsageError(f"--sam-epochs must be a whole number >= 1 (the last epochs that use --sam), got {self.sam_epochs!r}")
        if self.teacher_targets not in TEACHER_TARGETS:
            raise UsageError(f"--teacher-targets must be one of {', '.join(TEACHER_TARGETS)}, got {self.teacher_targets!r}")
        check_distillation(self.distill_weight, self.temperature)
        if self.early_stopping < 0:
            raise UsageError(f"--early-stopping must be >= 0 epochs (0 turns it off), got {self.early_stopping}")
        if not 0 <= self.negatives <= 2:
            raise UsageError(f"--negatives must be a share of the training digits in [0, 2] (0: off), got {self.negatives!r}")
        if not 0 <= self.photo_digits <= 2:
            raise UsageError(f"--photo-digits must be a share of the training digits in [0, 2] (0: off), got {self.photo_digits!r}")
        if not 0 <= self.photo_negatives <= 1:
            raise UsageError(f"--photo-negatives must be a share of the non-digits in [0, 1] (0: off), got {self.photo_negatives!r}")
        if self.negative_target not in NEGATIVE_TARGETS:
            raise UsageError(f"--negative-target must be one of {', '.join(NEGATIVE_TARGETS)}, got {self.negative_target!r}")
        if not 0 < self.negative_weight <= 10:
            raise UsageError(f"--negative-weight must be in (0, 10], got {self.negative_weight!r}")
        from edgedigits.train.negatives import check_variant, get_kind

        check_variant(self.negative_variant)
        if self.holdout_kind is not None:
            get_kind(self.holdout_kind)
        if self.limit is not None and self.limit < 20:
            raise UsageError(f"--limit must be at least 20 images, got {self.limit}")
        if self.resume and self.overwrite:
            raise UsageError("--resume and --overwrite contradict each other: choose one")
        if self.resume and not self.out:
            raise UsageError("--resume needs --out RUN_FOLDER: the run to continue")
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        """Read a saved ``config.json`` (unknown keys, e.g. versions, are ignored; a run saved before ``epoch_basis``
        existed counted its epochs on all its images).

        Raises:
          RunError: the file is missing (the folder is not a run written by ``edgedigits train``) or is not a run's
            options (not JSON, not an object): the run folder is damaged.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{path.parent} has no {path.name}: it is not a run folder written by `edgedigits train` "
                           "(its options are needed); train one with `edgedigits train`") from None
        except (OSError, ValueError) as exc:  # ValueError: not JSON, not UTF-8
            raise RunError(f"{path} cannot be read as a run's options ({exc}); the run folder is damaged: "
                           "train the run again") from None
        if not isinstance(data, dict):
            raise RunError(f"{path} holds a JSON {type(data).__name__}, not a run's options; the run folder is damaged: "
                           "train the run again")
        data.setdefault("epoch_basis", "all")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def reject_method(config: TrainConfig) -> str | None:
    """The runtime reject method a run's model needs (:data:`edgedigits_runtime.reject.METHODS`), None without non-digits."""
    if not config.negatives:
        return None
    return "digit_mass" if config.negative_target == "class" else "max_prob"
