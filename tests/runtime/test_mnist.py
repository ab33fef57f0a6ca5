"""The MNIST loader: real files, files made broken in the test, and the search order."""

from __future__ import annotations

import gzip
import hashlib
import io

import numpy as np
import pytest

from edgedigits_runtime import mnist
from edgedigits_runtime.errors import DataError, UsageError


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_set(folder, n=12, label_max=9, gz=True, rng=None):
    """Write all four IDX files with ``n`` random images each; return the arrays."""
    rng = rng if rng is not None else np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, label_max + 1, n, dtype=np.uint8)
    for split in ("train", "test"):
        for kind, array, magic in (("images", images, 2051), ("labels", labels, 2049)):
            spec = mnist._FILES[(split, kind)]
            data = _idx_bytes(array, magic)
            if gz:
                (folder / spec.gz_name).write_bytes(gzip.compress(data))
            else:
                (folder / spec.name).write_bytes(data)
    mnist._load_cached.cache_clear()
    return images, labels


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("EDGEDIGITS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    mnist._load_cached.cache_clear()
    yield
    mnist._load_cached.cache_clear()


def test_real_test_split_is_canonical(mnist_dir):
    images, labels = mnist.load_mnist("test", mnist_dir)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert not images.flags.writeable  # shared, cached arrays cannot be changed by a caller


def test_real_train_split_statistics(mnist_dir):
    images, labels = mnist.load_mnist("train", mnist_dir)
    assert images.shape == (60000, 28, 28)
    assert abs(images.mean() / 255 - 0.1307) < 1e-3  # the published mean


@pytest.mark.parametrize("gz", [True, False])
def test_small_valid_set_loads_compressed_or_not(tmp_path, gz):
    images, labels = _write_set(tmp_path / "d", gz=gz)
    got_x, got_y = mnist.load_mnist("train", tmp_path / "d")
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, labels)


def test_truncated_gzip_names_the_file(tmp_path):
    _write_set(tmp_path / "d")
    path = tmp_path / "d" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*(truncated|corrupted)"):
        mnist.load_mnist("train", tmp_path / "d")


def test_truncated_idx_payload_is_reported(tmp_path):
    _write_set(tmp_path / "d", gz=False)
    path = tmp_path / "d" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*truncated"):
        mnist.load_mnist("test", tmp_path / "d")


def test_wrong_magic_number(tmp_path):
    _write_set(tmp_path / "d", gz=False)
    path = tmp_path / "d" / "t10k-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[2:4] = (2051).to_bytes(2, "big")  # an images magic where labels belong
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="magic number 2051, expected 2049"):
        mnist.load_mnist("test", tmp_path / "d")


def test_label_out_of_range(tmp_path):
    _write_set(tmp_path / "d", label_max=12, rng=np.random.default_rng(3))
    with pytest.raises(DataError, match="label 1[0-2] found"):
        mnist.load_mnist("train", tmp_path / "d")


def test_images_and_labels_must_agree_in_count(tmp_path):
    _write_set(tmp_path / "d")
    spec = mnist._FILES[("test", "labels")]
    (tmp_path / "d" / spec.gz_name).write_bytes(gzip.compress(_idx_bytes(np.zeros(5, np.uint8), 2049)))
    with pytest.raises(DataError, match="12 images but 5 labels"):
        mnist.load_mnist("test", tmp_path / "d")


def test_corrupted_canonical_file_fails_its_checksum(tmp_path, mnist_dir):
    folder = tmp_path / "d"
    _write_set(folder)
    real = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    flipped = bytearray(real)
    flipped[100] = (flipped[100] + 1) % 10  # still a valid label: only the checksum can tell
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(bytes(flipped))
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    with pytest.raises(DataError, match="differs from canonical MNIST"):
        mnist.load_mnist("test", folder)


def test_keras_npz(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {f"{k}_{s}": (rng.integers(0, 256, (4, 28, 28)) if k == "x" else rng.integers(0, 10, 4)).astype(np.uint8)
              for k in ("x", "y") for s in ("train", "test")}
    (tmp_path / "d").mkdir()
    np.savez(tmp_path / "d" / "mnist.npz", **arrays)
    x, y = mnist.load_mnist("test", tmp_path / "d")
    np.testing.assert_array_equal(x, arrays["x_test"])
    np.testing.assert_array_equal(y, arrays["y_test"])


def test_truncated_npz(tmp_path):
    (tmp_path / "d").mkdir()
    buf = io.BytesIO()
    np.savez(buf, x_test=np.zeros((4, 28, 28), np.uint8), y_test=np.zeros(4, np.uint8))
    (tmp_path / "d" / "mnist.npz").write_bytes(buf.getvalue()[:50])
    with pytest.raises(DataError, match="mnist.npz"):
        mnist.load_mnist("test", tmp_path / "d")


def test_unknown_split():
    with pytest.raises(UsageError, match="'validation'"):
        mnist.load_mnist("validation")


def test_explicit_folder_without_data_does_not_fall_back(tmp_path):
    _write_set(tmp_path / "cache" / "mnist")  # data in the cache must not be used silently
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="--data-dir points to .*empty, which holds neither"):
        mnist.load_mnist("test", tmp_path / "empty")
    with pytest.raises(DataError, match="not a folder"):
        mnist.load_mnist("test", tmp_path / "missing")
    with pytest.raises(UsageError, match="data_dir must be the path of the folder holding MNIST; got int"):
        mnist.load_mnist("test", 123)  # was a TypeError traceback


def test_search_order_env_then_cache(tmp_path, monkeypatch):
    cached_x, _ = _write_set(tmp_path / "cache" / "mnist", rng=np.random.default_rng(5))
    x, _ = mnist.load_mnist("test")
    np.testing.assert_array_equal(x, cached_x)
    env_x, _ = _write_set(tmp_path / "env", rng=np.random.default_rng(6))
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    x, _ = mnist.load_mnist("test")
    np.testing.assert_array_equal(x, env_x)


def test_offline_message_says_where_to_put_files(monkeypatch):
    with pytest.raises(DataError) as info:
        mnist.load_mnist("test", download=False)
    message = str(info.value)
    assert "--data-dir" in message and mnist.ENV_VAR in message and "train-images-idx3-ubyte.gz" in message


def test_download_verifies_checksums_and_moves_atomically(tmp_path, monkeypatch):
    source = tmp_path / "mirror"
    _write_set(source)
    served = {spec.gz_name: (source / spec.gz_name).read_bytes() for spec in mnist._FILES.values()}

    def fake_urlopen(url, timeout):
        return io.BytesIO(served[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(mnist.urllib.request, "urlopen", fake_urlopen)
    dest = tmp_path / "dl"
    # The mirror serves files whose checksums are not the canonical ones: refused, nothing left behind.
    with pytest.raises(DataError, match="checksum mismatch"):
        mnist.download_mnist(dest, mirrors=("https://mirror.invalid/",))
    assert not dest.exists() or not any(dest.iterdir())
    # With the checksums of what is served, the same download succeeds and the data loads.
    patched = {key: mnist._IdxFile(s.name, s.magic, s.count, s.raw_sha256, hashlib.sha256(served[s.gz_name]).hexdigest())
               for key, s in mnist._FILES.items()}
    monkeypatch.setattr(mnist, "_FILES", patched)
    mnist.download_mnist(dest, mirrors=("https://mirror.invalid/",))
    assert sorted(p.name for p in dest.iterdir()) == sorted(served)
    x, _ = mnist.load_mnist("train", dest)
    assert x.shape == (12, 28, 28)
