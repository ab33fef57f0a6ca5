"""A stand-in for ``edgedigits_runtime.DigitClassifier`` (DESIGN.md "Runtime API"), used only while
the real one is not installed, so the bench tests run against the contract.

It loads the manifest beside the model, checks the SHA-256, quantizes inputs as the
manifest says and runs ai-edge-litert or onnxruntime: the contract's behaviour, not its code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from edgedigits_runtime.errors import BackendUnavailableError, ModelError, ModelIntegrityError


class FakeClassifier:
    def __init__(self, path, manifest=None, num_threads=None, backend=None):
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read {self.path}: {exc}") from None
        entry = {}
        beside = self.path.parent / "manifest.json"
        if beside.is_file():
            entry = json.loads(beside.read_text())["artifacts"].get(self.path.name, {})
            if entry and hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ModelIntegrityError(f"{self.path} does not match its SHA-256 in {beside}; re-export it")
        self.runtime = "onnx" if self.path.suffix == ".onnx" else "tflite"
        try:
            if self.runtime == "onnx":
                try:
                    import onnxruntime as ort
                except ImportError:
                    raise BackendUnavailableError("no ONNX runtime: pip install onnxruntime") from None

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = num_threads or 0
                self._sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
                inp = self._sess.get_inputs()[0]
                self._in = {"dtype": "float32" if "float" in inp.type else "int8", "scale": None, "zero_point": None}
            else:
                try:
                    from ai_edge_litert.interpreter import Interpreter
                except ImportError:
                    raise BackendUnavailableError("no TFLite interpreter: pip install ai-edge-litert") from None
                self._it = Interpreter(model_content=data, num_threads=num_threads)
                self._it.allocate_tensors()
                d = self._it.get_input_details()[0]
                scale, zp = d["quantization"]
                self._in = {"dtype": np.dtype(d["dtype"]).name, "scale": scale or None, "zero_point": zp}
                self._batch = None
        except (BackendUnavailableError, ModelError):
            raise
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{self.path} is not a valid {self.runtime} model: {str(exc).splitlines()[0]}") from None
        self.info = {"path": str(self.path), "format": entry.get("format", self.runtime), "backend": f"fake-{self.runtime}"}

    def _input(self, images):
        x = np.asarray(images)
        if x.ndim == 2:
            x = x[None]
        x = x.reshape(-1, 28, 28, 1).astype(np.float32) / 255.0
        if self._in["scale"]:
            info = np.iinfo(self._in["dtype"])
            x = np.clip(np.round(x / self._in["scale"]) + self._in["zero_point"], info.min, info.max)
        return x.astype(self._in["dtype"])

    def predict_proba(self, images):
        x = self._input(images)
        if self.runtime == "onnx":
            out = self._sess.run(None, {self._sess.get_inputs()[0].name: x})[0]
        else:
            d = self._it.get_input_details()[0]
            if self._batch != len(x):
                self._it.resize_tensor_input(d["index"], list(x.shape))
                self._it.allocate_tensors()
                self._batch = len(x)
            self._it.set_tensor(d["index"], x)
            self._it.invoke()
            o = self._it.get_output_details()[0]
            out = self._it.get_tensor(o["index"])
            scale, zp = o["quantization"]
            if scale:
                out = (out.astype(np.float32) - zp) * scale
        return np.asarray(out, dtype=np.float32)

    def predict(self, images):
        return self.predict_proba(images).argmax(axis=1).astype(np.int64)
