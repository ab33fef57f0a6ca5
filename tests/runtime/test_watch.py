"""`edgedigits-rt watch` and `edgedigits_runtime.watch.watch`: numbers read continuously from a video file, an HTTP
MJPEG stream (a real one, served here) and a fake camera.

Videos are made here (MJPG in .avi, which every OpenCV build writes) from numbers drawn with MNIST test digits as
the project's number photos are (``photos.make_number_photo``), with a blank stretch between two numbers. No
verdict depends on the machine's speed: a video file is read in its own time; the live tests assert order and
which frame was read, never how long anything took (the fake camera's slow reader waits for frames to be grabbed).
"""

from __future__ import annotations

import http.server
import json
import signal
import socketserver
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from edgedigits_runtime.cli import app
from edgedigits_runtime.errors import SourceError, UsageError

cv2 = pytest.importorskip("cv2")
pytest.importorskip("PIL")
runner = CliRunner()
FPS = 10.0
SCRIPT = [("2048", 12), ("", 10), ("317", 12)]  # (number, frames): a number, a blank scene, another number
BLANK = 200  # the blank scene's grey


def _out(result):
    return result.stdout if hasattr(result, "stdout") else result.output


@pytest.fixture(scope="module")
def scenes(mnist_test):
    """The BGR frames of SCRIPT's scenes: {number: frame} ("" the blank scene)."""
    from photos import number_frame

    images, labels = mnist_test
    rng = np.random.default_rng(5)
    out = {text: number_frame(images, labels, text, rng) for text, _ in SCRIPT if text}
    out[""] = np.full((240, 320, 3), BLANK, np.uint8)
    return out


@pytest.fixture(scope="module")
def video(tmp_path_factory, scenes):
    """An MJPG .avi at 10 fps playing SCRIPT: 12 frames of 2048, 10 blank, 12 of 317."""
    from photos import write_video

    path = tmp_path_factory.mktemp("video") / "meter.avi"
    write_video(path, fps=FPS, frames=[scenes[text] for text, count in SCRIPT for _ in range(count)])
    return path


def _truth(index: int) -> str:
    for text, count in SCRIPT:
        if index < count:
            return text
        index -= count
    raise IndexError(index)


def _run(*args, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """``edgedigits-rt ARGS`` as a user runs it: its own process."""
    return subprocess.run([sys.executable, "-m", "edgedigits_runtime.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


# --------------------------------------------------------------------------- a video file, the CLI as a process


def test_cli_watch_video_json_reports_each_stable_change(video):
    """Every frame read (--every 0): 2048, then "no number", then 317, each once stable (3 frames); then the end."""
    done = _run("watch", video, "--json", "--every", "0")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    *changes, end = rows
    assert [r["event"] for r in changes] == ["change"] * 3
    assert [r["number"] for r in changes] == ["2048", "", "317"]
    starts = [0, 12, 22]  # each scene's first frame: stable on its third
    assert [r["frame"] for r in changes] == [s + 2 for s in starts]
    assert [r["time"] for r in changes] == pytest.approx([(s + 2) / FPS for s in starts])
    for r in changes:
        assert r["at"] is None  # a file: no wall-clock time
        assert set(r) == {"event", "frame", "time", "at", "number", "confidence", "digits", "signs", "note"}
    assert len(changes[0]["digits"]) == 4 and changes[0]["confidence"] > 0.5 and changes[0]["note"] is None
    assert [d["label"] for d in changes[2]["digits"]] == [3, 1, 7]
    assert changes[1]["digits"] == [] and changes[1]["confidence"] == 0.0 and "no digits found" in changes[1]["note"]
    assert end["event"] == "end" and end["reason"] == "end of video"
    frames = sum(count for _, count in SCRIPT)
    assert (end["frames"], end["read"], end["skipped"], end["changes"], end["number"]) == (frames, frames, 0, 3, "317")
    assert done.stderr == ""


@pytest.mark.parametrize(("name", "codec"), [("meter.mp4", "mp4v"), ("meter.mkv", "XVID")])
def test_watch_reads_other_containers_and_codecs(tmp_path, scenes, reader, name, codec):
    """MPEG-4 in .mp4 and .mkv (OpenCV's FFmpeg writes them here and on 32-bit Pi OS's OpenCV 4.6): the same changes."""
    from edgedigits_runtime.watch import watch

    path = tmp_path / name
    frames = [scenes[text] for text, count in SCRIPT for _ in range(count)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), FPS, (320, 240))
    if not writer.isOpened():
        pytest.skip(f"this OpenCV cannot write {codec} in {path.suffix}")
    for frame in frames:
        writer.write(frame)
    writer.release()
    with watch(path, reader, every=0) as events:
        assert [(e.frame, e.number) for e in events] == [(2, "2048"), (14, ""), (24, "317")]
    assert events.summary.frames == len(frames) and events.summary.reason == "end of video"


def test_watch_reads_frames_as_read_number_does(video, reader):
    """One reading path: an event's reading is read_number's on the same frame (turned grey) with the same options."""
    from edgedigits_runtime import read_number
    from edgedigits_runtime.watch import watch

    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 3)
    ok, frame = capture.read()
    capture.release()
    assert ok
    with watch(video, reader, every=0, all_readings=True, frames=4, digits=4) as events:
        got = list(events)
    assert [e.frame for e in got] == [0, 1, 2, 3]
    expected = read_number(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), reader, digits=4)
    assert got[3].reading == expected and expected.number == "2048"


