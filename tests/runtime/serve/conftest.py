"""Real servers for the serve tests: `edgedigits-rt serve` in its own process on a free loopback port.

Each server is started exactly as a user would (``python -m edgedigits_runtime.cli serve --port 0``),
its URL read from the line it prints, and stopped with SIGTERM (a clean stop is part of the test).
Skips with a message when the ``serve`` extra or httpx is not installed.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("starlette", reason='the serve extra is not installed: pip install "edgedigits-runtime[serve]"')
pytest.importorskip("uvicorn", reason='the serve extra is not installed: pip install "edgedigits-runtime[serve]"')
pytest.importorskip("python_multipart", reason='the serve extra is not installed: pip install "edgedigits-runtime[serve]"')
pytest.importorskip("httpx", reason="the tests' HTTP client is not installed: pip install httpx")

TOKEN = "test-token-7f3a9c"
_URL = re.compile(r"on (http://[\d.:\[\]a-f]+/)")


class Server:
    """A running ``edgedigits-rt serve`` process: ``url``, ``proc``, ``stop()``, what it printed."""

    def __init__(self, args, env=None, timeout=60.0):
        cmd = [sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", "0", *args]
        full_env = dict(os.environ)
        full_env.pop("EDGEDIGITS_TOKEN", None)  # only the test decides whether there is a token
        full_env.update({"PYTHONUNBUFFERED": "1", **(env or {})})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
        self.stdout, self.stderr, self.url = "", "", None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while self.url is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start: exit {self.proc.returncode}\n{self.stdout}\n{self.stderr}")
            if selector.select(timeout=0.2):
                line = self.proc.stdout.readline().decode()
                self.stdout += line
                found = _URL.search(line)
                if found:
                    self.url = found.group(1).rstrip("/")
        selector.close()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout=30.0) -> int:
        """SIGTERM, wait, collect the output; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.stdout += out.decode()
        self.stderr += err.decode()
        return self.proc.returncode


@pytest.fixture
def start_server():
    """Start servers with the given CLI arguments; all are stopped at the end of the test."""
    started = []

    def start(*args, env=None):
        server = Server(list(args), env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server():
    """One server without a token (shared by a module's tests: they must leave it serving)."""
    s = Server(["--workers", "2"])
    yield s
    code = s.stop()
    assert code == 0, f"the server did not stop cleanly on SIGTERM (exit {code}):\n{s.stderr}"


@pytest.fixture(scope="module")
def token_server():
    """One server that needs TOKEN (given through the environment variable, as the systemd unit does)."""
    s = Server([], env={"EDGEDIGITS_TOKEN": TOKEN})
    yield s
    assert s.stop() == 0, s.stderr


@pytest.fixture(scope="module")
def client():
    import httpx

    with httpx.Client(timeout=30.0) as c:
        yield c
