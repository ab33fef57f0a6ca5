"""Which files to benchmark: artifacts listed by an export's manifest, or model files named directly.

A target is a run folder (its ``export/manifest.json`` lists the artifacts), an
export folder (holding ``manifest.json``), or a model file. Problems with the
command itself (a path that does not exist, a folder with nothing to benchmark)
raise at once; problems with one artifact (missing, corrupted, no runtime) become
that artifact's error row later, and the rest still runs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from edgedigits.errors import RunError, UsageError
from edgedigits.runs import EXPORT_DIR
from edgedigits_runtime.fileio import sha256_file
from edgedigits_runtime.manifest import MANIFEST_FILE

__all__ = ["Artifact", "resolve_targets", "load_reference", "MODEL_SUFFIXES"]

# File suffix -> the backend family that runs it (for files outside any manifest).
MODEL_SUFFIXES = {".tflite": "tflite", ".onnx": "onnx"}


@dataclasses.dataclass
class Artifact:
    """One model file to benchmark.

    Attributes:
      path: the model file.
      format: the export format name from the manifest (``int8``, ``float32``, ...), or the
        file's suffix when there is no manifest entry.
      runtime: ``"tflite"`` or ``"onnx"``.
      entry: its manifest entry (None without a manifest).
      manifest: path of the manifest describing it (None without one).
      reference: path of the Keras model's test-set predictions, when the manifest names one.
      reference_sha256: that file's recorded SHA-256.
      problem: why it cannot be benchmarked, found while resolving (e.g. listed but missing).
    """

    path: Path
    format: str
    runtime: str
    entry: dict | None = None
    manifest: Path | None = None
    reference: Path | None = None
    reference_sha256: str | None = None
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


def resolve_targets(targets: list[str]) -> tuple[list[Artifact], Path | None]:
    """Expand the command's targets into artifacts.

    Args:
      targets: run folders, export folders or model files.

    Returns:
      ``(artifacts, run_dir)``: the artifacts in target order (a manifest's in its own
      order), and the run folder when exactly one run or export folder was named (where
      the report goes by default), else None.

    Raises:
      UsageError: a target does not exist, or a file is not a model file.
      RunError: a folder holds nothing to benchmark (no manifest, or an empty one).
    """
    artifacts: list[Artifact] = []
    run_dirs = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            manifest, run_dir = _find_manifest(path)
            artifacts += _from_manifest(manifest)
            run_dirs.append(run_dir)
        elif path.is_file():
            artifacts.append(_from_file(path))
        else:
            raise UsageError(f"{target} does not exist; name a run folder, an export folder, or a .tflite/.onnx file")
    seen, unique = set(), []
    for artifact in artifacts:
        key = artifact.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(artifact)
    run_dir = run_dirs[0] if len(run_dirs) == 1 and len(targets) == 1 else None
    return unique, run_dir


def _find_manifest(folder: Path) -> tuple[Path, Path]:
    if (folder / MANIFEST_FILE).is_file():
        run_dir = folder.parent if folder.name == EXPORT_DIR else folder
        return folder / MANIFEST_FILE, run_dir
    if (folder / EXPORT_DIR / MANIFEST_FILE).is_file():
        return folder / EXPORT_DIR / MANIFEST_FILE, folder
    models = sorted(p.name for p in folder.iterdir() if p.suffix in MODEL_SUFFIXES) if folder.is_dir() else []
    hint = (f"it holds {', '.join(models)}: name the files instead" if models
            else f"export the run first: `edgedigits export --int8 {folder}`")
    raise RunError(f"no artifacts found in {folder}: no {MANIFEST_FILE} there or in {folder / EXPORT_DIR}; {hint}")


def _read_manifest(manifest: Path) -> dict:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{manifest} is not readable JSON ({exc}); re-run `edgedigits export`") from None
    if not isinstance(data, dict) or not isinstance(data.get("artifacts"), dict):
        raise RunError(f"{manifest} has no 'artifacts' table; it was not written by `edgedigits export`")
    return data


def _from_manifest(manifest: Path) -> list[Artifact]:
    data = _read_manifest(manifest)
    if not data["artifacts"]:
        raise RunError(f"no artifacts found: {manifest} lists none; re-run `edgedigits export` on the run")
    folder = manifest.parent
    ref = data.get("reference") or {}
    reference = folder / ref["file"] if isinstance(ref, dict) and ref.get("file") else None
    found = []
    for file_name, entry in data["artifacts"].items():
        entry = entry if isinstance(entry, dict) else {}
        path = folder / file_name
        if path.is_dir():  # a source pack (`export --micro`): sources for a microcontroller, nothing to run here
            continue
        runtime = entry.get("runtime") or MODEL_SUFFIXES.get(path.suffix, "unknown")
        problem = None if path.is_file() else f"listed in {manifest} but missing from {folder}; re-run `edgedigits export`"
        found.append(Artifact(path=path, format=str(entry.get("format") or path.suffix.lstrip(".")), runtime=runtime,
                              entry=entry, manifest=manifest, reference=reference,
                              reference_sha256=ref.get("sha256") if isinstance(ref, dict) else None, problem=problem))
    return found


def _from_file(path: Path) -> Artifact:
    if path.suffix not in MODEL_SUFFIXES:
        raise UsageError(f"{path} is not a model file: expected .tflite or .onnx, got {path.suffix or 'no suffix'!r}")
    manifest = path.parent / MANIFEST_FILE
    if manifest.is_file():
        try:
            data = _read_manifest(manifest)
        except RunError:
            data = None
        if data is not None and path.name in data["artifacts"]:
            return next(a for a in _from_manifest(manifest) if a.path.name == path.name)
    return Artifact(path=path, format=path.suffix.lstrip("."), runtime=MODEL_SUFFIXES[path.suffix])


def load_reference(artifact: Artifact, n: int) -> tuple[np.ndarray | None, str | None]:
    """The Keras model's top-1 on the first ``n`` test images, for agreement.

    Returns:
      ``(predictions, note)``: predictions or None, and why not when None (None when
      there simply is no reference).
    """
    if artifact.reference is None:
        return None, None
    if not artifact.reference.is_file():
        return None, f"reference {artifact.reference.name} missing"
    if artifact.reference_sha256 and sha256_file(artifact.reference) != artifact.reference_sha256:
        return None, f"reference {artifact.reference.name} does not match its SHA-256 in the manifest"
    try:
        ref = np.load(artifact.reference, allow_pickle=False)
    except (OSError, ValueError) as exc:
        return None, f"reference {artifact.reference.name} unreadable ({exc})"
    if ref.ndim != 1 or ref.shape[0] < n:
        return None, f"reference {artifact.reference.name} has shape {ref.shape}, expected ({n},) or more"
    return ref[:n].astype(np.int64), None
