"""Atomic file writing (a file is either absent or complete, never half-written) and bounded reading.

Writes go to a temporary name in the destination folder, are flushed to disk,
then renamed over the destination with :func:`os.replace` (atomic on POSIX).
Reads of files a user names (images, models) stop after a limit, so that a device
(``/dev/zero``) or an endless pipe is refused instead of filling the memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from edgedigits_runtime.errors import UsageError

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "read_at_most", "sha256_file", "sha256_bytes"]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; finished files get the usual mode (0644 under umask 022).
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it to ``dest``.

    Use for writers that insist on a file name (Keras, matplotlib): write to the
    yielded path, and the file appears at ``dest`` only once the block completes.
    On any exception the temporary file is removed and ``dest`` is untouched.

    Args:
      dest: final path of the file.
      suffix: suffix for the temporary name (defaults to ``dest``'s own suffix,
        which writers such as Keras use to pick a format).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{dest.name}.partial-", suffix=dest.suffix if suffix is None else suffix, dir=dest.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # make sure the bytes are on disk before the rename
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _FILE_MODE)
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically and return ``dest`` as a Path."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def atomic_write_text(dest: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``dest`` atomically and return ``dest`` as a Path."""
    return atomic_write_bytes(dest, text.encode("utf-8"))


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_at_most(source, limit: int) -> bytes | None:
    """The bytes of a file or binary stream, or None when it holds more than ``limit`` bytes.

    A regular file's size is checked before reading it; anything else (a pipe, stdin, a device
    such as ``/dev/zero``) is read up to ``limit + 1`` bytes only.

    Example:

    >>> read_at_most("digit.png", 256 << 20)[:4]     # doctest: +SKIP
    b'\\x89PNG'

    Args:
      source: a path, or a binary file object (``sys.stdin.buffer``).
      limit: the most bytes accepted.

    Returns:
      the bytes, or None when there are more than ``limit``.

    Raises:
      OSError: the path cannot be opened or read (missing, a folder, no permission, ...).
      UsageError: ``source`` is a text stream (``sys.stdin``, ``open(path)``), not a binary one.
    """
    if hasattr(source, "read"):
        try:
            data = source.read(limit + 1)
        except UnicodeDecodeError:
            data = ""
        if not isinstance(data, (bytes, bytearray)):
            raise UsageError(f"a stream to read image or model bytes from must be binary (open(path, 'rb'), "
                             f"sys.stdin.buffer); got a text stream ({type(source).__name__})")
    else:
        with open(source, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                return None
            data = fh.read(limit + 1)
    return None if len(data) > limit else data

