"""Shared drawing steps of the non-digit generators: a 112 px canvas, warps like handwriting, curves, textures and
the MNIST form."""

from __future__ import annotations

import math

import numpy as np

from edgedigits.train.negatives.registry import _BOX, _FIELD, _HI


def _down(hi: np.ndarray) -> np.ndarray:
    """(112, 112) float [0, 1] -> (28, 28) by 4x4 area averaging."""
    return hi.reshape(_FIELD, 4, _FIELD, 4).mean(axis=(1, 3))


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    shrink = h <= img.shape[0] and w <= img.shape[1]
    return np.asarray(Image.fromarray(img.astype(np.float32), mode="F").resize((w, h), Image.BOX if shrink else Image.BILINEAR),
                      np.float32)


def _normalise(img: np.ndarray) -> np.ndarray:
    """Any-size float ink image -> MNIST form: crop, fit 20x20 (aspect kept), centre of mass at the centre."""
    rows = np.nonzero(img.max(axis=1) > 0.05)[0]
    cols = np.nonzero(img.max(axis=0) > 0.05)[0]
    if not len(rows) or not len(cols):
        return _to_u8(np.zeros((_FIELD, _FIELD)))
    crop = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    f = _BOX / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * f)), max(1, round(crop.shape[1] * f))
    small = np.clip(_resize(crop, h, w), 0.0, 1.0)
    field = np.zeros((_FIELD, _FIELD), np.float32)
    top, left = (_FIELD - h) // 2, (_FIELD - w) // 2
    field[top : top + h, left : left + w] = small
    total = float(field.sum())
    if total > 0:
        ys, xs = np.mgrid[0:_FIELD, 0:_FIELD]
        dy = int(np.clip(round(14.0 - float((field * ys).sum()) / total), -top, _FIELD - (top + h)))
        dx = int(np.clip(round(14.0 - float((field * xs).sum()) / total), -left, _FIELD - (left + w)))
        field = np.roll(field, (dy, dx), axis=(0, 1))
    return _to_u8(field)


def _smooth_field(rng, shape, grid: int, amplitude: float) -> np.ndarray:
    """A smooth random field: a coarse grid of normal values, bilinearly enlarged to ``shape``."""
    coarse = rng.normal(0.0, amplitude, (grid, grid)).astype(np.float32)
    return _resize(coarse, shape[0], shape[1])


def _warp(rng, img: np.ndarray, *, rotate=15.0, shear=0.35, scale=(0.8, 1.15), elastic=4.0) -> np.ndarray:
    """Affine (rotation, shear, anisotropic scale) and an elastic wobble: 'written by hand'."""
    h, w = img.shape
    a = math.radians(rng.uniform(-rotate, rotate))
    sh = rng.uniform(-shear, shear)
    sx, sy = rng.uniform(*scale), rng.uniform(*scale)
    # Output (y, x) samples input at M @ (y - c, x - c) + c.
    m = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) @ np.array([[1.0, 0.0], [sh, 1.0]])
    m = m @ np.diag([1.0 / sy, 1.0 / sx])
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    py = m[0, 0] * (yy - cy) + m[0, 1] * (xx - cx) + cy
    px = m[1, 0] * (yy - cy) + m[1, 1] * (xx - cx) + cx
    if elastic:
        py = py + _smooth_field(rng, (h, w), 4, elastic)
        px = px + _smooth_field(rng, (h, w), 4, elastic)
    return _sample(img, py, px)


def _sample(img: np.ndarray, py: np.ndarray, px: np.ndarray) -> np.ndarray:
    """Bilinear sampling of ``img`` at (py, px), zero outside."""
    h, w = img.shape
    padded = np.pad(img, 1)
    y = np.clip(py + 1.0, 0.0, h + 0.999)
    x = np.clip(px + 1.0, 0.0, w + 0.999)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    y1, x1 = np.minimum(y0 + 1, h + 1), np.minimum(x0 + 1, w + 1)
    out = (padded[y0, x0] * (1 - fy) * (1 - fx) + padded[y0, x1] * (1 - fy) * fx
           + padded[y1, x0] * fy * (1 - fx) + padded[y1, x1] * fy * fx)
    return out.astype(np.float32)


def _pen(rng) -> int:
    """Stroke width at 112 px (MNIST strokes are ~2-3.5 px at 28 -> 8-14 px here)."""
    return int(rng.integers(6, 15))


def _canvas():
    from PIL import Image, ImageDraw

    img = Image.new("L", (_HI, _HI), 0)
    return img, ImageDraw.Draw(img)


def _as_float(img) -> np.ndarray:
    return np.asarray(img, np.float32) / 255.0


def _ink_level(rng, x: np.ndarray) -> np.ndarray:
    """Scale ink to a random peak (most MNIST-like: full white)."""
    return x * (1.0 if rng.random() < 0.7 else rng.uniform(0.55, 1.0))


def _curve(rng, points: int) -> list[tuple[float, float]]:
    """A smooth random curve through ``points`` control points (Catmull-Rom, sampled)."""
    ctrl = rng.uniform(14, _HI - 14, (points, 2))
    pts = []
    for j in range(len(ctrl) - 1):
        pts += _catmull_rom(ctrl[max(j - 1, 0)], ctrl[j], ctrl[j + 1], ctrl[min(j + 2, len(ctrl) - 1)], 12)
    pts.append(tuple(map(float, ctrl[-1])))
    return pts


def _catmull_rom(p0, p1, p2, p3, samples: int) -> list[tuple[float, float]]:
    """``samples`` points of the Catmull-Rom segment from ``p1`` to ``p2`` (``p2`` itself excluded)."""
    pts = []
    for t in np.linspace(0, 1, samples, endpoint=False):
        t2, t3 = t * t, t * t * t
        p = 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
        pts.append((float(p[0]), float(p[1])))
    return pts


def _texture(rng, shape) -> np.ndarray:
    """Grey texture in [0.3, 1]: smooth noise, stripes or a checkerboard."""
    kind = rng.integers(3)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    if kind == 0:
        t = _smooth_field(rng, shape, int(rng.integers(3, 12)), 1.0)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    elif kind == 1:
        period, a = rng.uniform(8, 24), rng.uniform(0, math.pi)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * (xx * math.cos(a) + yy * math.sin(a)) / period)
    else:
        s = int(rng.integers(8, 24))
        t = ((yy // s + xx // s) % 2).astype(np.float32)
    return (0.3 + 0.7 * t).astype(np.float32)


def _elongation(img: np.ndarray) -> float:
    """Ratio of the ink's longest to shortest spread (principal axes); large for a straight bar, inf for nothing."""
    w = img.astype(np.float64)
    total = w.sum()
    if total < 3.0:
        return math.inf
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    my, mx = (w * ys).sum() / total, (w * xs).sum() / total
    cov = np.cov(np.stack([(ys - my).ravel(), (xs - mx).ravel()]), aweights=w.ravel())
    low, high = np.linalg.eigvalsh(cov)
    return float(math.sqrt(high / max(low, 1e-6)))
