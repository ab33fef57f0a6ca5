"""Atomic writes: complete or absent, with the usual file mode."""

from __future__ import annotations

import io
import os
import stat

import pytest

from edgedigits_runtime.errors import UsageError
from edgedigits_runtime.fileio import atomic_path, atomic_write_bytes, atomic_write_text, read_at_most, sha256_bytes, sha256_file


def test_written_file_has_the_umask_mode_not_mkstemps_private_one(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    path = atomic_write_text(tmp_path / "a.json", "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_text() == "{}"


def test_failure_leaves_destination_untouched_and_no_temporary(tmp_path):
    dest = atomic_write_bytes(tmp_path / "model.bin", b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def test_sha256_of_file_matches_bytes(tmp_path):
    data = os.urandom(3 << 20)  # more than one read chunk
    path = atomic_write_bytes(tmp_path / "x", data)
    assert sha256_file(path) == sha256_bytes(data)


def test_read_at_most_stops_at_its_limit(tmp_path):
    """A file, a stream or a device larger than the limit gives None (only limit + 1 bytes read); smaller: the bytes."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100)
    assert read_at_most(path, 100) == b"x" * 100
    assert read_at_most(path, 99) is None
    assert read_at_most(io.BytesIO(b"y" * 10), 10) == b"y" * 10
    stream = io.BytesIO(b"y" * 1000)
    assert read_at_most(stream, 10) is None and stream.tell() == 11
    if os.path.exists("/dev/zero"):  # endless: never read to its end
        assert read_at_most("/dev/zero", 1000) is None
    with pytest.raises(FileNotFoundError):
        read_at_most(tmp_path / "missing", 10)
    for text in (io.StringIO("abc"), io.TextIOWrapper(io.BytesIO(b"\x89PNG\xff\xfe"), encoding="utf-8")):
        with pytest.raises(UsageError, match="must be binary"):  # sys.stdin for sys.stdin.buffer: a TypeError later
            read_at_most(text, 10)

