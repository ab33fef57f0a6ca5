"""Embed each artifact's integrity record inside the artifact (read back by :mod:`edgedigits_runtime.record`).

A ``.tflite`` gets a ``metadata`` entry named ``edgedigits_record`` pointing at a new
buffer that holds the framed record (LiteRT, tflite-runtime and TFLM ignore metadata they
do not know, and the flatbuffer still passes their verifiers); an ``.onnx`` gets a
``metadata_props`` entry of the same name. The record is then sealed: its SHA-256 covers
the whole file. Embedding changes no weight and no operator: the exporter checks that the
file with its record gives the same outputs as without.

Example:

>>> data = embed_record(tflite_bytes, "tflite", {"entry": entry})   # doctest: +SKIP
>>> read_record(data).matches                                      # doctest: +SKIP
True
"""

from __future__ import annotations

from edgedigits.errors import ExportError
from edgedigits_runtime.record import RECORD_NAME, frame_record, read_record, seal_record

__all__ = ["embed_record", "record_document"]

# The manifest entry's fields that describe the file as a whole (so cannot be inside it).
_WHOLE_FILE_FIELDS = ("sha256", "size")
# Prose kept in manifest.json only: how a rule was chosen, in words (the reject rule's ``chosen_on``, ~450 bytes).
# The record keeps every figure and every field the runtime reads, so a file copied alone verifies and classifies
# exactly as with its manifest; the words would be ~3% of a `tiny` int8 file, and flash on a microcontroller.
_MANIFEST_ONLY = {"reject": ("chosen_on",)}


def record_document(entry: dict, manifest_fields: dict) -> dict:
    """The record to embed: the manifest entry (minus whole-file hash and size, and prose) and shared facts.

    The prose left out (:data:`_MANIFEST_ONLY`, e.g. the reject rule's ``chosen_on``) stays in ``manifest.json``.
    Records written before with it still read and verify: the reader needs no particular entry field.

    Args:
      entry: the artifact's manifest entry.
      manifest_fields: top-level manifest facts a lone file should still carry
        (``labels``, ``preprocessing``, ``tools``, ``source_run``).

    Returns:
      The JSON-able document for :func:`embed_record` (``entry`` is a new dict; ``entry`` is not modified).
    """
    document = {key: value for key, value in manifest_fields.items() if value is not None}
    document["entry"] = {key: _without_prose(key, value) for key, value in entry.items() if key not in _WHOLE_FILE_FIELDS}
    document["covers"] = "the whole file, with this record's 64-character SHA-256 field read as zeros"
    return document


def _without_prose(key: str, value):
    """An entry field without its manifest-only prose (a new dict; other values unchanged)."""
    if key in _MANIFEST_ONLY and isinstance(value, dict):
        return {name: item for name, item in value.items() if name not in _MANIFEST_ONLY[key]}
    return value


def embed_record(data: bytes, runtime: str, document: dict) -> bytes:
    """Put a sealed integrity record into an artifact's bytes.

    Args:
      data: the artifact as converted (no record yet).
      runtime: ``"tflite"`` or ``"onnx"``.
      document: see :func:`record_document`.

    Returns:
      The artifact's bytes with the record inside; they run exactly as ``data`` does.

    Raises:
      ExportError: the artifact cannot be parsed, already carries a record, or ``runtime`` is unknown.
    """
    if read_record(data).status != "absent":
        raise ExportError("the converted model already carries an edgedigits integrity record")
    framed = frame_record(document)
    if runtime == "tflite":
        unsealed = _tflite_with_metadata(data, framed)
    elif runtime == "onnx":
        unsealed = _onnx_with_metadata(data, framed)
    else:
        raise ExportError(f"no way to embed a record in a {runtime!r} artifact")
    sealed = seal_record(unsealed)
    if not read_record(sealed).matches:  # pragma: no cover - would be a bug in the framing
        raise ExportError("the embedded integrity record does not verify")
    return sealed


def _tflite_with_metadata(data: bytes, framed: bytes) -> bytes:
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    try:
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    except Exception as exc:  # noqa: BLE001 (flatbuffers raises anything on bad bytes)
        raise ExportError(f"cannot parse the TFLite flatbuffer to add its record: {exc}") from None
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(framed, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = RECORD_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _onnx_with_metadata(data: bytes, framed: bytes) -> bytes:
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"cannot parse the ONNX model to add its record: {exc}") from None
    prop = model.metadata_props.add()
    prop.key, prop.value = RECORD_NAME, framed.decode("ascii")
    return model.SerializeToString()
