"""Backends: the packages that can run a model file, as a registry (data, not if-chains).

Each backend runs one model family (``"tflite"`` or ``"onnx"``) and opens a model
from its bytes into a :class:`Session` with one input and one output. TFLite models
are always opened with ``model_content=`` so that the interpreter's flatbuffer
verifier runs (it does not for ``model_path=``). tflite-runtime 2.14 has no verifier at all:
a truncated file can crash it, so a model not already checked against its manifest is first
opened in a child process there (:func:`_probe_in_child`).

Example:

>>> backend = select_backend("tflite")                       # doctest: +SKIP
>>> session = backend.open(model_bytes, num_threads=1)       # doctest: +SKIP
>>> session.input.dtype, session.input.scale                 # doctest: +SKIP
(dtype('int8'), 0.00392156...)

Order tried for TFLite: ``litert`` (ai-edge-litert), ``tflite-runtime`` (numpy<2 only),
then ``tensorflow-lite`` (``tf.lite.Interpreter``), which is imported only when the
other two are missing. ONNX: ``onnxruntime``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import re
from typing import Callable

import numpy as np

from edgedigits_runtime.errors import BackendUnavailableError, ModelError, UsageError, first_line
from edgedigits_runtime.native import quiet_native_stderr

__all__ = ["TensorSpec", "Session", "Backend", "BACKENDS", "FAMILIES", "MAX_THREADS", "check_threads", "select_backend",
           "open_model", "available_backends"]

MAX_THREADS = 64  # interpreter threads at most: more than any Pi has cores; 100,000 made the interpreter crash


def check_threads(num_threads) -> None:
    """Refuse a thread count an interpreter cannot use (None: the backend's default).

    Raises:
      UsageError: not a whole number from 1 to :data:`MAX_THREADS`.
    """
    if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer))
                                    or not 1 <= num_threads <= MAX_THREADS):
        raise UsageError(f"num_threads must be a whole number from 1 to {MAX_THREADS} or None; got {num_threads!r}")


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """What a model's input or output tensor is.

    Attributes:
      name: tensor name in the model.
      shape: shape with ``-1`` for the batch (and any other dynamic) axis.
      dtype: numpy dtype of the tensor.
      scale: quantization scale, None for float tensors.
      zero_point: quantization zero point, None for float tensors.
    """

    name: str
    shape: tuple
    dtype: np.dtype
    scale: float | None
    zero_point: int | None

    def as_dict(self) -> dict:
        """The manifest form: ``{"name", "shape", "dtype", "scale", "zero_point"}``."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.name,
                "scale": self.scale, "zero_point": self.zero_point}


