"""Errors of the full toolkit: the runtime's hierarchy plus the training-side ones."""

from __future__ import annotations

from edgedigits_runtime.errors import (
    BackendUnavailableError,
    DataError,
    EdgeDigitsError,
    InputError,
    ModelError,
    ModelIntegrityError,
    SourceError,
    UsageError,
)

__all__ = [
    "EdgeDigitsError",
    "UsageError",
    "DataError",
    "ModelError",
    "ModelIntegrityError",
    "InputError",
    "BackendUnavailableError",
    "SourceError",
    "RunError",
    "TrainError",
    "ExportError",
    "GateError",
]


class RunError(EdgeDigitsError):
    """A run folder is missing, incomplete, or would be overwritten."""


class TrainError(EdgeDigitsError):
    """Training could not proceed (e.g. the disk filled up while saving)."""


class ExportError(EdgeDigitsError):
    """A conversion failed or produced an artifact that did not verify."""


class GateError(EdgeDigitsError):
    """An artifact fell short of an accuracy gate; the message carries the numbers."""
