"""Read numbers continuously from a camera, a video file or a network stream: :func:`watch`.

A device that watches a meter, a scoreboard or a form on a desk answers continuously: this is the capture loop
around :func:`~edgedigits_runtime.read_number` an embedded engineer would otherwise write by hand, and the library
behind ``edgedigits-rt watch SOURCE``.

- **Sources** (OpenCV's ``VideoCapture``, the ``image`` extra): a camera (``0``, ``"/dev/video0"``: V4L2 on a Pi),
  a video file, or a stream URL (``rtsp://...``, an ``http://`` MJPEG stream: FFmpeg); an already opened
  ``cv2.VideoCapture`` too (set its resolution yourself).
- **One reading path**: each frame read (turned grey by OpenCV from its BGR) goes to
  :func:`~edgedigits_runtime.read_number` with ``digits``, ``roi`` and ``threshold`` as ``read`` takes them.
  A frame with no number (blank, or nothing that reads as a digit) is a reading with ``number == ""``.
- **Live sources drop, never queue**: a thread grabs frames as they arrive (keeping a camera's buffers drained);
  when the reader is ready, the next frame grabbed (the newest there is) is retrieved and read; frames that arrived
  while one was read are never retrieved (a V4L2 camera's MJPEG frames are not even decoded; OpenCV's FFmpeg decodes
  each frame as it grabs it). ``every`` seconds at least between the starts of two readings (default :data:`EVERY`)
  keeps a Pi from being pegged. A video file is read in its own time instead: a frame every ``every`` seconds of
  video, whatever the machine's speed (the same readings on any machine).
- **Stable readings**: a reading is reported when it has been seen in ``stable`` consecutive frames read and
  differs from the last reported one (``all_readings=True``: every reading, those that change it marked).
- **Frames stop** on a camera or stream (unplugged, network gone): the source is reopened once a second for up to
  ``reconnect`` seconds (a :class:`SourceWarning` when it is back); then :class:`~edgedigits_runtime.SourceError`.
  A video file ends at its end.

Example:

>>> from edgedigits_runtime.watch import watch
>>> with watch("meter.avi", stable=3) as events:                       # doctest: +SKIP
...     for event in events:
...         print(f"{event.time:.1f}s", event.number or "no number")   # read every 0.25 s of video, 3 alike
0.5s 2048
2.5s no number
>>> events.summary.to_dict()["reason"]                                 # doctest: +SKIP
'end of video'
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import logging
import os
import re
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

from edgedigits_runtime.errors import InputError, SourceError, UsageError, first_line

__all__ = ["EVERY", "RECONNECT", "STABLE", "BackgroundWatch", "SourceWarning", "Watch", "WatchEvent", "WatchSummary",
           "WatchWarning", "watch", "watch_in_background"]

EVERY = 0.25  # default seconds between the starts of two readings: at most 4 a second
STABLE = 3  # default: a reading is reported once seen in this many consecutive frames read
RECONNECT = 10.0  # default seconds a camera or stream that stopped sending frames is tried again
_RETRY = 1.0  # seconds between two attempts to reopen it
_CLOSE_WAIT = 1.0  # seconds close() waits for a grab in progress before leaving the release to the grabbing thread
_OPEN_TIMEOUT_MS = 10_000  # a stream that has not answered in 10 s cannot be opened; ...
_READ_TIMEOUT_MS = 10_000  # ... one that sends no frame for 10 s has stopped (FFmpeg's own default is 30 s)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MEDIA_TEXT = ("#EXTM3U", "v=0", "ffconcat version")  # text files FFmpeg reads as media (HLS, SDP, concat list)
_TEXT_CODECS = frozenset({"ansi", "bint", "xbin", "idf"})  # FFmpeg's codecs that draw text or bytes as video frames
_SECRET_QUERY = re.compile(r"(^|[&;])([^=&;#]*(?:pass|pwd|token|key|auth|secret|sig)[^=&;#]*)=[^&;#]*", re.IGNORECASE)


class WatchWarning(UserWarning):
    """Something about a watch its user should know (it goes on, or it ended normally)."""


class SourceWarning(WatchWarning):
    """A camera or stream stopped sending frames (it is opened again), or was opened again (the watch goes on)."""


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    """One frame read.

    Attributes:
      frame: the frame's index in the source, from 0 (a live source counts every frame it delivered, read or not).
      time: seconds: a video file's frame position; a live source's seconds since the watch started.
      at: UTC time the frame was grabbed (ISO 8601), None for a video file.
      reading: the frame's :class:`~edgedigits_runtime.NumberReading` (``number == ""``: no number).
      note: why nothing was read, when the reader refused the frame (a blank frame: "no digits found"), else None.
      changed: this reading made the stable reading change (seen in ``stable`` consecutive frames read).
    """

    frame: int
    time: float
    at: str | None
    reading: object
    note: str | None
    changed: bool

    @property
    def number(self) -> str:
        """The number read (``""``: no number)."""
        return self.reading.number

    def to_dict(self) -> dict:
        """JSON-ready: ``{"event": "change"|"reading", "frame", "time", "at", "number", "confidence", "digits",
        "signs", "note"}`` (the reading's fields as ``edgedigits-rt read --json`` gives them)."""
        return {"event": "change" if self.changed else "reading", "frame": self.frame, "time": round(self.time, 3),
                "at": self.at, **self.reading.to_dict(), "note": self.note}


@dataclasses.dataclass(frozen=True)
class WatchSummary:
    """How a watch went.

    Attributes:
      reason: why it ended: "end of video", "frames" (``frames`` read), "seconds" (``seconds`` passed),
        "interrupted" (Ctrl-C), "closed" (closed before its end), "stopped" (the source's frames stopped), "error"
        (another error ended it, e.g. ``roi`` outside the frames), or "" while it runs.
      frames: frames the source delivered.
      read: frames read.
      changes: times the stable reading changed (the first stable reading included).
      seconds: wall-clock seconds since the watch started.
      number: the stable reading at the end (``""``: no number), None when no reading was ever stable.
      reconnects: times a camera or stream was opened again after its frames stopped.
    """

    reason: str
    frames: int
    read: int
    changes: int
    seconds: float
    number: str | None
    reconnects: int

    @property
    def skipped(self) -> int:
        """Frames not read (a live source's frames that arrived while one was read; a file's between readings)."""
        return self.frames - self.read

    def to_dict(self) -> dict:
        """JSON-ready: ``{"event": "end", "reason", "frames", "read", "skipped", "changes", "seconds", "number",
        "reconnects"}``."""
        return {"event": "end", "reason": self.reason, "frames": self.frames, "read": self.read, "skipped": self.skipped,
                "changes": self.changes, "seconds": round(self.seconds, 3), "number": self.number,
                "reconnects": self.reconnects}


def watch(source, reader=None, *, digits: int | None = None, roi=None, threshold: float | None = None,
          every: float = EVERY, stable: int = STABLE, all_readings: bool = False, frames: int | None = None,
          seconds: float | None = None, reconnect: float = RECONNECT, live: bool | None = None) -> Watch:
    """Watch a camera, a video file or a stream and read the number it shows, frame after frame.

    Example:

    >>> with watch(0, digits=4, roi=(100, 50, 400, 120), every=1.0) as events:   # doctest: +SKIP
    ...     for event in events:
    ...         print(event.to_dict())                      # a line each time the stable reading changes

    Args:
      source: a camera (its index ``0`` or ``"0"``, or ``"/dev/video0"``), a video file's path, a stream URL
        (``"rtsp://..."``, ``"http://.../stream.mjpg"``), or an opened ``cv2.VideoCapture`` (any object with
        ``grab``, ``retrieve``, ``isOpened`` and ``release``; it is released at the end).
      reader: the :class:`~edgedigits_runtime.reader.NumberReader` (None: the shipped one), as :func:`read_number`.
      digits, roi, threshold: as :func:`~edgedigits_runtime.read_number` (checked the same way, before the source
        is opened; ``roi`` is also checked against the first frame's size).
      every: seconds at least between the starts of two readings (0: as often as the reader goes; for a video
        file, every frame). A video file counts them in its own time.
      stable: a reading is reported once seen in this many consecutive frames read (1: every change).
      all_readings: yield every frame read (:attr:`WatchEvent.changed` marks the changes), not only the changes.
      frames: stop after this many frames read (None: no limit).
      seconds: stop after this many seconds (a video file: of video; a live source: of wall clock).
      reconnect: seconds to keep reopening a camera or stream whose frames stopped (0: stop at once;
        ``float("inf")``: for as long as the watch runs, as ``edgedigits-rt serve --watch`` does).
      live: drop frames that arrive while one is read (True), or read a file's frames in its own time (False).
        None: True for a camera, a stream or an opened capture, False for a video file.

    Returns:
      a :class:`Watch`: a context manager (it releases the source) and an iterator of :class:`WatchEvent`;
      its :attr:`Watch.summary` tells how it went.

    Raises:
      UsageError: a bad option (as :func:`read_number`, or ``every``, ``stable``, ``frames``, ``seconds``,
        ``reconnect`` out of range; ``roi`` outside the frames).
      SourceError: the source cannot be opened, or its frames stopped and it could not be reopened in time
        (raised while iterating).
      BackendUnavailableError: OpenCV is not installed.
    """
    from edgedigits_runtime.read import check_read_options

    roi = check_read_options(digits, roi, threshold, reader)
    _check_number("every", every, 0.0)
    _check_number("reconnect", reconnect, 0.0, endless=True)
    if seconds is not None:
        _check_number("seconds", seconds, 0.0, strict=True)
    for name, value in (("stable", stable), ("frames", frames)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UsageError(f"{name} must be a whole number of at least 1; got {value!r}")
    options = dict(digits=digits, roi=roi, threshold=threshold)
    return Watch(_Source(source), reader, options, every=float(every), stable=stable, all_readings=bool(all_readings),
                 frames=frames, seconds=seconds, reconnect=float(reconnect), live=live)


def _check_number(name: str, value, low: float, strict: bool = False, endless: bool = False) -> None:
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
          and (endless or value < float("inf")))
    if not ok or value < low or (strict and value <= low):
        raise UsageError(f"{name} must be a number of seconds {'over' if strict else 'at least'} {low:g}; got {value!r}")


class _Source:
    """What to open and how to name it: a camera, a stream, a video file or a capture given opened."""

    def __init__(self, source):
        self.given = None
        if hasattr(source, "grab") and hasattr(source, "retrieve"):
            self.kind, self.target, self.label, self.given = "capture", None, "the capture", source
        elif isinstance(source, int) and not isinstance(source, bool):
            self.kind, self.target, self.label = "camera", source, f"camera {source}"
        elif isinstance(source, (str, os.PathLike)):
            text = os.fspath(source)
            stripped = text.strip() if isinstance(text, str) else text
            if isinstance(stripped, str) and stripped.isdigit():
                self.kind, self.target, self.label = "camera", int(stripped), f"camera {int(stripped)}"
            elif isinstance(stripped, str) and _URL.match(stripped):
                self.kind, self.target, self.label = "stream", stripped, _redact(stripped)
            elif isinstance(stripped, str) and stripped.startswith("/dev/"):
                self.kind, self.target, self.label = "camera", stripped, stripped
            else:
                self.kind, self.target, self.label = "file", text, str(text)
        else:
            raise UsageError(f"source must be a camera index (0), a device (/dev/video0), a video file, a stream URL "
                             f"(rtsp://..., http://...) or an opened cv2.VideoCapture; got {type(source).__name__}")

    @property
    def live(self) -> bool:
        return self.kind != "file"

    def open(self):
        """The opened capture; SourceError (with what to do) when it cannot be opened."""
        if self.given is not None:
            if not self.given.isOpened():
                raise SourceError("the capture given is not open: check what opened it (cv2.VideoCapture(...).isOpened())")
            return self.given
        from edgedigits_runtime.decode import require_image_libs

        cv2 = require_image_libs()
        if self.kind == "file":
            path = Path(self.target)
            if not path.is_file():
                raise SourceError(f"{self.label}: no such video file (give a video file, a camera index such as 0, "
                                  "/dev/video0, or a stream URL such as rtsp://host/path)")
            text = _text_file(path)
            if text is not None:
                raise SourceError(f"{self.label} is a text file, not a video ({text}); give a video file, a camera "
                                  "(0, /dev/video0) or a stream URL (rtsp://..., http://...)")
        if self.kind == "camera" and isinstance(self.target, str) and not os.path.exists(self.target):
            raise SourceError(f"{self.label}: no such camera device (is the camera plugged in? `ls /dev/video*` "
                              "lists the cameras there are)")
        if os.environ.get("EDGEDIGITS_VERBOSE") != "1":  # FFmpeg's own log ("Stream ends prematurely"): we raise ours
            os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read once, at FFmpeg's first use
        ffmpeg = _has_ffmpeg(cv2)
        if self.kind == "stream":
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG if ffmpeg else cv2.CAP_ANY, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, _READ_TIMEOUT_MS])
        elif self.kind == "camera" and isinstance(self.target, str):
            capture = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        elif self.kind == "file" and ffmpeg:  # not OpenCV's own AVI reader: it prints to stderr on a damaged file
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG)
        else:
            capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            raise SourceError(self._cannot_open())
        if self.kind in ("file", "stream"):
            codec = _fourcc(capture.get(cv2.CAP_PROP_FOURCC))
            if codec in _TEXT_CODECS:  # FFmpeg's tty, bintext, xbin and idf demuxers draw any text or bytes as video
                capture.release()
                raise SourceError(f"{self.label} is not a video: FFmpeg reads it as text drawn in frames ({codec!r}: a "
                                  "text, .nfo, .asc or .bin file?); give a video file, a camera (0, /dev/video0) or "
                                  "a stream URL (rtsp://..., http://...)")
        return capture

    def _cannot_open(self) -> str:
        if self.kind == "camera":
            return (f"cannot open {self.label}: no such camera, it is in use by another program, or this user may "
                    "not use it (`ls /dev/video*` lists the cameras; add the user to the video group: "
                    "sudo usermod -aG video $USER, then log in again)")
        if self.kind == "stream":
            answer = _http_answer(self.target) if self.target.lower().startswith(("http://", "https://")) else None
            if answer:
                return f"cannot open the stream {self.label}: {answer}"
            return (f"cannot open the stream {self.label}: no answer within {_OPEN_TIMEOUT_MS // 1000} s, or not a "
                    "video stream OpenCV's FFmpeg reads (check the URL, the network, and that the stream plays "
                    "elsewhere, e.g. ffplay URL)")
        return (f"cannot open {self.label} as a video: not a video, a file cut short (an .mp4 whose recording was cut "
                "off has no index), or a codec this OpenCV's FFmpeg does not read (MJPEG or MPEG-4 in .avi, .mp4 or "
                ".mkv: tested on OpenCV 4.6 and 5.0)")


