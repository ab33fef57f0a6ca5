"""ONNX converters: float32 through tf2onnx, int8 through onnxruntime static quantization.

The ONNX models take the same input as every other artifact: NHWC float32 in
[0, 1], batch dimension dynamic (named ``batch``), input named ``input``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

__all__ = ["OPSET", "INPUT_NAME", "float32", "int8_static"]

OPSET = 17
INPUT_NAME = "input"
_CALIBRATION_BATCH = 50


def float32(ctx) -> bytes:
    """tf2onnx conversion of the trained model (opset :data:`OPSET`, dynamic batch)."""
    if "onnx_float32" in ctx.cache:
        return ctx.cache["onnx_float32"]
    import tf2onnx

    tf = ctx.tf
    spec = [tf.TensorSpec((None, 28, 28, 1), tf.float32, name=INPUT_NAME)]
    proto, _ = tf2onnx.convert.from_keras(ctx.model, input_signature=spec, opset=OPSET)
    for value in (*proto.graph.input, *proto.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.HasField("dim_value"):
            dim.dim_param = "batch"
    data = proto.SerializeToString()
    ctx.cache["onnx_float32"] = data
    ctx.notes.setdefault("onnx", {})["opset"] = OPSET
    return data


def int8_static(ctx) -> bytes:
    """QDQ int8 (per-channel weights, int8 activations) calibrated on training images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calibration = ctx.calibration

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter(range(0, len(calibration), _CALIBRATION_BATCH))

        def get_next(self):
            start = next(self._batches, None)
            if start is None:
                return None
            return {INPUT_NAME: np.ascontiguousarray(calibration[start : start + _CALIBRATION_BATCH])}

    with tempfile.TemporaryDirectory(prefix="edgedigits-onnx-") as tmp:
        src, pre, dst = (Path(tmp) / name for name in ("float.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(float32(ctx))
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(dst), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        data = dst.read_bytes()
    ctx.notes["onnx-int8"] = {"opset": OPSET, "quant_format": "QDQ", "per_channel": True,
                              "calibration_images": int(len(calibration))}
    return data
