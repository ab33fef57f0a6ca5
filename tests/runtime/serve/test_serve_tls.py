"""`edgedigits-rt serve --tls-cert FILE --tls-key FILE`: HTTPS from a real server process to real clients.

The certificates are made here by the ``openssl`` command (conftest.make_certificate). A client that trusts
the certificate gets the API over HTTPS; every way a certificate or key can be wrong is one ``error:`` line
before anything loads or listens; dates out of range and a token over plain HTTP on the network are
warnings; a client that never finishes its TLS handshake is closed at the headers' deadline (asyncio alone
waits 60 s). The guards on slow and odd clients run over HTTPS too in test_serve_clients.py; the page in
a browser over HTTPS in test_serve_browser.py.
"""

from __future__ import annotations

import io
import socket
import ssl
import subprocess
import sys

import pytest
from conftest import TOKEN, make_certificate

PIL = pytest.importorskip("PIL")


def _png(array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def test_https_serves_the_api_to_a_client_that_checks_the_certificate(start_server, tls_pair, mnist_test):
    import httpx

    s = start_server(tls=tls_pair, env={"EDGEDIGITS_TOKEN": TOKEN})
    assert s.url.startswith("https://127.0.0.1:"), s.stdout
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(timeout=30, verify=tls_pair.client_context()) as client:
        assert client.get(f"{s.url}/v1/health", headers=auth).json()["status"] == "ok"
        answer = client.post(f"{s.url}/v1/predict", content=_png(mnist_test[0][0]),
                             headers={**auth, "Content-Type": "image/png"})
        assert answer.status_code == 200 and answer.json()["label"] == int(mnist_test[1][0]), answer.text
        assert client.get(f"{s.url}/v1/health").status_code == 401
        page = client.get(f"{s.url}/")
        assert page.status_code == 200 and "<canvas" in page.text
    with httpx.Client(timeout=30) as client, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        client.get(f"{s.url}/v1/health")  # a client that trusts only the usual CAs refuses a self-signed certificate
    assert s.stop() == 0 and "warning" not in s.stderr, s.stderr


def test_plain_http_to_the_https_port_gets_no_answer_and_the_server_goes_on(start_server, tls_pair):
    import httpx

    s = start_server("--timeout", "1", tls=tls_pair)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{s.port}/v1/health", timeout=30)
    with httpx.Client(timeout=30, verify=s.ssl_context) as client:
        assert client.get(f"{s.url}/v1/health").status_code == 200
    assert s.stop() == 0 and "Traceback" not in s.stderr, s.stderr


def test_a_tls_handshake_that_never_ends_is_closed_at_the_deadline(start_server, tls_pair):
    """Clients that connect and never finish their handshake (one silent, one stopping halfway through its
    ClientHello) are closed after the headers' deadline (KEEP_ALIVE s with --timeout 1), not asyncio's 60 s: they
    hold no connection, worker or buffer past that."""
    import httpx

    s = start_server("--timeout", "1", tls=tls_pair)
    silent = socket.create_connection(("127.0.0.1", s.port))
    halfway = socket.create_connection(("127.0.0.1", s.port))
    halfway.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40)
    for sock in (silent, halfway):
        sock.settimeout(30)  # under asyncio's own 60 s: without the server's deadline this times out
        try:
            assert sock.recv(65536) == b""  # closed (a TLS alert would be bytes; none is sent here)
        except ConnectionResetError:
            pass
        sock.close()
    with httpx.Client(timeout=30, verify=s.ssl_context) as client:
        assert client.get(f"{s.url}/v1/health").status_code == 200
    assert s.stop() == 0, s.stderr