def _text_file(path: Path) -> str | None:
    """What to say of a file that holds text, or None when it may be a video: its first 4 KB are
    UTF-8 text with no control characters but line breaks and tabs (FFmpeg's tty demuxer opens a .txt, .nfo or .asc
    file as a video of its text drawn in frames, and digits in it are read). Text FFmpeg reads as media is not
    refused: an HLS playlist (#EXTM3U), an SDP session description (v=0), an ffconcat list."""
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return None  # FFmpeg's open says what is wrong
    head = head.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3 or exc.reason != "unexpected end of data":
            return None  # not UTF-8: a video's bytes (a character cut at the 4 KB's end is still text)
        text = head[:exc.start].decode("utf-8")
    if not text.strip() or any(not char.isprintable() and char not in "\t\n\r\f\v" for char in text):
        return None
    if text.lstrip().startswith(_MEDIA_TEXT):
        return None
    first = text.split()[0]
    if _URL.match(first):
        return f"it holds a URL: give the URL itself, {_redact(first)}"
    return "FFmpeg would draw its text in frames and digits in it would be read"


def _fourcc(value) -> str:
    """The codec OpenCV names for a capture (CAP_PROP_FOURCC: the codec's tag, or FFmpeg's codec name's first four
    letters when it has none), as text."""
    try:
        code = int(value) & 0xFFFFFFFF
    except (TypeError, ValueError, OverflowError):
        return ""
    return bytes((code >> shift) & 0xFF for shift in (0, 8, 16, 24)).decode("latin-1").rstrip("\0 ").lower()


