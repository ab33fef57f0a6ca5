"""`edgedigits-rt watch` on a 1280x720 video: frames read per second, and the CPU a live watch takes, for RESULTS.md.

Usage:
  python benchmarks/figures/watch_rate.py [--seconds 60] [--live-seconds 30] [--fps 30] [--size 1280x720]
                                          [--seed 11] [--data-dir DIR] [--threads 1] [--keep DIR]

1. A video (MJPG .avi, ``--fps``, ``--size``): numbers of 3-6 MNIST test digits (tests/runtime/photos.py
   ``number_frame``, seed ``--seed``), each shown 3 s, with a 2 s blank scene after every third; ``--seconds`` long.
2. File, every frame: the real CLI as a process, ``edgedigits-rt watch VIDEO --every 0 --all --json``: frames read
   per second (frames read / wall time from its first reading to its last: the model's loading left out), the
   process's CPU seconds per wall second, and how many frames read the number shown (a check, not a tuning figure).
3. Live, the same frames as an HTTP MJPEG stream at ``--fps`` (served by this script): ``--live-seconds`` each of
   ``--every 0`` (as fast as the reader goes: frames read per second, frames skipped), the default ``--every``
   (0.25 s: the CPU a watch of a 30 fps stream takes when it reads 4 frames a second) and ``--every 5`` (nearly
   only the grabbing: what following the stream costs).

Prints its own lines (machine, command, figures); never writes RESULTS.md. Client (the stream's server) and watch
share the machine.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import resource
import shlex
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "runtime"))  # photos.py

import numpy as np  # noqa: E402

SHOW, BLANK_SECONDS = 3.0, 2.0  # each number shown this long; a blank scene this long after every third


def make_video(path: Path, images, labels, *, seconds: float, fps: float, size: tuple[int, int], seed: int):
    """Write the video; returns the number shown in each frame ("" = blank)."""
    from photos import number_frame, write_video

    rng = np.random.default_rng(seed)
    height, width = size
    blank = np.full((height, width, 3), 200, np.uint8)
    frames, truth = [], []
    shown = 0
    while len(frames) < seconds * fps:
        text = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(3, 7))))
        frame = number_frame(images, labels, text, rng, size=size)
        frames += [frame] * int(SHOW * fps)
        truth += [text] * int(SHOW * fps)
        shown += 1
        if shown % 3 == 0:
            frames += [blank] * int(BLANK_SECONDS * fps)
            truth += [""] * int(BLANK_SECONDS * fps)
    count = int(seconds * fps)
    write_video(path, frames[:count], fps)
    return truth[:count]


def _watch(args: list[str], threads: int) -> dict:
    """The CLI as a process: its JSON events, wall time, CPU seconds (user + system of the child)."""
    cmd = [sys.executable, "-m", "edgedigits_runtime.cli", "watch", *args, "--json", "--threads", str(threads)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stamps, rows = [], []
    for line in process.stdout:
        stamps.append(time.monotonic())
        rows.append(json.loads(line))
    process.wait()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise SystemExit(f"watch failed ({process.returncode}): {process.stderr.read().strip()}")
    return {"rows": rows, "stamps": stamps, "wall": wall, "cpu": cpu, "command": shlex.join(cmd[2:])}


def _rate(run: dict) -> float:
    """Frames read per second between the first reading and the last (the process's start and model load left out)."""
    readings = [s for s, r in zip(run["stamps"], run["rows"]) if r["event"] != "end"]
    return (len(readings) - 1) / (readings[-1] - readings[0]) if len(readings) > 1 else float("nan")


def _serve(path: Path, fps: float):
    """An HTTP MJPEG stream of the video's frames, looped, at ``fps``; returns (server, url)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    jpegs = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        jpegs.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    capture.release()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            start = time.monotonic()
            try:
                for i in range(10**9):
                    time.sleep(max(0.0, start + i / fps - time.monotonic()))
                    jpeg = jpegs[i % len(jpegs)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                     % len(jpeg) + jpeg + b"\r\n")
            except OSError:
                pass

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="video length")
    parser.add_argument("--live-seconds", type=float, default=30.0, help="each live run's length (0: none)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads of the watch")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--keep", default=None, help="write the video in this folder (else a temporary one)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    from edgedigits_runtime.mnist import load_mnist

    try:
        from machine import describe
        machine = describe()
    except ImportError:  # the runtime alone (no toolkit): a shorter description
        import platform
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    print(f"machine: {machine}")
    print(f"command: python benchmarks/figures/watch_rate.py {shlex.join(argv if argv is not None else sys.argv[1:])}")
    images, labels = load_mnist("test", args.data_dir)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        video = folder / f"watch_{width}x{height}.avi"
        truth = make_video(video, images, labels, seconds=args.seconds, fps=args.fps, size=(height, width),
                           seed=args.seed)
        print(f"video: {len(truth)} frames, {width}x{height}, {args.fps:g} fps, MJPG, {video.stat().st_size / 1e6:.1f} MB")

        run = _watch([str(video), "--every", "0", "--all"], args.threads)
        rows = [r for r in run["rows"] if r["event"] != "end"]
        right = sum(r["number"] == truth[r["frame"]] for r in rows)
        out["file"] = {"read": len(rows), "frames_per_second": _rate(run), "cpu_per_wall": run["cpu"] / run["wall"],
                       "wall": run["wall"], "right": right}
        print(f"file, every frame ({run['command']}): {len(rows)} frames read, {_rate(run):.1f} frames/s between the "
              f"first reading and the last; {run['wall']:.1f} s wall including start-up, CPU {run['cpu']:.1f} s "
              f"({run['cpu'] / run['wall']:.2f} cores; {1000 * run['cpu'] / max(len(rows), 1):.1f} ms of CPU per frame read, "
              f"start-up included); number shown read in {right} of {len(rows)} frames")

        if args.live_seconds > 0:
            server, url = _serve(video, args.fps)
            try:
                for every in ("0", "0.25", "5"):
                    run = _watch([url, "--every", every, "--all", "--seconds", str(args.live_seconds)], args.threads)
                    end = run["rows"][-1]
                    out[f"live_every_{every}"] = {"read": end["read"], "frames": end["frames"], "skipped": end["skipped"],
                                                  "frames_per_second": _rate(run), "cpu_per_wall": run["cpu"] / run["wall"],
                                                  "reason": end["reason"]}
                    print(f"live MJPEG stream at {args.fps:g} fps, --every {every} ({run['command']}): "
                          f"{end['read']} frames read of {end['frames']} grabbed "
                          f"({end['skipped']} skipped), {_rate(run):.1f} frames/s; CPU {run['cpu']:.1f} s in "
                          f"{run['wall']:.1f} s wall ({run['cpu'] / run['wall']:.2f} cores); ended: {end['reason']}")
            finally:
                server.shutdown()
                server.server_close()
    return out


if __name__ == "__main__":
    main()
