"""The `edgedigits` command line: thin Typer commands over the library.

Each command validates its options, calls one library function and renders the
result. Errors from the library (:class:`EdgeDigitsError`) become one line on
stderr and exit code 1; nothing here imports TensorFlow at module level.
"""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

import typer

from edgedigits import __version__
from edgedigits.errors import EdgeDigitsError

app = typer.Typer(
    name="edgedigits",
    help="Train an MNIST CNN, export it to int8 TFLite/ONNX, benchmark it, and classify digits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable)


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn library errors (and Ctrl-C) into one line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgeDigitsError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"edgedigits {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
) -> None:
    """Train an MNIST CNN, export it to int8 TFLite/ONNX, benchmark it, and classify digits."""


# Commands register themselves from their own modules to keep this file small.
# Imported in pipeline order, which is the order `edgedigits --help` lists them in.
from edgedigits import cli_train  # noqa: E402,F401,I001  (train, archs)
from edgedigits import cli_export  # noqa: E402,F401
from edgedigits import cli_bench  # noqa: E402,F401
from edgedigits import cli_predict  # noqa: E402,F401


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