def _has_ffmpeg(cv2) -> bool:
    """Whether this OpenCV reads video through FFmpeg (opencv-python-headless and Debian's python3-opencv do)."""
    registry = getattr(cv2, "videoio_registry", None)
    try:
        return bool(registry.hasBackend(cv2.CAP_FFMPEG))
    except AttributeError:
        return True  # no registry to ask (older builds): try FFmpeg, as OpenCV itself would first


def _http_answer(url: str) -> str | None:
    """What an HTTP(S) URL FFmpeg could not open as a stream answers, said for a message (the commonest mistakes with
    an IP camera's URL: a wrong path, a wrong password, its web page, nothing listening); None when nothing useful
    was learnt. One GET through urllib (a proxy in ``http_proxy`` as FFmpeg takes it, redirects followed; the URL's
    user and password sent as basic authentication), headers only, 5 s at most."""
    import base64
    import http.client
    import ssl
    import urllib.error
    import urllib.request
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
        where = f"{parts.hostname}:{parts.port or (443 if parts.scheme.lower() == 'https' else 80)}"
        plain = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    except ValueError:
        return None
    headers = {"User-Agent": "edgedigits-runtime"}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    context = ssl.create_default_context()  # a diagnosis only: FFmpeg does not check a camera's certificate either
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(urllib.request.Request(plain, headers=headers), timeout=5, context=context) as answer:
            status, reason, kind = answer.status, answer.reason, answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, reason, kind = exc.code, exc.reason, ""
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            return f"nothing listens at {where} (connection refused: check the address and the port)"
        return None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    if status in (401, 403):
        return (f"the server answered {status} {reason}: check the user name and password "
                "(http://user:password@host/...)")
    if status == 404:
        return f"the server answered {status} {reason}: check the path (the camera's manual gives its stream's URL)"
    if status >= 400:
        return f"the server answered {status} {reason}"
    media = (kind or "").split(";")[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        return (f"it answers a web page ({media}), not a video stream: give the stream's own URL (the camera's "
                "manual gives it, e.g. .../video.mjpg)")
    return None


def _redact(url: str) -> str:
    """A stream URL without its password, for messages: the user's password (rtsp://user:secret@host -> user:***@host;
    up to the last "@" before the path, as FFmpeg reads it) and query values named like one (?pwd=..., password,
    token, key, auth, secret, sig)."""
    url = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#:@]*):[^/?#]*@", r"\1:***@", url)
    base, mark, query = url.partition("?")
    if mark:
        query = _SECRET_QUERY.sub(r"\1\2=***", query)
    return base + mark + query


class _Grabber:
    """A thread that grabs a live capture's frames as they come (``grab``: no decoding) and decodes (``retrieve``)
    only the frame a reading asks for: the first one grabbed after :meth:`take` is called, the newest there is.
    Frames grabbed while no reading waits are dropped, never queued; until the capture's first reading, though, the
    newest frame is decoded and kept (a camera or a snapshot URL that sends one frame and then waits is read, even
    when the frame came before the reading asked). Every call into the capture is made by this one thread (OpenCV's
    captures are not thread-safe), its release too when :meth:`release` did not wait for its grab in progress."""

    def __init__(self, capture, first_index: int, start: float):
        self.capture = capture
        self.count = first_index  # frames grabbed so far (the next frame's index)
        self.start = start
        self.failed = False
        self._stop = False
        self._want = False  # a reading waits for the next frame
        self._keep = True  # no reading of this capture yet: its newest frame is kept for the first
        self._frame = None  # (index, seconds since start, wall-clock time, frame) delivered to take()
        self._done = False  # the thread made its last call into the capture
        self._release = False  # ... and then releases it
        self._cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="edgedigits-watch-grab", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._grab_frames()
        finally:
            with self._cond:
                self._done = True
                release = self._release
            if release:
                self.capture.release()

    def _grab_frames(self) -> None:
        while not self._stop:
            try:
                ok = bool(self.capture.grab())
            except Exception:  # noqa: BLE001 - a backend's own error: the source stopped
                ok = False
            now = time.monotonic()
            with self._cond:
                if ok:
                    self.count += 1
                if ok and (self._want or self._keep):
                    try:
                        ok, frame = self.capture.retrieve()
                    except Exception:  # noqa: BLE001
                        ok, frame = False, None
                    if ok and frame is not None:
                        self._frame = (self.count - 1, now - self.start, _utc(now), frame)
                        self._want = False
                    ok = ok and frame is not None
                if not ok:
                    self.failed = True
                self._cond.notify_all()
            if not ok:
                return

    def take(self, closed: threading.Event, until: float = float("inf")):
        """(index, seconds since the start, UTC time, frame) of the next frame grabbed; None when the source stopped,
        ``closed`` is set or ``time.monotonic()`` reached ``until``."""
        with self._cond:
            self._want = True  # (a frame there already is the newest, kept before the capture's first reading)
            while self._frame is None and not self.failed and not closed.is_set():
                left = until - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(0.2, left))
            taken, self._frame, self._want = self._frame, None, False
            if taken is not None:
                self._keep = False
            return taken

    def stop(self) -> None:
        self._stop = True  # the thread ends after its grab in progress (a camera's next frame, a stream's timeout)

    def release(self, wait: float) -> bool:
        """Stop, and release the capture: here once the thread ended within ``wait`` seconds (True), else by the
        thread itself once its grab in progress returns (False: a stream that stalled, up to its read timeout)."""
        self.stop()
        self.thread.join(wait)
        with self._cond:
            if not self._done:
                self._release = True
                return False
        self.capture.release()
        return True


