"""`ExportConfig`: every option of `edgedigits export`, typed and checked up front."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from edgedigits.errors import UsageError
from edgedigits.export.formats import DEFAULT_FORMATS, parse_formats
from edgedigits.runs import EXPORT_DIR, export_dir
from edgedigits.train.config import TrainConfig
from edgedigits.train.targets import check_distillation

__all__ = ["ExportConfig", "EXPORT_DIR", "QAT_BATCHNORM", "QAT_DEFAULTS", "QAT_SCHEDULES", "architecture_qat"]

QAT_BATCHNORM = ("train", "frozen")
QAT_SCHEDULES = ("constant", "cosine")
# The export options an architecture may set in its registry row (``export_recipe``: the QAT fine-tune and the int8
# accuracy gate), and their values for every other architecture: an option left at None is taken from the row, else
# from here (:meth:`ExportConfig.resolved`).
QAT_DEFAULTS = {"qat_epochs": 3.0, "qat_learning_rate": 1e-4, "qat_schedule": "constant", "min_accuracy": 0.994}
_TRAIN = TrainConfig()  # the distillation defaults are training's, never restated here


def architecture_qat(arch: str | None) -> dict:
    """The export options in ``arch``'s registry row (``export_recipe``); ``{}`` for None or a name not registered."""
    from edgedigits.train.architectures import get_architecture, list_architectures

    return dict(get_architecture(arch).export_recipe) if arch in list_architectures() else {}


