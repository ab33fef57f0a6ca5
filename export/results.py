"""`ExportResult`: one row per format, printable as a table and as JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from edgedigits.errors import ExportError, GateError

__all__ = ["ExportRow", "ExportResult"]


@dataclasses.dataclass
class ExportRow:
    """What happened to one format.

    Attributes:
      format: registry name.
      runtime: ``tflite`` or ``onnx``.
      status: ``ok`` (written and verified) or ``error`` (nothing written).
      path: the artifact (None unless ok).
      size: bytes.
      accuracy: test accuracy in its runtime (also set when a gate failed).
      agreement: share of test images with the Keras model's top-1.
      seconds: conversion time (QAT fine-tune included for int8).
      verify_seconds: time to load it back and evaluate it on the test set.
      reject_threshold: its own calibrated "not a digit" threshold (None: the run has no reject ability).
      digits_accepted: share of test digits that threshold accepts.
      holdout_rejected: share of the held-out non-digit kind it rejects.
      error: one-line message when ``status == "error"``.
      error_kind: ``gate`` (converted but fell short), ``conversion`` (did not convert or run) or ``write`` (passed,
        but its file could not be written: a full disk, a read-only folder).
    """

    format: str
    runtime: str
    status: str = "ok"
    path: str | None = None
    size: int | None = None
    accuracy: float | None = None
    agreement: float | None = None
    seconds: float | None = None
    verify_seconds: float | None = None
    reject_threshold: float | None = None
    digits_accepted: float | None = None
    holdout_rejected: float | None = None
    error: str | None = None
    error_kind: str | None = None


@dataclasses.dataclass
class ExportResult:
    """The outcome of :func:`edgedigits.export.export`.

    Attributes:
      rows: one :class:`ExportRow` per requested format, in registry order.
      out_dir: the export folder.
      manifest_path: ``manifest.json`` (None when no artifact passed).
      run_dir: the source run.
      keras_accuracy: the Keras model's test accuracy, measured at export.
      test_images: how many test images every artifact was evaluated on.
    """

    rows: list[ExportRow]
    out_dir: Path
    manifest_path: Path | None
    run_dir: Path
    keras_accuracy: float
    test_images: int
    keras_reject: dict | None = None

    @property
    def ok(self) -> bool:
        return all(row.status == "ok" for row in self.rows)

    def row(self, name: str) -> ExportRow:
        return next(r for r in self.rows if r.format == name)

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "out_dir": str(self.out_dir),
                "manifest": None if self.manifest_path is None else str(self.manifest_path),
                "keras_accuracy": self.keras_accuracy, "test_images": self.test_images, "keras_reject": self.keras_reject,
                "rows": [dataclasses.asdict(r) for r in self.rows]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_table(self) -> str:
        """A plain-text table: format, file, size, accuracy, agreement, time, status."""
        reject = self.keras_reject is not None
        extra = f" {'kept':>7s} {'reject':>7s}" if reject else ""
        head = f"{'format':10s} {'file':26s} {'size':>9s} {'accuracy':>9s} {'agree':>8s}{extra} {'time':>7s}  status"
        lines = [head, "-" * len(head)]
        k = self.keras_reject or {}
        kextra = f" {_pct(k.get('test_digits_accepted')):>7s} {_pct(k.get('holdout_rejected')):>7s}" if reject else ""
        lines.append(f"{'keras':10s} {'model.keras':26s} {'':>9s} {self.keras_accuracy:>9.2%} {'':>8s}{kextra} {'':>7s}  reference")
        for r in self.rows:
            name = Path(r.path).name if r.path else "-"
            size = f"{r.size / 1024:.1f} KB" if r.size else ""
            acc = f"{r.accuracy:.2%}" if r.accuracy is not None else ""
            agree = f"{r.agreement:.2%}" if r.agreement is not None else ""
            secs = f"{r.seconds:.1f}s" if r.seconds is not None else ""
            status = "ok" if r.status == "ok" else f"FAILED ({r.error_kind})"
            rextra = f" {_pct(r.digits_accepted):>7s} {_pct(r.holdout_rejected):>7s}" if reject else ""
            lines.append(f"{r.format:10s} {name:26s} {size:>9s} {acc:>9s} {agree:>8s}{rextra} {secs:>7s}  {status}")
        if reject:
            lines.append(f"kept: test digits accepted by each artifact's own 'not a digit' threshold (chosen on validation "
                         f"digits); reject: share of the held-out non-digit kind '{k.get('holdout_kind')}' rejected")
        return "\n".join(lines)

    def raise_for_errors(self) -> None:
        """Raise if any format failed: :class:`GateError` when only gates failed, else :class:`ExportError`.

        The message names every failed format with its one-line reason.
        """
        failed = [r for r in self.rows if r.status != "ok"]
        if not failed:
            return
        message = "; ".join(r.error or r.format for r in failed)
        if len(failed) > 1:
            message = f"{len(failed)} of {len(self.rows)} formats failed (nothing written for them): {message}"
        if all(r.error_kind == "gate" for r in failed):
            raise GateError(message)
        raise ExportError(message)


def _pct(value) -> str:
    return "" if value is None else f"{value:.1%}"
