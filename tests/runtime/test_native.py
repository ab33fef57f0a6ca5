"""Native libraries' chatter on stderr is hidden, but not a failure's explanation."""

from __future__ import annotations

import os

import pytest

from edgedigits_runtime.native import quiet_native_stderr


def test_native_writes_to_stderr_are_hidden(capfd):
    with quiet_native_stderr():
        os.write(2, b"I0000 oneDNN custom operations are on\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_captured_text_is_replayed_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError):
        with quiet_native_stderr():
            os.write(2, b"F0000 the reason it died\n")
            raise RuntimeError("load failed")
    assert "the reason it died" in capfd.readouterr().err


def test_no_replay_when_the_caller_reports_failures_itself(capfd):
    with pytest.raises(RuntimeError):
        with quiet_native_stderr(replay_on_error=False):
            os.write(2, b"converter noise\n")
            raise RuntimeError("conversion failed")
    assert capfd.readouterr().err == ""


def test_verbose_environment_variable_shows_everything(capfd, monkeypatch):
    monkeypatch.setenv("EDGEDIGITS_VERBOSE", "1")
    with quiet_native_stderr():
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"
