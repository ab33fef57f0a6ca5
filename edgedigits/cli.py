"""The `edgedigits` command line: thin Typer commands over the library.

Each command validates its options, calls one library function and renders the
result. Errors from the library (:class:`EdgeDigitsError`) become one line on
stderr and exit code 1; nothing here imports TensorFlow at module level.

The commands live in ``cli_*.py`` as plain functions and are registered here, in one
place and in pipeline order (the order ``edgedigits --help`` lists them in); the
command modules never import this one, so ``python -m edgedigits`` and the
``edgedigits`` console script build the same app.
"""

from __future__ import annotations

import sys

import typer

from edgedigits import __version__, cli_bench, cli_export, cli_train
from edgedigits_runtime.cli import predict_command, read_command

__all__ = ["app", "main", "COMMANDS"]

app = typer.Typer(
    name="edgedigits",
    help="Train an MNIST CNN, export it to int8 TFLite/ONNX, benchmark it, and classify digits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"edgedigits {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
) -> None:
    """Train an MNIST CNN, export it to int8 TFLite/ONNX, benchmark it, and classify digits."""


# Command name -> (function, extra Typer options). `predict` and `read` are the runtime's own commands:
# the toolkit adds nothing on top of what runs on the device.
COMMANDS = {
    "train": (cli_train.train, {}),
    "archs": (cli_train.archs, {}),
    "train-reader": (cli_train.train_reader, {}),
    "export": (cli_export.export, {"epilog": cli_export.EPILOG}),
    "bench": (cli_bench.bench, {"epilog": cli_bench.EPILOG}),
    "predict": (predict_command, {}),
    "read": (read_command, {}),
}
for _name, (_function, _options) in COMMANDS.items():
    app.command(_name, **_options)(_function)


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
