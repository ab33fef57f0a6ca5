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
    "SourceError",
    "first_line",
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


class SourceError(EdgeDigitsError):
    """A camera, video file or stream cannot be opened, or stopped sending frames (``edgedigits-rt watch``)."""


def first_line(exc: BaseException, *, with_type: bool | None = None, limit: int = 300) -> str:
    """One line describing an exception, for one-line errors and per-item error rows.

    Example:

    >>> first_line(RuntimeError("boom\\nstack details"))
    'RuntimeError: boom'
    >>> first_line(ModelError("bad file\\nmore detail"))
    'bad file'

    Args:
      exc: the exception.
      with_type: prefix the exception's type name. None (default): only for exceptions that are
        not :class:`EdgeDigitsError` (ours already say what happened; a library's ``KeyError: 'x'``
        needs its type to make sense).
      limit: cut the line to this many characters.

    Returns:
      The first non-blank line of the message (with the type name when asked), or the type
      name alone when the message is empty.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = lines[0] if lines else ""
    if with_type is None:
        with_type = not isinstance(exc, EdgeDigitsError)
    if not message:
        text = type(exc).__name__
    elif with_type:
        text = f"{type(exc).__name__}: {message}"
    else:
        text = message
    return text[:limit]
