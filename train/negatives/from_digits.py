"""Kinds made from MNIST *training* digits: ``digit_parts``, ``digit_pairs`` and ``digit_cutoff``."""

from __future__ import annotations

import math

import numpy as np

from edgedigits.errors import UsageError
from edgedigits.train.negatives._draw import _elongation, _normalise, _to_u8
from edgedigits.train.negatives.registry import _FIELD, _register


def _pick(rng, digits, k=1):
    if digits is None or len(digits) == 0:
        raise UsageError("digit-based non-digit kinds need MNIST training digits")
    return [digits[int(j)].astype(np.float32) / 255.0 for j in rng.integers(len(digits), size=k)]


@_register("digit_parts", "a half or a corner of an MNIST training digit, re-centred", needs_digits=True)
def _digit_parts(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    yy, xx = np.mgrid[0:_FIELD, 0:_FIELD].astype(np.float32) - 13.5
    for i in range(n):
        for _ in range(6):  # a thin straight piece (half of a 1, the bar of a 7) is a 1 again: try another cut
            (d,) = _pick(rng, digits)
            a = rng.uniform(0, 2 * math.pi)
            offset = rng.uniform(-2.0, 3.0)
            keep = (xx * math.cos(a) + yy * math.sin(a)) > offset  # a half-plane cut through the middle
            if rng.random() < 0.3:  # a corner: two cuts
                b = a + rng.uniform(0.6, 1.6)
                keep &= (xx * math.cos(b) + yy * math.sin(b)) > offset
            part = d * keep
            if _elongation(part) < 3.0:
                break
        out[i] = _normalise(part) if rng.random() < 0.7 else _to_u8(part)
    return out


@_register("digit_pairs", "two MNIST training digits side by side or overlapping, fitted as one", needs_digits=True)
def _digit_pairs(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        a, b = _pick(rng, digits, 2)
        gap = int(rng.integers(-10, 2))  # negative: overlapping
        wide = np.zeros((_FIELD, 2 * _FIELD + gap), np.float32)
        wide[:, :_FIELD] = a
        wide[:, _FIELD + gap :] = np.maximum(wide[:, _FIELD + gap :], b)
        if rng.random() < 0.25:  # stacked instead
            wide = np.zeros((2 * _FIELD + gap, _FIELD), np.float32)
            wide[:_FIELD] = a
            wide[_FIELD + gap :] = np.maximum(wide[_FIELD + gap :], b)
        out[i] = _normalise(wide)
    return out


@_register("digit_cutoff", "an MNIST training digit with half of it or more out of the frame", needs_digits=True)
def _digit_cutoff(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        (d,) = _pick(rng, digits)
        a = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(10, 16)
        total = max(float(d.sum()), 1e-6)
        for _ in range(8):  # keep 15% to 60% of the ink in the frame
            shifted = _shift(d, int(round(dist * math.sin(a))), int(round(dist * math.cos(a))))
            left = float(shifted.sum()) / total
            if 0.15 <= left <= 0.6:
                break
            dist *= 0.85 if left < 0.15 else 1.15
        out[i] = _to_u8(shifted)
    return out


def _shift(d: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift an image by whole pixels; what leaves the frame is lost (no wrap-around)."""
    out = np.zeros_like(d)
    h, w = d.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = d[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    return out
