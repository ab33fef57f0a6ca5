"""`DigitClassifier`: a TFLite or ONNX digit model behind a small, checked numpy API.

Loading reads the file, tells TFLite from ONNX by its bytes, checks it against its
manifest (SHA-256) and opens it in the first installed backend. Calls take uint8
(0-255) or float ([0, 1]) images, one or many, with or without a channel axis, and
quantize them from the model's own input details (a 256-entry lookup table for
uint8). A batch runs as one interpreter call. One lock serialises interpreter use,
so any number of threads may share a classifier.

Example:

>>> from edgedigits_runtime import DigitClassifier
>>> clf = DigitClassifier("runs/edge/export/edge_int8.tflite", num_threads=1)   # doctest: +SKIP
>>> clf.predict(images)              # uint8 (N, 28, 28) -> int64 (N,)           # doctest: +SKIP
array([7, 2, 1])
>>> clf.top_k(images[0], k=2)                                                     # doctest: +SKIP
[[(7, 0.99609375), (3, 0.00390625)]]
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from edgedigits_runtime.backends import TensorSpec, check_threads, open_model
from edgedigits_runtime.errors import InputError, ModelError, UsageError
from edgedigits_runtime.manifest import ManifestCheck, ManifestWarning, check_alone, check_entry, check_model
from edgedigits_runtime.modelfile import model_path, read_model, sniff
from edgedigits_runtime.reject import Classification, check_rule, check_threshold, classification_from_probs
from edgedigits_runtime.scaling import DEFAULT_SCALING, SCALINGS, Scaling, judge_scaling, parse_scaling, reference_digits

__all__ = ["DigitClassifier", "load_default", "DEFAULT_MODEL", "NUM_CLASSES"]

NUM_CLASSES = 10
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default_int8.tflite"
_IMAGE = (28, 28)
# Model input shapes (after the batch axis) we can feed: NHWC, NCHW (for one channel the same memory: PyTorch's
# layout), no channel axis, flat. A dynamic (-1) height, width or length is fed 28x28.
_INPUT_TAILS = ((28, 28, 1), (1, 28, 28), (28, 28), (784,))
_DIGIT_MODEL = "a digit classifier takes one grey 28x28 image per row, (N, 28, 28, 1), (N, 1, 28, 28), (N, 28, 28) or (N, 784)"


class DigitClassifier:
    """Classify 28x28 digit images with an exported TFLite or ONNX model.

    Example:

    >>> clf = DigitClassifier("edge_int8.tflite")   # its own record (and manifest.json beside it) checked  # doctest: +SKIP
    >>> clf.predict(np.zeros((28, 28), np.uint8))                                               # doctest: +SKIP
    array([1])

    Args:
      path: the model file (``.tflite`` or ``.onnx``; the kind is read from its bytes).
      manifest: None (use ``manifest.json`` beside the model if there is one), a manifest path, or
        a manifest dict.
      num_threads: interpreter threads (None: the backend's default).
      backend: force a backend by name (``"litert"``, ``"tflite-runtime"``, ``"tensorflow-lite"``,
        ``"onnxruntime"``); None picks the first installed one for the model's kind.
      strict: refuse a model that nothing verifies (no integrity record inside it, no manifest
        entry for it), e.g. a third-party file; by default it runs with a ``ManifestWarning``.
      normalize: how the model wants its input scaled (:mod:`edgedigits_runtime.scaling`): ``"unit"``
        (x / 255 in [0, 1], edgedigits' models), ``"raw"`` (0-255), ``"mnist"`` ((x / 255 - 0.1307) / 0.3081,
        PyTorch's MNIST example), ``"symmetric"`` ([-1, 1]), or ``(mean, std)`` / ``"MEAN,STD"`` (the model is fed
        ``(x / 255 - mean) / std``). None: what the manifest entry records, else ``"unit"``.

    Raises:
      ModelError: the file is missing, empty, truncated, corrupted, of another kind, or not a
        28x28 -> 10 classes model; a model without manifest that answers the reference digits clearly
        better under another named scaling than the default one (``normalize`` not given: the message
        names the scaling to give).
      ModelIntegrityError: the file's bytes differ from the SHA-256 recorded inside it or in its
        manifest, its integrity record is damaged, or ``strict`` and nothing verifies it.
      BackendUnavailableError: no installed package runs this kind of model (says what to install).
      UsageError: ``path`` (not a path), ``num_threads`` (1 to 64), ``backend``, ``manifest`` or ``normalize`` is
        not valid, or ``normalize`` contradicts the manifest entry.

    Warns:
      ManifestWarning: no integrity record inside and no manifest entry: the model runs unverified; and for such
        a model, when it answers the reference digits poorly (fewer than half right), or clearly better under
        another scaling than the ``normalize`` given.

    Attributes:
      reject: the model's calibrated "not a digit" rule (its manifest entry's ``"reject"`` dict,
        with how it was chosen), or None (older exports, third-party files, unverified files):
        then :meth:`classify` rejects nothing unless given ``threshold=``.
      info: details of the model and backend (path, format, dtypes, sha256, verified, reject, ...).
      manifest: the whole manifest, or None.

    Inputs (every method): a numpy array (or nested list) of uint8 0-255 or float in [0, 1]
    (white ink on black, as MNIST), shaped (28, 28), (28, 28, 1), (N, 28, 28) or (N, 28, 28, 1),
    whatever the model's own layout and scaling. A batch of N = 0 images gives empty results.
    Anything else raises :class:`~edgedigits_runtime.errors.InputError`.
    """

    def __init__(self, path: str | os.PathLike, manifest=None, num_threads: int | None = None, backend: str | None = None,
                 strict: bool = False, normalize=None):
        _check_options(num_threads, backend, strict)
        normalize = parse_scaling(normalize)
        path = model_path(path)
        data, family = read_model(path)
        self._open(path, data, family, check_model(path, data, manifest, strict=strict), num_threads, backend, normalize)

    @classmethod
    def from_bytes(cls, data: bytes, manifest_entry: dict | None = None, *, name: str = "<bytes>",
                   num_threads: int | None = None, backend: str | None = None, strict: bool = False,
                   normalize=None) -> "DigitClassifier":
        """A classifier from a model's bytes, e.g. straight out of a converter.

        Export verifies every artifact this way before writing it, so what export gates is
        what :class:`DigitClassifier` runs on the device.

        Example:

        >>> entry = {"sha256": hashlib.sha256(data).hexdigest(), "runtime": "tflite"}   # doctest: +SKIP
        >>> clf = DigitClassifier.from_bytes(data, entry, name="edge_int8.tflite")     # doctest: +SKIP
        >>> clf.info["verified"]                                                       # doctest: +SKIP
        True

        Args:
          data: the whole model file (TFLite or ONNX; the kind is read from the bytes).
          manifest_entry: the model's ``artifacts`` entry (at least ``sha256``); the bytes are
            checked against it. None: the integrity record inside the bytes verifies them; without
            one the model runs unverified (a :class:`ManifestWarning`).
          name: what to call the model in messages and ``info["path"]``.
          num_threads: interpreter threads (None: the backend's default).
          backend: force a backend by name (None: the first installed one for the model's kind).
          strict: refuse bytes that nothing verifies (no entry, no integrity record inside).
          normalize: how the model wants its input scaled (see the class docstring).

        Raises:
          ModelError: not a model, or not a 28x28 -> 10 classes model; a malformed entry.
          ModelIntegrityError: the bytes differ from the entry's SHA-256 or from their own record, the
            record is damaged, or ``strict`` and nothing verifies them.
          BackendUnavailableError: no installed package runs this kind of model.
          UsageError: ``data``, ``num_threads`` or ``backend`` is not valid.
        """
        _check_options(num_threads, backend, strict)
        normalize = parse_scaling(normalize)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise UsageError(f"data must be the model's bytes; got {type(data).__name__}")
        data = bytes(data)
        if not data:
            raise ModelError(f"{name} is empty (0 bytes): pass the whole model file")
        family = sniff(data)
        if family is None:
            raise ModelError(f"{name} is not a TFLite or ONNX model (no 'TFL3' identifier, no ONNX header)")
        if manifest_entry is None:
            check = check_alone(data, name, strict=strict)
        else:
            check = check_entry(data, manifest_entry, name)
        self = cls.__new__(cls)
        self._open(Path(name), data, family, check, num_threads, backend, normalize)
        return self

    def _open(self, path: Path, data: bytes, family: str, check: ManifestCheck, num_threads, backend,
              normalize: Scaling | None = None) -> None:
        self.path = path
        entry = check.entry or {}
        if entry.get("runtime") not in (None, family):
            raise ModelError(f"{self.path} is a {family} model but its manifest entry says {entry['runtime']}: "
                             "the manifest does not describe this file; re-export it")
        try:
            self._session = open_model(family, data, None if num_threads is None else int(num_threads), backend,
                                       trusted=check.verified)
        except ModelError as exc:
            if getattr(exc, "unsupported", False):
                raise ModelError(f"{self.path} {exc}") from None
            raise ModelError(f"{self.path} is not a valid {family} model ({exc}): it may be truncated or corrupted; "
                             "re-copy or re-export it") from None
        self._lock = threading.Lock()
        try:
            self._session.check_one_each("a digit classifier", "(N, 28, 28, 1) images in, (N, 10) scores out")
        except ModelError as exc:
            scores = [o for o in self._session.outputs if o.dtype.kind == "f" and len(o.shape) > 1
                      and math.prod(o.shape[1:]) == NUM_CLASSES]
            hint = f": export it with only its output {scores[0].name!r}" if len(scores) == 1 and len(self._session.inputs) == 1 else ""
            raise ModelError(f"{self.path} {exc}{hint}") from None
        recorded = parse_scaling(entry.get("normalize"), f"the manifest entry of {self.path.name}: normalize")
        self._setup_input(_chosen_scaling(self.path, check.verified, recorded, normalize))
        self._setup_output()
        if self._session.batch is not None:  # a batch fixed in the input's shape: kept unless the model ignores it
            with self._lock:
                self._session.try_any_batch(self._lut[reference_digits()[0]].reshape((-1,) + self._in_tail))
        self._reference = None if check.verified else self._check_scaling(stated=normalize is not None)
        self._output_kind = entry.get("output_kind") or self._probe_output_kind()
        spec_in, spec_out = self._session.input, self._session.output
        self.info = {
            "path": str(self.path), "format": entry.get("format", family), "runtime": family,
            "backend": self._session.backend, "num_threads": num_threads,
            "input_dtype": spec_in.dtype.name, "input_scale": spec_in.scale, "input_zero_point": spec_in.zero_point,
            "input_shape": list(spec_in.shape),
            "output_dtype": spec_out.dtype.name, "output_scale": spec_out.scale, "output_zero_point": spec_out.zero_point,
            "output_kind": self._output_kind, "sha256": check.sha256, "verified": check.verified,
            "manifest": check.source, "record": check.record, "size": len(data),
            "input_layout": _LAYOUTS[self._in_tail], "batch": self._session.batch,
            "normalize": self._scaling.as_dict(), "reference_digits": self._reference,
        }
        self.manifest = check.manifest
        self.reject = check_rule(entry.get("reject"), f"manifest entry of {self.path.name}")
        """The model's calibrated reject rule (the manifest entry's ``"reject"`` dict, with how it was
        chosen), or None: then :meth:`classify` rejects nothing unless given ``threshold=``."""
        self.info["reject"] = self.reject

    @property
    def input_spec(self) -> TensorSpec:
        """The model's input tensor as the backend reports it (``.as_dict()`` is the manifest's ``"input"``)."""
        return self._session.input

    @property
    def output_spec(self) -> TensorSpec:
        """The model's output tensor (``.as_dict()`` is the manifest's ``"output"``)."""
        return self._session.output

    def __repr__(self) -> str:
        state = "verified" if self.info["verified"] else "unverified"
        return f"DigitClassifier({str(self.path)!r}, backend={self.info['backend']!r}, input={self.info['input_dtype']}, {state})"

    # ------------------------------------------------------------------ set-up

    def _setup_input(self, scaling: Scaling) -> None:
        spec = self._session.input
        tail = _feedable_tail(tuple(spec.shape[1:]))
        if tail is None:
            raise ModelError(f"{self.path} takes input of shape {list(spec.shape)}{_input_hint(spec.shape)}; {_DIGIT_MODEL}")
        self._in_tail = tail
        self._in_dtype = spec.dtype
        self._raw_pixels = spec.dtype == np.uint8 and spec.scale is None  # uint8 0-255 as they are: it scales them itself
        if self._raw_pixels:
            if scaling not in (DEFAULT_SCALING, SCALINGS["raw"]):
                raise UsageError(f"{self.path} takes uint8 pixels (0-255) as they are and scales them itself: "
                                 f"normalize {scaling.name!r} does not apply to it; leave it out")
            scaling = SCALINGS["raw"]
        elif spec.dtype.kind in "iu" and spec.scale is None:
            raise ModelError(f"{self.path} has an unquantized {spec.dtype.name} input; expected float, uint8 pixels, "
                             "or int8/uint8 with a quantization scale")
        elif spec.dtype.kind not in "iuf":
            raise ModelError(f"{self.path} has a {spec.dtype.name} input; expected float or int8")
        self._scaling = scaling
        self._lut = self._lut_for(scaling)

    def _lut_for(self, scaling: Scaling) -> np.ndarray:
        """The model's input value for each pixel level 0-255 under ``scaling``."""
        if self._raw_pixels:
            return np.arange(256, dtype=np.uint8)
        levels = scaling.apply(np.arange(256, dtype=np.float32) / np.float32(255.0))  # the project's convention: x / 255
        if self._in_dtype.kind in "iu":
            return self._quantize(levels, scaling)
        return levels.astype(self._in_dtype)

    def _quantize(self, x: np.ndarray, scaling: Scaling | None = None) -> np.ndarray:
        """The model's float input values -> its integer input: round(x / scale) + zero_point, clipped to the dtype."""
        spec = self._session.input
        info = np.iinfo(spec.dtype)
        q = np.multiply(x, np.float32(1.0 / spec.scale), dtype=np.float32)
        np.rint(q, out=q)
        q += np.float32(spec.zero_point)
        low, high = (scaling or self._scaling).range
        if spec.zero_point + math.floor(low / spec.scale) < info.min or spec.zero_point + math.ceil(high / spec.scale) > info.max:
            np.minimum(np.maximum(q, info.min, out=q), info.max, out=q)  # else the scaling's whole range fits
        return q.astype(spec.dtype)

    def _setup_output(self) -> None:
        """Scale and zero point of the output, and that it gives 10 numbers per image (run on a blank image)."""
        spec = self._session.output
        self._out_scale = None if spec.scale is None else np.float32(spec.scale)
        self._out_zero = None if spec.zero_point is None else np.float32(spec.zero_point)
        if spec.dtype.kind not in "iuf":
            raise ModelError(f"{self.path} outputs {spec.dtype.name} values; a digit classifier outputs 10 scores "
                             "(probabilities or logits) per image")
        y = self._run(self._lut[np.zeros((1,) + _IMAGE, np.uint8)].reshape((1,) + self._in_tail))
        if y.size != NUM_CLASSES:
            raise ModelError(f"{self.path} {_output_problem(y.size, spec)}")

    def _probe_output_kind(self) -> str:
        """Without a manifest: probabilities if the quantized output has a softmax's fixed range (1/256 steps from the
        dtype's lowest value), or if rows of a blank image, a grey one and the reference digits are all in [0, 1]
        and sum to at most 1 (a model with a "not a digit" class left out of its outputs gives a non-digit rows
        summing to far less than 1); else logits (log-softmax too: its softmax gives the probabilities back)."""
        spec = self._session.output
        if spec.scale is not None and spec.zero_point == np.iinfo(spec.dtype).min \
                and any(abs(spec.scale - step) < 1e-9 for step in (1 / 256, 1 / 255)):
            return "probabilities"
        images, _ = reference_digits()
        probes = np.concatenate([np.zeros((1,) + _IMAGE, np.uint8), np.full((1,) + _IMAGE, 128, np.uint8), images])
        rows = self._dequantize(self._raw(probes))
        if np.all(rows >= -1e-3) and np.all(rows <= 1.0 + 1e-3) and np.all(rows.sum(axis=1) <= 1.05):
            return "probabilities"
        return "logits"

    def _check_scaling(self, stated: bool) -> dict:
        """A model nothing describes, on the reference digits under each named scaling: raise or warn when another
        scaling answers clearly more of them right, or none answers half of them (:func:`scaling.judge_scaling`).

        Returns:
          ``{"right": {scaling name: digits right}, "of": 30}`` for ``info["reference_digits"]``.
        """
        images, labels = reference_digits()
        tried = [self._scaling] if self._raw_pixels else \
            [self._scaling] + [s for s in SCALINGS.values() if s.name != self._scaling.name]
        right = {}
        for scaling in tried:
            x = self._lut_for(scaling)[images].reshape((len(images),) + self._in_tail)
            right[scaling.name] = int((np.argmax(self._run(x).reshape(len(images), -1), axis=1) == labels).sum())
        verdict = judge_scaling(right, self._scaling.name, len(labels))
        mine, total = verdict.right[self._scaling.name], verdict.total
        fed = f"fed {self._scaling.label()}, {'as stated' if stated else 'the default'}"
        if verdict.status == "mismatch":
            best = SCALINGS[verdict.better[0]]
            said = (f"{self.path} answers {mine} of {total} reference MNIST digits right {fed}, and "
                    f"{verdict.right[best.name]} of {total} fed {best.label()}")
            if not stated:
                raise ModelError(f"{said}: it looks trained on inputs scaled as {best.name}; say so with --normalize "
                                 f"{best.name} (normalize={best.name!r}), or state the scaling you know it takes "
                                 "(--normalize unit for x / 255)")
            warnings.warn(f"{said}: check its input scaling (--normalize); its answers may be wrong",
                          ManifestWarning, stacklevel=4)
        elif verdict.status == "poor":
            warnings.warn(f"{self.path} answers only {mine} of {total} reference MNIST digits right {fed} (named "
                          f"scalings: {verdict.counts()}): it may not be an MNIST digit classifier, or it takes its "
                          "images in another form (MNIST's are white ink on black, 28x28, centred); its answers "
                          "may be wrong", ManifestWarning, stacklevel=4)
        return {"right": verdict.right, "of": total}

    # ------------------------------------------------------------------ calls

    def _prepare(self, images) -> np.ndarray:
        """Images -> model input array (N, *tail) in the model's dtype."""
        x = images if isinstance(images, np.ndarray) else _as_array(images)
        shape = x.shape
        if shape[-2:] == _IMAGE and x.ndim in (2, 3):
            n = 1 if x.ndim == 2 else shape[0]
        elif shape[-3:] == (28, 28, 1) and x.ndim in (3, 4):
            n = 1 if x.ndim == 3 else shape[0]
        else:
            raise InputError(f"images have shape {shape}; expected (28, 28), (28, 28, 1), (N, 28, 28) or (N, 28, 28, 1)")
        kind = x.dtype.kind
        if x.dtype == np.uint8:
            q = self._lut[x]
        elif kind == "f":
            q = self._from_float(x)
        elif kind in "iu":
            q = self._lut[_int_to_uint8(x)]
        else:
            raise InputError(f"images have dtype {x.dtype}; pass uint8 (0-255) or float (0.0-1.0) numbers")
        return q.reshape((n,) + self._in_tail)

    def _from_float(self, x: np.ndarray) -> np.ndarray:
        if x.size:
            low, high = float(x.min()), float(x.max())  # NaN propagates into both
            if not (np.isfinite(low) and np.isfinite(high)):
                raise InputError("images contain NaN or infinity; pass finite values in [0, 1] (or uint8 0-255)")
            if low < 0.0 or high > 1.0:
                raise InputError(f"float images must be in [0, 1]; got values in [{low:g}, {high:g}]: "
                                 "pass uint8 0-255 or divide by 255 (the model's own scaling is applied here: "
                                 "normalize=)")
        if self._raw_pixels:
            return np.rint(np.multiply(x, 255.0, dtype=np.float32)).astype(np.uint8)
        if self._scaling is not DEFAULT_SCALING:
            x = self._scaling.apply(x)
        if self._in_dtype.kind == "f":
            return np.ascontiguousarray(x, dtype=self._in_dtype)
        return self._quantize(x.astype(np.float32, copy=False))

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            try:
                return self._session.run(x)
            except ModelError as exc:
                raise ModelError(f"{self.path} {exc}: {_DIGIT_MODEL}") from None

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        if self._out_scale is not None:
            return (y.astype(np.float32) - self._out_zero) * self._out_scale
        return y.astype(np.float32, copy=False)

    def _raw(self, images) -> np.ndarray:
        x = self._prepare(images)
        if x.shape[0] == 0:
            return np.zeros((0, NUM_CLASSES), self._session.output.dtype)
        y = self._run(x)
        return y if y.shape == (len(x), NUM_CLASSES) else y.reshape(len(x), NUM_CLASSES)  # (N, 10, 1, 1), (10,), ...

    def predict(self, images) -> np.ndarray:
        """Top-1 digit of each image.

        Args:
          images: see the class docstring (uint8 0-255 or float 0-1; one image or a batch).

        Returns:
          int64 array (N,), N = 1 for a single image.

        Raises:
          InputError: wrong shape, dtype, range, NaN or infinity.
        """
        y = self._raw(images)
        return np.argmax(y, axis=1).astype(np.int64, copy=False)  # quantization and softmax keep the order

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities of each image.

        Args:
          images: see the class docstring.

        Returns:
          float32 array (N, 10): dequantized output, clipped to [0, 1] for a quantized probability output;
          softmax applied when the model outputs logits.

        Raises:
          InputError: wrong shape, dtype, range, NaN or infinity.
        """
        p = self._dequantize(self._raw(images))
        if self._output_kind == "logits" and len(p):
            p = np.exp(p - p.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
        elif self._out_scale is not None:
            # An int8 output's range comes from calibration and may reach a little past [0, 1] (a layer after the
            # softmax, as in older 11th-class exports): probabilities are kept in [0, 1].
            np.clip(p, 0.0, 1.0, out=p)
        return np.asarray(p, dtype=np.float32)

    def classify(self, images, threshold: float | None = None) -> Classification:
        """Each image's digit, or "not a digit" (label :data:`~edgedigits_runtime.NOT_A_DIGIT`, -1).

        Example:

        >>> c = clf.classify(images)                  # the model's calibrated rule   # doctest: +SKIP
        >>> c.labels, c.not_a_digit                                                   # doctest: +SKIP
        (array([ 7, -1]), array([False,  True]))
        >>> clf.classify(images, threshold=0.9).to_dict(0)                            # doctest: +SKIP
        {'label': 7, 'not_a_digit': False, 'confidence': 0.99609375, 'top_k': [[7, 0.99609375]], 'score': ..., ...}

        Args:
          images: see the class docstring.
          threshold: reject images whose score is below this (the score of the model's rule:
            ``digit_mass`` = 1 - p(not a digit), or ``max_prob`` = the top digit's probability,
            for a model without a rule; it replaces the whole rule, ``min_share`` too); None uses the
            model's calibrated rule (:attr:`reject`), and a model without one rejects nothing.

        Returns:
          A :class:`~edgedigits_runtime.reject.Classification` (labels, probs, confidence,
          not_a_digit, score, threshold, method).

        Raises:
          UsageError: ``threshold`` is not a probability in [0, 1].
          InputError: bad images.
        """
        method = (self.reject or {}).get("method", "max_prob")
        min_share = None
        if threshold is not None:
            threshold = check_threshold(threshold, method)
        elif self.reject is not None:
            threshold, min_share = float(self.reject["threshold"]), self.reject.get("min_share")
        return classification_from_probs(self.predict_proba(images), threshold, method, min_share)

    def top_k(self, images, k: int = 3) -> list[list[tuple[int, float]]]:
        """The ``k`` most likely digits of each image with their probabilities, best first.

        Args:
          images: see the class docstring.
          k: how many (1 to 10).

        Returns:
          One list per image of ``(label, probability)`` pairs.

        Raises:
          UsageError: ``k`` is not in 1..10.
          InputError: bad images.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= NUM_CLASSES:
            raise UsageError(f"k must be a whole number from 1 to {NUM_CLASSES}; got {k!r}")
        probs = self.predict_proba(images)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [[(int(c), float(row[c])) for c in idx] for row, idx in zip(probs, order)]


