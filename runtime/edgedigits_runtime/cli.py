"""`edgedigits-rt`: the runtime's own light command (no TensorFlow): predict, read, watch, info, evaluate, serve, doctor.

Each command validates, calls one library function and renders the result. Library
errors print ``error: <message>`` on stderr and exit 1. ``predict`` goes on past bad
files and exits 1 at the end if any failed (``read`` too). ``edgedigits predict`` and ``edgedigits read``
are these same commands.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import warnings
from pathlib import Path
from typing import List, Optional

import typer

from edgedigits_runtime.backends import MAX_THREADS
from edgedigits_runtime.errors import EdgeDigitsError
from edgedigits_runtime.scaling import SCALING_HELP

app = typer.Typer(name="edgedigits-rt", help="Classify handwritten digits on a device (no TensorFlow).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _friendly(fn):
    """Library errors -> one line on stderr and exit 1; the runtime's own warnings -> one ``warning:`` line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with warning_lines():
            try:
                return fn(*args, **kwargs)
            except EdgeDigitsError as exc:
                typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
                raise typer.Exit(1) from None

    return wrapper


@contextlib.contextmanager
def warning_lines():
    """During a command: each of the runtime's own warnings (``ManifestWarning``, ``SourceWarning``, ...) is one
    ``warning: <message>`` line on stderr, not Python's two lines with a source file and line (``edgedigits``'
    commands use it too); other warnings are shown as Python shows them."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        yield


_default_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    from edgedigits_runtime.native import held_stderr

    with held_stderr():  # not into another thread's capture of native output (the line would be lost)
        if category.__module__.startswith("edgedigits_runtime"):
            typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)
        else:
            _default_showwarning(message, category, filename, lineno, file, line)


_NORMALIZE = f"How the model wants its input scaled: {SCALING_HELP}. Default: what its manifest records, else unit."


def _open(model: Optional[Path], threads: Optional[int], backend: Optional[str], strict: bool = False,
          normalize: Optional[str] = None):
    from edgedigits_runtime.classifier import DEFAULT_MODEL, DigitClassifier, load_default

    if model is None and normalize is None:
        return load_default(num_threads=threads, backend=backend)
    return DigitClassifier(DEFAULT_MODEL if model is None else model, num_threads=threads, backend=backend, strict=strict,
                           normalize=normalize)


@_friendly
def predict_command(
    images: List[str] = typer.Argument(..., help="Image files, folders, glob patterns ('digits/*.png'), or - for stdin.",
                                       show_default=False),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model file (.tflite/.onnx; manifest.json beside "
                                         "it is checked). Default: the shipped int8 model."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line: path, label (null: not a digit), not_a_digit, "
                                  "confidence, top_k, score, threshold (error)."),
    top_k: int = typer.Option(1, "--top-k", "-k", min=1, max=10, help="Also show the K most likely digits."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", min=1, max=MAX_THREADS,
                                          help="Interpreter threads (default: backend's)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Force litert, tflite-runtime, tensorflow-lite or onnxruntime."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                              help="'not a digit' below this top-digit probability (default: the "
                                                   "model's calibrated rule; a model without one rejects nothing)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a model that nothing verifies (no integrity record "
                                "inside it, no manifest entry), e.g. a third-party file."),
    normalize: Optional[str] = typer.Option(None, "--normalize", help=_NORMALIZE),
) -> None:
    """Classify digit images (photos or scans): prints `path: label (confidence)` or `path: not a digit` per file."""
    from edgedigits_runtime.predict import predict_files

    results = predict_files(images, _open(model, threads, backend, strict, normalize), top_k=top_k, threshold=threshold)

    def line(r) -> str:
        extra = "" if top_k == 1 else "  [" + ", ".join(f"{d}: {p:.3f}" for d, p in r.top_k) + "]"
        if r.not_a_digit and r.score is not None and r.threshold is not None and r.score < r.threshold:
            return f"{r.path}: not a digit (score {r.score:.3f} < {r.threshold:.3f}){extra}"
        if r.not_a_digit:  # the rule's second condition: split between two digits
            return f"{r.path}: not a digit (share of the top digit {r.share:.3f} < {r.min_share:.3f}){extra}"
        return f"{r.path}: {r.label} ({r.confidence:.3f}){extra}"

    _render(results, json_out, line)



def _render(results, json_out: bool, line) -> None:
    """Per-file results: ``--json`` objects or ``line(result)``; errors one line each on stderr; exit 1 if any failed."""
    for r in results:
        if json_out:
            typer.echo(json.dumps(r.as_dict()))
        elif r.ok:
            typer.echo(line(r))
        else:
            message = r.error if r.error.startswith(str(r.path)) else f"{r.path}: {r.error}"  # name the file once
            typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    failed = sum(not r.ok for r in results)
    if failed:
        typer.secho(f"{failed} of {len(results)} file(s) failed", err=True)
        raise typer.Exit(1)

app.command("predict")(predict_command)


def _parse_roi(text: Optional[str]):
    if text is None:
        return None
    from edgedigits_runtime.errors import UsageError

    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--roi takes x,y,w,h in pixels (four whole numbers, e.g. 100,50,400,120); got {text!r}") from None


@_friendly
def read_command(
    images: List[str] = typer.Argument(..., help="Photos of numbers: files, folders, glob patterns, or - for stdin.",
                                       show_default=False),
    digits: Optional[int] = typer.Option(None, "--digits", "-n", min=1, help="The number's length, when known."),
    roi: Optional[str] = typer.Option(None, "--roi", help="Read only this region: x,y,w,h in the photo's pixels."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Number reader model file (manifest.json beside "
                                         "it is checked). Default: the shipped reader_int8.tflite."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line: path, number, confidence, digits "
                                  "(box, label, confidence, not_a_digit each) (error)."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", min=1, max=MAX_THREADS,
                                          help="Interpreter threads (default: backend's)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Force litert, tflite-runtime, tensorflow-lite or onnxruntime."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                              help="'not a digit' (shown as ?) below this digit probability "
                                                   "(default: the reader's own level)."),
) -> None:
    """Read whole handwritten numbers from photos: prints `path: 2048 (0.97)` per file (? = not a digit)."""
    from edgedigits_runtime.read import NumberReader, load_reader, read_files

    reader = load_reader(threads, backend) if model is None else NumberReader(model, num_threads=threads, backend=backend)
    results = read_files(images, reader, digits=digits, roi=_parse_roi(roi), threshold=threshold)
    _render(results, json_out, lambda r: f"{r.path}: {r.reading.number} ({r.reading.confidence:.2f})"
            if r.reading.number else f"{r.path}: no digits found")


app.command("read")(read_command)


@app.command("watch")
@_friendly
def watch_command(
    source: str = typer.Argument(..., help="A camera (0, /dev/video0), a video file, or a stream URL (rtsp://..., "
                                 "http://... MJPEG).", show_default=False),
    digits: Optional[int] = typer.Option(None, "--digits", "-n", min=1, help="The number's length, when known."),
    roi: Optional[str] = typer.Option(None, "--roi", help="Read only this region: x,y,w,h in the frame's pixels."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                              help="'not a digit' (shown as ?) below this digit probability "
                                                   "(default: the reader's own level)."),
    every: float = typer.Option(0.25, "--every", min=0.0, max=86400.0, help="Seconds at least between two readings "
                                "(0: as often as the reader goes; a video file: every frame). A video file counts "
                                "its own time."),
    stable: int = typer.Option(3, "--stable", min=1, max=1000, help="Report a reading once seen in this many "
                               "consecutive frames read (no number included)."),
    all_readings: bool = typer.Option(False, "--all", help="Print every reading, not only the changes."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Stop after this many frames read."),
    seconds: Optional[float] = typer.Option(None, "--seconds", min=0.001, help="Stop after this many seconds (a video "
                                            "file: of video)."),
    reconnect: float = typer.Option(10.0, "--reconnect", min=0.0, max=86400.0, help="Seconds to keep reopening a "
                                    "camera or stream whose frames stopped (0: exit at once)."),
    json_out: bool = typer.Option(False, "--json", help="JSON lines: event (change, reading, end), frame, time, at, "
                                  "number (\"\": no number), confidence, digits, signs (as read --json), note; "
                                  "last the end's summary."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Number reader model file (manifest.json beside "
                                         "it is checked). Default: the shipped reader_int8.tflite."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", min=1, max=MAX_THREADS,
                                          help="Interpreter threads (default: backend's)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Force litert, tflite-runtime, tensorflow-lite or onnxruntime."),
) -> None:
    """Read the number a camera, a video or a stream shows, continuously: a line each time the stable reading changes.

    Frames that arrive while one is read are dropped (a live source: the newest is read). Ends at the end of a
    video, after --frames/--seconds, or on Ctrl-C (exit 0), with a summary; exit 1 when the source cannot be opened
    or its frames stop for longer than --reconnect.
    """
    import time

    from edgedigits_runtime.errors import SourceError
    from edgedigits_runtime.read import NumberReader, load_reader
    from edgedigits_runtime.watch import WatchSummary, WatchWarning, _opened, _stop_raises, watch

    warnings.simplefilter("always", WatchWarning)  # each time the frames stop, not only the first (within _friendly)
    chosen = _parse_roi(roi)
    reader = load_reader(threads, backend) if model is None else NumberReader(model, num_threads=threads, backend=backend)
    failed, events, start = None, None, time.monotonic()
    with _stop_raises():  # the source is opened under the handlers too: a stop while it opens ends with the summary
        try:
            events = _opened(lambda: watch(source, reader, digits=digits, roi=chosen, threshold=threshold, every=every,
                                           stable=stable, all_readings=all_readings, frames=frames, seconds=seconds,
                                           reconnect=reconnect))
            with events:
                for event in events:
                    typer.echo(json.dumps(event.to_dict()) if json_out else _watch_line(event, all_readings))
        except KeyboardInterrupt:
            pass
        except SourceError as exc:
            if events is None:
                raise
            failed = exc
    if events is None:  # stopped while the source was being opened
        summary = WatchSummary("interrupted", 0, 0, 0, time.monotonic() - start, None, 0)
    else:
        summary = events.summary
    if json_out:
        typer.echo(json.dumps(summary.to_dict()))
    else:
        last = "none" if summary.number is None else (summary.number or "no number")
        typer.echo(f"{summary.reason}: {summary.frames} frames, {summary.read} read, {summary.changes} changes, "
                   f"last stable reading {last} ({summary.seconds:.1f} s)")
    if failed is not None:
        raise failed


def _watch_line(event, all_readings: bool) -> str:
    reading = event.reading
    text = f"{reading.number} ({reading.confidence:.2f})" if reading.number else "no number"
    mark = "  [stable]" if all_readings and event.changed else ""
    return f"{event.time:.2f}s frame {event.frame}: {text}{mark}"


@app.command("info")
@_friendly
def info_command(
    model: Optional[Path] = typer.Argument(None, help="Model file (default: the shipped int8 model)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Force a backend."),
    normalize: Optional[str] = typer.Option(None, "--normalize", help=_NORMALIZE),
) -> None:
    """Show a model's details and whether it matches its own integrity record and manifest (SHA-256)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = _open(model, None, backend, normalize=normalize)
    details = dict(clf.info)
    entry = (clf.manifest or {}).get("artifacts", {}).get(Path(clf.info["path"]).name, {})
    for key in ("accuracy", "agreement", "created"):
        if key in entry:
            details[f"manifest_{key}"] = entry[key]
    if clf.manifest:
        details["source_run"] = clf.manifest.get("source_run")
        if "shipped" in clf.manifest:
            details["shipped"] = clf.manifest["shipped"]
    details["warnings"] = [str(w.message) for w in caught]
    if json_out:
        typer.echo(json.dumps(details, indent=2))
        return
    for key, value in details.items():
        if key == "warnings":
            continue
        typer.echo(f"{key:18} {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    for text in details["warnings"]:
        typer.secho(f"warning: {text}", fg=typer.colors.YELLOW, err=True)


@app.command("evaluate")
@_friendly
def evaluate_command(
    model: Optional[Path] = typer.Argument(None, help="Model file (default: the shipped int8 model)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder with the MNIST files (else $EDGEDIGITS_DATA, "
                                            "cache, download)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N test images."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", min=1, max=MAX_THREADS, help="Interpreter threads."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Force a backend."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    normalize: Optional[str] = typer.Option(None, "--normalize", help=_NORMALIZE),
) -> None:
    """Accuracy on the MNIST test set, through the runtime."""
    from edgedigits_runtime.evaluate import evaluate

    result = evaluate(_open(model, threads, backend, normalize=normalize), data_dir=data_dir, limit=limit)
    if json_out:
        typer.echo(json.dumps(result.to_dict()))
    else:
        typer.echo(f"accuracy {result.accuracy:.2%} on {result.images} MNIST test images "
                   f"({result.errors} wrong; {result.backend}, {result.seconds:.1f} s)")


@app.command("serve")
@_friendly
def serve_command(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model file (default: the shipped int8 model)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on: 127.0.0.1 (this machine only) or "
                             "0.0.0.0 (the network; use a token)."),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port (0: any free one)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="EDGEDIGITS_TOKEN", show_envvar=True,
                                        help="Require 'Authorization: Bearer TOKEN' on every API call (prefer the "
                                        "environment variable: a command line is visible to other users)."),
    workers: int = typer.Option(2, "--workers", "-w", min=1, max=64, help="Threads that decode and classify images."),
    max_pending: int = typer.Option(32, "--max-pending", min=1, max=10000, help="Image requests in progress at "
                                    "once; more get 503 with Retry-After."),
    max_body_mb: float = typer.Option(10.0, "--max-body-mb", min=0.001, max=1024.0, help="Largest request body, MB."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, max=3600.0, help="Seconds one request may take, "
                                  "upload included."),
    memory_mb: float = typer.Option(384.0, "--memory-mb", min=1.0, max=1_000_000.0, help="Memory the images in "
                                    "progress may take at once, MB: uploads (twice their size; past it 503) and "
                                    "decodes (from each image's header; a large one waits its turn, one needing more "
                                    "than this alone gets 413). The default suits MemoryMax=512M."),
    allow_unverified: bool = typer.Option(False, "--allow-unverified", help="Serve a model no manifest verifies."),
    normalize: Optional[str] = typer.Option(None, "--normalize", help=_NORMALIZE),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request on stderr."),
    watch_source: Optional[str] = typer.Option(None, "--watch", help="Also watch a camera (0, /dev/video0), a video "
                                               "file or a stream URL, as `edgedigits-rt watch` does: GET /v1/watch "
                                               "gives the number it shows (a camera or stream that stops is opened "
                                               "again for as long as the server runs)."),
    watch_every: float = typer.Option(0.25, "--watch-every", min=0.0, max=86400.0, help="With --watch: seconds at "
                                      "least between two readings."),
    watch_digits: Optional[int] = typer.Option(None, "--watch-digits", min=1, help="With --watch: the number's length."),
    watch_roi: Optional[str] = typer.Option(None, "--watch-roi", help="With --watch: read only this region, x,y,w,h."),
    tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", help="Serve HTTPS with this certificate (PEM; any "
                                            "intermediate certificates after it), with --tls-key."),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", help="With --tls-cert: the certificate's private key "
                                           "(PEM)."),
    tls_key_password: Optional[str] = typer.Option(None, "--tls-key-password", envvar="EDGEDIGITS_TLS_KEY_PASSWORD",
                                                   show_envvar=True, help="The password of an encrypted --tls-key "
                                                   "(prefer the environment variable)."),
) -> None:
    """Serve the model over HTTP (HTTPS with --tls-cert and --tls-key): a JSON API under /v1/ and a page at / to draw
    or photograph a digit."""
    from edgedigits_runtime.serve import require_serve

    require_serve()
    from edgedigits_runtime.serve import Limits, run

    limits = Limits(max_body=int(max_body_mb * 1_000_000), timeout=timeout, max_pending=max_pending, workers=workers,
                    memory=int(memory_mb * 1_000_000))
    watch = None
    if watch_source is not None:
        watch = dict(source=watch_source, digits=watch_digits, roi=_parse_roi(watch_roi), every=watch_every,
                     reconnect=float("inf"))  # a server keeps reopening a camera or stream that stopped
    elif watch_digits is not None or watch_roi is not None:
        from edgedigits_runtime.errors import UsageError

        raise UsageError("--watch-digits and --watch-roi go with --watch SOURCE")
    run(model=model, host=host, port=port, token=token or None, limits=limits, allow_unverified=allow_unverified,
        access_log=access_log, watch=watch, normalize=normalize, tls_cert=tls_cert, tls_key=tls_key,
        tls_key_password=tls_key_password)


@app.command("doctor")
@_friendly
def doctor_command(
    json_out: bool = typer.Option(False, "--json", help="Print JSON (facts, model check, advice)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Also load this model of your own (.tflite/.onnx), "
                                         "as predict --model does, in a child process: does it run here, and how."),
    normalize: Optional[str] = typer.Option(None, "--normalize", help=_NORMALIZE),
) -> None:
    """Check this device: machine, OS, Python, numpy, which interpreters work, the shipped model; say what to install.

    Exits 1 when the shipped model (or the --model given) cannot run here yet (the commands to fix it are printed).
    """
    from edgedigits_runtime.doctor import diagnose

    report = diagnose(model=model, normalize=normalize)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for name, value in report.rows():
            typer.echo(f"{name:18} {value}")
        for line in report.advice.problems:
            typer.secho(f"problem: {line}", fg=typer.colors.YELLOW)
        for line in (report.own or {}).get("warnings", []):
            typer.secho(f"warning: {line}", fg=typer.colors.YELLOW)
        for line in report.advice.notes:
            typer.echo(f"note: {line}")
        if report.advice.commands:
            typer.echo("run:")
            for line in report.advice.commands:
                typer.echo(f"  {line}")
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
