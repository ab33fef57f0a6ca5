"""Load an artifact back in its own runtime, evaluate it, and hold it to its gate.

TFLite models run through ai-edge-litert and ONNX models through onnxruntime,
from their bytes, on the full MNIST test set in batches: what is measured here
is what the device will run. Inputs are fed exactly as the manifest says
(float32 ``x / 255``, or int8 ``round(x / scale) + zero_point``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edgedigits.errors import ExportError, GateError
from edgedigits_runtime._native import quiet_native_stderr

__all__ = ["Verification", "evaluate", "check_gate", "quantize_input"]

_BATCH = 500


@dataclasses.dataclass
class Verification:
    """What loading an artifact back showed.

    Attributes:
      accuracy: top-1 accuracy on the test images.
      agreement: share of test images where its top-1 equals the Keras model's.
      input: ``{"name", "shape", "dtype", "scale", "zero_point"}`` of the model input.
      output: the same for the output.
      predictions: its top-1 predictions (N,).
    """

    accuracy: float
    agreement: float
    input: dict
    output: dict
    predictions: np.ndarray


def quantize_input(images_u8: np.ndarray, dtype: str, scale, zero_point) -> np.ndarray:
    """uint8 (N, 28, 28) -> the model's input (N, 28, 28, 1): float32 x/255, or quantized."""
    x = images_u8.astype(np.float32)[..., None] / np.float32(255.0)
    if scale is None:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / np.float32(scale)) + zero_point, info.min, info.max).astype(dtype)


def evaluate(data: bytes, runtime: str, images: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> Verification:
    """Run an artifact's bytes on ``images`` and compare with ``labels`` and ``reference``.

    Args:
      data: the artifact's bytes.
      runtime: ``"tflite"`` or ``"onnx"``.
      images: uint8 (N, 28, 28).
      labels: true labels (N,).
      reference: the Keras model's top-1 predictions (N,).

    Raises:
      ExportError: the runtime cannot load or run the artifact.
    """
    runner = {"tflite": _TFLiteRunner, "onnx": _OnnxRunner}[runtime]
    try:
        model = runner(data)
        predictions = np.concatenate([model.predict(images[i : i + _BATCH]).argmax(axis=1)
                                      for i in range(0, len(images), _BATCH)])
    except Exception as exc:  # noqa: BLE001 (the runtimes raise their own types)
        raise ExportError(f"the converted {runtime} model does not run in its runtime: {_first_line(exc)}") from None
    return Verification(accuracy=float((predictions == labels).mean()),
                        agreement=float((predictions == reference).mean()),
                        input=model.input, output=model.output, predictions=predictions)


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _tensor(name, shape, dtype, scale=None, zero_point=None) -> dict:
    return {"name": name, "shape": [int(d) for d in shape], "dtype": np.dtype(dtype).name,
            "scale": scale, "zero_point": zero_point}


class _TFLiteRunner:
    def __init__(self, data: bytes):
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

        with quiet_native_stderr(replay_on_error=False):  # "INFO: Created ... XNNPACK delegate", at the first allocation
            self._interp = Interpreter(model_content=data, num_threads=1)
            self._interp.allocate_tensors()
        self._in, self._out = self._interp.get_input_details()[0], self._interp.get_output_details()[0]
        self.input, self.output = self._describe(self._in), self._describe(self._out)
        self._batch = None

    @staticmethod
    def _describe(detail) -> dict:
        scale, zero_point = detail["quantization"]
        quantized = scale != 0.0
        return _tensor(detail["name"], detail["shape_signature"], detail["dtype"],
                       float(scale) if quantized else None, int(zero_point) if quantized else None)

    def predict(self, images_u8: np.ndarray) -> np.ndarray:
        if self._batch != len(images_u8):
            self._interp.resize_tensor_input(self._in["index"], [len(images_u8), 28, 28, 1])
            self._interp.allocate_tensors()
            self._batch = len(images_u8)
        i = self.input
        self._interp.set_tensor(self._in["index"], quantize_input(images_u8, i["dtype"], i["scale"], i["zero_point"]))
        self._interp.invoke()
        out = self._interp.get_tensor(self._out["index"])
        o = self.output
        return out if o["scale"] is None else (out.astype(np.float32) - o["zero_point"]) * o["scale"]


class _OnnxRunner:
    def __init__(self, data: bytes):
        import onnxruntime as ort  # noqa: PLC0415

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own (non-public) exception types
            raise RuntimeError(_first_line(exc)) from None
        i, o = self._session.get_inputs()[0], self._session.get_outputs()[0]
        dtypes = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}
        self.input = _tensor(i.name, [d if isinstance(d, int) else -1 for d in i.shape], dtypes[i.type])
        self.output = _tensor(o.name, [d if isinstance(d, int) else -1 for d in o.shape], dtypes[o.type])

    def predict(self, images_u8: np.ndarray) -> np.ndarray:
        x = quantize_input(images_u8, self.input["dtype"], None, None)
        return self._session.run([self.output["name"]], {self.input["name"]: x})[0]
