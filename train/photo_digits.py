"""Digits as the device sees them: MNIST *training* digits rendered as small synthetic photos, prepared by the
runtime's own photo path (:func:`edgedigits_runtime.preprocess.preprocess_image`), labelled.

A digit that went through a photo comes out of ``preprocess_image`` softer than an MNIST digit: enlarged,
blurred, JPEG-compressed, re-thresholded and re-scaled, its strokes have a grey ramp and almost no saturated
core (about 3 pixels at 255 against MNIST's 60). Models taught "not a digit" on MNIST alone learnt that such
soft, dim ink is not a digit and rejected most photographed digits (benchmarks/RESULTS.md, "Not a digit").
Training and calibrating on these images as *digits* fixes that at the source: what the device feeds the
model is part of what the model learns is a digit.

This generator is the toolkit's own and deliberately not the benchmark's (``tests/runtime/photos.py``, which
stays independent): other canvas sizes, pens, blur, light, noise and compression ranges.

Example:

>>> from edgedigits.train.photo_digits import photo_digits
>>> import numpy as np
>>> digits = np.zeros((4, 28, 28), np.uint8); digits[:, 6:22, 12:16] = 255
>>> x, y = photo_digits(digits, np.arange(4), 4, seed=0)
>>> x.shape, x.dtype, y.tolist()
((4, 28, 28), dtype('uint8'), [0, 1, 2, 3])
"""

from __future__ import annotations

import math

import numpy as np

from edgedigits.errors import UsageError

__all__ = ["photo_digits", "render_photo", "through_photo_path"]