_LAYOUTS = {(28, 28, 1): "NHWC", (1, 28, 28): "NCHW", (28, 28): "NHW", (784,): "flat"}


def _feedable_tail(tail: tuple) -> tuple | None:
    """The one of :data:`_INPUT_TAILS` a model's input shape (after the batch axis) takes; -1 (dynamic) where a
    28 or 784 stands is fed that. None: not a 28x28 grey image."""
    for want in _INPUT_TAILS:
        if len(tail) == len(want) and all(d == w or (d == -1 and w != 1) for d, w in zip(tail, want)):
            return want
    return None


def _input_hint(shape) -> str:
    """What a refused input shape looks like: colour, another size."""
    dims = [int(d) for d in shape[1:]]
    if len(dims) == 3 and 3 in (dims[0], dims[-1]) or len(dims) == 3 and 4 in (dims[0], dims[-1]):
        return " (colour images: this runtime feeds one grey channel; give the model a 1-channel input)"
    sizes = [d for d in dims if d not in (1, 3, 4, -1)]
    if sizes and sizes != [28, 28]:
        return f" ({'x'.join(map(str, sizes))} images: MNIST digits here are 28x28; resize inside the model or retrain it)"
    return ""


def _output_problem(size: int, spec) -> str:
    """Why an output that is not 10 numbers per image cannot be a 0-9 digit classifier's, and what to do."""
    got = f"outputs {size} value{'s' if size != 1 else ''} per image (shape {list(spec.shape)}, {spec.dtype.name})"
    if size == 1:
        return (f"{got}, e.g. a label; the runtime needs the 10 scores (probabilities or logits) of the digits 0-9 "
                "to give confidences and 'not a digit': export the model without its final argmax")
    if size == NUM_CLASSES + 1:
        return (f"{got}; a digit classifier here gives 10, the digits 0-9 in order. If the 11th is a 'not a digit' "
                "class, give the model's first 10 outputs after its softmax (Keras: Lambda(lambda p: p[:, :10]); "
                "PyTorch: softmax(x)[:, :10]): what it calls 'not a digit' then gets low digit probabilities, which "
                "--threshold rejects")
    return (f"{got}; a digit classifier here gives 10, the digits 0-9 in order: a model of {size} classes "
            "classifies something else")


