"""MNIST for training: a validation split carved from the training set, and tf.data pipelines.

The test set is never touched here except by :func:`load_test`, used only for the
final evaluation. Reading and validating the files is the runtime's loader
(:mod:`edgedigits_runtime.mnist`), shared with the device.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from edgedigits.errors import UsageError
from edgedigits_runtime.mnist import load_mnist

__all__ = ["Splits", "load_splits", "load_test", "to_float", "make_train_dataset", "index_stream", "SPLIT_SEED"]

SPLIT_SEED = 20261125  # fixed: every run, whatever its seed, validates on the same images


@dataclasses.dataclass(frozen=True)
class Splits:
    """uint8 images (N, 28, 28) and uint8 labels for the training and validation parts."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def load_splits(data_dir=None, *, val_fraction: float = 1 / 12, limit: int | None = None) -> Splits:
    """Load the MNIST training set and carve a validation split from it.

    Args:
      data_dir: where MNIST is (see :func:`edgedigits_runtime.mnist.load_mnist`).
      val_fraction: share of the (possibly limited) training images held out for validation.
      limit: use only this many training images (picked at random, fixed), e.g. in tests.

    Returns:
      :class:`Splits`; the same images go to validation on every call.

    Raises:
      UsageError: a fraction outside (0, 0.5] or a limit too small to split.
      DataError: the files are missing or corrupted.
    """
    if not 0 < val_fraction <= 0.5:
        raise UsageError(f"validation fraction must be in (0, 0.5], got {val_fraction}")
    images, labels = load_mnist("train", data_dir)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    if limit is not None:
        if limit < 20:
            raise UsageError(f"--limit must be at least 20 images, got {limit}")
        order = order[: min(limit, len(order))]
    n_val = max(1, int(round(len(order) * val_fraction)))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return Splits(images[train], labels[train], images[val], labels[val])


def load_test(data_dir=None):
    """The 10,000 test images and labels, for final evaluation only."""
    return load_mnist("test", data_dir)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the models' input."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., None]


def make_train_dataset(x, y, *, batch_size: int, seed: int, epochs: int, start_epoch: int = 0, augment: bool = True,
                       elastic: float = 0.0, epoch_images: int | None = None):
    """A deterministic tf.data pipeline over ``epochs - start_epoch`` epochs.

    Each epoch's order is a permutation drawn from ``(seed, epoch)`` and each
    batch's augmentation from ``(seed, batch number)``, so a run resumed at
    ``start_epoch`` sees exactly the data an uninterrupted run would have.

    With ``epoch_images`` (fewer or more than ``len(x)``), an epoch is ``ceil(epoch_images / batch_size)``
    full batches cut from one stream of permutations of all the images (the k-th drawn from ``(seed, k)``),
    so every image is seen about as often over the run, and the cost of an epoch does not grow with ``len(x)``
    (a run that adds generated images to its digits counts its epochs on the digits).

    Args:
      x: uint8 images (N, 28, 28).
      y: labels (N,) as integers, or float targets (N, K) (soft or packed targets).
      elastic: strength (pixels) of the elastic distortion added to the augmentation
        (Simard et al. 2003; 0 turns it off); only with ``augment``.
      epoch_images: images per epoch (None: ``len(x)``, one permutation per epoch).

    Returns:
      ``(dataset, steps_per_epoch)``.
    """
    from edgedigits._tf import tf_and_keras

    tf, _ = tf_and_keras()
    n = len(x)
    images = tf.constant(to_float(x))
    y = np.asarray(y)
    labels = tf.constant(y.astype(np.float32) if y.ndim == 2 else y.astype(np.int32))
    if epoch_images is None or epoch_images == n:
        steps = math.ceil(n / batch_size)
        perms = np.stack([np.random.default_rng([seed, e]).permutation(n) for e in range(start_epoch, epochs)])
        ds = tf.data.Dataset.from_tensor_slices(perms.astype(np.int32))
        ds = ds.flat_map(lambda perm: tf.data.Dataset.from_tensor_slices(perm).batch(batch_size))
    else:
        if epoch_images < 1:
            raise ValueError(f"epoch_images must be >= 1, got {epoch_images}")
        steps = math.ceil(epoch_images / batch_size)
        order = index_stream(n, seed, start=start_epoch * steps * batch_size,
                             count=(epochs - start_epoch) * steps * batch_size)
        ds = tf.data.Dataset.from_tensor_slices(order.reshape(-1, batch_size).astype(np.int32))
    counter = tf.data.Dataset.counter(start=start_epoch * steps)
    ds = tf.data.Dataset.zip((ds, counter))

    def _gather(idx, step):
        xb = tf.gather(images, idx)
        if augment:
            xb = _augment(tf, xb, tf.stack([tf.cast(seed, tf.int64), step]))
            if elastic > 0:
                xb = _elastic(tf, xb, tf.stack([tf.cast(seed, tf.int64) + 7919, step]), alpha=elastic)
        return xb, tf.gather(labels, idx)

    ds = ds.map(_gather, num_parallel_calls=1, deterministic=True).prefetch(2)
    return ds, steps


