"""The integrity record an exported model carries inside itself, so a file copied alone still verifies.

``edgedigits export`` writes into every artifact one framed, ASCII record::

    <edgedigits-record sha256=HEX64>{"schema": "edgedigits-record/1", "entry": {...}, ...}</edgedigits-record>

It sits where each format keeps extra data: a TFLite ``metadata`` entry named
``edgedigits_record`` (its bytes in a flatbuffer buffer), an ONNX ``metadata_props`` entry of
the same name, the microcontroller pack's model array. ``entry`` is the file's manifest entry
(format, input/output details, accuracy, reject rule, ...) without its prose (``chosen_on`` stays in the
manifest; the reader needs no particular field); ``HEX64`` is the SHA-256 of the *whole file*
with those 64 characters written as ``0``: every byte is covered, the record included.

Reading needs no format parser (and no TensorFlow): the record is found by its frame, and
the frame's name ``edgedigits-record`` appears three times (open tag, schema, close tag), so
one damaged byte cannot make a record look absent. The outcomes:

- ``absent``: none of it is there (a third-party model): it runs unverified, or strict refuses it;
- ``damaged``: parts are there but it does not parse: the file was corrupted, refuse it;
- ``ok``: it parses; ``matches`` tells whether the file's bytes are the ones it recorded.

Example:

>>> record = read_record(Path("edge_int8.tflite").read_bytes())   # doctest: +SKIP
>>> record.status, record.matches, record.entry["format"]          # doctest: +SKIP
('ok', True, 'int8')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

from edgedigits_runtime.errors import ModelError

__all__ = ["RECORD_SCHEMA", "RECORD_NAME", "EmbeddedRecord", "frame_record", "seal_record", "read_record"]

RECORD_SCHEMA = "edgedigits-record/1"
RECORD_NAME = "edgedigits_record"  # TFLite metadata name, ONNX metadata_props key
_MARK = b"edgedigits-record"
_OPEN = b"<edgedigits-record sha256="
_CLOSE = b"</edgedigits-record>"
_UNSEALED = b"0" * 64
_MAX_RECORD = 1 << 16  # a record is a few KB; never parse more than this
_HEX64 = re.compile(rb"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class EmbeddedRecord:
    """What a model file says about itself.

    Attributes:
      status: ``"ok"``, ``"damaged"`` or ``"absent"``.
      document: the record's JSON (``schema``, ``entry``, ``labels``, ...) when ``ok``.
      recorded: the SHA-256 written in the record (hex) when ``ok``.
      actual: the SHA-256 of the file's bytes as the record covers them (hex) when ``ok``.
      problem: what is wrong, when ``damaged``.
    """

    status: str
    document: dict | None = None
    recorded: str | None = None
    actual: str | None = None
    problem: str | None = None

    @property
    def matches(self) -> bool:
        """The record is intact and the file's bytes are those it recorded."""
        return self.status == "ok" and self.recorded == self.actual

    @property
    def entry(self) -> dict | None:
        """The manifest entry carried in the record (None unless ``ok``)."""
        return self.document["entry"] if self.status == "ok" else None


def frame_record(document: dict) -> bytes:
    """The framed, unsealed record for ``document`` (to embed, then :func:`seal_record`).

    Example:

    >>> frame_record({"entry": {"format": "int8"}})[:27]
    b'<edgedigits-record sha256=0'

    Args:
      document: JSON-able dict with an ``"entry"`` dict; ``"schema"`` is set here.

    Raises:
      ModelError: ``document`` has no ``entry`` dict or is too large.
    """
    if not isinstance(document, dict) or not isinstance(document.get("entry"), dict):
        raise ModelError("an integrity record needs an 'entry' dict (the file's manifest entry)")
    body = json.dumps({"schema": RECORD_SCHEMA, **document}, sort_keys=True, ensure_ascii=True,
                      separators=(",", ":")).encode("ascii")
    framed = _OPEN + _UNSEALED + b">" + body + _CLOSE
    if len(framed) > _MAX_RECORD:
        raise ModelError(f"the integrity record is {len(framed)} bytes; at most {_MAX_RECORD} fit")
    return framed


def seal_record(data: bytes) -> bytes:
    """Write the SHA-256 into the one unsealed record embedded in ``data``.

    Example:

    >>> sealed = seal_record(b"model" + frame_record({"entry": {}}))
    >>> read_record(sealed).matches
    True

    Args:
      data: a whole model file that embeds exactly one :func:`frame_record` output verbatim.

    Returns:
      The same bytes with the digest filled in (same length).

    Raises:
      ModelError: no unsealed record, or more than one record.
    """
    start = data.find(_OPEN)
    if start < 0 or data.find(_OPEN, start + 1) >= 0:
        raise ModelError("the file must embed exactly one integrity record to seal")
    at = start + len(_OPEN)
    if data[at : at + 64] != _UNSEALED:
        raise ModelError("the embedded integrity record is already sealed")
    digest = hashlib.sha256(data).hexdigest().encode("ascii")  # the digest field is zeros now
    return data[:at] + digest + data[at + 64 :]


def read_record(data: bytes) -> EmbeddedRecord:
    """Find, parse and check the record embedded in a model file's bytes.

    Example:

    >>> read_record(b"no record here").status
    'absent'

    Args:
      data: the whole file.

    Returns:
      An :class:`EmbeddedRecord` (never raises on bad bytes: that is ``damaged``).
    """
    if data.find(_MARK) < 0:
        return EmbeddedRecord("absent")
    start, end = data.find(_OPEN), data.find(_CLOSE)
    if start < 0 or end < 0:
        which = "start" if start < 0 else "end"
        return _damaged(f"its {which} marker is missing")
    if data.find(_OPEN, start + 1) >= 0 or data.find(_CLOSE, end + 1) >= 0:
        return _damaged("it appears more than once")
    at = start + len(_OPEN)
    if not at + 65 <= end <= start + _MAX_RECORD:
        return _damaged("its markers are out of place")
    recorded = data[at : at + 64]
    if not _HEX64.match(recorded) or recorded == _UNSEALED or data[at + 64 : at + 65] != b">":
        return _damaged("its SHA-256 field is not 64 hex digits")
    try:
        document = json.loads(data[at + 65 : end].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return _damaged("its JSON does not parse")
    if not isinstance(document, dict) or document.get("schema") != RECORD_SCHEMA or not isinstance(document.get("entry"), dict):
        return _damaged(f"it is not an {RECORD_SCHEMA} record")
    actual = hashlib.sha256(b"".join((data[:at], _UNSEALED, data[at + 64 :]))).hexdigest()
    return EmbeddedRecord("ok", document=document, recorded=recorded.decode("ascii"), actual=actual)


def _damaged(problem: str) -> EmbeddedRecord:
    return EmbeddedRecord("damaged", problem=problem)