def test_cli_watch_text_every_all_and_limits(video):
    """Text lines; --every counts the video's time; --all with [stable] marks; --frames and --seconds end it."""
    result = runner.invoke(app, ["watch", str(video), "--every", "0.5", "--stable", "1", "--all"])
    assert result.exit_code == 0, result.output
    *lines, summary = _out(result).strip().splitlines()
    frames = [int(line.split("frame ")[1].split(":")[0]) for line in lines]
    assert frames == list(range(0, 34, 5))  # a frame every 0.5 s of video at 10 fps, none dropped
    for line, frame in zip(lines, frames):
        assert line.startswith(f"{frame / FPS:.2f}s frame {frame}: ")
        assert (_truth(frame) or "no number") in line
    assert [line.endswith("[stable]") for line in lines] == [True, False, False, True, False, True, False]
    assert summary.startswith("end of video: 34 frames, 7 read, 3 changes, last stable reading 317 (")

    result = runner.invoke(app, ["watch", str(video), "--every", "0", "--frames", "5", "--json", "--all"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in _out(result).splitlines()]
    assert [r["frame"] for r in rows[:-1]] == [0, 1, 2, 3, 4]
    assert rows[-1]["reason"] == "frames" and rows[-1]["read"] == 5

    result = runner.invoke(app, ["watch", str(video), "--every", "0", "--seconds", "1.25", "--json"])
    assert result.exit_code == 0, result.output
    *changes, end = [json.loads(line) for line in _out(result).splitlines()]
    assert [r["number"] for r in changes] == ["2048"]
    assert end["reason"] == "seconds" and end["read"] == 13 and end["number"] == "2048"  # frames 0-12: under 1.25 s


def test_watch_says_why_nothing_became_stable(tmp_path, scenes, video, reader):
    """A photo given as a video (FFmpeg opens a JPEG as one frame), a video too short for --stable, or one read too
    seldom (--every past its scenes, or its header's frame rate wrong): nothing is reported. The end says why in a
    warning (it ended with a bare "last stable reading none"); a video that had a stable reading has no warning."""
    photo = tmp_path / "meter.jpg"
    cv2.imwrite(str(photo), scenes["2048"])
    done = _run("watch", photo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("end of video: 1 frames, 1 read, 0 changes, last stable reading none")
    warning = done.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: no reading became stable"), done.stderr
    assert "edgedigits-rt read" in warning[0] and "--every" in warning[0] and "--stable" in warning[0]
    from edgedigits_runtime.watch import WatchWarning, watch

    with pytest.warns(WatchWarning, match=r"none came in 3 consecutive frames read \(2 read;"):
        with watch(video, reader, every=0, frames=2) as events:
            assert list(events) == []
    with pytest.warns(WatchWarning, match="no reading became stable"):
        with watch(video, reader, every=1.0) as events:  # 2048, 2048, blank, 317: never 3 alike
            assert list(events) == [] and events.summary.read == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with watch(video, reader, every=0, frames=3) as events:
            assert [e.number for e in events] == ["2048"]


def test_watch_says_when_a_video_file_is_cut_short(tmp_path, video, reader):
    """A recording copied while it was written, or cut off by a power loss: the .avi's frames end before the count its
    header announces. The watch reads what is there and warns (it ended as "end of video" with no word of it); a
    whole file gives no warning (test_cli_watch_video_json_reports_each_stable_change: nothing on stderr)."""
    from edgedigits_runtime.watch import WatchWarning, watch

    cut = tmp_path / "cut.avi"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.warns(WatchWarning, match=r"cut\.avi ended after (\d+) frames; its header announces 34: the file is "
                                          r"cut short or damaged"):
        with watch(cut, reader, every=0) as events:
            assert [e.number for e in events][:1] == ["2048"]
    assert 3 <= events.summary.frames < 34 and events.summary.reason == "end of video"


def test_cli_watch_leaves_the_signal_handlers_as_it_found_them(video):
    """In-process use (CliRunner, a caller's own Typer app): SIGTERM and SIGINT handlers restored after the watch."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert runner.invoke(app, ["watch", str(video), "--frames", "1"]).exit_code == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_cli_watch_refuses_bad_sources_and_options(video, tmp_path):
    """One line each, naming what to do; exit 1 (bad usage that typer sees itself: 2)."""
    junk, cut = tmp_path / "junk.avi", tmp_path / "cut.avi"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes())
    cut.write_bytes(video.read_bytes()[:3000])  # its header cut short
    for args, words in [
        ([tmp_path / "missing.avi"], "no such video file"),
        ([junk], "cannot open"),
        ([cut], "cannot open"),
        (["/dev/video99"], "no such camera device"),
        ([video, "--roi", "400,300,50,50"], "outside"),
        ([video, "--roi", "1,2,3"], "roi must be four whole numbers"),
        ([video, "--roi", "1,2,x,4"], "--roi takes x,y,w,h"),
    ]:
        result = runner.invoke(app, ["watch", *map(str, args)])
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], (args, result.output)
    for args in (["--stable", "0"], ["--every", "-1"], ["--digits", "0"], ["--frames", "0"]):
        assert runner.invoke(app, ["watch", str(video), *args]).exit_code == 2, args


def test_watch_checks_options_before_opening(tmp_path):
    from edgedigits_runtime.watch import watch

    missing = tmp_path / "missing.avi"
    for options in ({"digits": 0}, {"roi": (0, 0, 4, 4)}, {"threshold": 2.0}, {"every": -1}, {"stable": 0},
                    {"frames": 1.5}, {"seconds": 0}, {"reconnect": float("nan")}, {"every": float("inf")}):
        with pytest.raises(UsageError):
            watch(missing, **options)
    with pytest.raises(UsageError, match="source must be"):
        watch(None)
    with pytest.raises(SourceError, match="no such video file"):
        watch(missing, reconnect=float("inf"))  # reopening for ever is a valid choice (serve --watch makes it)


def test_source_kinds_and_password_kept_out_of_messages():
    from edgedigits_runtime.watch import _Source

    assert (_Source(0).kind, _Source("0").target, _Source(" 2 ").label) == ("camera", 0, "camera 2")
    assert (_Source("/dev/video0").kind, _Source("clip.mp4").kind) == ("camera", "file")
    stream = _Source("rtsp://admin:s3cret@10.0.0.5:554/live")
    assert stream.kind == "stream" and stream.live and "s3cret" not in stream.label
    assert stream.label == "rtsp://admin:***@10.0.0.5:554/live"
    assert _Source("http://10.0.0.6:8080/video.mjpg").kind == "stream" and not _Source("clip.mp4").live


def test_passwords_with_at_signs_or_in_the_query_kept_out_of_messages():
    """FFmpeg takes a URL's user and password up to its last "@" (a password with "@" in it works), and many IP cameras
    take them in the query (video.cgi?user=admin&pwd=...): neither reaches a message, the server's start line or
    GET /v1/watch's "source" (the first kept "ss@" of "p@ss", the second all of it)."""
    from edgedigits_runtime.watch import _Source, watch

    for url, shown in [
        ("rtsp://admin:p@ss@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("http://10.0.0.6/video.cgi?user=admin&pwd=p@ss&res=640", "http://10.0.0.6/video.cgi?user=admin&pwd=***&res=640"),
        ("http://10.0.0.6/mjpg?Password=p@ss", "http://10.0.0.6/mjpg?Password=***"),
        ("rtsp://10.0.0.5/live?token=p@ss&channel=1", "rtsp://10.0.0.5/live?token=***&channel=1"),
        ("http://10.0.0.6/snap@2x/video.mjpg?api_key=p@ss", "http://10.0.0.6/snap@2x/video.mjpg?api_key=***"),
    ]:
        assert _Source(url).label == shown
    with socketserver.TCPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]  # a port nothing listens on once closed
    with pytest.raises(SourceError) as caught:
        watch(f"http://admin:p@ss@127.0.0.1:{port}/video.cgi?pwd=p@ss")
    assert "p@ss" not in str(caught.value) and "@ss" not in str(caught.value), caught.value


# --------------------------------------------------------------------------- a live source: drop, never queue


class FakeCamera:
    """A capture whose frames come as fast as it is grabbed (each carries its index in its first two pixels); once
    ``stop_after`` frames were read (``readings``, counted by the test's reader) it stops (unplugged). Records which
    frames were decoded (``retrieve``)."""

    def __init__(self, stop_after: int | None = None):
        self.grabbed = 0
        self.readings = 0
        self.decoded: list[int] = []
        self.released = False
        self.stop_after = stop_after
        self.cond = threading.Condition()

    def isOpened(self):
        return not self.released

    def grab(self):
        time.sleep(0.001)  # not to spin; nothing below depends on how fast frames come
        with self.cond:
            if self.stop_after is not None and self.readings >= self.stop_after:
                return False
            self.grabbed += 1
            self.cond.notify_all()
        return True

    def retrieve(self):
        index = self.grabbed - 1
        self.decoded.append(index)
        frame = np.full((32, 32), BLANK, np.uint8)
        frame[0, 0], frame[0, 1] = index // 256, index % 256
        return True, frame

    def release(self):
        self.released = True

    def wait_for(self, count: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.grabbed >= count, timeout=60), "the grabber stopped grabbing"


def test_live_frames_that_arrive_while_reading_are_dropped_not_queued(monkeypatch):
    """A slow reader: each reading returns only once 6 more frames were grabbed. The next frame read is then the
    newest (grabbed after the reader was ready), never the next one in line; only frames read are decoded (and,
    before the first reading, the newest frame, kept for it)."""
    import edgedigits_runtime.read as read_module
    from edgedigits_runtime.read import NumberReading
    from edgedigits_runtime.watch import watch

    camera = FakeCamera()
    read, grabbed_when_done = [], []

    def slow_read(grey, reader=None, **options):
        index = int(grey[0, 0]) * 256 + int(grey[0, 1])
        read.append(index)
        camera.wait_for(index + 7)  # frames index+1 .. index+6 arrive while this one is read
        with camera.cond:
            grabbed_when_done.append(camera.grabbed)
        return NumberReading(str(index % 2), 1.0)

    monkeypatch.setattr(read_module, "read_number", slow_read)
    with watch(camera, every=0, stable=1, all_readings=True, frames=5) as events:
        assert events.live
        got = [e.frame for e in events]
    assert got == read and len(read) == 5
    for k in range(4):
        assert read[k + 1] >= grabbed_when_done[k] - 1 >= read[k] + 6  # the newest frame, 6 or more skipped
    first = camera.decoded.index(read[0])
    assert camera.decoded[first:] == read  # frames grabbed meanwhile were never retrieved
    assert all(index < read[0] for index in camera.decoded[:first])  # kept for the first reading, then newer came
    summary = events.summary
    assert summary.reason == "frames" and summary.read == 5 and summary.frames == camera.grabbed > read[-1]
    assert summary.skipped == summary.frames - 5 >= 4 * 6
    assert camera.released


class OneFrameCamera:
    """A capture that gives the same frame, as it is, for ever (an opened cv2.VideoCapture set up by its user)."""

    def __init__(self, frame):
        self.frame = frame

    def isOpened(self):
        return True

    def grab(self):
        time.sleep(0.001)  # not to spin
        return True

    def retrieve(self):
        return True, self.frame

    def release(self):
        pass


def test_frames_of_any_layout_a_capture_gives_are_read(scenes, reader):
    """What a capture set up by its user can give: one channel as (H, W, 1), 16 bits (a Y16 camera with
    CAP_PROP_CONVERT_RGB off: read by the high byte, as read_number reads 16-bit files), an empty frame (a driver's
    glitch: a frame with a note, the watch goes on). The first was an OpenCV traceback, the second "no number" on every
    frame (only --json's note said why), the third a traceback."""
    from edgedigits_runtime.watch import watch

    grey = cv2.cvtColor(scenes["2048"], cv2.COLOR_BGR2GRAY)
    for frame in (grey[..., None], grey.astype(np.uint16) * 257, scenes["2048"].astype(np.uint16) * 257):
        with watch(OneFrameCamera(frame), reader, every=0, frames=3) as events:
            assert [e.number for e in events] == ["2048"], (frame.shape, frame.dtype)
    with watch(OneFrameCamera(np.zeros((0, 0, 3), np.uint8)), reader, every=0, frames=3) as events:
        (event,) = list(events)
    assert event.number == "" and "empty" in event.note and events.summary.read == 3


def test_a_given_capture_that_stops_is_a_source_error(monkeypatch):
    import edgedigits_runtime.read as read_module
    from edgedigits_runtime.read import NumberReading
    from edgedigits_runtime.watch import watch

    camera = FakeCamera(stop_after=3)  # stops once 3 frames were read: whatever the machine's speed

    def read_seven(grey, reader=None, **options):
        camera.readings += 1
        return NumberReading("7", 1.0)

    monkeypatch.setattr(read_module, "read_number", read_seven)
    events = watch(camera, every=0, stable=2)
    seen = []
    with pytest.raises(SourceError, match="stopped sending frames"):
        with events:
            seen.extend(e.number for e in events)
    assert seen == ["7"]  # stable at the second frame read
    summary = events.summary
    assert (summary.reason, summary.read, summary.number) == ("stopped", 3, "7") and camera.released


# --------------------------------------------------------------------------- a real HTTP MJPEG stream


class MJPEGServer:
    """An HTTP MJPEG stream (multipart/x-mixed-replace, as IP cameras and mjpg-streamer serve) of some BGR frames,
    looped; each connection is cut after ``cut_after`` frames when given (the camera's network drops). ``parts``:
    the bytes sent as the frames instead (JPEG or not); ``interval``: seconds between two frames; ``hold``: an event
    each connection waits for after its first frame (a stream that stalls until the test says); ``down``: while this
    event is set, connections end and new ones are answered 503 (the camera is off). ``gone`` counts the connections whose client went
    away (closed them)."""

    def __init__(self, frames, cut_after: int | None = None, parts: list[bytes] | None = None, interval: float = 0.02,
                 hold: threading.Event | None = None, down: threading.Event | None = None):
        jpegs = parts or [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in frames]
        self.connections = 0
        self.gone = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.connections += 1
                if down is not None and down.is_set():
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for i in range(cut_after or 10**9):
                        if down is not None and down.is_set():
                            break  # switched off: the connection ends
                        jpeg = jpegs[i % len(jpegs)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(jpeg) + jpeg + b"\r\n")
                        if i == 0 and hold is not None:
                            hold.wait(120)
                        time.sleep(interval)
                except OSError:  # the client went away
                    owner.gone += 1

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stream(scenes):
    server = MJPEGServer([scenes["2048"]])
    yield server
    server.close()


def test_cli_watch_http_mjpeg_stream(stream):
    done = _run("watch", stream.url, "--every", "0", "--all", "--frames", "4", "--json")
    assert done.returncode == 0, done.stderr
    *rows, end = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["number"] for r in rows] == ["2048"] * 4
    assert [r["event"] for r in rows] == ["reading", "reading", "change", "reading"]
    frames = [r["frame"] for r in rows]
    assert frames == sorted(set(frames)) and all(r["at"].endswith("Z") for r in rows)
    assert end["reason"] == "frames" and end["read"] == 4 and end["frames"] >= frames[-1] + 1


def test_cli_watch_stream_ends_cleanly_on_ctrl_c_and_sigterm(stream):
    for sig in (signal.SIGINT, signal.SIGTERM):
        process = subprocess.Popen([sys.executable, "-m", "edgedigits_runtime.cli", "watch", stream.url, "--every", "0",
                                    "--stable", "1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = json.loads(process.stdout.readline())  # a reading came: the watch is under way
            process.send_signal(sig)
            out, err = process.communicate(timeout=60)
        finally:
            process.kill()
        assert first["number"] == "2048"
        end = json.loads(out.splitlines()[-1])
        assert process.returncode == 0, err
        assert end["event"] == "end" and end["reason"] == "interrupted" and end["number"] == "2048"
        assert "Traceback" not in err


def test_cli_watch_seconds_ends_on_time_whatever_the_stream_or_every(scenes):
    """--seconds bounds a live watch also when the next frame is slow to come (a camera sending one frame, then
    nothing: it waited for the frames to stop, and reopened the stream) and when --every is longer (it waited for
    --every: an hour here). Checked by what happened, not by a time: one connection each, the end."""
    server = MJPEGServer([scenes["2048"]], cut_after=1, interval=4)  # a frame, nothing for 4 s, the connection closed
    try:
        for runs, every in enumerate(("0", "3600"), 1):
            done = _run("watch", server.url, "--every", every, "--seconds", "1", "--json", timeout=60)
            assert done.returncode == 0, done.stderr
            end = json.loads(done.stdout.splitlines()[-1])
            assert (end["reason"], end["reconnects"]) == ("seconds", 0) and end["read"] <= 1, (every, end)
            assert server.connections == runs, every  # not opened again
    finally:
        server.close()


def test_cli_watch_stream_reconnects_then_gives_up(scenes):
    """Connections cut after 5 frames: with --reconnect the stream is opened again (a warning, the count goes on);
    with --reconnect 0 the watch ends with the summary and a one-line error, exit 1."""
    server = MJPEGServer([scenes["317"]], cut_after=5)
    try:
        done = _run("watch", server.url, "--every", "0", "--all", "--frames", "12", "--json", "--reconnect", "30")
        assert done.returncode == 0, done.stderr
        *rows, end = [json.loads(line) for line in done.stdout.splitlines()]
        assert [r["number"] for r in rows] == ["317"] * 12 and end["reconnects"] >= 2 and server.connections >= 3
        frames = [r["frame"] for r in rows]
        assert frames == sorted(set(frames))
        lines = done.stderr.splitlines()
        assert all(line.startswith("warning: ") for line in lines), done.stderr
        # each stop has its line and each return its own (Python showed a warning's same text only once: the
        # second stop said nothing)
        stops = [line for line in lines if "stopped sending frames (unplugged" in line and "opening it again" in line]
        backs = [line for line in lines if "opened again (frames from" in line]
        assert len(stops) == len(backs) == end["reconnects"], done.stderr

        done = _run("watch", server.url, "--every", "0", "--json", "--reconnect", "0")
        assert done.returncode == 1
        end = json.loads(done.stdout.splitlines()[-1])
        assert end["event"] == "end" and end["reason"] == "stopped" and end["reconnects"] == 0
        error = done.stderr.strip().splitlines()
        assert len(error) == 1 and error[0].startswith("error: ") and "stopped sending frames" in error[0]
    finally:
        server.close()


def test_cli_watch_reads_a_stream_that_sends_one_frame_per_connection(scenes):
    """A snapshot URL, or a camera that sends a frame and then waits: its one frame came while --every was still
    waited for (after the stream was opened again) and was dropped, so no frame of a connection after the first was
    ever read ("stopped sending frames and did not come back", exit 1). The newest frame is now kept until a
    connection's first reading: each connection's frame is read."""
    server = MJPEGServer([scenes["2048"]], cut_after=1)  # one frame, then the connection is closed
    try:
        done = _run("watch", server.url, "--every", "3", "--stable", "1", "--all", "--frames", "2", "--json",
                    "--reconnect", "5")
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    *rows, end = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["number"] for r in rows] == ["2048", "2048"] and [r["frame"] for r in rows] == [0, 1], rows
    assert (end["reason"], end["read"], end["reconnects"]) == ("frames", 2, 1) and server.connections == 2
    assert "opened again" in done.stderr


def test_watch_close_leaves_a_stalled_grab_to_release_the_stream(scenes, reader):
    """The watch ends (here after its one frame) while the stream stalls: close() waited for the grab in progress,
    i.e. for the stream's 10 s read timeout, before releasing it (after --seconds or Ctrl-C too). Now the grabbing
    thread is left to end its grab and release the stream itself: close() returned while that grab still waited
    (the stream sends its next frame only when the test says so), and the stream is released once it ends."""
    from edgedigits_runtime.watch import watch

    hold = threading.Event()
    server = MJPEGServer([scenes["2048"]], hold=hold)  # a frame, then nothing until hold is set
    before = set(threading.enumerate())
    try:
        with watch(server.url, reader, every=0, stable=1, frames=1) as events:
            assert [e.number for e in events] == ["2048"]
        grabbing = [t for t in set(threading.enumerate()) - before if t.name == "edgedigits-watch-grab"]
        assert len(grabbing) == 1 and grabbing[0].is_alive()  # close() returned; the grab still waits
        assert events.summary.reason == "frames" and server.gone == 0
        hold.set()  # the next frame comes: the grab ends, the thread releases the stream
        grabbing[0].join(60)
        assert not grabbing[0].is_alive()
        deadline = time.monotonic() + 60
        while server.gone == 0 and time.monotonic() < deadline:  # the server sees the client gone on a later write
            time.sleep(0.05)
        assert server.gone == 1
    finally:
        hold.set()
        server.close()


def test_cli_watch_stops_cleanly_while_the_stream_is_being_opened():
    """SIGTERM (systemctl stop) or Ctrl-C while a stream that never answers is being opened: SIGTERM ended the process
    at once (exit -15, no summary: the handlers were set once the source was open), Ctrl-C only after the open's
    10 s timeout (exit 130, nothing printed). Now both end the wait: the summary, exit 0. The stream's server only
    accepts the connection and says nothing; the signal is sent once it has accepted, so the open is in progress."""
    import socket

    for sig in (signal.SIGTERM, signal.SIGINT):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
            port = listener.getsockname()[1]
            process = subprocess.Popen([sys.executable, "-m", "edgedigits_runtime.cli", "watch",
                                        f"http://127.0.0.1:{port}/video.mjpg", "--json"], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            try:
                listener.settimeout(60)
                connection, _ = listener.accept()  # FFmpeg is opening the stream
                process.send_signal(sig)
                out, err = process.communicate(timeout=60)
                connection.close()
            finally:
                process.kill()
        assert process.returncode == 0, (sig, process.returncode, err)
        end = json.loads(out.splitlines()[-1])
        assert (end["event"], end["reason"], end["frames"], end["read"], end["number"]) == (
            "end", "interrupted", 0, 0, None), end
        assert "Traceback" not in err and err == "", err


def test_cli_watch_refuses_a_text_file(tmp_path, video):
    """A .txt file opened as a video (FFmpeg's tty demuxer draws its text in frames) and the digits in it were read:
    a text file is refused from its bytes, whatever its name (a URL in it: the message says to give the URL, without
    its password); a file of ANSI art (escape codes: not plain text) from the codec FFmpeg opens it with. A video
    whose name ends .txt is still read, and an HLS playlist (text) is not refused as text."""
    notes, url, art, named = (tmp_path / name for name in ("notes.txt", "camera.txt", "meter.ans", "clip.txt"))
    notes.write_text("".join(f"Meter reading on day {day}: {2048 + 7 * day}\n" for day in range(30)))  # (it opened)
    url.write_text("rtsp://admin:s3cret@192.168.1.20/stream\n")
    art.write_bytes(b"\x1b[1;33m 2048 \x1b[0m\r\n" * 20)
    named.write_bytes(video.read_bytes())
    for path, words in [(notes, "is a text file, not a video"), (url, "give the URL itself, rtsp://admin:***@192.168"),
                        (art, "is not a video: FFmpeg reads it as text")]:
        result = runner.invoke(app, ["watch", str(path)])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), (path, result.output)
        assert words in lines[0] and "s3cret" not in lines[0], (path, result.output)
    playlist = tmp_path / "live.m3u8"  # HLS, as a recorder writes it: text naming the video's segments
    playlist.write_text("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:3.4,\nclip.avi\n#EXT-X-ENDLIST\n")
    (tmp_path / "clip.avi").write_bytes(video.read_bytes())
    for path in (named, playlist):
        result = runner.invoke(app, ["watch", str(path), "--every", "0", "--json"])
        assert result.exit_code == 0 and [json.loads(line)["number"] for line in _out(result).splitlines()[:-1]] == [
            "2048", "", "317"], (path, result.output)


def test_cli_watch_stream_that_opens_but_sends_no_frame_gives_up():
    """A URL that answers as an MJPEG stream whose parts no decoder reads (a broken encoder, the wrong path on some
    cameras): FFmpeg opens it, yet no frame ever comes. --reconnect bounds the attempts as for frames that stop (it
    was tried again for ever, one connection after another): the summary, a one-line error saying no frame came,
    exit 1; the source counts as back only once a frame came (no reconnect counted). A warning says when the frames
    stopped (the log of `serve --watch`, which reopens for ever, said nothing while it did)."""
    junk = np.random.default_rng(0).integers(0, 256, 2000, np.uint8).tobytes()
    server = MJPEGServer([], cut_after=3, parts=[junk])
    try:
        done = _run("watch", server.url, "--json", "--reconnect", "1", timeout=90)
    finally:
        server.close()
    assert done.returncode == 1, done.stderr
    end = json.loads(done.stdout.splitlines()[-1])
    assert (end["event"], end["reason"], end["frames"], end["reconnects"]) == ("end", "stopped", 0, 0)
    warning, error = done.stderr.strip().splitlines()  # when the frames did not come, then when it gave up
    assert warning.startswith("warning: ") and "opening it again once a second for 1 s" in warning, done.stderr
    assert error.startswith("error: ") and "sent no frame" in error, done.stderr
    assert server.connections >= 2  # it was tried again


def test_watch_stream_that_cannot_be_opened(tmp_path):
    from edgedigits_runtime.watch import watch

    with socketserver.TCPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]  # a port nothing listens on once closed
    with pytest.raises(SourceError, match="cannot open the stream http://127.0.0.1"):
        watch(f"http://127.0.0.1:{port}/stream.mjpg")


def test_watch_http_url_that_is_no_stream_says_what_the_server_answered(monkeypatch):
    """The commonest mistakes with an IP camera's URL, against a real HTTP server: a wrong path (404), a wrong
    password (401), the camera's web page instead of its stream (text/html), nothing listening at that port. The
    message says which, the password kept out of it (each was "no answer within 10 s, or not a video stream")."""
    from edgedigits_runtime.watch import watch

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/private"):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path.startswith("/page"):
                body = b"<html><body>camera settings</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as closed:
        free = closed.server_address[1]  # a port nothing listens on once closed
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://admin:s3cret@127.0.0.1:{server.server_address[1]}"
    try:
        for url, words in [(f"{base}/video.mjpg", "404 Not Found: check the path"),
                           (f"{base}/private/video.mjpg", "401 Unauthorized: check the user name and password"),
                           (f"{base}/page", "a web page (text/html), not a video stream"),
                           (f"http://127.0.0.1:{free}/video.mjpg", "nothing listens at 127.0.0.1:")]:
            with pytest.raises(SourceError) as caught:
                watch(url)
            message = str(caught.value)
            assert words in message and "s3cret" not in message and "\n" not in message, message
        # through a proxy (http_proxy, which FFmpeg takes too): what the proxy answered, not the address behind it
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(SourceError, match="the server answered 404 Not Found"):
            watch(f"http://127.0.0.1:{free}/video.mjpg")
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- a real RTSP server (where Debian's is)

_GST_PYTHON = "/usr/bin/python3"  # gst-rtsp-server's Python bindings come from Debian's packages, for its own Python
_GST_CHECK = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def rtsp(tmp_path, scenes):
    """rtsp://127.0.0.1:PORT/meter: 30 s of 2048 (10 fps) from GStreamer's RTSP server; skipped without it."""
    import os
    from pathlib import Path

    from photos import write_video

    if not os.path.exists(_GST_PYTHON) or subprocess.run([_GST_PYTHON, "-c", _GST_CHECK], capture_output=True).returncode:
        pytest.skip("no RTSP server here: apt install gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good")
    video = tmp_path / "meter.avi"
    write_video(video, [scenes["2048"]] * 300, fps=FPS)
    script = Path(__file__).resolve().parent / "rtsp_server.py"
    server = subprocess.Popen([_GST_PYTHON, str(script), str(video), str(_free_port())], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("rtsp://"), server.stderr.read()
        yield url
    finally:
        server.kill()
        server.communicate()


def test_cli_watch_rtsp_stream(rtsp):
    """A real RTSP server (RTP/JPEG, interleaved over the RTSP connection: OpenCV asks FFmpeg for TCP unless
    OPENCV_FFMPEG_CAPTURE_OPTIONS says otherwise): frames come, are read, the watch ends."""
    done = _run("watch", rtsp, "--every", "0", "--all", "--frames", "5", "--json")
    assert done.returncode == 0, done.stderr
    *rows, end = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["number"] for r in rows] == ["2048"] * 5 and end["reason"] == "frames" and end["read"] == 5


def test_watch_in_background_speaks_through_logging_or_its_log(video, reader, caplog):
    """A watch in a thread of its own gives its warnings (here its end with an error: the roi outside the frames) to
    `log`, or to the edgedigits_runtime.watch logger, not to Python's warnings (process-wide: another thread inside
    warnings.catch_warnings hid them); the thread's state says why it stopped."""
    import logging

    from edgedigits_runtime.watch import watch_in_background

    lines = []
    for log in (lines.append, None):
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, "edgedigits_runtime.watch"):
            warnings.simplefilter("always")
            background = watch_in_background(video, reader, roi=(400, 300, 50, 50), log=log)
            deadline = time.monotonic() + 60
            while background.running and time.monotonic() < deadline:  # it ends by itself at the first frame
                time.sleep(0.02)
            background.close()
        assert not background.running and "outside" in background.error and background.to_dict()["reopening"] is False
        assert not [w for w in caught if "watch" in str(w.message)]
        said = lines if log is not None else [record.getMessage() for record in caplog.records]
        assert len(said) == 1 and said[0].startswith(f"the watch of {video} stopped: roi: "), said