def index_stream(n: int, seed: int, *, start: int, count: int) -> np.ndarray:
    """Positions ``start .. start + count - 1`` of the stream of permutations of ``range(n)``, the k-th permutation
    drawn from ``default_rng([seed, k])`` (the first is the one-permutation-per-epoch order's first epoch)."""
    first, last = start // n, (start + count - 1) // n if count else start // n
    stream = np.concatenate([np.random.default_rng([seed, k]).permutation(n) for k in range(first, last + 1)])
    offset = start - first * n
    return stream[offset : offset + count]


def _augment(tf, images, seed, max_rotation_deg=10.0, max_zoom=0.1, max_shift_px=2.5):
    """Random small rotations, zooms and shifts (one affine warp per image), stateless."""
    batch = tf.shape(images)[0]
    u = tf.random.stateless_uniform([batch, 4], seed=seed, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * (max_rotation_deg * math.pi / 180.0)
    inv_scale = 1.0 / (1.0 + u[:, 1] * max_zoom)
    tx, ty = u[:, 2] * max_shift_px, u[:, 3] * max_shift_px
    cos, sin = tf.cos(angle) * inv_scale, tf.sin(angle) * inv_scale
    c = 13.5  # centre of a 28x28 image
    # Output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2).
    a2 = c - cos * c + sin * c + tx
    b2 = c - sin * c - cos * c + ty
    zeros = tf.zeros_like(cos)
    transforms = tf.stack([cos, -sin, a2, sin, cos, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[28, 28], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT",
    )


def _elastic(tf, images, seed, alpha: float, sigma: float = 4.0):
    """Elastic distortion (Simard et al. 2003): a random displacement field, Gaussian-smoothed, bilinear-sampled.

    ``alpha`` scales the smoothed field (uniform in [-1, 1] before smoothing, so the typical
    displacement is about ``alpha / (2 sqrt(pi) sigma)`` pixels, up to a few times that).
    """
    batch = tf.shape(images)[0]
    size = 28
    field = tf.random.stateless_uniform([batch, size, size, 2], seed=seed, minval=-1.0, maxval=1.0)
    radius = int(math.ceil(2 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    kx = tf.constant(np.tile(taps[None, :, None, None], (1, 1, 2, 1)))
    ky = tf.constant(np.tile(taps[:, None, None, None], (1, 1, 2, 1)))
    field = tf.nn.depthwise_conv2d(field, kx, [1, 1, 1, 1], "SAME")
    field = tf.nn.depthwise_conv2d(field, ky, [1, 1, 1, 1], "SAME") * alpha
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size)), axis=-1).astype(np.float32)  # (y, x) -> (x, y)
    # Source coordinates in a 1-pixel zero border (clipped there), so samples outside the image are ink-free.
    src = tf.clip_by_value(grid[None] + field + 1.0, 0.0, size + 1.0 - 1e-3)
    x0, y0 = tf.floor(src[..., 0]), tf.floor(src[..., 1])
    wx, wy = src[..., 0] - x0, src[..., 1] - y0
    padded = tf.reshape(tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]]), [-1])
    width = size + 2
    base = tf.cast(tf.range(batch) * width * width, tf.float32)[:, None, None]

    def at(yy, xx):
        return tf.gather(padded, tf.cast(base + yy * width + xx, tf.int32))

    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, width - 1)
    out = ((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1))
           + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1)))
    return out[..., None]