def _chosen_scaling(path: Path, verified: bool, recorded: Scaling | None, stated: Scaling | None) -> Scaling:
    """The scaling a model is fed: what its verified manifest entry records (edgedigits' exports: x / 255), what
    the caller states, else the default; a statement that contradicts a verified record is refused."""
    if verified:
        recorded = recorded or DEFAULT_SCALING
        if stated is not None and (stated.mean, stated.std) != (recorded.mean, recorded.std):
            raise UsageError(f"{path.name}'s manifest records its input as {recorded.label()}, but normalize says "
                             f"{stated.label()}: leave normalize out (or correct the manifest)")
        return recorded
    return stated or recorded or DEFAULT_SCALING


def _check_options(num_threads, backend, strict: bool = False) -> None:
    if not isinstance(strict, bool):
        raise UsageError(f"strict must be True or False; got {strict!r}")
    check_threads(num_threads)
    if backend is not None and not isinstance(backend, str):
        raise UsageError(f"backend must be a name such as 'litert' or None; got {type(backend).__name__}")


def _as_array(images) -> np.ndarray:
    try:
        return np.asarray(images)
    except (ValueError, TypeError) as exc:
        raise InputError(f"images are not an array of numbers ({exc}); pass a numpy array of uint8 or float") from None


def _int_to_uint8(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "b":  # pragma: no cover - bool has kind "b", caught by the caller
        raise InputError("images have dtype bool; pass uint8 (0-255) or float (0.0-1.0) numbers")
    if x.size:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise InputError(f"integer images must be in 0-255; got values in [{low}, {high}]: pass uint8 0-255 or floats in [0, 1]")
    return x.astype(np.uint8)


def load_default(num_threads: int | None = None, backend: str | None = None) -> DigitClassifier:
    """The pretrained int8 model shipped with the runtime, checked against its manifest.

    Example:

    >>> clf = load_default()                       # doctest: +SKIP
    >>> clf.info["verified"]                       # doctest: +SKIP
    True

    Args:
      num_threads: interpreter threads (None: the backend's default).
      backend: force a TFLite backend by name (None: first installed).

    Raises:
      ModelError: the shipped model is missing from this installation (reinstall edgedigits-runtime).
      BackendUnavailableError: no TFLite interpreter installed.
    """
    if not DEFAULT_MODEL.is_file():
        raise ModelError(f"the shipped model {DEFAULT_MODEL} is missing from this installation: "
                         "reinstall edgedigits-runtime, or pass a model with --model")
    return DigitClassifier(DEFAULT_MODEL, num_threads=num_threads, backend=backend)
