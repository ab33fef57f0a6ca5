"""Run the app under uvicorn: bind, say where, serve until SIGTERM or Ctrl-C, shut down gracefully.

uvicorn runs with its pure-Python parts (asyncio event loop, h11 HTTP parser): no compiled
dependency on the device. On SIGTERM (``systemctl stop``) or Ctrl-C it stops accepting,
lets requests in progress finish (up to the time limit), then returns.

The connection guards live here, in uvicorn's h11 protocol (:func:`_protocol`), because the app
only sees complete request headers: each request's headers must arrive within the time limit (at
least :data:`KEEP_ALIVE` s; a client that trickles them, "slowloris", gets 408 JSON, one that sends
nothing is closed); a client that stops reading its answers is dropped after as long; at most
:func:`max_connections` connections are open at once (the next gets 503 JSON with ``Retry-After``;
uvicorn's own bound refused every request once it was reached, in plain text); and a request HTTP
cannot parse gets a JSON 400 (431 for headers over 16 KB), like every other error.

Over HTTPS (``tls_cert``/``tls_key``: uvicorn's own TLS, the standard library's :mod:`ssl`) the same guards hold
inside TLS, and the TLS handshake has the same deadline (:func:`_server_class`): asyncio's own is 60 s, and each
connection, from its first byte, holds a 256 KB read buffer in asyncio's TLS layer.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import math
import signal
import socket
import sys
import warnings
from pathlib import Path

from edgedigits_runtime.errors import UsageError

__all__ = ["run", "is_loopback", "max_connections", "max_tls_connections", "ServeWarning"]

KEEP_ALIVE = 5  # seconds an idle connection stays open; the least time a request's headers have


class ServeWarning(UserWarning):
    """The server runs, but in a way that may not be what was meant (e.g. open to the network without a token)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def max_connections(limits) -> int:
    """Connections open at once before the next is refused with 503: room for every image request in
    progress, keep-alive clients and the page's GETs (``4 * max_pending + 64``)."""
    return 4 * limits.max_pending + 64


def max_tls_connections(limits) -> int:
    """Over HTTPS, connections open at once counting those still in their TLS handshake (``max_connections + 64``):
    past it the next is closed as soon as it is accepted. Each holds a 256 KB read buffer in asyncio's TLS layer
    from its first byte, before the HTTP protocol (and its bound, answered with 503 JSON) sees it."""
    return max_connections(limits) + 64


class _Listener(socket.socket):
    """The listening socket over HTTPS: counts the connections it hands to asyncio (until asyncio closes them) and
    closes at once those past ``ceiling``, before asyncio's TLS layer allocates anything for them."""

    def setup(self, ceiling: int, counters: dict) -> None:
        self.ceiling, self.counters, self.open = ceiling, counters, 0

    def accept(self):
        fd, address = self._accept()  # BlockingIOError when no connection waits: asyncio stops accepting there
        conn = _Connection(self.family, self.type, self.proto, fileno=fd)
        if self.open >= self.ceiling:
            conn.close()
            self.counters["refused_busy"] += 1
            raise ConnectionAbortedError  # asyncio: no connection this time; the next one is accepted as usual
        self.open += 1
        conn.listener = self
        return conn, address


class _Connection(socket.socket):
    """An accepted connection that tells its listener when it is closed."""

    listener = None

    def close(self):
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.open -= 1
        super().close()