def _utc(monotonic: float) -> str:
    """The UTC wall-clock time (ISO 8601, milliseconds) of a ``time.monotonic()`` instant."""
    at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=time.monotonic() - monotonic)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Watch:
    """A watch in progress (made by :func:`watch`): iterate over it for :class:`WatchEvent`; close it (or use it as
    a context manager) to release the source. :attr:`summary` tells how it went, also while it runs."""

    def __init__(self, source: _Source, reader, options: dict, *, every: float, stable: int, all_readings: bool,
                 frames: int | None, seconds: float | None, reconnect: float, live: bool | None):
        self._source = source
        self._reader = reader
        self._options = options
        self._every = every
        self._stable = stable
        self._all = all_readings
        self._frames = frames
        self._seconds = seconds
        self._reconnect = reconnect
        self._live = source.live if live is None else bool(live)
        self._capture = source.open()
        self._grabber = None
        self._closed = threading.Event()
        self._start = time.monotonic()
        self._until = float("inf") if seconds is None else self._start + seconds  # a live source's end, wall clock
        self._stopped: float | None = None  # when it was closed (the summary's seconds stop there)
        self._reason = ""
        self._seen = 0
        self._read = 0
        self._changes = 0
        self._reconnects = 0
        self._roi_checked = False  # roi against the first frame's size
        self._give_up: float | None = None  # while a live source's frames are stopped: when to stop reopening it
        self._current: str | None = None
        self._recent: collections.deque = collections.deque(maxlen=stable)
        self._started = False
        self._log = None  # watch_in_background's: where its warnings go (None: Python warnings)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close("interrupted" if kind is KeyboardInterrupt else "closed")

    def __iter__(self):
        if self._started:
            raise UsageError("a watch can be iterated once; call watch(...) again for another")
        self._started = True
        return self._events()

    @property
    def live(self) -> bool:
        """True when frames that arrive while one is read are dropped (a camera, a stream)."""
        return self._live

    @property
    def reopening(self) -> bool:
        """True while a camera's or stream's frames have stopped and it is being opened again (until a frame comes)."""
        return self._give_up is not None and not self._reason

    @property
    def summary(self) -> WatchSummary:
        """How the watch went so far (its ``reason`` is set once it ended)."""
        grabber = self._grabber
        frames = self._seen if grabber is None else max(self._seen, grabber.count)
        end = time.monotonic() if self._stopped is None else self._stopped
        return WatchSummary(self._reason, frames, self._read, self._changes, end - self._start, self._current,
                            self._reconnects)

    def stop(self) -> None:
        """Ask the watch to end, from another thread: its iteration ends after the frame in progress (reason
        "closed") and releases the source itself."""
        self._end("closed")
        self._closed.set()

    def close(self, reason: str = "closed") -> None:
        """Stop watching and release the source (the reason is kept when it had already ended).

        A live source's grab in progress (a camera's or a stream's next frame) is waited for up to a second: OpenCV's
        captures must not be released while another thread uses them. A grab that takes longer (a stream that
        stalled: up to its read timeout of 10 s) is left to end on its own, and its thread releases the source then.
        """
        if not self._reason:
            self._reason = reason
        if self._stopped is None:
            self._stopped = time.monotonic()
        self._closed.set()
        grabber = self._grabber
        if grabber is not None:  # it releases the capture, here or once its grab in progress returns
            self._capture = None
            grabber.release(_CLOSE_WAIT)
            self._seen = max(self._seen, grabber.count)
            self._grabber = None
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    # ------------------------------------------------------------------ frames

    def _frames_of(self):
        """(index, time, at, BGR or grey frame) per frame to read, paced by ``every``."""
        return self._live_frames() if self._live else self._file_frames()

    def _file_frames(self):
        cv2 = _cv2()
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        due = 0.0
        index = -1
        while not self._closed.is_set():
            index += 1
            at = (index / fps) if fps > 0 else self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if self._seconds is not None and at >= self._seconds:
                self._end("seconds")
                return
            if at + 1e-9 < due:  # not due: grabbed past without decoding
                if not self._capture.grab():
                    break
                self._seen += 1
                continue
            ok, frame = self._capture.read()
            if not ok or frame is None:
                break
            self._seen += 1
            due = due + self._every if due + self._every > at + 1e-9 else at + self._every
            yield index, at, None, frame
        if not self._closed.is_set():
            announced = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
            if 0 < announced < float("inf") and self._seen < int(announced) - 1:  # -1: a count estimated from duration
                self._warn(f"{self._source.label} ended after {self._seen} frames; its header announces "
                           f"{int(announced)}: the file is cut short or damaged (copied while it was recorded, or "
                           "the recording was cut off)", WatchWarning)
        self._end("end of video")

    def _live_frames(self):
        last_start = None
        until = self._until
        while not self._closed.is_set():
            if self._capture is None:  # a reopening that --seconds cut short
                self._end("seconds")
                return
            if self._grabber is None:
                self._grabber = _Grabber(self._capture, self._seen, self._start)
            if last_start is not None and self._every > 0:
                if self._closed.wait(max(0.0, min(last_start + self._every, until) - time.monotonic())):
                    return
            if time.monotonic() >= until:
                self._end("seconds")
                return
            taken = self._grabber.take(self._closed, until)
            self._seen = self._grabber.count
            if taken is None:
                if self._closed.is_set():
                    return
                if time.monotonic() >= until:
                    self._end("seconds")
                    return
                if self._source.kind == "file":  # a video file read live (live=True): its end is the end
                    self._end("end of video")
                    return
                self._reopen()
                continue
            if self._give_up is not None:  # back: opened again, and a frame came
                self._give_up = None
                self._reconnects += 1
                self._warn(f"{self._source.label} stopped sending frames and was opened again (frames from "
                           f"{taken[0]} on are new ones)", SourceWarning)
            last_start = time.monotonic()
            yield taken

    def _reopen(self) -> None:
        """The frames stopped: reopen the source once a second until a frame comes, for ``reconnect`` seconds at
        most from when they stopped (a source that opens but sends no frame counts as stopped), else SourceError."""
        self._grabber = None
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()
        what = self._source.label
        if self._seen:
            stopped = f"{what} stopped sending frames (unplugged, switched off, or the network is gone)"
        else:
            stopped = (f"{what} opened but sent no frame OpenCV can decode (is it the video stream itself? check "
                       "that it plays elsewhere, e.g. ffplay URL)")
        if self._source.given is not None:
            self._end("stopped")
            raise SourceError(f"{stopped}; check it and open it again")
        if self._reconnect <= 0:
            self._end("stopped")
            raise SourceError(f"{stopped}; check it and run again (--reconnect S waits S seconds for it to come back)")
        if self._give_up is None:  # they just stopped
            self._give_up = time.monotonic() + self._reconnect
            how_long = "for as long as the watch runs" if self._reconnect == float("inf") else f"for {self._reconnect:g} s"
            self._warn(f"{stopped}; opening it again once a second {how_long}", SourceWarning)
        elif self._closed.wait(_RETRY):  # it opened again, yet no frame came: a second between attempts
            return
        while not self._closed.is_set() and time.monotonic() < self._until:  # past --seconds: the watch's end
            if time.monotonic() <= self._give_up:
                try:
                    self._capture = self._source.open()
                    return  # back once a frame comes (_live_frames)
                except SourceError:
                    pass
            if time.monotonic() + _RETRY > self._give_up:
                self._end("stopped")
                raise SourceError(f"{stopped} and did not come back within {self._reconnect:g} s; check it and run "
                                  "again (--reconnect S waits longer)")
            self._closed.wait(_RETRY)

    # ------------------------------------------------------------------ readings

    def _events(self):
        from edgedigits_runtime.read import read_number

        reader = self._reader
        try:
            for index, at_time, at, frame in self._frames_of():
                event = self._event(read_number, reader, frame, index, at_time, at)
                if event.changed or self._all:
                    yield event
                if self._frames is not None and self._read >= self._frames:
                    self._end("frames")
                    break
            if self._read and self._current is None and self._reason in ("end of video", "frames", "seconds"):
                self._warn(f"no reading became stable: none came in {self._stable} consecutive frames read "
                           f"({self._read} read; a video this short or read this seldom: lower --every or "
                           "--stable; a photo: edgedigits-rt read PHOTO)", WatchWarning)
        except KeyboardInterrupt:
            self.close("interrupted")
            raise
        except Exception:
            self._end("error")  # kept when the source's own ("stopped") came first
            raise
        finally:
            if self._reason:
                self.close(self._reason)

    def _event(self, read_number, reader, frame, index: int, at_time: float, at) -> WatchEvent:
        from edgedigits_runtime.read import NumberReading

        note = None
        try:
            grey = _grey(frame)
            if not self._roi_checked:
                self._check_roi(grey)
                self._roi_checked = True
            reading = read_number(grey, reader, name=f"frame {index}", **self._options)
        except InputError as exc:  # a blank frame ("no digits found"), a page of marks, ...: no number in this frame
            reading, note = NumberReading("", 0.0), first_line(exc).replace(f"frame {index}: ", "", 1)
        self._read += 1
        self._recent.append(reading.number)
        changed = (len(self._recent) == self._stable and len(set(self._recent)) == 1
                   and reading.number != self._current)
        if changed:
            self._current = reading.number
            self._changes += 1
        return WatchEvent(index, float(at_time), at, reading, note, changed)

    def _check_roi(self, grey) -> None:
        roi = self._options["roi"]
        if roi is None:
            return
        from edgedigits_runtime.decode import clip_roi

        try:
            clip_roi(roi, grey.shape[1], grey.shape[0], "roi")
        except InputError as exc:
            raise UsageError(f"{exc} (the frames are {grey.shape[1]}x{grey.shape[0]})") from None

    def _end(self, reason: str) -> None:
        if not self._reason:
            self._reason = reason

    def _warn(self, message: str, category: type) -> None:
        """A :class:`WatchWarning` for the watch's user: a Python warning, or a line given to the ``log`` of
        :func:`watch_in_background` (a thread's warnings reach no one reliably: ``warnings`` is process-wide)."""
        if self._log is not None:
            self._log(message)
            return
        frame, level = sys._getframe(), 1  # the warning is the caller's: its loop over the events
        while frame is not None and frame.f_globals.get("__name__") == __name__:
            frame, level = frame.f_back, level + 1
        warnings.warn(message, category, stacklevel=level)