class Session:
    """An opened model: ``input``/``output`` :class:`TensorSpec` (the first of ``inputs``/``outputs``) and ``run(x) -> y``.

    ``batch`` is the number of images the model's input declares it takes per call (a PyTorch export's
    ``(1, 1, 28, 28)``, a TFLite file converted with a fixed batch), or None when it takes any number:
    :meth:`run` then calls the model once per batch of that size. ``run`` is not thread-safe;
    :class:`~edgedigits_runtime.DigitClassifier` serialises calls.
    """

    backend: str
    input: TensorSpec
    output: TensorSpec
    inputs: tuple = ()
    outputs: tuple = ()
    batch: int | None = None

    def check_one_each(self, what: str, expected: str) -> None:
        """Refuse a model that does not take one input and give one output (``what``/``expected`` name the kind).

        Raises:
          ModelError: "has 2 inputs (a, b) and 1 output (c); <what> takes one ... : <expected>".
        """
        if len(self.inputs) == 1 and len(self.outputs) == 1 and self.input.dtype.kind != "O" and self.output.dtype.kind != "O":
            return
        raise ModelError(f"has {len(self.inputs)} input(s) ({_names(self.inputs)}) and {len(self.outputs)} output(s) "
                         f"({_names(self.outputs)}): {what} takes one tensor in and gives one tensor out, {expected}")

    def run(self, x: np.ndarray) -> np.ndarray:
        """The model's output for ``x`` (N, ...): one call, or one per ``batch`` images (the last one padded).

        A model that declares any batch size but fails at N > 1 or answers with another number of rows (a
        Reshape to ``[1, ...]`` inside it) is run one image per call from then on.

        Raises:
          ModelError: the model fails to run (the backend's first line).
        """
        n = len(x)
        if self.batch is None:
            try:
                y = self._call(x)
                if n == 1 or (y.ndim and y.shape[0] == n):
                    return y
            except Exception as exc:  # noqa: BLE001 - backends raise ValueError, RuntimeError, their own types
                if n == 1:
                    raise ModelError(f"fails to run ({first_line(exc)})") from None
            self.batch = 1  # its graph fixes the batch: image by image, as its first call showed it works
        return self._in_batches(x)

    def try_any_batch(self, x: np.ndarray) -> bool:
        """For a model whose input declares a fixed batch: run ``x`` as one batch (TFLite resizes an input when asked;
        onnxruntime refuses) and in the declared batches; when the answers agree, take any batch from now on.

        Returns:
          True when the model now takes any batch (``batch`` None).
        """
        fixed = self.batch
        if fixed is None or len(x) <= fixed:
            return False
        expected = self._in_batches(x)
        try:
            y = self._call(x)
        except Exception:  # noqa: BLE001 - the backend refuses the batch: keep the declared one
            return False
        if y.shape == expected.shape:
            tolerance = {"atol": 1} if y.dtype.kind in "iu" else {"rtol": 1e-4, "atol": 1e-5}
            if np.allclose(y.astype(np.float64), expected.astype(np.float64), **tolerance):
                self.batch = None
                return True
        return False

    def _in_batches(self, x: np.ndarray) -> np.ndarray:
        size, n, rows = self.batch, len(x), []
        for start in range(0, n, size):
            part = x[start:start + size]
            if len(part) < size:  # the last one: padded with blank inputs, their rows dropped
                part = np.concatenate([part, np.zeros((size - len(part),) + part.shape[1:], part.dtype)])
            try:
                y = self._call(part)
            except Exception as exc:  # noqa: BLE001 - backends raise ValueError, RuntimeError, their own types
                raise ModelError(f"fails to run ({first_line(exc)})") from None
            if not y.ndim or y.shape[0] != size:  # an output without the batch axis: (10,) for one image
                y = y.reshape(size, -1)
            rows.append(y[: n - start])
        return np.concatenate(rows)

    def _call(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


def _names(specs) -> str:
    return ", ".join(f"{s.name} " + ("(not a tensor)" if s.dtype.kind == "O" else str(list(s.shape))) for s in specs) or "none"


@dataclasses.dataclass(frozen=True)
class Backend:
    """One way of running a model family.

    Attributes:
      name: registry key (``backend=`` argument).
      family: ``"tflite"`` or ``"onnx"``.
      module: the module imported to run it.
      package: the pip package that provides ``module``.
      install: the command that installs it for this runtime.
      open_fn: ``(module, model_bytes, num_threads) -> Session``.
      verifies: the backend checks the model's structure itself (a broken file is an exception, not a crash).
    """

    name: str
    family: str
    module: str
    package: str
    install: str
    open_fn: Callable
    verifies: bool = True

    def load(self):
        """Import and return the backend module.

        Raises:
          BackendUnavailableError: not installed, or installed but unusable (tflite-runtime with numpy 2).
        """
        try:
            return importlib.import_module(self.module)
        except (ImportError, SystemError, AttributeError, RuntimeError) as exc:
            if isinstance(exc, ModuleNotFoundError) or (isinstance(exc, ImportError) and "None in sys.modules" in str(exc)):
                reason = "not installed"
            else:
                reason = f"does not import: {first_line(exc, with_type=False)}"
            raise _unavailable(f"backend {self.name!r} cannot be used: {self.package} {reason}; {self.install}",
                               reason) from None

    def available(self) -> bool:
        """True when the module imports (imports it: call only on the backend you would use)."""
        try:
            self.load()
        except BackendUnavailableError:
            return False
        return True

    def open(self, model_bytes: bytes, num_threads: int | None = None, trusted: bool = False) -> Session:
        """Open a model from its bytes.

        Args:
          model_bytes: the whole model file.
          num_threads: interpreter threads (None: the backend's default).
          trusted: the bytes already matched their manifest's SHA-256 (no crash probe needed).

        Returns:
          A :class:`Session`.

        Raises:
          BackendUnavailableError: the backend is not installed.
          ModelError: the backend rejects the bytes (the message is the backend's first line;
            the caller adds the file name).
        """
        module = self.load()
        if not (trusted or self.verifies):
            _probe_in_child(self, model_bytes)
        try:
            return self.open_fn(module, model_bytes, num_threads)
        except ModelError:
            raise
        except SystemError as exc:  # tflite-runtime built for numpy 1 under numpy 2: "_ARRAY_API not found"
            import numpy

            reason = f"fails under numpy {numpy.__version__} ({type(exc).__name__})"
            raise _unavailable(f"backend {self.name!r} cannot be used: {self.package} {reason}; {self.install}",
                               reason) from None
        except Exception as exc:  # noqa: BLE001 - backends raise ValueError, RuntimeError, their own types
            raise self._refusal(_backend_detail(exc)) from None

    def _refusal(self, detail: str) -> ModelError:
        """The backend refused the model: an operator or version it does not run (``unsupported`` set: the caller
        must not call the file damaged), or anything else (the caller adds "truncated or corrupted")."""
        if not any(marker in detail.lower() for marker in _UNSUPPORTED):
            return ModelError(detail)
        try:
            from importlib.metadata import version

            have = f"{self.package} {version(self.package)}"
        except Exception:  # noqa: BLE001 - any metadata problem: name the package alone
            have = self.package
        exc = ModelError(f"uses an operator or a format version that {have} does not run ({detail}): "
                         f"{_CONVERT_HINTS[self.family]}, or install a newer {self.package}")
        exc.unsupported = True
        return exc


_CONVERT_HINTS = {
    "onnx": "export it with standard operators only, at an opset this onnxruntime knows (e.g. torch.onnx.export(..., "
            "opset_version=17))",
    "tflite": "convert it with builtin operators only (no Select TF or custom ops), with the converter of a TensorFlow "
              "no newer than the interpreter",
}
# What backends say when a model is valid but needs what they do not have (lower case).
_UNSUPPORTED = ("no op registered", "not a registered function/op", "opset", "ir version", "didn't find op",
                "builtin opcode", "custom op", "unsupported", "not implemented", "could not find an implementation")


def _backend_detail(exc: BaseException) -> str:
    """A backend's message in one line: onnxruntime's error code prefix and C++ source locations left out."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = re.sub(r"\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"\S+\.(?:cc|h|cpp):\d+ .*?\) (?=[A-Z])", "", text)  # /onnxruntime_src/...:46 void f(...) Message
    return text[:300] or type(exc).__name__


_PROBE = """
import sys
import numpy as np
from {module} import {attr} as Interpreter
it = Interpreter(model_content=sys.stdin.buffer.read())
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()
"""


def _probe_in_child(backend: Backend, model_bytes: bytes) -> None:
    """Open and run the model once in a child process first, for a backend that does not verify files.

    Reading a truncated flatbuffer without a verifier is undefined behaviour: the same bytes may
    raise in one process and crash the next. So any failure in the child (a signal, or an
    exception about the model) is a ModelError here, and the model is never opened in-process.
    Failures of the backend itself (it does not import, numpy 2) are left to the in-process open.
    """
    import subprocess
    import sys

    code = _PROBE.format(module=backend.module, attr="Interpreter")
    try:
        done = subprocess.run([sys.executable, "-c", code], input=model_bytes, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return  # cannot probe: open in-process as usual
    if done.returncode == 0:
        return
    if done.returncode < 0:
        raise ModelError(f"it crashed the {backend.package} interpreter (signal {-done.returncode}), which does not "
                         "verify model files")
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    last = lines[-1] if lines else f"exit code {done.returncode}"
    if last.startswith(("SystemError", "ImportError", "ModuleNotFoundError", "AttributeError")):
        return  # the backend is broken, not the model: the in-process open says so
    raise backend._refusal(last.split(": ", 1)[-1])


def _unavailable(message: str, reason: str) -> BackendUnavailableError:
    exc = BackendUnavailableError(message)
    exc.reason = reason  # short form for "tried ..." lists
    return exc


# --------------------------------------------------------------------------- TFLite


class _TFLiteSession(Session):
    """A TFLite interpreter; resizes its input only when the shape of a call changes."""

    def __init__(self, interpreter, backend: str, reopen: Callable | None = None):
        self.backend = backend
        self._it = interpreter
        self._reopen = reopen
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        self.inputs, self.outputs = tuple(map(_tflite_spec, inputs)), tuple(map(_tflite_spec, outputs))
        self.input, self.output = (self.inputs or (None,))[0], (self.outputs or (None,))[0]
        self._in_index = inputs[0]["index"] if inputs else None
        self._out_index = outputs[0]["index"] if outputs else None
        self._shape = tuple(int(d) for d in inputs[0]["shape"]) if inputs else None
        self.batch = _declared_batch(inputs[0].get("shape_signature")) if inputs else None
        self._set, self._invoke, self._get = interpreter.set_tensor, interpreter.invoke, interpreter.get_tensor

    def _call(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self._shape:
            try:
                self._it.resize_tensor_input(self._in_index, list(x.shape), strict=False)
                self._it.allocate_tensors()
            except Exception:
                self._fresh()  # a failed allocation leaves the interpreter unusable: tflite-runtime 2.14 crashed on the next
                raise
            self._shape = x.shape
        self._set(self._in_index, x)
        self._invoke()
        return self._get(self._out_index)


    def _fresh(self) -> None:
        """A new interpreter of the same model, as it was opened."""
        self._shape = None
        if self._reopen is not None:
            self._it = self._reopen()
            self._set, self._invoke, self._get = self._it.set_tensor, self._it.invoke, self._it.get_tensor
            self._shape = tuple(int(d) for d in self._it.get_input_details()[0]["shape"])


def _declared_batch(signature) -> int | None:
    """The batch size a TFLite input's shape signature fixes (None: any, or no signature: older files)."""
    if signature is None or not len(signature) or int(signature[0]) < 1:
        return None
    return int(signature[0])


def _tflite_spec(detail: dict) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    signature = detail.get("shape_signature")
    shape = signature if signature is not None and len(signature) else detail["shape"]
    shape = tuple(int(d) for d in shape)
    if shape:
        shape = (-1,) + shape[1:]
    quantized = bool(scale)
    return TensorSpec(name=str(detail.get("name", "")), shape=shape, dtype=np.dtype(detail["dtype"]),
                      scale=float(scale) if quantized else None, zero_point=int(zero_point) if quantized else None)


def _open_tflite(interpreter_cls: Callable, backend: str, model_bytes: bytes, num_threads: int | None) -> Session:
    def interpreter():
        with quiet_native_stderr(replay_on_error=False):  # "INFO: Created ... XNNPACK delegate" on every load
            opened = interpreter_cls(model_content=model_bytes, num_threads=num_threads)  # model_content: verifier runs
            opened.allocate_tensors()
        return opened

    return _TFLiteSession(interpreter(), backend, reopen=interpreter)



def _open_litert(module, model_bytes, num_threads):
    return _open_tflite(module.Interpreter, "litert", model_bytes, num_threads)


def _open_tflite_runtime(module, model_bytes, num_threads):
    return _open_tflite(module.Interpreter, "tflite-runtime", model_bytes, num_threads)


def _open_tensorflow_lite(module, model_bytes, num_threads):
    return _open_tflite(module.lite.Interpreter, "tensorflow-lite", model_bytes, num_threads)


# --------------------------------------------------------------------------- ONNX

_ONNX_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
                "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64"}