def _raw_error(status: int, reason: str, message: str, headers: tuple = ()) -> bytes:
    """A complete HTTP/1.1 error response (JSON body, ``Connection: close``) as bytes."""
    body = json.dumps({"error": message, "status": status}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", f"content-length: {len(body)}",
            *headers, "connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _protocol(limits, counters: dict):
    """uvicorn's h11 protocol with the connection guards (see the module's docstring)."""
    from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE  # what uvicorn gives h11 (16 KB)
    from uvicorn.protocols.http.h11_impl import H11Protocol

    # A short --timeout (0.1 s) must not cut a client between its connect and its first bytes on a busy machine.
    bound, deadline = max_connections(limits), max(limits.timeout, KEEP_ALIVE)
    busy = json.dumps({"error": f"busy: {bound} connections are open; retry in a moment", "status": 503}).encode()

    async def refuse(scope, receive, send):  # the app of a connection over the bound
        counters["refused_busy"] += 1
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(busy)).encode()),
            (b"retry-after", b"1"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": busy})

    class Protocol(H11Protocol):
        _timer = None
        _stalled = None

        def connection_made(self, transport):
            super().connection_made(transport)
            if len(self.connections) > bound:
                self.app = refuse
            self._arm()

        def _arm(self):
            """Start the clock for the next request's headers (from the connection, or the last answer)."""
            self._disarm()
            self._before = self.cycle
            self._timer = self.loop.call_later(deadline, self._headers_late)

        def _disarm(self):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def handle_events(self):
            super().handle_events()
            if self._timer is not None and self.cycle is not self._before:  # a request's headers arrived
                self._disarm()

        def on_response_complete(self):
            self._arm()
            super().on_response_complete()

        def connection_lost(self, exc):
            self._disarm()
            self._unstall()
            super().connection_lost(exc)

        def pause_writing(self):  # the client reads nothing and its buffers are full: its answer waits
            super().pause_writing()
            if self._stalled is None:
                self._stalled = self.loop.call_later(deadline, self.transport.abort)  # then it is dropped

        def resume_writing(self):
            self._unstall()
            super().resume_writing()

        def shutdown(self):  # SIGTERM: an answer that waits for a client reading nothing will never arrive
            if self._stalled is not None:
                self.transport.abort()
                return
            super().shutdown()

        def _unstall(self):
            if self._stalled is not None:
                self._stalled.cancel()
                self._stalled = None

        def _headers_late(self):
            self._timer = None
            if self.transport.is_closing():
                return
            if self.conn.trailing_data[0]:  # part of a request came: say why it ends
                self.transport.write(_raw_error(408, "Request Timeout", f"the request's headers did not arrive within "
                                                f"{deadline:g} s: send them at once (or start the server with a larger "
                                                "--timeout)"))
            self.transport.close()

        def send_400_response(self, msg):
            if len(self.conn.trailing_data[0]) > DEFAULT_MAX_INCOMPLETE_EVENT_SIZE:
                status, reason, why = 431, "Request Header Fields Too Large", "the request line or headers are over 16 KB"
            else:
                status, reason, why = 400, "Bad Request", "not an HTTP/1.1 request the server can read (request line, headers or framing)"
            self.transport.write(_raw_error(status, reason, f"{why}: send a plain HTTP/1.1 request, e.g. with curl"))
            self.transport.close()

    return Protocol


def _server_class(deadline: float):
    """uvicorn's Server, with the TLS handshake (and the TLS close) bounded by ``deadline`` seconds.

    uvicorn passes no handshake timeout to asyncio, whose default is 60 s; a client that opens a connection and
    never finishes its handshake would hold it (and its 256 KB buffer) that long, before the protocol's own
    deadline on headers even starts. uvicorn calls ``loop.create_server`` in ``startup``: while it does, that one
    call gets the timeouts.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            loop = asyncio.get_running_loop()
            if self.config.ssl is not None:
                timeouts = {"ssl_handshake_timeout": deadline}
                if sys.version_info >= (3, 11):  # asyncio's TLS close has a timeout of its own (30 s) from 3.11 on
                    timeouts["ssl_shutdown_timeout"] = deadline
                loop.create_server = functools.partial(loop.create_server, **timeouts)
            try:
                await super().startup(sockets=sockets)
            finally:
                loop.__dict__.pop("create_server", None)

    return Server


def _bind(host: str, port: int, tls_ceiling: int | None = None, counters: dict | None = None) -> socket.socket:
    """The listening socket (over HTTPS, a :class:`_Listener` holding at most ``tls_ceiling`` connections)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host!r}: {exc.strerror or exc}; pass an address such as "
                         "127.0.0.1 or 0.0.0.0 to --host") from None
    family, kind, proto, _, address = infos[0]
    if tls_ceiling is None:
        sock = socket.socket(family, kind, proto)
    else:
        sock = _Listener(family, kind, proto)
        sock.setup(tls_ceiling, counters)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = "pick another --port" if exc.errno in (98, 48, 10048) else "check --host and --port"
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}") from None
    sock.listen(2048)  # from here on connections wait in the backlog until uvicorn accepts them
    sock.set_inheritable(True)
    return sock


