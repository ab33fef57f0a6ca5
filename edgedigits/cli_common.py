"""What every `edgedigits` command shares: one-line errors and a non-zero exit.

Kept apart from :mod:`edgedigits.cli` (which builds the app and registers the commands)
so that the command modules never import the app back.
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import typer

from edgedigits.errors import EdgeDigitsError
from edgedigits_runtime.cli import warning_lines

__all__ = ["fail", "friendly_errors"]

F = TypeVar("F", bound=Callable)


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn library errors (and Ctrl-C) into one line and a non-zero exit; the runtime's warnings into ``warning:`` lines."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with warning_lines():  # the runtime's warnings (a model file without a manifest, ...): one line each
                return fn(*args, **kwargs)
        except EdgeDigitsError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
