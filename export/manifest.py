"""`manifest.json`: what each exported file is, how to feed it, and what it measured.

The schema is fixed in docs/DESIGN.md ("Export folder and manifest"); the
runtime reads it to refuse a file whose bytes changed and to feed inputs right.
"""

from __future__ import annotations

import datetime as _dt
import json
from importlib import metadata
from pathlib import Path

from edgedigits_runtime.fileio import atomic_write_text

__all__ = ["SCHEMA", "MANIFEST_FILE", "REFERENCE_FILE", "LABELS", "PREPROCESSING", "artifact_entry", "build_manifest",
           "write_manifest", "tool_versions"]

SCHEMA = "edgedigits-manifest/1"
MANIFEST_FILE = "manifest.json"
REFERENCE_FILE = "keras_predictions.npy"
LABELS = [str(d) for d in range(10)]
PREPROCESSING = {"layout": "NHWC", "height": 28, "width": 28, "channels": 1,
                 "scale": "x / 255", "polarity": "white-on-black", "range": [0.0, 1.0]}
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
      verification: the :class:`~edgedigits.export.verify.Verification` of the file.
      export_seconds: time taken to convert (QAT fine-tune included for int8).
      notes: format-specific facts (``opset`` for ONNX, QAT details for int8).
    """
    entry = {
        "format": fmt.name, "runtime": fmt.runtime, "sha256": sha256, "size": int(size),
        "input": verification.input, "output": verification.output, "output_kind": "probabilities",
        "accuracy": round(verification.accuracy, 6), "agreement": round(verification.agreement, 6),
        "export_seconds": round(export_seconds, 2),
    }
    entry.update(notes or {})
    return entry


def build_manifest(*, source_run: dict, artifacts: dict, reference: dict | None) -> dict:
    """The whole manifest as a dict (see DESIGN.md for the fields)."""
    manifest = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source_run": source_run,
        "tools": tool_versions(),
        "labels": LABELS,
        "preprocessing": PREPROCESSING,
        "artifacts": artifacts,
    }
    if reference is not None:
        manifest["reference"] = reference
    return manifest


def write_manifest(out_dir: Path, manifest: dict) -> Path:
    """Write ``manifest.json`` into ``out_dir`` atomically and return its path."""
    return atomic_write_text(Path(out_dir) / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
