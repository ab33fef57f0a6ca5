"""MNIST in its canonical form, found, validated and (if need be) downloaded.

Reads the four IDX files (``.gz`` or uncompressed) or a Keras ``mnist.npz``, and
checks what it reads: magic numbers, counts, shapes, label range and, for the
full-size files, the canonical content hash. A truncated or corrupted file is a
:class:`~edgedigits_runtime.errors.DataError` naming the file and what was wrong.

Where the data is looked for, in order:

1. an explicit ``data_dir`` argument (``--data-dir`` on the command line);
2. the ``EDGEDIGITS_DATA`` environment variable;
3. the user cache (``$EDGEDIGITS_CACHE``, else ``$XDG_CACHE_HOME/edgedigits/mnist``,
   else ``~/.cache/edgedigits/mnist``), and Keras' own ``~/.keras/datasets/mnist.npz``;
4. a download from the canonical mirrors into the user cache, each ``.gz``
   checked against its published SHA-256 and moved into place atomically.

Example:

>>> images, labels = load_mnist("test", data_dir="../shared/data/mnist")  # doctest: +SKIP
>>> images.shape, images.dtype, labels[:3]                                # doctest: +SKIP
((10000, 28, 28), dtype('uint8'), array([7, 2, 1], dtype=uint8))

Only numpy and the standard library are used: this module runs on the device too.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import os
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np

from edgedigits_runtime.errors import DataError, UsageError
from edgedigits_runtime.fileio import atomic_path

__all__ = ["load_mnist", "find_mnist", "read_idx", "cache_dir", "download_mnist", "ENV_VAR", "MIRRORS"]

ENV_VAR = "EDGEDIGITS_DATA"
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)
SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class _IdxFile:
    name: str  # uncompressed file name
    magic: int  # 2051 images, 2049 labels
    count: int  # canonical number of items
    raw_sha256: str  # SHA-256 of the uncompressed, canonical content
    gz_sha256: str  # SHA-256 of the canonical mirrors' .gz file

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"


_FILES = {
    ("train", "images"): _IdxFile(
        "train-images-idx3-ubyte", 2051, 60000,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    ("train", "labels"): _IdxFile(
        "train-labels-idx1-ubyte", 2049, 60000,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    ("test", "images"): _IdxFile(
        "t10k-images-idx3-ubyte", 2051, 10000,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    ("test", "labels"): _IdxFile(
        "t10k-labels-idx1-ubyte", 2049, 10000,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
_NPZ_NAME = "mnist.npz"


def load_mnist(split: str, data_dir: str | os.PathLike | None = None, *, download: bool = True):
    """Load one split of MNIST as ``(images, labels)``.

    Example:

    >>> x, y = load_mnist("train")  # doctest: +SKIP
    >>> x.shape, y.shape            # doctest: +SKIP
    ((60000, 28, 28), (60000,))

    Args:
      split: ``"train"`` or ``"test"``.
      data_dir: folder holding the four IDX files (``.gz`` or not) or ``mnist.npz``.
        ``None`` looks in ``$EDGEDIGITS_DATA``, the user cache, then downloads.
      download: allow the download step when nothing is found locally.

    Returns:
      ``images``: read-only uint8 array ``(N, 28, 28)``, white ink on black;
      ``labels``: read-only uint8 array ``(N,)`` with values 0..9.

    Raises:
      UsageError: ``split`` is not ``"train"`` or ``"test"``.
      DataError: the data is missing, truncated or corrupted; the message says
        which file and where to put the data.
    """
    if split not in SPLITS:
        raise UsageError(f"split must be 'train' or 'test', got {split!r}")
    folder = find_mnist(data_dir, download=download)
    return _load_cached(str(folder), split)


def find_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the folder MNIST will be read from, following the documented order.

    Args:
      data_dir: an explicit folder; if given it must hold the data (no fallback).
      download: allow downloading into the user cache as the last resort.

    Raises:
      DataError: nothing found (and the download failed or was not allowed).
      UsageError: ``data_dir`` is not a path.
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise UsageError(f"data_dir must be the path of the folder holding MNIST; got {type(data_dir).__name__}")
        return _require_folder(Path(data_dir), "--data-dir")
    env = os.environ.get(ENV_VAR)
    if env:
        return _require_folder(Path(env), f"${ENV_VAR}")
    for candidate in (cache_dir(), Path.home() / ".keras" / "datasets"):
        if _holds_mnist(candidate):
            return candidate
    if not download:
        raise DataError(_missing_message("downloading was turned off"))
    try:
        return download_mnist()
    except DataError as exc:
        raise DataError(_missing_message(str(exc))) from None


def cache_dir() -> Path:
    """The user cache folder for MNIST (created on download, not here)."""
    if os.environ.get("EDGEDIGITS_CACHE"):
        return Path(os.environ["EDGEDIGITS_CACHE"]).expanduser() / "mnist"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "edgedigits" / "mnist"


def download_mnist(dest: str | os.PathLike | None = None, *, mirrors=MIRRORS, timeout: float = 30.0) -> Path:
    """Download the four canonical ``.gz`` files into ``dest`` (default: the user cache).

    Each file is fetched from the first mirror that answers, checked against the
    canonical SHA-256, and only then moved to its final name. Files already present
    and valid are kept.

    Raises:
      DataError: a file could be fetched from no mirror, or none matched its checksum.
    """
    dest = Path(dest) if dest is not None else cache_dir()
    for spec in _FILES.values():
        target = dest / spec.gz_name
        if target.exists() and _sha256(target.read_bytes()) == spec.gz_sha256:
            continue
        errors = []
        for mirror in mirrors:
            try:
                with urllib.request.urlopen(mirror + spec.gz_name, timeout=timeout) as resp:
                    data = resp.read()
            except OSError as exc:  # URLError, timeouts, refused connections
                errors.append(f"{mirror}: {getattr(exc, 'reason', exc)}")
                continue
            if _sha256(data) != spec.gz_sha256:
                errors.append(f"{mirror}: checksum mismatch")
                continue
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
            break
        else:
            raise DataError(f"could not download {spec.gz_name} ({'; '.join(errors)})")
    return dest


def read_idx(path: str | os.PathLike, *, magic: int | None = None) -> np.ndarray:
    """Read and validate one IDX file (``.gz`` or uncompressed).

    Args:
      path: the file.
      magic: the expected magic number (2051 for images, 2049 for labels), or None.

    Returns:
      A uint8 array: ``(N, rows, cols)`` for images, ``(N,)`` for labels.

    Raises:
      DataError: unreadable, not IDX, truncated or with trailing bytes.
    """
    path = Path(path)
    raw = _read_bytes(path)
    return _parse_idx(raw, path, magic)


# --------------------------------------------------------------------------- internals


@functools.lru_cache(maxsize=4)
def _load_cached(folder: str, split: str):
    folder_path = Path(folder)
    if _has_idx(folder_path):
        images = _read_checked(folder_path, _FILES[(split, "images")])
        labels = _read_checked(folder_path, _FILES[(split, "labels")])
        source = folder_path / _FILES[(split, "images")].name
    else:
        images, labels = _read_npz(folder_path / _NPZ_NAME, split)
        source = folder_path / _NPZ_NAME
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{source}: images are {images.shape[1:]}, expected 28x28 MNIST digits")
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} images but {len(labels)} labels; the files do not belong together")
    if labels.size and labels.max() > 9:
        raise DataError(f"{source}: label {int(labels.max())} found, MNIST labels are 0..9; the labels file is corrupted")
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _read_checked(folder: Path, spec: _IdxFile) -> np.ndarray:
    path = _idx_path(folder, spec)
    raw = _read_bytes(path)
    array = _parse_idx(raw, path, spec.magic)
    if len(array) == spec.count and _sha256(raw) != spec.raw_sha256:
        raise DataError(
            f"{path}: content differs from canonical MNIST ({spec.name} SHA-256 mismatch); "
            "the file is corrupted: delete it and fetch it again"
        )
    return array


def _parse_idx(raw: bytes, path: Path, magic: int | None) -> np.ndarray:
    if len(raw) < 8:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header; the file is truncated")
    found = int.from_bytes(raw[:4], "big")
    if found not in (2049, 2051) or (magic is not None and found != magic):
        want = f"{magic}" if magic is not None else "2049 or 2051"
        raise DataError(f"{path}: magic number {found}, expected {want}; not an MNIST IDX file of this kind")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: header cut short ({len(raw)} bytes); the file is truncated")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "followed by unexpected bytes"
        raise DataError(f"{path}: header promises {dims} ({expected} bytes) but the file has {len(raw)}; it is {what}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: not a valid gzip file ({exc}); it is truncated or corrupted, fetch it again") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _read_npz(path: Path, split: str):
    key_x, key_y = f"x_{split}", f"y_{split}"
    try:
        with np.load(path, allow_pickle=False) as npz:
            if key_x not in npz or key_y not in npz:
                raise DataError(f"{path}: has no {key_x}/{key_y} arrays; not a Keras mnist.npz")
            images, labels = npz[key_x], npz[key_y]
    except DataError:
        raise
    except (OSError, ValueError, zlib.error, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot be read as .npz ({exc}); it is truncated or corrupted") from None
    if images.dtype != np.uint8 or labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{path}: {key_x} is {images.dtype}{images.shape}, {key_y} is {labels.dtype}{labels.shape}; "
                        "expected uint8 images (N, 28, 28) and uint8 labels (N,)")
    return images, labels


def _idx_path(folder: Path, spec: _IdxFile) -> Path:
    for name in (spec.gz_name, spec.name):
        if (folder / name).is_file():
            return folder / name
    return folder / spec.gz_name  # reading it raises a clear "file not found"


def _has_idx(folder: Path) -> bool:
    return all((folder / s.gz_name).is_file() or (folder / s.name).is_file() for s in _FILES.values())


def _holds_mnist(folder: Path) -> bool:
    return folder.is_dir() and (_has_idx(folder) or (folder / _NPZ_NAME).is_file())


def _require_folder(folder: Path, where: str) -> Path:
    folder = folder.expanduser()
    if not folder.is_dir():
        raise DataError(f"{where} points to {folder}, which is not a folder; give the folder holding the MNIST files")
    if not _holds_mnist(folder):
        names = ", ".join(s.gz_name for s in _FILES.values())
        raise DataError(f"{where} points to {folder}, which holds neither the four MNIST files ({names}) nor {_NPZ_NAME}")
    return folder


def _missing_message(reason: str) -> str:
    names = ", ".join(s.gz_name for s in _FILES.values())
    return (
        f"MNIST not found and not downloaded ({reason}). Put the four files ({names}) or mnist.npz "
        f"in {cache_dir()}, or pass --data-dir DIR, or set {ENV_VAR}=DIR"
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
