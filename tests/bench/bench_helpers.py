"""Tiny models for the bench tests: built and converted here, with a manifest written as export would; and the
figure scripts of ``benchmarks/figures`` imported for their tests."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

FIGURES = Path(__file__).resolve().parents[2] / "benchmarks" / "figures"


def figure_script(name: str, monkeypatch=None):
    """``benchmarks/figures/<name>.py`` imported as a module (the scripts are not a package). With ``monkeypatch``,
    their folder is on ``sys.path`` for the test: scripts that import their sibling scripts need it."""
    if monkeypatch is not None:
        monkeypatch.syspath_prepend(str(FIGURES))
    spec = importlib.util.spec_from_file_location(name, FIGURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_model(keras, x=None, y=None, epochs: int = 0):
    """A 2-conv CNN with the project's input/output convention; trained briefly if data is given."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    h = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    if epochs:
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model


def to_tflite(tf, model, int8: bool = False, calibration=None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i : i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def to_onnx(tf, model) -> bytes:
    import tf2onnx

    spec = [tf.TensorSpec((None, 28, 28, 1), tf.float32, name="input")]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
    return proto.SerializeToString()


def _io(data: bytes, runtime: str) -> tuple[dict, dict]:
    if runtime == "onnx":
        float_io = {"name": "input", "shape": [-1, 28, 28, 1], "dtype": "float32", "scale": None, "zero_point": None}
        return float_io, dict(float_io, name="output", shape=[-1, 10])
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data)
    details = []
    for d in (it.get_input_details()[0], it.get_output_details()[0]):
        scale, zp = d["quantization"]
        details.append({"name": d["name"], "shape": [-1, *map(int, d["shape"][1:])], "dtype": np.dtype(d["dtype"]).name,
                        "scale": float(scale) if scale else None, "zero_point": int(zp) if scale else None})
    return details[0], details[1]


def write_export(folder: Path, files: dict, reference: np.ndarray | None = None) -> Path:
    """Write ``{file name: (format, runtime, bytes)}`` and a manifest into ``folder``, as export would."""
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, (fmt, runtime, data) in files.items():
        (folder / name).write_bytes(data)
        inp, out = _io(data, runtime)
        artifacts[name] = {"format": fmt, "runtime": runtime, "sha256": hashlib.sha256(data).hexdigest(),
                           "size": len(data), "input": inp, "output": out, "output_kind": "probabilities",
                           "accuracy": None, "agreement": None, "export_seconds": 0.0}
    manifest = {"schema": "edgedigits-manifest/1", "created": "2026-01-01T00:00:00Z",
                "source_run": {"path": str(folder.parent), "arch": "tiny"}, "tools": {},
                "labels": [str(d) for d in range(10)],
                "preprocessing": {"layout": "NHWC", "height": 28, "width": 28, "channels": 1, "scale": "x / 255",
                                  "polarity": "white-on-black", "range": [0.0, 1.0]},
                "artifacts": artifacts}
    if reference is not None:
        np.save(folder / "keras_predictions.npy", reference.astype(np.uint8))
        data = (folder / "keras_predictions.npy").read_bytes()
        manifest["reference"] = {"file": "keras_predictions.npy", "sha256": hashlib.sha256(data).hexdigest(),
                                 "what": "Keras top-1 on the MNIST test set"}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder
