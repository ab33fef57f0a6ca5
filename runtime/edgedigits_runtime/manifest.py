"""Read ``manifest.json`` (docs/DESIGN.md) and check a model file against it and against itself.

The export stage records each file's SHA-256 twice: in ``manifest.json`` and in an
integrity record inside the file (:mod:`edgedigits_runtime.record`). A corrupted
``.tflite`` often loads and runs silently wrong, so the hash is the defence: a file whose
bytes changed since export, or whose record is damaged, is refused with
:class:`~edgedigits_runtime.errors.ModelIntegrityError`, with or without the manifest
beside it. A file with neither a record nor a manifest entry (a third-party model) still
runs, with a :class:`ManifestWarning`, and what is needed is read from the model itself;
``strict=True`` refuses it.

Example:

>>> check = check_model("export/edge_int8.tflite", data)   # doctest: +SKIP
>>> check.verified, check.entry["format"]                   # doctest: +SKIP
(True, 'int8')
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
import warnings
from pathlib import Path

from edgedigits_runtime.errors import ModelError, ModelIntegrityError, UsageError
from edgedigits_runtime.fileio import atomic_write_text, sha256_bytes
from edgedigits_runtime.record import read_record

__all__ = ["SCHEMA", "MANIFEST_FILE", "REFERENCE_FILE", "LABELS", "PREPROCESSING", "OUTPUT_KINDS", "ManifestWarning",
           "ManifestCheck", "read_manifest", "check_model", "check_entry", "check_alone", "artifact_entry", "new_manifest",
           "write_manifest"]

# The manifest's schema lives here, and only here (docs/DESIGN.md "Export folder and manifest"):
# the toolkit's export, bench and figure scripts build, find and read manifests with these.
SCHEMA = "edgedigits-manifest/1"
MANIFEST_FILE = "manifest.json"                 # beside the model files it describes
REFERENCE_FILE = "keras_predictions.npy"        # the source model's test-set top-1, for agreement
LABELS = [str(d) for d in range(10)]
PREPROCESSING = {"layout": "NHWC", "height": 28, "width": 28, "channels": 1,
                 "scale": "x / 255", "polarity": "white-on-black", "range": [0.0, 1.0]}
OUTPUT_KINDS = ("probabilities", "logits")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RUNTIMES = ("tflite", "onnx")


class ManifestWarning(UserWarning):
    """The model runs unverified: no integrity record inside it and no manifest entry for it; for such a model also
    what the reference digits say about its input scaling (:mod:`edgedigits_runtime.scaling`)."""


@dataclasses.dataclass(frozen=True)
class ManifestCheck:
    """The outcome of checking a model file against its manifest.

    Attributes:
      sha256: hex SHA-256 of the model bytes.
      verified: True when a manifest entry or the file's own record matched the bytes.
      entry: the file's ``artifacts`` entry (from the manifest, else from its record; None when unverified).
      manifest: the whole manifest (None when there was none; built from the record when only it verified).
      source: where the manifest came from (a path, ``"<dict>"``, ``"embedded record"``, or None).
      record: the file's own integrity record: ``"ok"`` (present and matching) or ``"absent"``.
    """

    sha256: str
    verified: bool
    entry: dict | None
    manifest: dict | None
    source: str | None
    record: str = "absent"


def read_manifest(path: str | os.PathLike) -> dict:
    """Read and schema-check a manifest file.

    Args:
      path: a ``manifest.json``.

    Returns:
      The manifest as a dict.

    Raises:
      ModelError: missing, unreadable, not JSON, or not an edgedigits manifest.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"manifest {path} not found: pass the manifest.json written by `edgedigits export`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read manifest {path}: {exc}") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"manifest {path} is not readable JSON ({exc.msg} at line {exc.lineno}): re-export or re-copy it") from None
    _check_schema(manifest, str(path))
    return manifest


def _check_schema(manifest, where: str) -> None:
    if not isinstance(manifest, dict):
        raise ModelError(f"manifest {where} is a JSON {type(manifest).__name__}, not an object: re-export it")
    schema = manifest.get("schema")
    if schema != SCHEMA:
        raise ModelError(f"manifest {where} has schema {schema!r}, this runtime reads {SCHEMA!r}: "
                         "re-export with a matching edgedigits, or upgrade edgedigits-runtime")
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict):
        raise ModelError(f"manifest {where} has no 'artifacts' object: re-export it")
    for name, entry in artifacts.items():
        _check_entry(entry, f"manifest {where}, artifact {name!r}")


def _check_entry(entry, where: str) -> None:
    if not isinstance(entry, dict):
        raise ModelError(f"{where} is not an object: re-export it")
    sha = entry.get("sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise ModelError(f"{where} has no valid 'sha256' (got {sha!r}): re-export it")
    if entry.get("runtime") is not None and entry["runtime"] not in _RUNTIMES:
        raise ModelError(f"{where} has runtime {entry['runtime']!r}; expected one of {', '.join(_RUNTIMES)}")
    kind = entry.get("output_kind", "probabilities")
    if kind not in OUTPUT_KINDS:
        raise ModelError(f"{where} has output_kind {kind!r}; expected one of {', '.join(OUTPUT_KINDS)}")
    if entry.get("normalize") is not None:
        from edgedigits_runtime.scaling import parse_scaling

        try:
            parse_scaling(entry["normalize"], f"{where}: normalize")
        except UsageError as exc:
            raise ModelError(str(exc)) from None
    for side in ("input", "output"):
        spec = entry.get(side)
        if spec is None:
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("dtype"), str):
            raise ModelError(f"{where} has an '{side}' without a 'dtype': re-export it")


def check_model(path: str | os.PathLike, data: bytes, manifest=None, strict: bool = False) -> ManifestCheck:
    """Check a model file's bytes against its own integrity record and its manifest.

    The record inside the file is checked first (a lone copy verifies itself); a manifest,
    when there is one, must match as well.

    Args:
      path: the model file (its name selects the manifest entry; ``manifest.json`` beside it
        is used when ``manifest`` is None).
      data: the file's bytes (already read: hashed here).
      manifest: None (look beside the model), a path to a manifest, or a manifest dict.
      strict: refuse a file that nothing verifies (no record inside, no manifest entry).

    Returns:
      A :class:`ManifestCheck`.

    Raises:
      ModelIntegrityError: the bytes differ from the SHA-256 in the file's record or in the
        manifest; the record inside the file is damaged; or ``strict`` and nothing verifies it.
      ModelError: a given manifest is missing or malformed.
      UsageError: ``manifest`` is neither None, a path nor a dict.

    Warns:
      ManifestWarning: no record inside and no manifest entry: the model runs unverified.
    """
    path = Path(path)
    digest = sha256_bytes(data)
    record = read_record(data)
    own = _own_record(path, data, record)

    if manifest is None:
        beside = path.parent / MANIFEST_FILE
        if not beside.is_file():
            return _unverified(path, digest, own, record, None, None, strict,
                               f"no {MANIFEST_FILE} beside {path} and no integrity record inside it")
        manifest, source = read_manifest(beside), str(beside)
    elif isinstance(manifest, dict):
        _check_schema(manifest, "<dict>")
        source = "<dict>"
    elif isinstance(manifest, (str, os.PathLike)):
        source = str(manifest)
        manifest = read_manifest(manifest)
    else:
        raise UsageError(f"manifest must be None, a path or a dict; got {type(manifest).__name__}")
    entry = manifest["artifacts"].get(path.name)
    if entry is None:
        listed = ", ".join(manifest["artifacts"]) or "nothing"
        return _unverified(path, digest, own, record, manifest, source, strict,
                           f"manifest {source} has no entry for {path.name} (it lists {listed}) and there is no "
                           "integrity record inside it")
    if entry["sha256"] != digest:
        raise ModelIntegrityError(
            f"{path} changed since export: its SHA-256 is {digest[:12]}..., {source} recorded {entry['sha256'][:12]}...; "
            "re-copy the file or re-export it (with its manifest)")
    return ManifestCheck(digest, True, entry, manifest, source, own)


def check_alone(data: bytes, name: str = "<bytes>", strict: bool = False) -> ManifestCheck:
    """Check model bytes that come without any manifest: by the integrity record inside them.

    Args:
      data: the model's bytes.
      name: what to call the model in messages.
      strict: refuse bytes without a record.

    Returns:
      A :class:`ManifestCheck`, verified when the record matched.

    Raises:
      ModelIntegrityError: the record is damaged or does not match, or ``strict`` and there is none.

    Warns:
      ManifestWarning: no record: the model runs unverified.
    """
    record = read_record(data)
    own = _own_record(name, data, record)
    return _unverified(Path(name), sha256_bytes(data), own, record, None, None, strict,
                       f"{name}: no manifest entry and no integrity record inside it")


def _own_record(name, data: bytes, record=None) -> str:
    """``"ok"`` or ``"absent"``: the file's own integrity record; a damaged or unmatched one is refused."""
    record = record or read_record(data)
    if record.status == "damaged":
        raise ModelIntegrityError(
            f"{name} is corrupted: the integrity record inside it is damaged ({record.problem}); "
            "re-copy the file or re-export it")
    if record.status == "ok" and not record.matches:
        raise ModelIntegrityError(
            f"{name} changed since export: its bytes do not match the integrity record inside it "
            f"(SHA-256 {record.actual[:12]}..., recorded {record.recorded[:12]}...); re-copy the file or re-export it")
    return record.status


def _unverified(path, digest, own, record, manifest, source, strict, why) -> ManifestCheck:
    """No manifest entry: the file's own record verifies it, else it runs unverified (or strict refuses it)."""
    if own == "ok":
        document = record.document
        built = {"schema": SCHEMA, "artifacts": {path.name: record.entry},
                 **{key: document[key] for key in ("labels", "preprocessing", "tools", "source_run") if key in document}}
        return ManifestCheck(digest, True, record.entry, built, "embedded record", own)
    if strict:
        raise ModelIntegrityError(
            f"{why}: strict mode runs only verified models; use a model exported by edgedigits (it carries its "
            "record), put its manifest.json beside it, or run without strict")
    warnings.warn(f"{why}: running it unverified (SHA-256 not checked), with input/output details read from the model",
                  ManifestWarning, stacklevel=4)
    return ManifestCheck(digest, False, None, manifest, source, own)


def check_entry(data: bytes, entry: dict, name: str = "<bytes>") -> ManifestCheck:
    """Check model bytes against one ``artifacts`` entry, without a manifest file (e.g. before export writes it).

    Example:

    >>> check_entry(data, {"sha256": sha256_bytes(data), "runtime": "tflite"}).verified   # doctest: +SKIP
    True

    Args:
      data: the model's bytes.
      entry: an ``artifacts`` entry: at least ``sha256``; ``runtime``, ``output_kind``, ``normalize``,
        ``input``/``output`` are checked when present.
      name: what to call the model in messages.

    Returns:
      A verified :class:`ManifestCheck` (``manifest`` None, ``source`` ``"<entry>"``).

    Raises:
      ModelIntegrityError: the bytes differ from the entry's SHA-256.
      ModelError: the entry is malformed.
    """
    _check_entry(entry, f"manifest entry for {name}")
    own = _own_record(name, data)
    digest = sha256_bytes(data)
    if entry["sha256"] != digest:
        raise ModelIntegrityError(f"{name}: its SHA-256 is {digest[:12]}..., its manifest entry says "
                                  f"{entry['sha256'][:12]}...: the entry does not describe these bytes")
    return ManifestCheck(digest, True, entry, None, "<entry>", own)


def artifact_entry(*, format: str, runtime: str, sha256: str, size: int, input: dict, output: dict,  # noqa: A002
                   output_kind: str = "probabilities", **facts) -> dict:
    """One ``artifacts`` entry: what a model file is, how to feed it, plus any measured facts.

    Example:

    >>> entry = artifact_entry(format="float32", runtime="tflite", sha256=digest, size=len(data),   # doctest: +SKIP
    ...                        input=clf.input_spec.as_dict(), output=clf.output_spec.as_dict(), accuracy=0.99)

    Args:
      format: the export format's name (``int8``, ``float32``, ...).
      runtime: the backend family that runs it (``tflite`` or ``onnx``).
      sha256: hex SHA-256 of the file's bytes ("" while they are not final: the caller fills it in).
      size: file size in bytes.
      input: the input tensor, ``TensorSpec.as_dict()`` (``DigitClassifier.input_spec``).
      output: the output tensor, likewise.
      output_kind: ``probabilities`` (softmax applied) or ``logits``.
      **facts: anything else to record (accuracy, agreement, export_seconds, opset, ...).

    Raises:
      ModelError: a malformed entry (bad SHA-256, runtime or output kind).
    """
    entry = {"format": format, "runtime": runtime, "sha256": sha256, "size": int(size), "input": input,
             "output": output, "output_kind": output_kind, **facts}
    # An empty sha256 is a placeholder while the bytes are not final (export fills it in after
    # embedding the integrity record); everything else is checked now.
    _check_entry(entry if sha256 else {**entry, "sha256": "0" * 64}, f"artifact entry ({format})")
    return entry


def new_manifest(*, artifacts: dict, source_run: dict | None = None, reference: dict | None = None,
                 tools: dict | None = None, **extra) -> dict:
    """A whole manifest: schema, creation time, labels and preprocessing, plus the given parts.

    Args:
      artifacts: file name -> :func:`artifact_entry`.
      source_run: the run the files came from (``path``, ``arch``, ``model_sha256``, ``test_accuracy``).
      reference: ``{"file", "sha256", "what"}`` of the reference predictions (:data:`REFERENCE_FILE`).
      tools: versions of the tools that made the files.
      **extra: further top-level fields (e.g. ``shipped``).

    Raises:
      ModelError: a malformed artifact entry.
    """
    manifest = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source_run": source_run or {},
        "tools": tools or {},
        "labels": LABELS,
        "preprocessing": PREPROCESSING,
        "artifacts": artifacts,
    }
    if reference is not None:
        manifest["reference"] = reference
    manifest.update(extra)
    _check_schema(manifest, "<new manifest>")
    return manifest


def write_manifest(folder: str | os.PathLike, manifest: dict) -> Path:
    """Write ``manifest`` as :data:`MANIFEST_FILE` into ``folder`` (atomically) and return its path.

    Raises:
      ModelError: ``manifest`` is not a valid manifest.
    """
    _check_schema(manifest, "<manifest to write>")
    return atomic_write_text(Path(folder) / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