def test_connections_in_their_handshake_count_toward_a_bound(start_server, tls_pair):
    """Each TLS connection holds a 256 KB buffer in asyncio from its first byte, before the HTTP bound sees it: past
    max_tls_connections (in their handshake or after it) the next connection is closed as soon as it is accepted;
    once they go, the server serves again."""
    import httpx

    from edgedigits_runtime.serve import Limits
    from edgedigits_runtime.serve.server import max_tls_connections

    s = start_server("--max-pending", "1", "--timeout", "60", tls=tls_pair)
    held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(max_tls_connections(Limits(max_pending=1)))]
    try:
        with socket.create_connection(("127.0.0.1", s.port)) as extra:
            extra.settimeout(30)  # the held ones stay 60 s (--timeout 60): only a close at accept ends this in time
            try:
                assert extra.recv(65536) == b""
            except ConnectionResetError:
                pass
    finally:
        for sock in held:
            sock.close()
    import time

    with httpx.Client(timeout=30, verify=s.ssl_context) as client:
        for _ in range(100):  # the server notices the closed connections (until then: closed at accept)
            try:
                r = client.get(f"{s.url}/v1/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["refused_busy"] >= 1, r.text


def _serve(*args, env=None) -> subprocess.CompletedProcess:
    """`edgedigits-rt serve` that is expected to stop before it listens."""
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEDIGITS_T")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", "0", *map(str, args)],
                          capture_output=True, text=True, timeout=60, check=False, env=full_env)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, tls_pair):
    """Files that are wrong as a certificate or a key, each in its own way."""
    root = tmp_path_factory.mktemp("bad-tls")
    other = make_certificate(root, "other")
    encrypted = root / "encrypted-key.pem"
    subprocess.run(["openssl", "pkey", "-in", str(tls_pair.key), "-aes256", "-passout", "pass:hunter2", "-out",
                    str(encrypted)], check=True, capture_output=True)
    der = root / "cert.der"
    subprocess.run(["openssl", "x509", "-in", str(tls_pair.cert), "-outform", "der", "-out", str(der)], check=True,
                   capture_output=True)
    csr = root / "request.csr"
    subprocess.run(["openssl", "req", "-new", "-key", str(tls_pair.key), "-subj", "/CN=x", "-out", str(csr)],
                   check=True, capture_output=True)
    lines = tls_pair.cert.read_text().splitlines()
    cut = root / "cut.pem"
    cut.write_text("\n".join(lines[:3]) + "\n")
    damaged = root / "damaged.pem"
    damaged.write_text("\n".join([*lines[:2], "!!!!" + lines[2][4:], *lines[3:]]) + "\n")
    return {"other key": other.key, "encrypted": encrypted, "der": der, "csr": csr, "cut": cut, "damaged": damaged,
            "missing": root / "missing.pem", "folder": root}


