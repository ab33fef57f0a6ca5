"""The command line: help, and one-line errors with a non-zero exit for bad input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from edgedigits.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, list(args))


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("train", "archs"):
        assert command in result.output


def test_version():
    result = _run("--version")
    assert result.exit_code == 0 and result.output.startswith("edgedigits ")


def test_train_help_shows_typed_options():
    result = _run("train", "--help")
    assert result.exit_code == 0
    for option in ("--epochs", "--batch-size", "--lr-schedule", "--augment", "--seed", "--resume", "--out", "--early-stopping"):
        assert option in result.output


def _one_error_line(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be a whole number >= 1, got 0"),
        (["--epochs", "-2"], "got -2"),
        (["--batch-size", "0"], "--batch-size"),
        (["--arch", "edg"], "did you mean 'edge'"),
        (["--lr-schedule", "warp"], "--lr-schedule must be one of"),
        (["--resume"], "--resume needs --out"),
    ],
)
def test_bad_options_exit_non_zero_with_one_line(args, message):
    result = _run("train", *args)
    assert result.exit_code == 1
    assert message in _one_error_line(result)


def test_missing_data_folder(tmp_path):
    result = _run("train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert result.exit_code == 1
    assert "not a folder" in _one_error_line(result)
    assert not (tmp_path / "run").exists()


def test_existing_run_folder_is_refused(tmp_path, mnist_dir):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"precious")
    result = _run("train", "--data-dir", str(mnist_dir), "--out", str(run), "--limit", "100", "--batch-size", "16")
    assert result.exit_code == 1
    assert "already exists; pass --overwrite" in _one_error_line(result)
    assert (run / "model.keras").read_bytes() == b"precious"


def test_archs_lists_registry():
    result = _run("archs")
    assert result.exit_code == 0
    assert "seed" in result.output and "edge" in result.output
