"""The error hierarchy shared by the runtime and the full toolkit.

Every error a user can cause is an :class:`EdgeDigitsError`. Its message says
what was wrong (naming what was received) and what to do about it, in one line,
so that the command-line tools can print it as is and exit non-zero.
"""

from __future__ import annotations

__all__ = [
    "EdgeDigitsError",
    "UsageError",
    "DataError",
    "ModelError",
    "ModelIntegrityError",
    "InputError",
    "BackendUnavailableError",
]


class EdgeDigitsError(Exception):
    """Base class: something the user can fix. The message says how."""


class UsageError(EdgeDigitsError, ValueError):
    """An option or argument makes no sense (zero epochs, unknown name, ...)."""


class DataError(EdgeDigitsError):
    """MNIST files missing, truncated, corrupted or not where they were said to be."""


class ModelError(EdgeDigitsError):
    """A model file is missing, unreadable, corrupted, or of an unexpected kind."""


class ModelIntegrityError(ModelError):
    """A model file's bytes differ from what its manifest recorded at export."""


class InputError(EdgeDigitsError, ValueError):
    """Images or arrays handed to a classifier are unusable (shape, NaN, no ink, ...)."""


class BackendUnavailableError(EdgeDigitsError, ImportError):
    """No installed package can run this model format; the message names what to install."""
