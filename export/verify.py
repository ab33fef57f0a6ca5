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

__all__ = ["Verification", "evaluate", "check_gate"]


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
    """

    score: Score
    input: dict
    output: dict
    sha256: str

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
             name: str | None = None) -> Verification:
    """Open an artifact's bytes in the runtime and score them against ``labels`` and ``reference``.

    Args:
      data: the artifact's bytes.
      fmt: its :class:`~edgedigits.export.formats.ExportFormat` row (name, runtime family).
      images: uint8 (N, 28, 28).
      labels: true labels (N,).
      reference: the Keras model's top-1 predictions (N,).
      name: the file name, for messages (default the format name).

    Raises:
      ExportError: the runtime cannot load or run the artifact.
    """
    sha256 = sha256_bytes(data)
    entry = {"sha256": sha256, "format": fmt.name, "runtime": fmt.runtime, "output_kind": "probabilities"}
    try:
        clf = DigitClassifier.from_bytes(data, entry, name=name or fmt.name, num_threads=1)
        scored = score(clf, images, labels, reference)
    except EdgeDigitsError as exc:
        raise ExportError(f"the converted model does not run in the runtime: {first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 (the backends raise their own types)
        raise ExportError(f"the converted {fmt.runtime} model does not run in its runtime: {first_line(exc)}") from None
    return Verification(score=scored, input=clf.input_spec.as_dict(), output=clf.output_spec.as_dict(), sha256=sha256)


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
