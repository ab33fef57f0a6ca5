"""Read a model file and tell what it is from its bytes, not its name.

A TFLite flatbuffer carries the identifier ``TFL3`` at byte offset 4. An ONNX file is
a protobuf ``ModelProto`` that starts with field 1 (``ir_version``, tag byte ``0x08``);
onnxruntime parses it for real when it is opened. Anything else (an image, a Keras
archive, an empty or HDF5 file, ...) is a :class:`~edgedigits_runtime.errors.ModelError`
that names the file and says what it looks like.

Example:

>>> data, family = read_model("edge_int8.tflite")   # doctest: +SKIP
>>> family
'tflite'
"""

from __future__ import annotations

import os
from pathlib import Path

from edgedigits_runtime.errors import ModelError, UsageError
from edgedigits_runtime.fileio import read_at_most

__all__ = ["MAX_MODEL_BYTES", "model_path", "read_model", "sniff"]

MAX_MODEL_BYTES = 256 << 20  # larger files are refused unread (the shipped models are 47 KB and 126 KB): /dev/zero

# Leading bytes of common files that are not models -> what to call them.
_NOT_MODELS = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"PK\x03\x04", "a zip archive (a .keras model? convert it with `edgedigits export`)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 model? convert it with `edgedigits export`)"),
    (b"\x1f\x8b", "a gzip file (decompress it first)"),
    (b"%PDF", "a PDF document"),
    (b"\x93NUMPY", "a numpy .npy array"),
)
_HINT = "pass a .tflite or .onnx file made by `edgedigits export`"


def sniff(data: bytes) -> str | None:
    """``"tflite"``, ``"onnx"`` or None, from the first bytes of a file."""
    if len(data) >= 8 and data[4:8] == b"TFL3":
        return "tflite"
    if data[:1] == b"\x08":  # protobuf field 1, varint: ModelProto.ir_version
        return "onnx"
    return None


def _describe(data: bytes) -> str:
    for magic, what in _NOT_MODELS:
        if data.startswith(magic):
            return what
    head = data[:64].lstrip()
    if head[:1] in (b"{", b"["):
        return "a JSON/text file"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file"
    return "neither TFLite (no 'TFL3' identifier at byte 4) nor ONNX"


def model_path(path) -> Path:
    """``path`` as a Path, refused with a :class:`~edgedigits_runtime.errors.UsageError` when it is not a path.

    Raises:
      UsageError: None, a number, the model's bytes, ... (says what to pass instead).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"a model must be given as the path of a .tflite or .onnx file; got {type(path).__name__} "
                         "(the shipped one: load_default() / load_reader(); a model's bytes: from_bytes(data))")
    return Path(path)


def read_model(path: str | os.PathLike) -> tuple[bytes, str]:
    """Read a model file and tell its family.

    Args:
      path: a ``.tflite`` or ``.onnx`` file (the name's suffix is not trusted).

    Returns:
      ``(bytes, family)`` with family ``"tflite"`` or ``"onnx"``.

    Raises:
      ModelError: the file is missing, a folder, unreadable, empty, larger than :data:`MAX_MODEL_BYTES`, or
        another kind of file.
      UsageError: ``path`` is not a path (see :func:`model_path`).
    """
    path = model_path(path)
    if not path.exists():
        raise ModelError(f"model file {path} not found: check the path, or {_HINT}")
    if path.is_dir():
        raise ModelError(f"model path {path} is a folder: {_HINT}")
    try:
        data = read_at_most(path, MAX_MODEL_BYTES)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if data is None:
        raise ModelError(f"model file {path} holds more than {MAX_MODEL_BYTES >> 20} MB: not a model for this runtime "
                         f"(a device or an endless stream?); {_HINT}")
    if not data:
        raise ModelError(f"model file {path} is empty (0 bytes): re-copy or re-export it")
    family = sniff(data)
    if family is None:
        raise ModelError(f"{path} is not a model: it is {_describe(data)}; {_HINT}")
    return data, family