CASES = {  # name: (certificate, key, environment, words the one line says)
    "certificate missing": ("missing", "key", {}, ["missing.pem does not exist", "Serving over HTTPS"]),
    "key is a folder": ("cert", "folder", {}, ["cannot read the key (--tls-key)"]),
    "certificate in DER": ("der", "key", {}, ["not PEM", "openssl x509 -inform der"]),
    "a signing request": ("csr", "key", {}, ["certificate signing request, not a certificate"]),
    "swapped": ("key", "cert", {}, ["holds a private key and no certificate", "swapped"]),
    "cut short": ("cut", "key", {}, ["cut short"]),
    "damaged": ("damaged", "key", {}, ["damaged"]),
    "another certificate's key": ("cert", "other key", {}, ["does not belong to the certificate"]),
    "encrypted, no password": ("cert", "encrypted", {}, ["is encrypted", "EDGEDIGITS_TLS_KEY_PASSWORD"]),
    "encrypted, wrong password": ("cert", "encrypted", {"EDGEDIGITS_TLS_KEY_PASSWORD": "nope"}, ["wrong password"]),
    "certificate alone": ("cert", None, {}, ["--tls-cert and --tls-key go together"]),
    "key alone": (None, "key", {}, ["--tls-cert and --tls-key go together"]),
    "password alone": (None, None, {"EDGEDIGITS_TLS_KEY_PASSWORD": "x"}, ["without --tls-cert and --tls-key"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_certificate_or_key_that_cannot_serve_is_one_error_line(name, tls_pair, bad_files):
    cert, key, env, words = CASES[name]
    files = {**bad_files, "cert": tls_pair.cert, "key": tls_pair.key}
    args = [*(["--tls-cert", files[cert]] if cert else []), *(["--tls-key", files[key]] if key else [])]
    out = _serve(*args, env=env)
    assert out.returncode == 1 and out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1, (
        out.returncode, out.stderr)
    for word in words:
        assert word in out.stderr, out.stderr
    assert "serving" not in out.stdout  # nothing listened


def test_an_encrypted_key_serves_with_its_password(start_server, tls_pair, bad_files):
    import httpx

    s = start_server("--tls-cert", str(tls_pair.cert), "--tls-key", str(bad_files["encrypted"]),
                     env={"EDGEDIGITS_TLS_KEY_PASSWORD": "hunter2"})
    assert s.url.startswith("https://"), s.stdout
    with httpx.Client(timeout=30, verify=tls_pair.client_context()) as client:
        assert client.get(f"{s.url}/v1/health").status_code == 200


@pytest.mark.parametrize("start,end,words", [
    ("20200101000000Z", "20200201000000Z", "expired on 2020-02-01 00:00 UTC"),
    ("20991231000000Z", "21000102000000Z", "is valid only from 2099-12-31 00:00 UTC"),
], ids=["expired", "not yet valid"])
def test_a_certificate_out_of_its_dates_warns_and_serves(start_server, tmp_path, tls_pair, start, end, words):
    """A warning, not an error: a Pi without a real-time clock may start with its clock in the past."""
    import httpx

    old = make_certificate(tmp_path, start=start, end=end, key=tls_pair.key)
    s = start_server("--tls-cert", str(old.cert), "--tls-key", str(old.key))
    assert httpx.get(f"{s.url}/v1/health", verify=False, timeout=30).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{s.url}/v1/health", verify=old.client_context(), timeout=30)  # what a client that checks does
    s.stop()
    assert f"warning: the certificate {old.cert} {words}" in s.stderr, s.stderr


def test_certificate_dates_reads_both_time_encodings(tmp_path, tls_pair):
    """UTCTime (years to 2049) and GeneralizedTime (from 2050), as openssl writes them."""
    import datetime

    from edgedigits_runtime.serve.tls import certificate_dates

    cert = make_certificate(tmp_path, start="20491231235959Z", end="20500101000000Z", key=tls_pair.key)
    der = ssl.PEM_cert_to_DER_cert(cert.cert.read_text())
    utc = datetime.timezone.utc
    assert certificate_dates(der) == (datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=utc),
                                      datetime.datetime(2050, 1, 1, tzinfo=utc))
    with pytest.raises((ValueError, IndexError)):
        certificate_dates(b"\x30\x03\x02\x01\x01")


def test_a_token_over_plain_http_on_the_network_warns_and_over_https_does_not(start_server, tls_pair):
    import httpx

    plain = start_server("--host", "0.0.0.0", env={"EDGEDIGITS_TOKEN": TOKEN})
    secure = start_server("--host", "0.0.0.0", env={"EDGEDIGITS_TOKEN": TOKEN}, tls=tls_pair)
    assert secure.url.startswith("https://0.0.0.0:"), secure.stdout
    assert httpx.get(f"https://127.0.0.1:{secure.port}/v1/health", verify=tls_pair.client_context(),
                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).status_code == 200
    plain.stop()
    secure.stop()
    assert "warning: listening on 0.0.0.0 over plain HTTP: the token" in plain.stderr, plain.stderr
    assert "--tls-cert" in plain.stderr and len(plain.stderr.strip().splitlines()) == 1, plain.stderr
    assert "warning" not in secure.stderr, secure.stderr
