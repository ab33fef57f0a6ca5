"""What every `edgedigits` command shares: one-line errors and a non-zero exit.

Kept apart from :mod:`edgedigits.cli` (which builds the app and registers the commands)
so that the command modules never import the app back.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Callable, TypeVar

import typer

from edgedigits.errors import EdgeDigitsError
from edgedigits_runtime.cli import warning_lines

__all__ = ["fail", "friendly_errors", "progress_echo"]

F = TypeVar("F", bound=Callable)


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn library errors (and Ctrl-C) into one line and a non-zero exit; the runtime's warnings into ``warning:`` lines."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
        _SWALLOWED.clear()
        try:
            with warning_lines():  # the runtime's warnings (a model file without a manifest, ...): one line each
                return fn(*args, **kwargs)
        except EdgeDigitsError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None
        finally:
            sys.unraisablehook = previous_hook

    return wrapper  # type: ignore[return-value]


# Ctrl-C that landed where Python cannot raise it (a garbage-collection callback inside TensorFlow's training loop:
# one export in four in the twentieth session) printed "Exception ignored in ... KeyboardInterrupt" and the command
# went on to the end. It is remembered here, and the command stops at its next progress line.
_SWALLOWED = threading.Event()


def _unraisable(unraisable) -> None:
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _SWALLOWED.set()
        return
    sys.__unraisablehook__(unraisable)


def progress_echo(err: bool = False) -> Callable[[str], None]:
    """The progress-line printer a long command gives the library (``log=``/``progress=``): it prints the line, or
    stops the command there (``KeyboardInterrupt``, "interrupted", exit 130) when a Ctrl-C was swallowed since."""

    def echo(message: str) -> None:
        if _SWALLOWED.is_set():
            raise KeyboardInterrupt
        typer.echo(message, err=err)

    return echo
