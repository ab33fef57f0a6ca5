"""Quiet native libraries: what C++ code writes straight to file descriptor 2.

TensorFlow's start-up (oneDNN notices, CUDA probing), the TFLite converter ("fully_quantize:
0, ...") and LiteRT ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") print below
Python, where neither ``warnings`` nor ``logging`` reach. :func:`quiet_native_stderr` captures
file descriptor 2 for the length of a block. ``EDGEDIGITS_VERBOSE=1`` turns it off everywhere.
Shared by the runtime and the toolkit (which may import the runtime, never the reverse).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading

__all__ = ["held_stderr", "quiet_native_stderr", "VERBOSE_ENV"]

VERBOSE_ENV = "EDGEDIGITS_VERBOSE"
_FD2 = threading.RLock()  # file descriptor 2 is the process's: one block at a time, and lines wait for it


@contextlib.contextmanager
def quiet_native_stderr(replay_on_error: bool = True):
    """Send file descriptor 2 to a temporary file during the block.

    Example:

    >>> with quiet_native_stderr(replay_on_error=False):   # doctest: +SKIP
    ...     interpreter = Interpreter(model_content=data)

    Args:
      replay_on_error: if the block raises, write what was captured to stderr first (a crash
        while loading TensorFlow explains itself there); callers that turn failures into their
        own one-line errors pass False. Never for Ctrl-C (``KeyboardInterrupt``): the library's
        chatter explains nothing there.

    The redirection is process-wide: another thread's stderr output during the block is
    captured too (write lines another thread may print inside :func:`held_stderr`: they wait
    for the block's end). Python-level ``sys.stderr`` writes inside the block are captured as
    well. Blocks in two threads take turns: overlapping, the second one saved the first one's
    temporary file as "stderr" and put it back at its end, so that everything the process wrote
    to stderr afterwards was lost (a server's log, for the rest of its life).
    """
    if os.environ.get(VERBOSE_ENV) == "1":
        yield
        return
    with _FD2:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real stderr (embedded interpreters): nothing to capture
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            except BaseException as exc:
                os.dup2(saved, 2)
                if replay_on_error and not isinstance(exc, KeyboardInterrupt):  # Ctrl-C: the user stopped it
                    sink.seek(0)
                    sys.stderr.write(sink.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)


@contextlib.contextmanager
def held_stderr():
    """Hold stderr for a line written from any thread: it waits while another thread's :func:`quiet_native_stderr`
    block has file descriptor 2 (the line would go to that block's temporary file, lost), and keeps one from starting
    meanwhile.

    Example:

    >>> with held_stderr():
    ...     print("warning: the camera stopped sending frames", file=sys.stderr, flush=True)   # doctest: +SKIP
    """
    with _FD2:
        yield
