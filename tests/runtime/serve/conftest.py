"""Real servers for the serve tests: `edgedigits-rt serve` in its own process on a free loopback port.

Each server is started exactly as a user would (``python -m edgedigits_runtime.cli serve --port 0``),
its URL read from the line it prints, and stopped with SIGTERM (a clean stop is part of the test).
Skips with a message when the ``serve`` extra or httpx is not installed. Over HTTPS (``start_server(..., tls=)``)
with a certificate made here by the ``openssl`` command (:func:`make_certificate`).
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason='the serve extra is not installed: pip install "edgedigits-runtime[serve]"')
pytest.importorskip("uvicorn", reason='the serve extra is not installed: pip install "edgedigits-runtime[serve]"')
pytest.importorskip("python_multipart", reason='the serve extra is not installed: pip install "edgedigits-runtime[serve]"')
pytest.importorskip("httpx", reason="the tests' HTTP client is not installed: pip install httpx")

TOKEN = "test-token-7f3a9c"
_URL = re.compile(r"on (https?://[\d.:\[\]a-f]+/)")
NAMES = ("localhost", "edgedigits.test")  # what the test certificates are for, with 127.0.0.1


class Server:
    """A running ``edgedigits-rt serve`` process: ``url``, ``proc``, ``stop()``, what it printed; over HTTPS,
    ``ssl_context``: a client context that trusts its certificate (else None)."""

    def __init__(self, args, env=None, timeout=60.0, ssl_context=None):
        self.ssl_context = ssl_context
        cmd = [sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", "0", *args]
        full_env = dict(os.environ)
        full_env.pop("EDGEDIGITS_TOKEN", None)  # only the test decides whether there is a token (or a key password)
        full_env.pop("EDGEDIGITS_TLS_KEY_PASSWORD", None)
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

    def start(*args, env=None, tls=None):
        """``tls``: a :class:`Certificate` to serve HTTPS with (``--tls-cert``, ``--tls-key``)."""
        if tls is not None:
            args = (*args, "--tls-cert", str(tls.cert), "--tls-key", str(tls.key))
        server = Server(list(args), env=env, ssl_context=tls and tls.client_context())
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


# --------------------------------------------------------------------------- certificates for HTTPS

OPENSSL = shutil.which("openssl")


class Certificate:
    """A certificate file and its key file; ``client_context()`` trusts the certificate (it is its own CA)."""

    def __init__(self, cert: Path, key: Path):
        self.cert, self.key = cert, key

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def _openssl(*args, cwd=None) -> None:
    out = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"openssl {' '.join(args)}: {out.stderr}"


def make_certificate(directory: Path, stem: str = "server", *, start: str | None = None, end: str | None = None,
                     key: Path | None = None) -> Certificate:
    """A self-signed certificate (P-256) for :data:`NAMES` and 127.0.0.1, made by the ``openssl`` command.

    ``start``/``end`` (YYYYMMDDHHMMSSZ) give it those validity dates (``openssl ca``); else it is valid for two
    days from now. ``key``: sign with this key instead of a new one.
    """
    if OPENSSL is None:
        if os.environ.get("CI"):  # CI installs it (.ci/run): missing there is a failure, not a skip
            pytest.fail("CI has no openssl command: .ci/run must apt-get install openssl", pytrace=False)
        pytest.skip("no openssl command here: apt-get install openssl (the HTTPS tests make their certificates with it)")
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / f"{stem}-cert.pem"
    san = "subjectAltName=" + ",".join([*(f"DNS:{name}" for name in NAMES), "IP:127.0.0.1"])
    if key is None:
        key = directory / f"{stem}-key.pem"
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
    if start is None:
        _openssl("req", "-x509", "-key", str(key), "-days", "2", "-subj", "/CN=localhost", "-addext", san,
                 "-out", str(cert))
        return Certificate(cert, key)
    ca = directory / f"{stem}-ca"  # `openssl ca` keeps a little database; -selfsign signs with the request's key
    ca.mkdir()
    (ca / "index.txt").write_text("")
    (ca / "serial").write_text("01\n")
    (ca / "ca.cnf").write_text("[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\n"
                               "serial = serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n"
                               "[any]\ncommonName = supplied\n")
    _openssl("req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-addext", san, "-out", "req.csr", cwd=ca)
    _openssl("ca", "-batch", "-notext", "-config", "ca.cnf", "-selfsign", "-keyfile", str(key), "-in", "req.csr",
             "-startdate", start, "-enddate", end, "-out", str(cert), cwd=ca)
    return Certificate(cert, key)


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory) -> Certificate:
    """A valid self-signed certificate for localhost, edgedigits.test and 127.0.0.1, and its key."""
    return make_certificate(tmp_path_factory.mktemp("tls"))
