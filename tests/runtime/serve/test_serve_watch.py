"""`edgedigits-rt serve --watch SOURCE`: GET /v1/watch gives the number a watched video or stream shows.

The watch's end is waited for by polling its state (never by a time the machine must keep): a video file ends by
itself; a stream is watched until its stable reading is there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # test_watch.py's stream server

cv2 = pytest.importorskip("cv2")


def _poll(client, url: str, done, limit: float = 120.0) -> dict:
    """GET url until ``done(answer)``; fails after ``limit`` seconds (a broken watch, not a slow machine)."""
    deadline = time.monotonic() + limit
    while True:
        answer = client.get(url).json()
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, mnist_test):
    """A 10 fps MJPG .avi: 2048 for 1.2 s, a blank scene for 1 s, 317 for 1.2 s."""
    from photos import number_frame, write_video

    images, labels = mnist_test
    rng = np.random.default_rng(5)
    first, second = number_frame(images, labels, "2048", rng), number_frame(images, labels, "317", rng)
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    write_video(path, [first] * 12 + [np.full_like(first, 200)] * 10 + [second] * 12, fps=10)
    return path, first


def test_serve_watch_video_gives_its_stable_reading(start_server, client, clip):
    path, _ = clip
    server = start_server("--watch", str(path), "--watch-every", "0")
    assert f"; watching {path} (GET /v1/watch" in server.stdout  # on the line with the server's address
    answer = _poll(client, f"{server.url}/v1/watch", lambda a: not a["running"])
    assert answer["running"] is False and answer["error"] is None and answer["source"] == str(path)
    assert answer["stable"]["number"] == "317" and answer["stable"]["event"] == "change"
    assert answer["latest"]["frame"] == 33 and answer["latest"]["number"] == "317"
    summary = answer["summary"]
    assert (summary["reason"], summary["frames"], summary["read"], summary["changes"]) == ("end of video", 34, 34, 3)
    assert server.alive()  # the video's end does not end the server
    assert server.stop() == 0, server.stderr


def test_serve_watch_stream_live_and_404_without_watch(start_server, server, client, clip):
    from test_watch import MJPEGServer

    _, frame = clip
    stream = MJPEGServer([frame])
    try:
        watching = start_server("--watch", stream.url, "--watch-every", "0")
        answer = _poll(client, f"{watching.url}/v1/watch", lambda a: a["stable"] is not None)
        assert answer["running"] is True and answer["stable"]["number"] == "2048"
        assert answer["latest"]["at"].endswith("Z") and answer["summary"]["reason"] == ""
        assert watching.stop() == 0, watching.stderr  # SIGTERM: the server stops, the stream is released
    finally:
        stream.close()
    plain = client.get(f"{server.url}/v1/watch")
    assert plain.status_code == 404 and "--watch SOURCE" in plain.json()["error"]


def test_serve_watch_that_ends_with_an_error_says_so_in_the_log(start_server, client, clip):
    """A watch that ends with an error while the server goes on (here --watch-roi outside the frames, known once a
    frame came): GET /v1/watch has it, with the summary's reason "error" (it was "closed"), and so has the server's
    log, in one warning line (nothing in journalctl said the watch had stopped)."""
    path, _ = clip
    server = start_server("--watch", str(path), "--watch-roi", "400,300,50,50")
    answer = _poll(client, f"{server.url}/v1/watch", lambda a: not a["running"])
    assert "outside" in answer["error"] and answer["summary"]["reason"] == "error"
    assert server.alive()
    assert server.stop() == 0, server.stderr
    lines = [line for line in server.stderr.splitlines() if "outside" in line]
    assert len(lines) == 1 and lines[0].startswith(f"warning: the watch of {path} stopped: roi: "), server.stderr


def test_serve_watch_refuses_a_source_it_cannot_open(tmp_path):
    from typer.testing import CliRunner

    from edgedigits_runtime.cli import app

    result = CliRunner().invoke(app, ["serve", "--port", "0", "--watch", str(tmp_path / "missing.avi")])
    assert result.exit_code == 1 and "no such video file" in result.output
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--watch-digits", "4"])
    assert result.exit_code == 1 and "go with --watch SOURCE" in result.output


def test_serve_watch_reopens_a_stream_that_stops_for_as_long_as_it_runs(start_server, client, clip):
    """Every connection of the stream is cut after 5 frames: the server's watch opens it again each time."""
    from test_watch import MJPEGServer

    _, frame = clip
    stream = MJPEGServer([frame], cut_after=5)
    try:
        watching = start_server("--watch", stream.url, "--watch-every", "0")
        answer = _poll(client, f"{watching.url}/v1/watch", lambda a: a["summary"]["reconnects"] >= 3 or not a["running"])
        assert answer["running"] is True and answer["error"] is None and answer["summary"]["reconnects"] >= 3
        assert answer["stable"]["number"] == "2048" and stream.connections >= 4
        assert watching.stop() == 0, watching.stderr
        assert "opened again" in watching.stderr
    finally:
        stream.close()


def test_serve_watch_says_while_its_source_is_being_reopened(start_server, client, clip):
    """GET /v1/watch's `reopening`: true while the stream's frames have stopped and it is being opened again (the
    camera is off: it answers 503), false once a frame came again (only `latest.at`'s age said so before)."""
    import threading

    from test_watch import MJPEGServer

    _, frame = clip
    down = threading.Event()
    stream = MJPEGServer([frame], down=down)
    try:
        watching = start_server("--watch", stream.url, "--watch-every", "0")
        url = f"{watching.url}/v1/watch"
        answer = _poll(client, url, lambda a: a["stable"] is not None)
        assert answer["stable"]["number"] == "2048" and answer["reopening"] is False
        down.set()  # switched off: the connection ends, the next ones are refused
        answer = _poll(client, url, lambda a: a["reopening"])
        assert answer["reopening"] is True and answer["running"] is True and answer["error"] is None
        down.clear()
        answer = _poll(client, url, lambda a: a["summary"]["reconnects"] >= 1 and not a["reopening"])
        assert answer["reopening"] is False and answer["summary"]["reconnects"] >= 1 and answer["running"] is True
        assert watching.stop() == 0, watching.stderr
    finally:
        stream.close()


def test_serve_watch_stops_cleanly_while_its_stream_is_being_opened():
    """SIGTERM (systemctl stop) while the watched stream is opened at start (before anything listens; the stream's
    server accepts and says nothing): the process ended by the signal (exit -15), as Ctrl-C only after the open's 10 s.
    Now: "stopped", exit 0, at once."""
    import os
    import signal
    import socket
    import subprocess

    for sig in (signal.SIGTERM, signal.SIGINT):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/video.mjpg"
            env = {key: value for key, value in os.environ.items() if key != "EDGEDIGITS_TOKEN"}
            process = subprocess.Popen([sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", "0",
                                        "--watch", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       env=env)
            try:
                listener.settimeout(60)
                connection, _ = listener.accept()  # the watch's stream is being opened
                process.send_signal(sig)
                out, err = process.communicate(timeout=60)
                connection.close()
            finally:
                process.kill()
        assert process.returncode == 0, (sig, process.returncode, err)
        assert out.strip().splitlines() == ["stopped"] and "Traceback" not in err, (out, err)