def _cv2():
    from edgedigits_runtime.decode import require_image_libs

    return require_image_libs()


def _grey(frame):
    """A frame as grey, as :func:`read_number` takes it: BGR or BGRA by OpenCV's luma, one channel (H, W[, 1]) as it
    is, 16 bits by the high byte (as 16-bit image files are read); InputError for an empty one."""
    import numpy as np

    frame = np.asarray(frame)
    if frame.size == 0:
        raise InputError("an empty frame (the capture gave no pixels)")
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        cv2 = _cv2()
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    return frame


class BackgroundWatch:
    """A watch running in a thread of its own, keeping its latest reading and its stable one (made by
    :func:`watch_in_background`): what a server or an application polls (``edgedigits-rt serve --watch``).

    Attributes:
      label: the source as messages name it (a stream's password hidden).
    """

    def __init__(self, started: Watch, label: str, log=None):
        self.label = label
        self._watch = started
        self._log = log if log is not None else logging.getLogger(__name__).warning
        started._log = self._log
        self._latest: WatchEvent | None = None
        self._stable: WatchEvent | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name="edgedigits-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from edgedigits_runtime.errors import EdgeDigitsError

        try:
            with self._watch as events:
                for event in events:
                    self._latest = event
                    if event.changed:
                        self._stable = event
        except EdgeDigitsError as exc:  # the source stopped and did not come back, roi outside the frames, ...
            self._error = first_line(exc)
        except Exception as exc:  # noqa: BLE001 - kept for the poller to see, not lost in a thread
            self._error = first_line(exc, with_type=True)
        if self._error is not None:  # and in the log: a service's journal says why its watch stopped
            self._log(f"the watch of {self.label} stopped: {self._error}")

    @property
    def running(self) -> bool:
        """True while the watch goes on (False once it ended: end of a video, an error, :meth:`close`)."""
        return self._thread.is_alive()

    @property
    def latest(self) -> WatchEvent | None:
        """The last frame read (None before the first)."""
        return self._latest

    @property
    def stable(self) -> WatchEvent | None:
        """The event that made the current stable reading (None until a reading was seen ``stable`` times)."""
        return self._stable

    @property
    def error(self) -> str | None:
        """Why the watch ended early (a source that stopped sending frames), else None."""
        return self._error

    @property
    def reopening(self) -> bool:
        """True while the source's frames have stopped and it is being opened again (:attr:`Watch.reopening`)."""
        return self.running and self._watch.reopening

    def to_dict(self) -> dict:
        """JSON-ready: ``{"source", "running", "reopening", "stable", "latest", "summary", "error"}`` (``stable`` and
        ``latest`` as :meth:`WatchEvent.to_dict`, or None; ``summary`` as :meth:`WatchSummary.to_dict`)."""
        stable, latest = self._stable, self._latest
        return {"source": self.label, "running": self.running, "reopening": self.reopening,
                "stable": None if stable is None else stable.to_dict(),
                "latest": None if latest is None else latest.to_dict(), "summary": self._watch.summary.to_dict(),
                "error": self._error}

    def close(self, timeout: float = _READ_TIMEOUT_MS / 1000.0 + 10.0) -> None:
        """Stop the watch and wait (at most ``timeout`` seconds) until its thread has released the source."""
        self._watch.stop()
        self._thread.join(timeout)