@dataclasses.dataclass
class ExportConfig:
    """Resolved options of one export (saved as ``export_config.json`` beside the artifacts).

    Attributes:
      run: the run folder holding ``model.keras`` (written by ``edgedigits train``).
      formats: format names from :data:`edgedigits.export.formats.FORMATS`;
        default ``int8, float32, onnx`` (the Pi model, its float reference, ONNX).
      out: where artifacts go; default ``<run>/export`` so ``edgedigits bench RUN`` finds them.
      overwrite: replace what an earlier export left in ``out`` (all of it, so that the
        manifest describes exactly the files present).
      qat_epochs: quantization-aware fine-tune passes over the training split (int8 only), each as many images as
        one of the run's training epochs (``TrainConfig.epoch_basis``; drawn from its digits and generated extras).
        ``qat_epochs``, ``qat_learning_rate`` and ``qat_schedule`` left at None take the run's architecture's
        ``export_recipe`` (its registry row: ``tiny`` 6 passes at 3e-4 with cosine decay, chosen on int8 validation,
        benchmarks/RESULTS.md), else :data:`QAT_DEFAULTS`; see :meth:`resolved`. 3 by default:
        tfmot's activation ranges are moving averages (decay 0.999) that one pass (430 steps) leaves
        ~65% at their initial [-6, 6]; 3 passes gave the best int8 validation accuracy of 1, 3 and 5
        (+0.02 to +0.04 points over 1 pass on each of 3 seeds: within the noise; benchmarks/RESULTS.md,
        "Accuracy-per-MAC frontier").
      qat_learning_rate: Adam learning rate of that fine-tune; low, the model is already trained.
      qat_limit: fine-tune on only this many training images (quick runs, tests).
      qat_augment: fine-tune on the training augmentation (random rotations, zooms, shifts) instead of
        the plain images.
      qat_batchnorm: ``train`` (BatchNorm layers use batch statistics and update them during the
        fine-tune) or ``frozen`` (they keep the trained model's statistics and scale/offset: only the
        convolution and dense weights adapt to quantization).
      qat_schedule: ``constant`` learning rate or ``cosine`` decay to 1% of it over the fine-tune.
      teacher: run folders whose models teach the QAT fine-tune (knowledge distillation, as ``edgedigits train
        --teacher``: several make an ensemble). Empty (default): the fine-tune trains on the labels only. With a
        teacher its loss is training's distillation loss (:func:`edgedigits.train.targets.packed_loss`): the
        teachers' soft targets, computed once on the fine-tune's plain images and cached in the run folder
        (``teacher_targets.npz``; on every batch with ``qat_augment``). The int8 calibration is unchanged.
        Measured: from a ``vgg`` teacher on the default runs, seeds 0-2, no int8 validation gain (99.56% mean against
        99.59% on the labels; benchmarks/RESULTS.md, "Accuracy-per-MAC frontier"), so it is off by default.
      distill_weight: weight of the teacher's soft targets in that loss (training's default).
      temperature: softmax temperature of the distillation term (training's default).
      calibration_samples: training images used to calibrate int8 activations (TFLite and ONNX).
      per_channel: per-channel weights for post-training int8 TFLite (per-tensor if False); the
        QAT model keeps what tfmot chose (per-channel conv weights), whatever this says.
      min_accuracy: gate: quantized formats must reach this test accuracy; None: the architecture's
        ``export_recipe`` (``tiny``: 0.99, the microcontroller model reaches about 99.3%), else 0.994.
      max_drop: gate: ... and lose at most this many percentage points against the Keras model.
      min_agreement: gate: float formats must give the Keras model's top-1 on this share of test images.
      reject_accept: the "not a digit" threshold of each artifact keeps this share of the validation
        digits (runs trained with non-digits only; chosen per artifact, never on the test set).
      reject_split: a ``digit_mass`` rule's second condition (``min_share``, the top digit's share of the digit
        mass) rejects this share of the validation digits the threshold keeps: those the model splits between
        two digits, where most errors on accepted digits are (0: no second condition).
      min_digits_accepted: gate: that threshold must keep at least this share of the test digits.
      max_reject_drop: gate: each artifact rejects the held-out non-digit kind at most this many
        percentage points less than the Keras model does.
      data_dir: folder with the MNIST files (else ``$EDGEDIGITS_DATA``, user cache, download).
      seed: picks calibration images and the fine-tune order.
    """

    run: str = ""
    formats: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_FORMATS))
    out: str | None = None
    overwrite: bool = False
    qat_epochs: float | None = None
    qat_learning_rate: float | None = None
    qat_limit: int | None = None
    qat_augment: bool = False
    qat_batchnorm: str = "train"
    qat_schedule: str | None = None
    teacher: list[str] = dataclasses.field(default_factory=list)
    distill_weight: float = _TRAIN.distill_weight
    temperature: float = _TRAIN.temperature
    calibration_samples: int = 500
    per_channel: bool = True
    min_accuracy: float | None = None
    max_drop: float = 0.15
    min_agreement: float = 0.999
    reject_accept: float = 0.99
    reject_split: float = 0.001
    min_digits_accepted: float = 0.98
    max_reject_drop: float = 5.0
    data_dir: str | None = None
    seed: int = 0

    @property
    def out_dir(self) -> Path:
        """``out``, or ``<run>/export``."""
        return Path(self.out) if self.out else export_dir(self.run)

    def validate(self) -> "ExportConfig":
        """Check every option and normalise ``formats`` to registry order; return self.

        Raises:
          UsageError: naming the option and the value received.
        """
        if not self.run:
            raise UsageError("no run folder given; name the RUN folder written by `edgedigits train`")
        self.formats = [f.name for f in parse_formats(self.formats)]
        if self.qat_epochs is not None and (not self.qat_epochs > 0 or self.qat_epochs > 100):
            raise UsageError(f"--qat-epochs must be in (0, 100], got {self.qat_epochs!r}")
        if self.qat_learning_rate is not None and not 0 < self.qat_learning_rate <= 0.1:
            raise UsageError(f"--qat-lr must be in (0, 0.1], got {self.qat_learning_rate!r}")
        if self.qat_batchnorm not in QAT_BATCHNORM:
            raise UsageError(f"--qat-batchnorm must be one of {', '.join(QAT_BATCHNORM)}, got {self.qat_batchnorm!r}")
        if self.qat_schedule is not None and self.qat_schedule not in QAT_SCHEDULES:
            raise UsageError(f"--qat-schedule must be one of {', '.join(QAT_SCHEDULES)}, got {self.qat_schedule!r}")
        self.teacher = [str(t) for t in self.teacher or []]
        check_distillation(self.distill_weight, self.temperature)
        if self.qat_limit is not None and self.qat_limit < 10:
            raise UsageError(f"--qat-limit must be at least 10 images, got {self.qat_limit}")
        if not isinstance(self.calibration_samples, int) or not 10 <= self.calibration_samples <= 60000:
            raise UsageError(f"--calibration-samples must be a whole number in [10, 60000], got {self.calibration_samples!r}")
        for name, value in (("--min-accuracy", self.min_accuracy), ("--min-agreement", self.min_agreement)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} is a fraction in [0, 1] (e.g. 0.994), got {value!r}")
        if not 0.5 <= self.reject_accept <= 1.0:
            raise UsageError(f"--reject-accept is the share of validation digits to keep, in [0.5, 1], got {self.reject_accept!r}")
        if isinstance(self.reject_split, bool) or not 0.0 <= self.reject_split <= 0.05:
            raise UsageError(f"--reject-split is the share of kept validation digits to reject, in [0, 0.05], got {self.reject_split!r}")
        if not 0.0 <= self.min_digits_accepted <= 1.0:
            raise UsageError(f"--min-digits-accepted is a fraction in [0, 1], got {self.min_digits_accepted!r}")
        if not 0.0 <= self.max_reject_drop <= 100.0:
            raise UsageError(f"--max-reject-drop is in percentage points, in [0, 100], got {self.max_reject_drop!r}")
        if not 0.0 <= self.max_drop <= 100.0:
            raise UsageError(f"--max-drop is in percentage points, in [0, 100], got {self.max_drop!r}")
        return self

    def resolved(self, arch: str | None = None) -> "ExportConfig":
        """A validated copy with every QAT option left at None filled in: from ``arch``'s registry row
        (``export_recipe``) when ``arch`` is a registered architecture, else from :data:`QAT_DEFAULTS`.

        Example::

            ExportConfig(run="runs/tiny").resolved("tiny").qat_epochs                  # 6.0, tiny's export recipe
            ExportConfig(run="runs/tiny", qat_epochs=2).resolved("tiny").qat_epochs    # 2: an option given wins
            ExportConfig(run="runs/edge").resolved("edge").qat_epochs                  # 3.0, the default

        Args:
          arch: the architecture name of the run being exported (None, or a name not registered: the defaults).

        Returns:
          A new :class:`ExportConfig` (this one is not changed).

        Raises:
          UsageError: as :meth:`validate`, for the filled-in options too.
        """
        recipe = architecture_qat(arch)
        filled = {key: recipe.get(key, default) for key, default in QAT_DEFAULTS.items() if getattr(self, key) is None}
        return dataclasses.replace(self, **filled).validate()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)