class _OnnxSession(Session):
    backend = "onnxruntime"

    def __init__(self, session):
        self._session = session
        inputs, outputs = session.get_inputs(), session.get_outputs()
        self.inputs, self.outputs = tuple(map(_onnx_spec, inputs)), tuple(map(_onnx_spec, outputs))
        self.input, self.output = (self.inputs or (None,))[0], (self.outputs or (None,))[0]
        self._in_name = inputs[0].name if inputs else None
        self._out_names = [outputs[0].name] if outputs else []
        first = inputs[0].shape[0] if inputs and inputs[0].shape else None
        self.batch = first if isinstance(first, int) and first > 0 else None  # a name or None: any batch

    def _call(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(self._out_names, {self._in_name: x})[0]


def _onnx_spec(arg) -> TensorSpec:
    """A TensorSpec; a value that is no tensor of numbers (a sequence of maps: scikit-learn's probabilities) has
    dtype ``object`` and no shape, and the classifier refuses it by name."""
    dtype = np.dtype(_ONNX_DTYPES.get(arg.type, object))
    shape = tuple(d if isinstance(d, int) and d > 0 else -1 for d in (arg.shape or ())) if dtype.kind != "O" else ()
    if shape:
        shape = (-1,) + shape[1:]
    return TensorSpec(name=arg.name, shape=shape, dtype=dtype, scale=None, zero_point=None)


def _open_onnxruntime(module, model_bytes, num_threads):
    options = module.SessionOptions()
    options.intra_op_num_threads = int(num_threads or 0)
    options.inter_op_num_threads = 1
    options.log_severity_level = 4  # fatal only: a failing run is an exception (a batch fixed inside the graph: logged at 3)
    session = module.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return _OnnxSession(session)


# --------------------------------------------------------------------------- registry

_LITERT = 'pip install "edgedigits-runtime[litert]"'
BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("litert", "tflite", "ai_edge_litert.interpreter", "ai-edge-litert", _LITERT, _open_litert),
        Backend("tflite-runtime", "tflite", "tflite_runtime.interpreter", "tflite-runtime",
                'pip install "edgedigits-runtime[tflite-runtime]" (needs numpy<2)', _open_tflite_runtime, verifies=False),
        Backend("tensorflow-lite", "tflite", "tensorflow", "tensorflow",
                f"{_LITERT} (the light option) or pip install tensorflow", _open_tensorflow_lite),
        Backend("onnxruntime", "onnx", "onnxruntime", "onnxruntime", 'pip install "edgedigits-runtime[onnx]"',
                _open_onnxruntime),
    )
}
# Family -> (what it is called, backends in the order tried, install hint when none is there).
FAMILIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "tflite": ("TFLite interpreter", ("litert", "tflite-runtime", "tensorflow-lite"),
               f'{_LITERT} (or, with numpy<2: pip install "edgedigits-runtime[tflite-runtime]")'),
    "onnx": ("ONNX runtime (onnxruntime)", ("onnxruntime",), 'pip install "edgedigits-runtime[onnx]"'),
}


