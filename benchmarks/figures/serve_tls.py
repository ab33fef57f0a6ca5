"""What HTTPS costs `edgedigits-rt serve`, for RESULTS.md ("Serving over HTTP", nineteenth session).

Usage:
  python benchmarks/figures/serve_tls.py [--connections 192] [--flood 400] [--rounds 5] [--requests 200]

A self-signed P-256 certificate is made with the ``openssl`` command in a temporary folder. Every case runs on a
fresh server process (``python -m edgedigits_runtime.cli serve --port 0``, defaults otherwise), its memory read
from /proc (``VmRSS``, MiB):

1. Memory: after a warm-up (three ``GET /v1/health``), then with ``--connections`` idle connections held open
   (``--timeout 60`` keeps them): plain HTTP, HTTPS with the handshake done, and TCP connections to the HTTPS
   port that never start their handshake; then after they are closed.
2. A flood: ``--flood`` TCP connections to the HTTPS port that never handshake, with the defaults: how many the
   server kept (the rest closed at accept: ``max_tls_connections``), its memory, and whether a real client is
   still served meanwhile.
3. Time per request: ``POST /v1/predict`` of one 28x28 PNG, ``--requests`` one after another, on one kept-alive
   connection and on a new connection each time (the TLS handshake included), HTTP and HTTPS servers in
   interleaved rounds; the median of each round, and the median of the rounds. Client and server share the
   machine.

Prints a Markdown section with the machine and the command; never writes RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import platform
import re
import shlex
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _machine() -> str:
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from machine import describe

        return describe()
    except ImportError:  # the runtime-only venv: no toolkit
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        return (f"{found.group(1).strip() if found else platform.machine()}, {os.cpu_count()} cores, "
                f"{platform.system()} {platform.release()} ({platform.machine()}), Python {sys.version.split()[0]}")


def _rss(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024


class _Server:
    def __init__(self, tls, *args):
        cmd = [sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", "0", *args]
        if tls:
            cmd += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("EDGEDIGITS_TOKEN", None)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        line = self.proc.stdout.readline().decode()
        self.port = int(re.search(r":(\d+)/", line).group(1))
        self.context = ssl.create_default_context(cafile=str(tls[0])) if tls else None

    def connection(self):
        if self.context is None:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=60)

    def get(self, path="/v1/health"):
        c = self.connection()
        try:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


def _memory(tls, n: int) -> list[dict]:
    """RSS before, with ``n`` idle connections held, and after they are closed (glibc may keep what was freed)."""
    rows = []
    for mode in ("HTTP", "HTTPS, handshake done", "HTTPS, no handshake"):
        s = _Server(tls if mode.startswith("HTTPS") else None, "--timeout", "60")
        try:
            for _ in range(3):
                assert s.get() == 200
            time.sleep(1)
            before = _rss(s.proc.pid)
            socks = []
            for _ in range(n):
                sock = socket.create_connection(("127.0.0.1", s.port))
                if mode == "HTTPS, handshake done":
                    sock = s.context.wrap_socket(sock, server_hostname="127.0.0.1")
                socks.append(sock)
            time.sleep(3)
            served = s.get()  # 503 once the connections held reach max_connections
            held = _rss(s.proc.pid)
            for sock in socks:
                sock.close()
            time.sleep(3)
            rows.append({"mode": mode, "before": before, "held": held, "after": _rss(s.proc.pid), "served": served})
        finally:
            s.stop()
    return rows


def _flood(tls, n: int) -> dict:
    from edgedigits_runtime.serve import Limits
    from edgedigits_runtime.serve.server import max_tls_connections

    s = _Server(tls)
    try:
        assert s.get() == 200
        time.sleep(1)
        before = _rss(s.proc.pid)
        socks = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(n)]
        time.sleep(2)
        closed = 0
        for sock in socks:  # closed by the server at accept: readable, and reads b""
            sock.setblocking(False)
            try:
                closed += sock.recv(1) == b""
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed += 1
        held = _rss(s.proc.pid)
        for sock in socks:
            sock.close()
        time.sleep(2)
        served = s.get() == 200
        return {"flood": n, "ceiling": max_tls_connections(Limits()), "closed_at_accept": closed, "before": before,
                "held": held, "served_after": served}
    finally:
        s.stop()


def _png() -> bytes:
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = 255
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def _latency(tls, rounds: int, requests: int) -> dict:
    body = _png()
    servers = {"HTTP": _Server(None), "HTTPS": _Server(tls)}

    def one(c):
        c.request("POST", "/v1/predict", body=body, headers={"Content-Type": "image/png"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status

    def a_round(s, keep):
        times, c = [], s.connection() if keep else None
        for _ in range(requests):
            t = time.perf_counter()
            if keep:
                one(c)
            else:
                fresh = s.connection()
                one(fresh)
                fresh.close()
            times.append(time.perf_counter() - t)
        if c is not None:
            c.close()
        return statistics.median(times) * 1000

    try:
        for s in servers.values():
            a_round(s, True)  # warm-up
        out = {}
        for _ in range(rounds):
            for keep in (True, False):
                for name, s in servers.items():
                    out.setdefault((name, keep), []).append(a_round(s, keep))
        return out
    finally:
        for s in servers.values():
            s.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=192)
    parser.add_argument("--flood", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        tls = (cert, key)
        memory = _memory(tls, args.connections)
        flood = _flood(tls, args.flood)
        latency = _latency(tls, args.rounds, args.requests)
    print(f"Machine: {_machine()}. Command: `python benchmarks/figures/serve_tls.py "
          f"{shlex.join(sys.argv[1:])}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n")
    print(f"Memory with {args.connections} idle connections (server RSS, MiB; `--timeout 60`):\n")
    print("| connections | before | held open | after closing | one more client's GET meanwhile |\n|---|---:|---:|---:|---|")
    for row in memory:
        each = (row["held"] - row["before"]) * 1024 / args.connections
        print(f"| {row['mode']} | {row['before']:.1f} | {row['held']:.1f} ({each:.0f} KiB each) | {row['after']:.1f} "
              f"| {row['served']} |")
    print(f"\nA flood of {flood['flood']} TCP connections that never handshake (defaults; ceiling "
          f"{flood['ceiling']}): {flood['closed_at_accept']} closed at accept; RSS {flood['before']:.1f} -> "
          f"{flood['held']:.1f} MiB; served after: {'yes' if flood['served_after'] else 'NO'}.\n")
    print(f"Time per `POST /v1/predict` (28x28 PNG), ms, median of {args.requests} per round, {args.rounds} interleaved "
          "rounds:\n")
    print("| server | connection | rounds | median |\n|---|---|---|---:|")
    for (name, keep), ms in latency.items():
        print(f"| {name} | {'kept alive' if keep else 'new each request'} | {', '.join(f'{x:.2f}' for x in ms)} | "
              f"{statistics.median(ms):.2f} |")


if __name__ == "__main__":
    main()
