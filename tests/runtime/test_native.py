"""Native libraries' chatter on stderr is hidden, but not a failure's explanation."""

from __future__ import annotations

import os
import threading

import pytest

from edgedigits_runtime.native import held_stderr, quiet_native_stderr


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


def test_no_replay_when_the_user_presses_ctrl_c(capfd):
    # Ctrl-C while TensorFlow loads (`edgedigits train`'s first seconds) printed its three lines of chatter before
    # "interrupted": they explain nothing there.
    with pytest.raises(KeyboardInterrupt):
        with quiet_native_stderr():
            os.write(2, b"I0000 oneDNN custom operations are on\n")
            raise KeyboardInterrupt
    assert capfd.readouterr().err == ""


def test_verbose_environment_variable_shows_everything(capfd, monkeypatch):
    monkeypatch.setenv("EDGEDIGITS_VERBOSE", "1")
    with quiet_native_stderr():
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"


def test_blocks_in_two_threads_leave_stderr_as_it_was(capfd):
    """Two threads loading a native library at once (`serve --watch`: the server's model in one, the number reader
    for the watch's first frame in the other): the second block saved the first one's temporary file as "stderr" and,
    ending last, put it back, so that everything written to stderr afterwards was lost (the server's log, for the rest
    of its life). The blocks take turns now, and a line another thread writes inside held_stderr waits for the block
    instead of going into its capture."""
    first_in, first_go, second_in, second_go = (threading.Event() for _ in range(4))

    def block(inside, go):
        with quiet_native_stderr():
            os.write(2, b"noise\n")
            inside.set()
            go.wait(30)

    def line():
        with held_stderr():
            os.write(2, b"a line from a thread\n")

    first = threading.Thread(target=block, args=(first_in, first_go))
    second = threading.Thread(target=block, args=(second_in, second_go))
    first.start()
    assert first_in.wait(30)
    second.start()
    writer = threading.Thread(target=line)
    writer.start()
    second_in.wait(1)  # the second block's chance to start inside the first (it did; it waits for the first now)
    first_go.set()  # the first block ends first ...
    first.join(30)
    second_go.set()  # ... the second one last
    for thread in (second, writer):
        thread.join(30)
    os.write(2, b"after\n")
    assert sorted(capfd.readouterr().err.splitlines()) == ["a line from a thread", "after"]