def select_backend(family: str, name: str | None = None) -> Backend:
    """The backend that will run a model of ``family``.

    Args:
      family: ``"tflite"`` or ``"onnx"`` (what the model file is).
      name: force one backend by its registry name (see :data:`BACKENDS`); None tries them in order.

    Returns:
      The first importable :class:`Backend` of the family (or the one named).

    Raises:
      UsageError: ``name`` is not a backend, or runs another family.
      BackendUnavailableError: nothing installed runs this family (the message says what to pip install).
    """
    if family not in FAMILIES:
        raise UsageError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    what, order, install = FAMILIES[family]
    if name is not None:
        if not isinstance(name, str) or name not in BACKENDS:
            close = difflib.get_close_matches(str(name), list(BACKENDS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"unknown backend {name!r}: {hint}choose one of {', '.join(BACKENDS)}")
        backend = BACKENDS[name]
        if backend.family != family:
            raise UsageError(f"backend {name!r} runs {backend.family} models, not {family}; choose one of {', '.join(order)}")
        backend.load()  # raises BackendUnavailableError with the install command
        return backend
    reasons = []
    for key in order:
        try:
            BACKENDS[key].load()
            return BACKENDS[key]
        except BackendUnavailableError as exc:
            reasons.append(f"{BACKENDS[key].package}: {getattr(exc, 'reason', exc)}")
    raise BackendUnavailableError(f"no {what} works here ({'; '.join(reasons)}): {install}")


def open_model(family: str, model_bytes: bytes, num_threads: int | None = None, name: str | None = None,
               trusted: bool = False) -> Session:
    """Open model bytes in the named backend, or in the first of the family's backends that works.

    A backend that imports but cannot start (tflite-runtime under numpy 2) is skipped
    for the next one; a model the backend rejects is an error at once.

    Args:
      family: ``"tflite"`` or ``"onnx"``.
      model_bytes: the whole model file.
      num_threads: interpreter threads (None: the backend's default).
      name: force one backend (see :func:`select_backend`).
      trusted: the bytes matched their manifest's SHA-256 (backends without a verifier skip the crash probe).

    Returns:
      A :class:`Session`.

    Raises:
      UsageError: unknown or wrong-family ``name``.
      BackendUnavailableError: nothing installed runs this family (says what to pip install).
      ModelError: the backend rejects the bytes (its first line; the caller adds the file name).
    """
    if name is not None:
        return select_backend(family, name).open(model_bytes, num_threads, trusted)
    if family not in FAMILIES:
        raise UsageError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    what, order, install = FAMILIES[family]
    tried = []
    for key in order:  # tensorflow is imported only when the light interpreters are missing or broken
        try:
            return BACKENDS[key].open(model_bytes, num_threads, trusted)
        except BackendUnavailableError as exc:
            tried.append(f"{BACKENDS[key].package}: {getattr(exc, 'reason', exc)}")
    raise BackendUnavailableError(f"no {what} works here ({'; '.join(tried)}): {install}")


def available_backends() -> list[str]:
    """Names of the backends that import here (imports each candidate; tensorflow last and only if needed)."""
    found = []
    for _, order, _ in FAMILIES.values():
        for key in order:
            if key == "tensorflow-lite" and found and BACKENDS[found[-1]].family == "tflite":
                continue  # never import TensorFlow when a light TFLite interpreter is there
            if BACKENDS[key].available():
                found.append(key)
    return found
