"""The ASGI application: API v1 (JSON), the drawing page, the guards.

Routes:

- ``GET /`` the page (draw a digit, or take/upload a photo); ``/static/...`` its files.
- ``POST /v1/predict`` one digit image -> the fields of ``edgedigits-rt predict --json``.
- ``POST /v1/read`` a photo of a number -> the fields of ``edgedigits-rt read --json``.
- ``GET /v1/watch`` with ``edgedigits-rt serve --watch SOURCE``: the number the watched camera, video or stream shows
  (:meth:`~edgedigits_runtime.watch.BackgroundWatch.to_dict`: the stable reading, the latest, the summary).
- ``GET /v1/health``, ``GET /v1/model`` (the classifier, and under ``reader`` the number reader ``/v1/read``
  uses: name, sha256, size, verified), ``GET /v1/openapi.json``.

An image is the raw request body (``Content-Type: image/png``, ``image/jpeg``, ...,
``application/octet-stream``) or the one file of a ``multipart/form-data`` upload. Every failure
is JSON: ``{"error": "<what was wrong and what to do>", "status": <code>}``.

Guards, outermost first (:class:`_Guard`, then the endpoint): bearer token on ``/v1/`` (401);
body limit from ``Content-Length`` and while reading (413); at most ``max_pending`` POSTs in
progress, the next gets 503 with ``Retry-After`` (nothing queues beyond the bound); a memory budget
(:class:`~edgedigits_runtime.serve.memory.Memory`, ``Limits.memory``): an upload counts from its headers (503 past it), a decode what its
image's header says it will take (a large one waits its turn; one past the budget gets 413); a time limit
per request (408 while the body arrives, 504 after); inference in a thread pool of ``workers``
threads sharing one classifier (its lock serialises the interpreter; decoding and preprocessing
run in parallel).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import math
import re
import threading
import time
from pathlib import Path

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from edgedigits_runtime.errors import EdgeDigitsError, InputError, UsageError
from edgedigits_runtime.serve.memory import TRIM_BYTES, Memory, trim

__all__ = ["create_app", "Limits", "API_PREFIX", "IMAGE_TYPES"]

API_PREFIX = "/v1/"
STATIC = Path(__file__).resolve().parent / "static"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff",
               "image/x-portable-graymap", "image/x-portable-pixmap", "image/x-portable-bitmap", "image/*")
_RAW_TYPES = ("application/octet-stream",)
# The page loads nothing but its own files (no CDN, works offline), and nothing may frame it.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
_MULTIPART = "multipart/form-data"
_WHOLE = re.compile(r"[+-]?[0-9]+")  # ASCII digits only
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # ASCII digits only
PREDICT_PARAMS = ("top_k", "threshold")
READ_PARAMS = ("digits", "roi", "threshold")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one server accepts (the defaults suit a Raspberry Pi 4 answering a few clients).

    Attributes:
      max_body: largest request body in bytes (413 past it); 10 MB holds a 12 MP phone JPEG.
      timeout: seconds one request may take, upload included (408 while uploading, 504 after).
      max_pending: image requests (POST) in progress at once; the next gets 503 + ``Retry-After``.
      workers: threads that decode, preprocess and classify (the thread pool's bound).
      memory: bytes the images in progress may take at once, beside the server's own (about 100 MB): each upload
        counts twice its size from its headers on (past nine tenths of the budget: 503 + ``Retry-After``), each
        decode what its header says it will take (:func:`~edgedigits_runtime.preprocess.decode_memory`): a large one
        waits its turn, within ``timeout``, while small ones go on in the last tenth; one that needs more than nine
        tenths alone gets 413. 384 MB kept the server under 450 MB, whatever was sent at once, within the systemd
        unit's ``MemoryMax=512M`` (416 MB did not: RESULTS.md, "Serving over HTTP", sixteenth session).
    """

    max_body: int = 10_000_000
    timeout: float = 10.0
    max_pending: int = 32
    workers: int = 2
    memory: int = 384_000_000

    def __post_init__(self):
        for name in ("max_body", "max_pending", "workers", "memory"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} must be a positive whole number; got {value!r}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or not (
                math.isfinite(self.timeout) and self.timeout > 0):
            raise UsageError(f"timeout must be a positive number of seconds; got {self.timeout!r}")
        if self.memory < 2 * self.max_body:
            raise UsageError(f"memory ({self.memory / 1e6:g} MB) must hold at least one upload of the largest body "
                             f"twice ({2 * self.max_body / 1e6:g} MB): raise --memory-mb or lower --max-body-mb")