def watch_in_background(source, reader=None, *, log=None, **options) -> BackgroundWatch:
    """:func:`watch` in a thread of its own, every reading kept: poll :attr:`BackgroundWatch.stable` (the current stable
    reading) and :attr:`BackgroundWatch.latest` (the last frame read) whenever you like.

    Example:

    >>> background = watch_in_background("/dev/video0", digits=4, every=1.0)    # doctest: +SKIP
    >>> background.stable.number if background.stable else "not yet"           # doctest: +SKIP
    '2048'
    >>> background.close()                                                     # doctest: +SKIP

    Args:
      source, reader: as :func:`watch`.
      log: called from the watch's thread with each of its warnings, one line of text (frames that stopped, a
        source opened again, the watch's end with an error). None: the ``edgedigits_runtime.watch`` logger's
        ``warning`` (Python's ``logging``: shown on stderr until the application sets up logging). Not Python
        warnings: their filters are process-wide, and another thread inside ``warnings.catch_warnings`` hides them.
      **options: :func:`watch`'s keyword options (``all_readings`` is always on here).

    Returns:
      the running :class:`BackgroundWatch`; the source is opened before this returns.

    Raises:
      as :func:`watch` (options, a source that cannot be opened); later errors are :attr:`BackgroundWatch.error`.
    """
    options["all_readings"] = True
    started = watch(source, reader, **options)
    return BackgroundWatch(started, started._source.label, log)


