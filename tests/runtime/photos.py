"""Synthetic "photos" of MNIST test digits: the ways a phone picture of a digit on paper differs from MNIST."""

from __future__ import annotations

import io

import numpy as np


def make_photo(digit: np.ndarray, rng: np.random.Generator, *, size=(240, 320), invert=True, rgb=True, gradient=True,
               noise=0.03, jpeg=True, rotate=True, scale=None) -> bytes | np.ndarray:
    """One MNIST digit (uint8 28x28) as a photo: enlarged, off-centre, dark on light paper, lit unevenly,
    noisy, RGB, slightly rotated, JPEG-compressed. Returns the encoded bytes (jpeg) or the array."""
    from PIL import Image

    h, w = size
    scale = scale or rng.uniform(3.0, 6.0)
    side = int(28 * scale)
    img = Image.fromarray(digit).resize((side, side), Image.BILINEAR)
    if rotate:
        img = img.rotate(float(rng.uniform(-10, 10)), resample=Image.BILINEAR)
    big = np.asarray(img, dtype=np.float32) / 255.0
    canvas = np.zeros((h, w), np.float32)
    top = int(rng.integers(0, max(h - side, 1)))
    left = int(rng.integers(0, max(w - side, 1)))
    canvas[top : top + side, left : left + side] = big[: h - top, : w - left]
    if invert:  # dark ink (0.15) on light paper (0.85)
        canvas = 0.85 - 0.7 * canvas
    else:
        canvas = 0.1 + 0.75 * canvas
    if gradient:
        yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
        light = 0.7 + 0.5 * (rng.uniform(0.3, 1.0) * xx + rng.uniform(0.0, 0.6) * yy)
        canvas = canvas * light / light.max()
    canvas = canvas + rng.normal(0, noise, canvas.shape)
    canvas = np.clip(canvas, 0, 1)
    if rgb:
        tint = np.array([1.0, 0.97, 0.9], np.float32)
        canvas = np.clip(canvas[..., None] * tint, 0, 1)
    array = (canvas * 255).astype(np.uint8)
    if not jpeg:
        return array
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=85)
    return buf.getvalue()