class ApiError(Exception):
    """A request the API refuses: becomes ``{"error": message, "status": status}``."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


# --------------------------------------------------------------------------- the guard (pure ASGI)


class _Guard:
    """Token, body limit and the bound on requests in progress, before any route runs.

    Pure ASGI so that a refused request costs no body read: 401 / 413 / 503 are sent from the
    headers alone. The body limit is also enforced while the body streams in (a missing or
    false ``Content-Length``), by raising :class:`ApiError` from ``receive``.
    """

    def __init__(self, app, *, token: str | None, limits: Limits, state: dict, memory: Memory):
        self.app = app
        self.memory = memory
        self.token = token.encode() if token else None
        self.limits = limits
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.token is not None and not self._authorized(headers.get(b"authorization", b"")):
            return await _error(401, "missing or wrong token: send the header 'Authorization: Bearer <token>' "
                                "(the token the server was started with, --token or EDGEDIGITS_TOKEN)",
                                {"WWW-Authenticate": 'Bearer realm="edgedigits"'})(scope, receive, send)
        length = headers.get(b"content-length")
        declared = None
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await _error(400, f"Content-Length {length.decode('latin-1')!r} is not a number")(scope, receive, send)
            if declared > self.limits.max_body:
                return await _error(413, self._too_large(declared), {"Connection": "close"})(scope, receive, send)
        if scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if self.state["pending"] >= self.limits.max_pending:
            self.state["refused_busy"] += 1
            return await _error(503, f"busy: {self.limits.max_pending} requests are in progress; retry in a moment",
                                {"Retry-After": "1"})(scope, receive, send)
        held = 2 * (self.limits.max_body if declared is None else declared)  # the chunks, then the joined bytes
        if not self.memory.admit(held):
            self.state["refused_busy"] += 1
            return await _error(503, f"busy: the images in progress take the server's memory ({self.limits.memory / 1e6:g} "
                                "MB, --memory-mb); retry in a moment", {"Retry-After": "1"})(scope, receive, send)
        scope["edgedigits.held"] = held  # the endpoint hands it to the worker that keeps the bytes (released there)
        self.state["pending"] += 1
        received = 0
        limit = self.limits.max_body

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ApiError(413, self._too_large(None), {"Connection": "close"})
            return message

        try:
            await self.app(scope, limited_receive, send)
        finally:
            self.state["pending"] -= 1
            self.memory.release(scope.pop("edgedigits.held", 0))

    def _authorized(self, header: bytes) -> bool:
        scheme, _, value = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), self.token)

    def _too_large(self, declared: int | None) -> str:
        size = f" ({declared / 1e6:.1f} MB)" if declared is not None else ""
        return (f"request body too large{size}: the limit is {self.limits.max_body / 1e6:.1f} MB; "
                "send a smaller image (or start the server with a larger --max-body-mb)")


# --------------------------------------------------------------------------- reading an image


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_image(request: Request) -> tuple[bytes, str]:
    """The uploaded image's bytes and a name for it: the raw body or a multipart file field."""
    media = _media_type(request)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":  # the bytes would be read as a broken image ("not an image"): say what is wrong
        raise ApiError(415, f"Content-Encoding {encoding} is not supported: send the image file's bytes as they are "
                       "(a PNG or JPEG is compressed already)")
    if media == _MULTIPART:
        try:
            form = await request.form(max_files=1, max_fields=16, max_part_size=64 * 1024)
        except HTTPException as exc:  # python-multipart's parse errors, as Starlette reports them
            raise ApiError(400, f"broken multipart upload ({exc.detail}): send one file field, "
                           "e.g. curl -F image=@digit.png") from None
        try:
            uploads = [value for _, value in form.multi_items() if not isinstance(value, str)]
            if not uploads:
                raise ApiError(400, "the multipart upload has no file: send the image as a file field "
                               "(curl -F image=@digit.png)")
            upload = uploads[0]
            data = await upload.read()
            name = Path(upload.filename or "upload").name or "upload"
        finally:
            await form.close()
    elif media.startswith("image/") or media in _RAW_TYPES:
        data, name = await request.body(), "upload"
    elif not media:
        raise ApiError(415, "no Content-Type: send the image's bytes with 'Content-Type: image/png' (or image/jpeg, "
                       "...), or a multipart/form-data upload")
    else:
        raise ApiError(415, f"Content-Type {media} is not an image: send the image's bytes with "
                       "'Content-Type: image/png' (or image/jpeg, ...), or a multipart/form-data upload "
                       "(curl -F image=@digit.png)")
    if not data:
        raise ApiError(400, "the image is empty (0 bytes): send the image file's bytes")
    return data, name


