"""The server's memory budget (``Limits.memory``, ``--memory-mb``): what the images in progress may take at once.

A 49 MP transparent PNG of a few hundred KB decodes to hundreds of MB, and phone photos held while they wait take
their size twice: without a bound, a few clients at once took the server past the systemd unit's ``MemoryMax=512M``
(RESULTS.md, "Serving over HTTP", sixteenth session). :class:`Memory` counts each upload from its headers and each
decode from its image's header (:func:`~edgedigits_runtime.decode.decode_memory`); :func:`trim` hands the memory a
large decode freed back to the system before the budget counts it free.
"""

from __future__ import annotations

import functools

import anyio

__all__ = ["Memory", "TRIM_BYTES", "trim"]

TRIM_BYTES = 32_000_000  # after a decode this large, the freed memory is handed back to the system (:func:`trim`)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS, Windows)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim() -> None:
    """Return the memory a large decode freed to the system.

    glibc keeps what a thread frees in that thread's heap (an arena) and hands it out again only from there, so a
    decode in one worker after a large one in the other grew the server again: eight 49 MP images at once, decoded
    one at a time, took it to 474-483 MB without this and 402-413 MB with it. ``malloc_trim(0)`` releases the free
    pages of every arena (a few milliseconds, after large decodes only).
    """
    release = _malloc_trim()
    if release is not None:
        release(0)


class Memory:
    """The memory budget of the images in progress (:attr:`Limits.memory`), kept on the event loop.

    Uploads are admitted or not (:meth:`admit`: never waits); decodes wait for theirs (:meth:`acquire`), and any
    waiting decode that fits goes when memory is released (the oldest first), so small images go on while a large
    one waits (under a steady stream of large uploads a large decode may wait until its time limit: 504). Uploads
    and large decodes never take the last tenth (:attr:`reserve`), so that uploads which fill the rest cannot keep
    their own small decodes waiting for ever (32 phone photos at once did: each upload held memory its decode
    needed). :meth:`release` may be
    called from a worker thread (through :meth:`release_soon`): a decode abandoned at the time limit holds its
    memory until its thread ends.
    """

    def __init__(self, total: int):
        self.total, self.used = total, 0
        self.reserve = total // 10  # for small decodes only: uploads and large decodes never take it
        self._waiting: list[tuple[int, anyio.Event]] = []

    def largest(self) -> int:
        """The largest decode that can ever be taken (one past it is refused: 413)."""
        return self.total - self.reserve

    def _room(self, cost: int) -> int:
        """What a decode of ``cost`` may fill up to: the whole budget when it is small, else all but the reserve."""
        return self.total if cost <= self.reserve else self.largest()

    def _fits(self, cost: int) -> bool:
        return self.used + cost <= self._room(cost)

    def ever_fits(self, cost: int, held: int = 0) -> bool:
        """Whether a decode of ``cost`` can ever be granted beside the ``held`` bytes its own request keeps (its
        upload): when not, waiting would last until the time limit (the server answers 413 at once)."""
        return held + cost <= self._room(cost)

    @property
    def waiting(self) -> int:
        """Bytes the waiting decodes ask for."""
        return sum(cost for cost, _ in self._waiting)

    def admit(self, cost: int) -> bool:
        """Take ``cost`` bytes now if they fit beside what is used, outside the reserve; never waits."""
        if self.used + cost > self.largest():
            return False
        self.used += cost
        return True

    async def acquire(self, cost: int) -> None:
        """Take ``cost`` bytes (at most :meth:`largest`), waiting until they fit; cancellable (the time limit).

        A decode of more than :attr:`reserve` must leave :attr:`reserve` free; a smaller one may take it.
        """
        if self._fits(cost):
            self.used += cost
            return
        entry = (cost, anyio.Event())
        self._waiting.append(entry)
        try:
            await entry[1].wait()
        except BaseException:
            if entry in self._waiting:
                self._waiting.remove(entry)
            else:  # granted just as it was cancelled
                self.release(cost)
            raise

    def release(self, cost: int) -> None:
        """Give ``cost`` bytes back; wake the waiting decodes that now fit (oldest first)."""
        self.used -= cost
        for entry in list(self._waiting):
            if self._fits(entry[0]):
                self.used += entry[0]
                self._waiting.remove(entry)
                entry[1].set()

    def release_soon(self, loop, cost: int) -> None:
        """:meth:`release` from any thread (on ``loop``, the event loop's thread)."""
        loop.call_soon_threadsafe(self.release, cost)
