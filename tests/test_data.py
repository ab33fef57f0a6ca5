"""edgedigits.data: the validation split carved from the training set, and the training pipeline."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from edgedigits import data
from edgedigits.errors import UsageError
from edgedigits_runtime import mnist


def _write_mnist(folder, n_train=240, n_test=30):
    """Four small IDX files; each training image is filled with its own index (mod 256), to tell them apart."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    sets = {"train": n_train, "test": n_test}
    arrays = {}
    for split, n in sets.items():
        images = np.repeat((np.arange(n) % 256).astype(np.uint8)[:, None, None], 28, axis=1).repeat(28, axis=2)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        arrays[split] = (images, labels)
        for kind, array, magic in (("images", images, 2051), ("labels", labels, 2049)):
            header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
            (folder / f"{'t10k' if split == 'test' else 'train'}-{kind}-idx{array.ndim}-ubyte.gz").write_bytes(
                gzip.compress(header + array.tobytes()))
    mnist._load_cached.cache_clear()
    return arrays


@pytest.fixture
def small_mnist(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    arrays = _write_mnist(tmp_path / "mnist")
    yield tmp_path / "mnist", arrays
    mnist._load_cached.cache_clear()


def test_splits_are_disjoint_cover_the_training_set_and_do_not_change(small_mnist):
    folder, arrays = small_mnist
    splits = data.load_splits(folder, val_fraction=0.25)
    assert len(splits.x_val) == 60 and len(splits.x_train) == 180
    train_ids, val_ids = set(splits.x_train[:, 0, 0]), set(splits.x_val[:, 0, 0])
    assert not train_ids & val_ids and len(train_ids | val_ids) == 240
    again = data.load_splits(folder, val_fraction=0.25)
    np.testing.assert_array_equal(again.x_val, splits.x_val)
    # labels travel with their images
    labels = arrays["train"][1]
    np.testing.assert_array_equal(splits.y_val, labels[splits.x_val[:, 0, 0]])


def test_limit_picks_a_fixed_subset_and_bad_options_are_refused(small_mnist):
    folder, _ = small_mnist
    limited = data.load_splits(folder, limit=48)
    assert len(limited.x_train) + len(limited.x_val) == 48 and len(limited.x_val) == 4
    np.testing.assert_array_equal(limited.x_train, data.load_splits(folder, limit=48).x_train)
    with pytest.raises(UsageError, match="--limit"):
        data.load_splits(folder, limit=5)
    for fraction in (0.0, 0.6):
        with pytest.raises(UsageError, match="validation fraction"):
            data.load_splits(folder, val_fraction=fraction)


def test_test_set_and_float_conversion(small_mnist):
    folder, arrays = small_mnist
    images, labels = data.load_test(folder)
    np.testing.assert_array_equal(labels, arrays["test"][1])
    x = data.to_float(images[:3])
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[2, 0, 0, 0], 2 / 255)


@pytest.mark.needs_tf
def test_train_dataset_is_deterministic_and_resumes_where_it_stopped(small_mnist):
    folder, _ = small_mnist
    splits = data.load_splits(folder, val_fraction=0.25)

    def batches(start_epoch):
        ds, steps = data.make_train_dataset(splits.x_train, splits.y_train, batch_size=64, seed=3, epochs=2,
                                            start_epoch=start_epoch, augment=True)
        return steps, [(x.numpy(), y.numpy()) for x, y in ds]

    steps, full = batches(0)
    assert steps == 3 and len(full) == 6
    assert full[0][0].shape == (64, 28, 28, 1) and full[2][0].shape == (180 - 128, 28, 28, 1)
    _, resumed = batches(1)
    for (xa, ya), (xb, yb) in zip(full[3:], resumed):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(xa, xb)
    epoch_labels = np.concatenate([y for _, y in full[:3]])
    assert sorted(epoch_labels.tolist()) == sorted(splits.y_train.tolist())


def test_index_stream_is_one_stream_of_seeded_permutations():
    n = 7
    whole = np.concatenate([np.random.default_rng([5, k]).permutation(n) for k in range(4)])
    np.testing.assert_array_equal(data.index_stream(n, 5, start=0, count=28), whole)
    np.testing.assert_array_equal(data.index_stream(n, 5, start=10, count=9), whole[10:19])  # across a boundary
    assert data.index_stream(n, 5, start=3, count=0).shape == (0,)


@pytest.mark.needs_tf
def test_epochs_of_a_given_size_are_cut_from_the_stream_and_resume_there(small_mnist):
    folder, _ = small_mnist
    splits = data.load_splits(folder, val_fraction=0.25)  # 180 training images

    def batches(start_epoch):
        ds, steps = data.make_train_dataset(splits.x_train, splits.y_train, batch_size=32, seed=3, epochs=3,
                                            start_epoch=start_epoch, augment=False, epoch_images=70)
        return steps, [(x.numpy(), y.numpy()) for x, y in ds]

    steps, full = batches(0)
    assert steps == 3 and len(full) == 9 and all(x.shape == (32, 28, 28, 1) for x, _ in full)  # full batches only
    stream = data.index_stream(len(splits.x_train), 3, start=0, count=9 * 32)
    np.testing.assert_array_equal(np.concatenate([y for _, y in full]), splits.y_train[stream])
    _, resumed = batches(2)
    for (xa, ya), (xb, yb) in zip(full[6:], resumed, strict=True):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)


def _elastic(images, alpha, seed=(1, 2)):
    tf = pytest.importorskip("tensorflow")
    return data._elastic(tf, tf.constant(images), tf.constant(seed, tf.int64), alpha=alpha).numpy()


@pytest.mark.needs_tf
def test_elastic_distortion_without_strength_is_the_identity():
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(_elastic(images, 0.0), images, atol=1e-6)


@pytest.mark.needs_tf
def test_elastic_distortion_moves_ink_locally_and_is_seeded():
    images = np.zeros((2, 28, 28, 1), np.float32)
    images[:, 8:20, 12:16] = 1.0  # a bar of ink
    warped = _elastic(images, 12.0)
    assert warped.shape == images.shape and 0.0 <= warped.min() and warped.max() <= 1.0
    assert np.abs(warped - images).mean() > 0.01  # it moved
    assert abs(warped.sum() - images.sum()) < 0.5 * images.sum()  # ... but kept most of the ink
    assert not np.allclose(warped[0], warped[1])  # each image its own field
    np.testing.assert_array_equal(warped, _elastic(images, 12.0))  # same seed, same result
