"""The export formats registry: one frozen row per format, as data.

Each row says what the format is called, how its file is named, what it is for,
which runtime family runs it, which gate verifies it and which function
converts the Keras model into its bytes. Callers never branch on names.

Example:

>>> from edgedigits.export.formats import get_format, parse_formats
>>> get_format("int8").filename("edge")
'edge_int8.tflite'
>>> [f.name for f in parse_formats("float32,onnx")]
['float32', 'onnx']
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Callable

from edgedigits.errors import UsageError
from edgedigits.export import convert_onnx, convert_tflite, micro

__all__ = ["ExportFormat", "FORMATS", "DEFAULT_FORMATS", "GATES", "get_format", "parse_formats", "list_formats", "formats_table"]

# Gate kinds: "accuracy" (quantized: absolute test accuracy and drop from the Keras model)
# and "agreement" (float: same top-1 prediction as the Keras model on the test set).
GATES = ("accuracy", "agreement")


@dataclasses.dataclass(frozen=True)
class ExportFormat:
    """One registry row.

    Attributes:
      name: the key used on the command line (``--formats``) and in the manifest.
      pattern: file name, ``{arch}`` replaced by the run's architecture.
      summary: what the format is for, one line (shown in ``edgedigits export --help``).
      runtime: ``"tflite"`` or ``"onnx"``: the backend family that runs it.
      gate: ``"accuracy"`` (quantized formats) or ``"agreement"`` (float formats).
      convert: ``convert(ctx) -> bytes``, the model's bytes; see :mod:`edgedigits.export.convert_tflite`.
      verify: ``verify(data, fmt, images, labels, reference, name) -> Verification``; None (the
        default): through the runtime, :func:`edgedigits.export.verify.evaluate`.
      write: ``write(path, data, ctx) -> Path``, what lands in the export folder at ``path``
        (``pattern`` filled in); None (the default): the bytes as one file. A format whose
        artifact is a folder (a source pack, ...) writes it here, atomically.

    Everything else (the ``--<name>`` flag, ``--formats`` names, help, tests, the docs table)
    comes from the rows: a new format is a converter, a row, and a line in docs/DESIGN.md.
    """

    name: str
    pattern: str
    summary: str
    runtime: str
    gate: str
    convert: Callable
    verify: Callable | None = None
    write: Callable | None = None

    def filename(self, arch: str) -> str:
        """The artifact's file (or folder) name for a run of architecture ``arch``."""
        return self.pattern.format(arch=arch)

    @property
    def suffix(self) -> str:
        """What every artifact of this format ends with (``pattern`` after ``{arch}``)."""
        return self.pattern.rsplit("{arch}", 1)[-1]


_ROWS = (
    ExportFormat("int8", "{arch}_int8.tflite",
                 "QAT fine-tune (tfmot), then full-integer TFLite, int8 in/out: the Raspberry Pi model",
                 "tflite", "accuracy", convert_tflite.int8_qat),
    ExportFormat("ptq", "{arch}_ptq_int8.tflite",
                 "post-training full-integer TFLite, int8 in/out (to compare with QAT)",
                 "tflite", "accuracy", convert_tflite.int8_ptq),
    ExportFormat("float32", "{arch}_float32.tflite",
                 "plain float32 TFLite: the int8 model's float twin (size, speed, accuracy)",
                 "tflite", "agreement", convert_tflite.float32),
    ExportFormat("float16", "{arch}_float16.tflite",
                 "float16 weights (half the size), float32 compute on CPU",
                 "tflite", "agreement", convert_tflite.float16),
    ExportFormat("dynamic", "{arch}_dynamic.tflite",
                 "dynamic range: int8 weights, float activations; no calibration data needed",
                 "tflite", "accuracy", convert_tflite.dynamic_range),
    ExportFormat("onnx", "{arch}_float32.onnx",
                 f"ONNX float32 via tf2onnx (opset {convert_onnx.OPSET}, dynamic batch) for onnxruntime",
                 "onnx", "agreement", convert_onnx.float32),
    ExportFormat("onnx-int8", "{arch}_int8.onnx",
                 "ONNX int8 (QDQ, per-channel) by onnxruntime static quantization, calibrated on training data",
                 "onnx", "accuracy", convert_onnx.int8_static),
    ExportFormat("micro", "{arch}_micro",
                 "microcontroller source pack for TensorFlow Lite Micro (folder): the int8 model as a C++ array, "
                 "its op resolver, the arena measured in TFLM, a board-fit table; checked in TFLM on the test set",
                 "tflite", "accuracy", micro.convert, write=micro.write),
)

FORMATS: dict[str, ExportFormat] = {row.name: row for row in _ROWS}

# The default set: the Pi model, its float twin (the honest reference for size, speed and
# accuracy) and ONNX for machines that run onnxruntime. PTQ, float16, dynamic and ONNX
# int8 are comparisons, asked for by name.
DEFAULT_FORMATS = ("int8", "float32", "onnx")


def list_formats() -> list[str]:
    """Format names in registry order."""
    return list(FORMATS)


def get_format(name: str) -> ExportFormat:
    """Look up a format by name.

    Raises:
      UsageError: unknown name; the message suggests the closest one.
    """
    try:
        return FORMATS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), FORMATS, n=1, cutoff=0.4)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(f"unknown export format {name!r}; {hint}choose from: {', '.join(FORMATS)}") from None


def parse_formats(text: str | list[str] | tuple[str, ...]) -> list[ExportFormat]:
    """Formats from ``"a,b"`` or a list of names, in registry order, without duplicates.

    Raises:
      UsageError: an unknown name, or an empty list.
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        raise UsageError(f"no export format given; choose from: {', '.join(FORMATS)}")
    wanted = {get_format(n).name for n in names}
    return [row for row in FORMATS.values() if row.name in wanted]


def formats_table(arch: str = "<arch>", width: int = 76) -> str:
    """The registry as a plain-text table (format, file, what it is for), wrapped to ``width``."""
    import textwrap

    indent = " " * 34
    lines = [f"{'format':10s} {'file':22s} what it is for"]
    for row in FORMATS.values():
        default = " (default)" if row.name in DEFAULT_FORMATS else ""
        text = f"{row.name:10s} {row.filename(arch):22s} {row.summary}{default}"
        lines += textwrap.wrap(text, width=width, subsequent_indent=indent)
    return "\n".join(lines)
