"""Load an artifact back through the runtime, score it, and hold it to its gate.

Each artifact's bytes are opened with :meth:`edgedigits_runtime.DigitClassifier.from_bytes`
(checked against their SHA-256, in the backend the device uses) and scored on the full
MNIST test set by the runtime's one scorer, :func:`edgedigits_runtime.evaluate.score`:
what export measures is, by construction, what the device runs. The manifest's
``input``/``output`` entries are the runtime's own description of the model.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edgedigits.errors import EdgeDigitsError, ExportError, GateError
from edgedigits_runtime import DigitClassifier
from edgedigits_runtime.errors import first_line
from edgedigits_runtime.evaluate import Score, score
from edgedigits_runtime.fileio import sha256_bytes
from edgedigits_runtime.reject import calibrate_threshold, top_share

__all__ = ["Verification", "RejectCalibration", "evaluate", "check_gate", "check_reject_gate"]


@dataclasses.dataclass
class Verification:
    """What loading an artifact back showed.

    Attributes:
      score: the runtime's :class:`~edgedigits_runtime.evaluate.Score` on the test images
        (``agreement`` with the Keras model's top-1).
      input: the manifest's ``{"name", "shape", "dtype", "scale", "zero_point"}`` of the model input,
        as the runtime reads it.
      output: the same for the output.
      sha256: hex SHA-256 of the bytes verified.
      reject: the artifact's own calibrated "not a digit" rule (threshold chosen on validation
        digits through the runtime, with the test and held-out figures it gave), or None.
    """

    score: Score
    input: dict
    output: dict
    sha256: str
    reject: dict | None = None

    @property
    def accuracy(self) -> float:
        return self.score.accuracy

    @property
    def agreement(self) -> float:
        return self.score.agreement

    @property
    def predictions(self) -> np.ndarray:
        return self.score.predictions


def evaluate(data: bytes, fmt, images: np.ndarray, labels: np.ndarray, reference: np.ndarray,
             name: str | None = None, calibrate=None) -> Verification:
    """Open an artifact's bytes in the runtime and score them against ``labels`` and ``reference``.

    Args:
      data: the artifact's bytes.
      fmt: its :class:`~edgedigits.export.formats.ExportFormat` row (name, runtime family).
      images: uint8 (N, 28, 28).
      labels: true labels (N,).
      reference: the Keras model's top-1 predictions (N,).
      name: the file name, for messages (default the format name).
      calibrate: None (no reject rule), or a :class:`RejectCalibration`: the threshold is chosen on
        its validation digits through this artifact, then the test images and its held-out
        non-digits are scored with it.

    Raises:
      ExportError: the runtime cannot load or run the artifact.
    """
    sha256 = sha256_bytes(data)
    entry = {"sha256": sha256, "format": fmt.name, "runtime": fmt.runtime, "output_kind": "probabilities"}
    if calibrate is not None:  # scores of the run's method (a rule-less classifier would score max_prob); threshold set below
        entry["reject"] = {"method": calibrate.method, "threshold": 0.0}
    try:
        clf = DigitClassifier.from_bytes(data, entry, name=name or fmt.name, num_threads=1)
        rule = None
        if calibrate is not None:
            val = clf.classify(calibrate.val_x)
            photo = None if calibrate.photo_x is None else clf.classify(calibrate.photo_x)
            rule = calibrate.rule(val.score, None if photo is None else photo.score, val_shares=top_share(val.probs),
                                  photo_shares=None if photo is None else top_share(photo.probs))
            clf = DigitClassifier.from_bytes(data, {**entry, "reject": rule}, name=name or fmt.name, num_threads=1)
        scored = score(clf, images, labels, reference, nondigits=None if calibrate is None else calibrate.nondigits)
    except EdgeDigitsError as exc:
        raise ExportError(f"the converted model does not run in the runtime: {first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 (the backends raise their own types)
        raise ExportError(f"the converted {fmt.runtime} model does not run in its runtime: {first_line(exc)}") from None
    if rule is not None:
        rule.update({"test_digits_accepted": scored.digits_accepted, "test_accuracy_on_accepted": scored.accuracy_on_accepted,
                     "holdout_rejected": scored.nondigits_rejected})
    return Verification(score=scored, input=clf.input_spec.as_dict(), output=clf.output_spec.as_dict(), sha256=sha256,
                        reject=rule)


@dataclasses.dataclass
class RejectCalibration:
    """What calibrating an artifact's "not a digit" threshold needs (validation data only; never the test set).

    Attributes:
      val_x: uint8 validation digits (carved from the training set).
      val_y: their labels.
      nondigits: uint8 images of the held-out non-digit kind (never trained on), for the report and gate.
      holdout_kind: its name (None when the run held no kind out).
      accept: share of validation digits the threshold keeps.
      keras: the Keras model's own figures with its own threshold (``holdout_rejected``, ...), for the gate.
      method: the runtime reject method (``digit_mass`` for the default 11th-class head, ``max_prob``).
      photo_x: validation digits prepared by the runtime's photo path (uint8), or None: the threshold then keeps
        ``accept`` of these too (the lower of the two thresholds).
      split: with the ``digit_mass`` method, a second condition (``min_share``: the top digit's share of the digit
        mass) rejects this share of the validation digits the threshold keeps (0: none).
    """

    val_x: np.ndarray
    val_y: np.ndarray
    nondigits: np.ndarray | None
    holdout_kind: str | None
    accept: float
    keras: dict
    method: str = "max_prob"
    photo_x: np.ndarray | None = None
    split: float = 0.0

    def rule(self, val_scores, photo_scores=None, val_shares=None, photo_shares=None) -> dict:
        """The manifest's ``"reject"`` entry: the threshold chosen on these validation digits' scores (through the artifact).

        With ``split`` (``digit_mass`` only) and ``val_shares`` (the validation digits' top-digit shares of the digit
        mass, :func:`~edgedigits_runtime.reject.top_share`), the entry also gets ``min_share``: the highest share that
        keeps ``1 - split`` of the validation digits the threshold keeps. ``photo_shares`` only report what it keeps.
        """
        val_scores = np.asarray(val_scores, np.float32)
        threshold = calibrate_threshold(val_scores, self.accept)
        chosen_on = (f"{len(val_scores)} MNIST validation digits (carved from the training set; never the test set): "
                     f"the highest threshold on the {self.method} score keeping >= {self.accept:.1%} of them")
        out = {"method": self.method, "target_accept": self.accept, "holdout_kind": self.holdout_kind}
        if photo_scores is not None and len(photo_scores):
            photo_scores = np.asarray(photo_scores, np.float32)
            threshold = min(threshold, calibrate_threshold(photo_scores, self.accept))
            chosen_on = (f"{len(val_scores)} MNIST validation digits (carved from the training set; never the test set) "
                         f"and {len(photo_scores)} of them rendered as synthetic photos and prepared by the runtime's "
                         f"photo path: the lower of the two highest thresholds on the {self.method} score keeping "
                         f">= {self.accept:.1%} of each")
            out["validation_photo_digits_accepted"] = float((photo_scores >= np.float32(threshold)).mean())
        out["threshold"] = float(threshold)
        kept = val_scores >= np.float32(threshold)
        if self.split and self.method == "digit_mass" and val_shares is not None and kept.any():
            val_shares = np.asarray(val_shares, np.float32)
            out["min_share"] = calibrate_threshold(val_shares[kept], 1.0 - self.split)
            chosen_on += (f"; then min_share, the highest top digit's share of the digit mass that keeps "
                          f">= {1.0 - self.split:.1%} of the raw validation digits the threshold keeps")
            kept &= val_shares >= np.float32(out["min_share"])
            if photo_shares is not None and "validation_photo_digits_accepted" in out:
                out["validation_photo_digits_accepted"] = float(((photo_scores >= np.float32(threshold))
                                                                 & (np.asarray(photo_shares, np.float32)
                                                                    >= np.float32(out["min_share"]))).mean())
        out["chosen_on"] = chosen_on + ", computed through this artifact in the runtime"
        out["validation_digits_accepted"] = float(kept.mean())
        return out


def check_gate(gate: str, result: Verification, keras_accuracy: float, config, name: str) -> None:
    """Hold a verified artifact to its gate.

    ``accuracy`` gate (quantized formats): test accuracy >= ``config.min_accuracy`` and at most
    ``config.max_drop`` percentage points below the Keras model. ``agreement`` gate (float
    formats): same top-1 as Keras on >= ``config.min_agreement`` of the test images.

    Raises:
      GateError: the artifact falls short; the message carries the numbers and the option to lower.
    """
    if gate == "accuracy":
        drop = (keras_accuracy - result.accuracy) * 100.0
        if result.accuracy < config.min_accuracy:
            hint = (f"the Keras model itself scores {keras_accuracy:.2%}: train a better one, or "
                    if keras_accuracy < config.min_accuracy else f"Keras model {keras_accuracy:.2%}; ")
            raise GateError(f"{name}: test accuracy {result.accuracy:.2%} is below the gate {config.min_accuracy:.2%} "
                            f"({hint}lower the gate with --min-accuracy if you accept that)")
        if drop > config.max_drop + 1e-9:
            raise GateError(f"{name}: test accuracy {result.accuracy:.2%} is {drop:.2f} points below the Keras model's "
                            f"{keras_accuracy:.2%} (gate: at most {config.max_drop:.2f}); lower it with --max-drop")
    elif gate == "agreement":
        if result.agreement < config.min_agreement:
            differ = int(round((1 - result.agreement) * len(result.predictions)))
            raise GateError(f"{name}: agrees with the Keras model on {result.agreement:.2%} of test images "
                            f"({differ} differ; gate {config.min_agreement:.2%}); lower it with --min-agreement")
    else:  # a registry row with a gate nobody implemented: a bug, not user input
        raise ValueError(f"unknown gate kind {gate!r}")


def check_reject_gate(result: Verification, calibration: RejectCalibration | None, config, name: str) -> None:
    """Hold an artifact's "not a digit" figures to the Keras model's.

    The artifact's own threshold must keep >= ``config.min_digits_accepted`` of the test digits
    and reject the held-out kind at most ``config.max_reject_drop`` points less than the Keras
    model does with its own threshold.

    Raises:
      GateError: naming the figures and the option to relax.
    """
    if calibration is None or result.reject is None:
        return
    kept = result.score.digits_accepted
    if kept is not None and kept < config.min_digits_accepted:
        raise GateError(f"{name}: its calibrated 'not a digit' threshold keeps only {kept:.2%} of the test digits "
                        f"(gate {config.min_digits_accepted:.2%}); lower it with --min-digits-accepted")
    ours, keras = result.score.nondigits_rejected, calibration.keras.get("holdout_rejected")
    if ours is not None and keras is not None and (keras - ours) * 100.0 > config.max_reject_drop + 1e-9:
        raise GateError(f"{name}: rejects {ours:.1%} of the held-out non-digit kind '{calibration.holdout_kind}', "
                        f"{(keras - ours) * 100:.1f} points below the Keras model's {keras:.1%} "
                        f"(gate: at most {config.max_reject_drop:.1f}); lower it with --max-reject-drop")