def run(*, model: str | Path | None = None, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
        limits=None, allow_unverified: bool = False, access_log: bool = False, out=None, watch=None,
        normalize=None, tls_cert: str | Path | None = None, tls_key: str | Path | None = None,
        tls_key_password: str | None = None) -> None:
    """Serve the API and the page until SIGTERM or Ctrl-C.

    Example:

    >>> run(host="0.0.0.0", port=8000, token="s3cret")       # blocks   # doctest: +SKIP
    >>> run(host="0.0.0.0", token="s3cret", tls_cert="cert.pem", tls_key="key.pem")   # HTTPS   # doctest: +SKIP

    Args:
      model: model file (None: the shipped int8 model).
      host: address to listen on; loopback (127.0.0.1) unless you mean the network (0.0.0.0).
      port: TCP port (0: any free one; the line printed says which).
      token: when set, every ``/v1/`` request needs ``Authorization: Bearer <token>``.
      limits: a :class:`~edgedigits_runtime.serve.Limits` (body size, time limit, requests in progress, threads).
      allow_unverified: serve a model that no manifest verifies.
      access_log: log every request (uvicorn's access log) on stderr.
      out: where the "listening on" line goes (default stdout).
      watch: None, or a dict of :func:`~edgedigits_runtime.watch.watch_in_background`'s arguments (``source``, and
        its options): the source is opened before anything listens, watched while the server runs
        (``GET /v1/watch``) and released when it stops.
      normalize: how ``model`` wants its input scaled (``DigitClassifier``'s ``normalize``).
      tls_cert, tls_key: serve HTTPS with this certificate (PEM, its chain after it) and its private key (PEM);
        both or neither. Checked before anything loads (:func:`~edgedigits_runtime.serve.tls.check_tls`).
      tls_key_password: the key's password, if it is encrypted.

    Raises:
      UsageError: bad host, port in use, bad limits or token; a certificate or key that cannot be used.
      ModelError / BackendUnavailableError: the model cannot be loaded (before anything listens).
      SourceError: ``watch``'s source cannot be opened (before anything listens).

    Warns:
      ServeWarning: listening on a non-loopback address without a token, or with one over plain HTTP (it crosses
        the network in clear); a certificate that has expired or is not valid yet.
    """
    from edgedigits_runtime.serve.app import Limits, create_app

    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"port must be a whole number from 0 to 65535; got {port!r}")
    limits = limits or Limits()
    tls = None
    if tls_cert is not None or tls_key is not None:
        if tls_cert is None or tls_key is None:
            raise UsageError("--tls-cert and --tls-key go together: give both (the certificate and its private key) "
                             "for HTTPS, or neither for plain HTTP")
        from edgedigits_runtime.serve.tls import check_tls

        check_tls(tls_cert, tls_key, tls_key_password or None)
        tls = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key), "ssl_keyfile_password": tls_key_password or None}
    elif tls_key_password:
        raise UsageError("a key password (--tls-key-password or EDGEDIGITS_TLS_KEY_PASSWORD) was given without "
                         "--tls-cert and --tls-key: give them too, or unset the password")
    watcher = None
    if watch is not None:
        from edgedigits_runtime.watch import _opened, _stop_raises, watch_in_background

        # a source that cannot be opened: an error before anything listens; its warnings: lines in the server's log.
        # SIGTERM or Ctrl-C while a stream is being opened: stopped at once (it ended the process by the signal)
        try:
            with _stop_raises():
                watcher = _opened(lambda: watch_in_background(**watch, log=_log_warning))
        except KeyboardInterrupt:
            print("stopped", file=out or sys.stdout, flush=True)
            return
    try:
        app = create_app(model=model, token=token, limits=limits, allow_unverified=allow_unverified, watcher=watcher,
                         normalize=normalize)
        _serve_app(app, host, port, token, limits, access_log, out, watcher, tls)
    finally:
        if watcher is not None:
            watcher.close()


def _log_warning(text: str) -> None:
    """A ``warning:`` line in the server's log (stderr: the journal under systemd), from any thread (the watch's)."""
    from edgedigits_runtime.native import held_stderr

    with held_stderr():
        print(f"warning: {text}", file=sys.stderr, flush=True)


def _serve_app(app, host, port, token, limits, access_log, out, watcher, tls) -> None:
    """Bind, print the line that says where, serve until SIGTERM or Ctrl-C (``tls``: uvicorn's ssl_* settings)."""
    import uvicorn

    sock = _bind(host, port, max_tls_connections(limits) if tls else None, app.state.counters)
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    if not token and not is_loopback(host):
        warnings.warn(f"listening on {host} without a token: anyone who can reach this machine can use the API; "
                      "start it with --token (or EDGEDIGITS_TOKEN) to require one", ServeWarning, stacklevel=2)
    elif token and tls is None and not is_loopback(host):
        warnings.warn(f"listening on {host} over plain HTTP: the token, the images and the answers cross the network "
                      "in clear, readable by anyone on it; serve HTTPS with --tls-cert and --tls-key (runtime/README.md, "
                      "\"Serving over HTTPS\")", ServeWarning, stacklevel=2)
    clf = app.state.classifier
    out = out or sys.stdout
    watching = "" if watcher is None else f"; watching {watcher.label} (GET /v1/watch: the number it shows)"
    print(f"serving {Path(clf.info['path']).name} ({clf.info['backend']}, "
          f"{'verified' if clf.info['verified'] else 'UNVERIFIED'}) on {'https' if tls else 'http'}://{shown}:{bound[1]}/ "
          f"(API under /v1/, {'token required' if token else 'no token'}); Ctrl-C or SIGTERM stops it{watching}",
          file=out, flush=True)
    config = uvicorn.Config(
        app, loop="asyncio", http=_protocol(limits, app.state.counters), lifespan="off", ws="none",
        interface="asgi3", log_level="info" if access_log else "warning", access_log=access_log,
        timeout_graceful_shutdown=math.ceil(limits.timeout) + 1,
        limit_concurrency=None,  # the protocol's bound on connections instead (uvicorn's refuses them all, in plain text)
        timeout_keep_alive=KEEP_ALIVE, server_header=False, **(tls or {}),
    )
    server = _server_class(max(limits.timeout, KEEP_ALIVE))(config)
    # uvicorn re-raises the signal that stopped it once it has shut down; ours then just returns.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    print("stopped", file=out, flush=True)