@contextlib.contextmanager
def _stop_raises():
    """SIGTERM and SIGINT raise KeyboardInterrupt during the block, in the main thread (elsewhere nothing changes): a
    service stopped (``systemctl stop``) ends as Ctrl-C does, and Ctrl-C works even where SIGINT was ignored (``&``).
    ``edgedigits-rt watch`` and ``serve --watch`` hold it around :func:`_opened` and the watch."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {signal.SIGTERM: _interrupt, signal.SIGINT: signal.default_int_handler}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _opened(open_watch):
    """``open_watch()`` (it opens a source: :func:`watch`, :func:`watch_in_background`) in a thread of its own, waited
    for here: a signal handler that raises (Ctrl-C, SIGTERM as ``edgedigits-rt watch`` and ``serve --watch`` set it)
    ends the wait at once, where it would wait for the open in progress (a C call: up to a stream's 10 s). A watch
    opened after the wait was given up is closed by that thread."""
    box, lock = {}, threading.Lock()

    def run():
        try:
            opened = open_watch()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            box["error"] = exc
            return
        with lock:
            box["watch"] = opened
            abandoned = box.get("abandoned", False)
        if abandoned:
            opened.close()

    thread = threading.Thread(target=run, name="edgedigits-watch-open", daemon=True)
    thread.start()
    try:
        thread.join()
    except BaseException:
        with lock:
            box["abandoned"] = True
            opened = box.pop("watch", None)
        if opened is not None:
            opened.close()
        raise
    if "error" in box:
        raise box["error"]
    return box["watch"]