def render_photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uint8 28x28 MNIST digit (white on black) as a uint8 grey photo of it on paper (random style).

    The photo: a canvas of 64 to 288 pixels a side; the digit enlarged 2x to 7x (cubic; at most 3/4 of
    the canvas's short side), rotated up to 12 degrees, its pen thinned or thickened, placed anywhere it
    fits; dark ink on light paper (70%) or light on dark, with random ink and paper levels, a light
    gradient, Gaussian blur, noise, and JPEG compression (quality 35-95) two times in three.
    """
    import cv2

    h, w = int(rng.integers(64, 289)), int(rng.integers(64, 289))
    scale = float(rng.uniform(2.0, 7.0))
    side = max(16, min(int(28 * scale), int(0.75 * min(h, w))))  # paper around the digit, as a user frames it
    big = cv2.resize(digit.astype(np.float32) / 255.0, (side, side), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big, 0.0, 1.0)
    pen = rng.random()
    if pen < 0.25:  # a thin pen
        k = max(1, round(side / 40))
        big = cv2.erode(big, np.ones((k, k), np.uint8))
    elif pen < 0.5:  # a thick one
        k = max(1, round(side / 45 * rng.uniform(0.5, 1.0)))  # not so thick that loops fill up
        big = cv2.dilate(big, np.ones((k, k), np.uint8))
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(-12, 12)), 1.0)
    big = cv2.warpAffine(big, turn, (side, side), flags=cv2.INTER_LINEAR)
    canvas = np.zeros((h, w), np.float32)
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    canvas[top : top + side, left : left + side] = big
    paper, ink = float(rng.uniform(0.55, 0.95)), float(rng.uniform(0.0, 0.35))
    if rng.random() < 0.3:  # light ink on a dark board
        paper, ink = 1.0 - paper, 1.0 - ink
    photo = paper + (ink - paper) * canvas
    ramp = _ramp(h, w, rng.uniform(0, 2 * math.pi))
    photo = photo * (1.0 + float(rng.uniform(0.0, 0.5)) * ramp)
    blur = float(rng.uniform(0.0, 1.8))
    if blur > 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    photo = photo + rng.normal(0.0, float(rng.uniform(0.003, 0.05)), photo.shape).astype(np.float32)
    out = np.round(np.clip(photo, 0.0, 1.0) * 255.0).astype(np.uint8)
    if rng.random() < 2 / 3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 96))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def _ramp(h: int, w: int, angle: float) -> np.ndarray:
    """A float32 (h, w) linear light gradient across the photo at ``angle``, -0.5..0.5 from one side to the other.

    A row term plus a column term by broadcasting: each pixel's value is the same float32 arithmetic as on a full
    ``np.mgrid`` (0.6 ms of a 1.9 ms photo) and exactly equal to it.
    """
    xx = np.arange(w, dtype=np.float32)[None, :]
    yy = np.arange(h, dtype=np.float32)[:, None]
    return ((xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle)).astype(np.float32)


def _prepared(photo: np.ndarray) -> np.ndarray | None:
    """``preprocess_image(photo)``, or None when the photo path refuses it (too faint, no ink)."""
    from edgedigits_runtime.errors import InputError
    from edgedigits_runtime.preprocess import preprocess_image

    try:
        return preprocess_image(photo)
    except InputError:
        return None


def photo_digits(digits: np.ndarray, labels: np.ndarray, n: int, *, seed: int, workers: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits drawn from ``digits`` (with their ``labels``), each rendered as a photo and prepared by the runtime.

    Args:
      digits: uint8 (M, 28, 28) MNIST digits: the *training* split for training, the validation split for
        calibration (never the test set).
      labels: (M,) their labels.
      n: how many images to make (digits are drawn at random, with replacement when ``n`` > M).
      seed: same seed, same images.
      workers: prepare the photos (``preprocess_image``, about half the work) in this many spawned processes
        while this one renders them (the random draws stay here, in order): the same images, sooner on a machine
        with cores to spare. 0: all here.

    Returns:
      ``(uint8 (n', 28, 28) as ``preprocess_image`` returns them, int64 (n',) labels)``; n' <= n: a photo the
      photo path refuses (too faint after the random light and noise) is left out.

    Raises:
      UsageError: ``n`` negative, or no digits to draw from.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise UsageError(f"number of photo digits must be a whole number >= 0; got {n!r}")
    if n and not len(digits):
        raise UsageError("photo digits need MNIST digits to render")
    rng = np.random.default_rng([int(seed), 4242])
    pick = rng.choice(len(digits), size=n, replace=n > len(digits)) if n else np.zeros(0, int)
    photos = (render_photo(np.asarray(digits[i], np.uint8), rng) for i in pick)
    out, ys = [], []
    with _ordered_map(workers) as prepare:
        for i, field in zip(pick, prepare(_prepared, photos)):
            if field is None:
                continue
            out.append(field)
            ys.append(int(labels[i]))
    x = np.stack(out) if out else np.zeros((0, 28, 28), np.uint8)
    return x, np.asarray(ys, dtype=np.int64)



class _ordered_map:
    """``map`` in this process (``workers`` 0, or no processes available), else an ordered map over spawned processes
    that is fed lazily (the caller's generator runs here, so its random draws keep their order)."""

    def __init__(self, workers: int):
        self._pool = None
        if workers > 0:
            import multiprocessing

            try:
                self._pool = multiprocessing.get_context("spawn").Pool(workers)
            except (OSError, RuntimeError, ValueError):
                self._pool = None

    def __enter__(self):
        if self._pool is None:
            return map
        return lambda fn, items: self._pool.imap(fn, items, chunksize=32)

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()


def through_photo_path(images: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each uint8 28x28 image rendered as a photo (:func:`render_photo`) and prepared by ``preprocess_image``.

    Used for the generated non-digits too, so that the soft look of the photo path is not what tells digits
    from non-digits.

    Returns:
      ``(uint8 (N, 28, 28), bool (N,) prepared)``: where the photo path refused an image (no ink found, too
      faint), the image is returned unchanged and ``prepared`` is False.
    """
    from edgedigits_runtime.errors import InputError
    from edgedigits_runtime.preprocess import preprocess_image

    rng = np.random.default_rng([int(seed), 4343])
    out = np.array(images, dtype=np.uint8, copy=True)
    done = np.zeros(len(out), bool)
    for i in range(len(out)):
        try:
            out[i] = preprocess_image(render_photo(out[i], rng))
            done[i] = True
        except InputError:
            pass
    return out, done
