"""`edgedigits-rt serve`: the classifier over HTTP (JSON API v1) and a page to draw or photograph a digit.

Starlette on uvicorn (pure Python; the ``serve`` extra: ``pip install "edgedigits-runtime[serve]"``).
The model is loaded once per process and shared; inference runs off the event loop in a bounded
thread pool. Safe by default: loopback only unless told otherwise, an optional bearer token, a
body limit, a decompression-bomb guard, a per-request time limit and a bound on requests in
progress (503 with ``Retry-After`` past it).

Example:

>>> from edgedigits_runtime.serve import Limits, create_app, run
>>> app = create_app(token="s3cret", limits=Limits(workers=2))   # an ASGI app (the shipped model)   # doctest: +SKIP
>>> run(host="127.0.0.1", port=8000)                             # blocks until SIGTERM / Ctrl-C     # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util

from edgedigits_runtime.errors import BackendUnavailableError

__all__ = ["create_app", "run", "Limits", "require_serve"]

_NEEDS = (("starlette", "starlette"), ("uvicorn", "uvicorn"), ("python_multipart", "python-multipart"))


def require_serve() -> None:
    """Check that the ``serve`` extra is installed.

    Raises:
      BackendUnavailableError: starlette, uvicorn or python-multipart is missing (says what to install).
    """
    missing = [dist for module, dist in _NEEDS if importlib.util.find_spec(module) is None]
    if missing:
        raise BackendUnavailableError(f"serving needs {', '.join(missing)}: pip install \"edgedigits-runtime[serve]\"")


def __getattr__(name: str):  # the heavy imports happen on first use, after the check
    if name in ("create_app", "Limits"):
        require_serve()
        from edgedigits_runtime.serve import app

        return getattr(app, name)
    if name == "run":
        require_serve()
        from edgedigits_runtime.serve.server import run

        return run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
