"""The export's side of ``manifest.json``: entries with what verification measured, and tool versions.

The schema, the file name and the writer belong to the runtime (:mod:`edgedigits_runtime.manifest`),
which reads the manifest on the device to refuse a file whose bytes changed and to feed inputs right.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from edgedigits_runtime import manifest as _runtime_manifest
from edgedigits_runtime.manifest import LABELS, MANIFEST_FILE, PREPROCESSING, REFERENCE_FILE, SCHEMA

__all__ = ["SCHEMA", "MANIFEST_FILE", "REFERENCE_FILE", "LABELS", "PREPROCESSING", "artifact_entry", "build_manifest",
           "write_manifest", "tool_versions"]

_TOOLS = {"edgedigits": "edgedigits", "tensorflow": "tensorflow", "tf_keras": "tf-keras",
          "tfmot": "tensorflow-model-optimization", "tf2onnx": "tf2onnx", "onnxruntime": "onnxruntime",
          "onnx": "onnx", "ai_edge_litert": "ai-edge-litert", "numpy": "numpy"}


def tool_versions() -> dict:
    """Installed versions of the tools that produce and verify artifacts (None when absent)."""
    found = {}
    for key, dist in _TOOLS.items():
        try:
            found[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[key] = None
    return found


def artifact_entry(*, fmt, sha256: str, size: int, verification, export_seconds: float, notes: dict | None = None) -> dict:
    """One ``artifacts`` entry of the manifest.

    Args:
      fmt: the :class:`~edgedigits.export.formats.ExportFormat` row.
      sha256: hex SHA-256 of the file's bytes.
      size: file size in bytes.
      verification: the :class:`~edgedigits.export.verify.Verification` of the file (its input/output
        are the runtime's description of the model).
      export_seconds: time taken to convert (QAT fine-tune included for int8).
      notes: format-specific facts (``opset`` for ONNX, QAT details for int8).
    """
    entry = _runtime_manifest.artifact_entry(
        format=fmt.name, runtime=fmt.runtime, sha256=sha256, size=size, input=verification.input,
        output=verification.output, output_kind="probabilities", accuracy=round(verification.accuracy, 6),
        agreement=round(verification.agreement, 6), export_seconds=round(export_seconds, 2), **(notes or {}))
    if getattr(verification, "reject", None) is not None:
        entry["reject"] = verification.reject
    return entry


def build_manifest(*, source_run: dict, artifacts: dict, reference: dict | None) -> dict:
    """The whole manifest as a dict (see DESIGN.md for the fields), with the tools' versions."""
    return _runtime_manifest.new_manifest(artifacts=artifacts, source_run=source_run, reference=reference,
                                          tools=tool_versions())


def write_manifest(out_dir: Path, manifest: dict) -> Path:
    """Write ``manifest.json`` into ``out_dir`` atomically and return its path."""
    return _runtime_manifest.write_manifest(out_dir, manifest)