def _params(request: Request, known: tuple[str, ...]) -> dict[str, str]:
    """The query's parameters, each at most once and each one the endpoint knows (a typo is not ignored)."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in known:
            raise ApiError(400, f"unknown parameter {name!r} on {request.url.path}: it takes {', '.join(known)}")
        if name in params:
            raise ApiError(400, f"{name} is given twice: give it once")
        params[name] = value
    return params


def _whole(text: str) -> int:
    """A whole number written with ASCII digits (int() also takes '٣', '1_0', ' 3'); ValueError otherwise."""
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _threshold(params: dict) -> float | None:
    text = params.get("threshold")
    if text is None:
        return None
    value = float(text) if _DECIMAL.fullmatch(text.strip()) else math.nan  # float() also takes '٠.٥', '.5_0', 'nan'
    if not 0.0 <= value <= 1.0:
        raise ApiError(400, f"threshold must be a probability from 0 to 1; got {text!r}")
    return value


def _int_param(params: dict, name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return _whole(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number; got {text!r}") from None


def _roi(params: dict) -> tuple[int, ...] | None:
    text = params.get("roi")
    if text is None:
        return None
    try:
        return tuple(_whole(v) for v in text.split(","))
    except ValueError:
        raise ApiError(400, f"roi must be x,y,w,h in the photo's pixels (four whole numbers); got {text!r}") from None


def _top_k(params: dict) -> int:
    text = params.get("top_k", "3")
    try:
        k = _whole(text)
    except ValueError:
        k = 0
    if not 1 <= k <= 10:
        raise ApiError(400, f"top_k must be a whole number from 1 to 10; got {text!r}")
    return k


# --------------------------------------------------------------------------- the app


def create_app(classifier=None, *, model: str | Path | None = None, token: str | None = None,
               limits: Limits | None = None, allow_unverified: bool = False, watcher=None, normalize=None) -> Starlette:
    """Build the ASGI app around one classifier (loaded here, once).

    Example:

    >>> app = create_app(token="s3cret", limits=Limits(workers=2))   # the shipped model   # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                                     # doctest: +SKIP

    Args:
      classifier: a :class:`~edgedigits_runtime.DigitClassifier` to share; None loads ``model``.
      model: a model file (None: the shipped int8 model). Only used when ``classifier`` is None.
      token: when set, every ``/v1/`` request needs ``Authorization: Bearer <token>``.
      limits: body size, time limit, requests in progress, worker threads (:class:`Limits`).
      allow_unverified: serve a model that no manifest verifies (refused by default).
      watcher: a :class:`~edgedigits_runtime.watch.BackgroundWatch` whose readings ``GET /v1/watch`` gives (None:
        that route answers 404, saying how to start a server that watches).
      normalize: how ``model`` wants its input scaled (``DigitClassifier``'s ``normalize``: ``"mnist"``, ...; None: its
        manifest's, else x / 255).

    Returns:
      A Starlette application.

    Raises:
      ModelError: the model is missing, damaged, or unverified (without ``allow_unverified``).
      BackendUnavailableError: no interpreter for the model, or Pillow is missing.
      UsageError: a bad token or limit.
    """
    from edgedigits_runtime.classifier import DEFAULT_MODEL, DigitClassifier, load_default
    from edgedigits_runtime.decode import MAX_PIXELS, require_image_libs
    from edgedigits_runtime.errors import ModelError, ModelIntegrityError

    limits = limits or Limits()
    if not isinstance(limits, Limits):
        raise UsageError(f"limits must be a Limits; got {type(limits).__name__}")
    if token is not None and (not isinstance(token, str) or not token.strip() or token != token.strip()
                              or any(ord(c) < 33 or ord(c) > 126 for c in token)):
        raise UsageError("the token must be printable ASCII without spaces (e.g. from: python3 -c "
                         "'import secrets; print(secrets.token_urlsafe(24))')")
    require_image_libs()
    if classifier is None:
        try:  # strict: a model that neither its own integrity record nor a manifest verifies is refused
            classifier = load_default() if model is None and normalize is None else \
                DigitClassifier(DEFAULT_MODEL if model is None else model, strict=not allow_unverified, normalize=normalize)
        except ModelIntegrityError as exc:
            raise ModelIntegrityError(str(exc).replace("or run without strict", "or start the server with "
                                                       "--allow-unverified")) from None
    if not classifier.info.get("verified") and not allow_unverified:
        raise ModelError(f"{classifier.info['path']} is not verified (no integrity record inside it, no manifest.json "
                         "beside it): the server refuses unverified models; use a model exported by edgedigits, keep "
                         "its manifest.json beside it, or start the server with --allow-unverified")

    state = {"pending": 0, "served": 0, "refused_busy": 0, "started": time.time()}
    limiter = anyio.CapacityLimiter(limits.workers)
    memory = Memory(limits.memory)

    async def _infer(fn, held: int, *args, **kwargs):
        # abandon_on_cancel: at the time limit the client gets its 504 at once; the thread finishes its image
        # (a thread cannot be stopped) and frees its worker, so at most `workers` images are ever in work. The memory
        # its bytes and decode hold (``held``) is given back when the thread ends, not when the client gets its answer.
        loop, lock, turn = asyncio.get_running_loop(), threading.Lock(), {"started": False, "dropped": False}

        def run():
            with lock:
                if turn["dropped"]:  # its client had its 504 while it waited for a worker: nothing to do
                    return None
                turn["started"] = True
            try:
                return fn(*args, **kwargs)
            finally:
                if held >= TRIM_BYTES:
                    trim()  # before the budget says the memory is free, give the decode's freed pages back
                memory.release_soon(loop, held)

        try:
            return await anyio.to_thread.run_sync(run, limiter=limiter, abandon_on_cancel=True)
        except BaseException:
            with lock:
                if not turn["started"]:  # cancelled before a worker took it: the thread will not give it back
                    turn["dropped"] = True
                    memory.release(held)
            raise

    async def _image_endpoint(request: Request, work):
        """Read the image, wait for the memory its decode takes, run ``work(data, name)`` in the pool, all within
        the time limit."""
        from edgedigits_runtime.decode import decode_memory

        stage = "upload"
        try:
            with anyio.fail_after(limits.timeout):
                data, name = await _read_image(request)
                held = request.scope.get("edgedigits.held", 0)
                cost = decode_memory(data)
                if not memory.ever_fits(cost, held):
                    raise ApiError(413, f"{name}: decoding this image needs about {cost / 1e6:.0f} MB, more than the "
                                   f"server gives one image ({memory.largest() / 1e6:g} MB of --memory-mb "
                                   f"{limits.memory / 1e6:g}): send fewer pixels, or a JPEG")
                stage = "memory"
                await memory.acquire(cost)
                request.scope["edgedigits.held"] = 0  # from here on the worker gives it all back
                stage = "work"
                answer = await _infer(work, held + cost, data, name)
        except TimeoutError:
            if stage == "upload":
                raise ApiError(408, f"the request body did not arrive within {limits.timeout:g} s: "
                               "send it faster or start the server with a larger --timeout", {"Connection": "close"}) from None
            if stage == "memory":
                raise ApiError(504, f"the image waited longer than {limits.timeout:g} s for memory to decode it (other "
                               "large images were being decoded): retry, or send a smaller image") from None
            raise ApiError(504, f"the image took longer than {limits.timeout:g} s to process: send a smaller image") from None
        state["served"] += 1
        return JSONResponse(answer)

    async def predict(request: Request):
        from edgedigits_runtime.predict import predict_bytes

        params = _params(request, PREDICT_PARAMS)
        k, threshold = _top_k(params), _threshold(params)
        return await _image_endpoint(
            request, lambda data, name: predict_bytes(data, classifier, name=name, top_k=k, threshold=threshold).as_dict())

    async def read(request: Request):
        from edgedigits_runtime.read import FileReading, read_number

        params = _params(request, READ_PARAMS)
        digits, roi, threshold = _int_param(params, "digits"), _roi(params), _threshold(params)

        def work(data, name):
            reading = read_number(data, classifier, digits=digits, roi=roi, threshold=threshold, name=name)
            return FileReading(name, reading).as_dict()  # the fields of `edgedigits-rt read --json`

        return await _image_endpoint(request, work)

    def reader_facts() -> dict:
        """The number reader's facts (``/v1/read`` reads with it; loaded on first use), or why it is unavailable."""
        from edgedigits_runtime.errors import EdgeDigitsError
        from edgedigits_runtime.read import _default_reader

        try:
            info = _default_reader().info
        except EdgeDigitsError as exc:
            return {"error": str(exc)}
        return {"model": Path(info["path"]).name, "sha256": info["sha256"], "size": info["size"],
                "verified": info["verified"], "backend": info["backend"], "min_confidence": info["min_confidence"]}

    async def health(request: Request):
        return JSONResponse({
            "status": "ok", "version": _version(), "model": Path(classifier.info["path"]).name,
            "sha256": classifier.info["sha256"], "verified": classifier.info["verified"],
            "backend": classifier.info["backend"], "uptime_s": round(time.time() - state["started"], 1),
            "in_progress": state["pending"], "served": state["served"], "refused_busy": state["refused_busy"],
            "memory_in_use": memory.used, "memory_waiting": memory.waiting,
            "limits": {**dataclasses.asdict(limits), "max_pixels": MAX_PIXELS},
            "reader": reader_facts(),
        })

    async def model_info(request: Request):
        info = dict(classifier.info)
        info["path"] = Path(info["path"]).name  # the server's folders are not the client's business
        if isinstance(info.get("manifest"), str):
            info["manifest"] = Path(info["manifest"]).name
        return JSONResponse({**info, "manifest_contents": classifier.manifest, "reader": reader_facts()})

    async def watched(request: Request):
        if watcher is None:
            raise ApiError(404, "this server watches no camera, video or stream: start it with --watch SOURCE "
                                "(edgedigits-rt serve --watch 0)")
        return JSONResponse(watcher.to_dict())

    async def openapi(request: Request):
        from edgedigits_runtime.serve.openapi import spec

        return JSONResponse(spec(_version(), limits))

    async def page(request: Request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache", **_PAGE_HEADERS})

    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.headers)

    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            message = (f"no such page: {request.url.path} (the API is under /v1/: predict, read, watch, health, model, "
                       "openapi.json)")
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    async def input_error(request: Request, exc: EdgeDigitsError):
        if isinstance(exc, InputError):
            return _error(422, str(exc))
        if isinstance(exc, UsageError):
            return _error(400, str(exc))
        return _error(500, str(exc))  # BackendUnavailableError, ModelError: the server's set-up, not the request

    async def disconnected(request: Request, exc: ClientDisconnect):
        return Response(status_code=499)  # never sent: the client has gone

    async def server_error(request: Request, exc: Exception):
        return _error(500, f"internal error ({type(exc).__name__}): see the server's log")

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/v1/predict", predict, methods=["POST"]),
        Route("/v1/read", read, methods=["POST"]),
        Route("/v1/health", health, methods=["GET"]),
        Route("/v1/model", model_info, methods=["GET"]),
        Route("/v1/watch", watched, methods=["GET"]),
        Route("/v1/openapi.json", openapi, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        ApiError: api_error, HTTPException: http_error, EdgeDigitsError: input_error,
        ClientDisconnect: disconnected, Exception: server_error,
    })
    app.state.classifier = classifier
    app.state.limits = limits
    app.state.counters = state
    app.add_middleware(_Guard, token=token, limits=limits, state=state, memory=memory)
    return app


def _version() -> str:
    from edgedigits_runtime import __version__

    return __version__
