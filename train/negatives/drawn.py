"""Kinds drawn from primitives: ``textures``, ``scribbles``, ``shapes``, ``blobs`` and ``noise``."""

from __future__ import annotations

import math

import numpy as np

from edgedigits.train.negatives._draw import (
    _as_float,
    _canvas,
    _curve,
    _down,
    _ink_level,
    _normalise,
    _pen,
    _resize,
    _smooth_field,
    _texture,
    _to_u8,
    _warp,
)
from edgedigits.train.negatives.registry import _FIELD, _HI, _register


def _fractal(rng, shape, octaves: int = 4) -> np.ndarray:
    """Multi-octave smooth noise in [0, 1] (clouds, stone, foliage at a glance)."""
    total = np.zeros(shape, np.float32)
    amp, grid = 1.0, int(rng.integers(2, 5))
    for _ in range(octaves):
        total += _smooth_field(rng, shape, grid, amp)
        amp *= float(rng.uniform(0.4, 0.65))
        grid *= 2
    return (total - total.min()) / max(float(total.max() - total.min()), 1e-6)


@_register("textures", "natural-looking procedural images: clouds, stone, marble, wood grain, cells, their edges and islands")
def _textures(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    yy, xx = np.mgrid[0:_HI, 0:_HI].astype(np.float32) / _HI
    for i in range(n):
        kind = rng.integers(5)
        if kind == 0:  # clouds / stone, grey
            hi = _fractal(rng, (_HI, _HI))
        elif kind == 1:  # islands: fractal noise above a level
            hi = (_fractal(rng, (_HI, _HI)) > rng.uniform(0.45, 0.7)).astype(np.float32)
        elif kind == 2:  # marble / wood grain: stripes bent by turbulence
            a, freq = rng.uniform(0, math.pi), rng.uniform(3, 12)
            turb = _fractal(rng, (_HI, _HI), 3) * rng.uniform(2, 8)
            hi = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (xx * math.cos(a) + yy * math.sin(a)) + turb)
            if rng.random() < 0.5:
                hi = (hi > 0.7).astype(np.float32)
        elif kind == 3:  # cells (Voronoi): their edges or their shading
            pts = rng.uniform(0, 1, (int(rng.integers(4, 16)), 2)).astype(np.float32)
            d = np.sort(np.hypot(yy[..., None] - pts[:, 0], xx[..., None] - pts[:, 1]), axis=-1)
            hi = (d[..., 1] - d[..., 0] < rng.uniform(0.02, 0.06)).astype(np.float32) if rng.random() < 0.6 \
                else d[..., 0] / max(float(d[..., 0].max()), 1e-6)
        else:  # a texture inside a soft irregular window (a patch of something)
            level = _smooth_field(rng, (_HI, _HI), 3, 1.0) + 1.5 * (1 - 4 * ((yy - 0.5) ** 2 + (xx - 0.5) ** 2))
            hi = _fractal(rng, (_HI, _HI)) * (level > rng.uniform(0.3, 1.0))
        hi = np.clip(hi, 0.0, 1.0).astype(np.float32)
        if rng.random() < 0.3:
            hi = 1.0 - hi
        out[i] = _normalise(_ink_level(rng, hi)) if rng.random() < 0.5 else _to_u8(_down(hi))
    return out


@_register("scribbles", "random pen strokes: smooth curves, zig-zags, loops, hatching")
def _scribbles(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        img, draw = _canvas()
        style = rng.integers(4)
        width = _pen(rng)
        if style == 0:  # one long smooth curve with many turns
            draw.line(_curve(rng, int(rng.integers(5, 10))), fill=255, width=width, joint="curve")
        elif style == 1:  # zig-zag
            k = int(rng.integers(4, 9))
            xs = np.linspace(15, _HI - 15, k) + rng.normal(0, 4, k)
            ys = np.where(np.arange(k) % 2, rng.uniform(15, 45, k), rng.uniform(65, 97, k))
            pts = [(float(x), float(y)) for x, y in zip(xs, ys)]
            if rng.random() < 0.5:
                pts = [(y, x) for x, y in pts]
            draw.line(pts, fill=255, width=width, joint="curve")
        elif style == 2:  # loops (a spring)
            turns, r = rng.uniform(2.5, 5), rng.uniform(12, 22)
            t = np.linspace(0, 2 * math.pi * turns, 200)
            x = 20 + (_HI - 40) * t / t[-1] + r * np.cos(t)
            y = _HI / 2 + r * 1.3 * np.sin(t)
            draw.line(list(zip(x.tolist(), y.tolist())), fill=255, width=width, joint="curve")
        else:  # hatching / several short strokes
            for _ in range(int(rng.integers(3, 8))):
                x0, y0 = rng.uniform(10, _HI - 10, 2)
                a, length = rng.uniform(0, math.pi), rng.uniform(25, 60)
                draw.line([(x0, y0), (x0 + length * math.cos(a), y0 + length * math.sin(a))], fill=255, width=width)
        hi = _warp(rng, _as_float(img), rotate=30, elastic=3.0)
        out[i] = _normalise(_ink_level(rng, hi)) if rng.random() < 0.8 else _to_u8(_down(hi))
    return out


def _polygon(rng, sides: int, star: bool = False) -> list[tuple[float, float]]:
    c, r = _HI / 2, rng.uniform(30, 48)
    start = rng.uniform(0, 2 * math.pi)
    k = sides * (2 if star else 1)
    pts = []
    for j in range(k):
        rr = r * (rng.uniform(0.35, 0.55) if star and j % 2 else 1.0) * rng.uniform(0.85, 1.1)
        a = start + 2 * math.pi * j / k
        pts.append((c + rr * math.cos(a), c + rr * math.sin(a)))
    return pts


@_register("shapes", "polygons, rectangles, stars, crosses, arrows, grids: filled, outlined or textured", has_near=True)
def _shapes(rng, n, digits, near: bool = False):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        img, draw = _canvas()
        width = _pen(rng)
        fill = rng.random() < 0.45
        kind = rng.integers(9 if near else 7)  # the near variant adds clocks (7) and discs (8)
        hi = None
        if kind == 0:
            pts = _polygon(rng, int(rng.integers(3, 9)))
        elif kind == 1:
            pts = _polygon(rng, int(rng.integers(4, 8)), star=True)
        elif kind == 2:  # rectangle, any aspect
            w, h = rng.uniform(40, 96, 2)
            x0, y0 = (_HI - w) / 2, (_HI - h) / 2
            pts = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
        else:
            pts = None
        if pts is not None:
            if fill:
                draw.polygon(pts, fill=255)
            else:
                draw.line(pts + [pts[0]], fill=255, width=width, joint="curve")
        elif kind == 3:  # crosses: + or x, sometimes in a box
            c, r = _HI / 2, rng.uniform(30, 48)
            a = rng.choice([0.0, math.pi / 4]) + rng.uniform(-0.2, 0.2)
            for b in (a, a + math.pi / 2):
                draw.line([(c - r * math.cos(b), c - r * math.sin(b)), (c + r * math.cos(b), c + r * math.sin(b))],
                          fill=255, width=width)
            if rng.random() < 0.4:
                draw.rectangle([c - r, c - r, c + r, c + r], outline=255, width=max(4, width - 4))
        elif kind == 4:  # arrow
            y = _HI / 2
            draw.line([(16, y), (_HI - 16, y)], fill=255, width=width)
            draw.line([(_HI - 45, y - 28), (_HI - 16, y), (_HI - 45, y + 28)], fill=255, width=width, joint="curve")
        elif kind == 5:  # grid / hash / ladder
            k = int(rng.integers(2, 5))
            for t in np.linspace(25, _HI - 25, k):
                draw.line([(t, 12), (t, _HI - 12)], fill=255, width=width)
                draw.line([(12, t), (_HI - 12, t)], fill=255, width=width)
        elif kind == 7:  # a clock or a gauge: a ring with hands or a needle from the centre, sometimes ticks
            c, r = _HI / 2, rng.uniform(34, 50)
            draw.ellipse([c - r, c - r, c + r, c + r], outline=255, width=width)
            for _ in range(1 if rng.random() < 0.3 else 2):
                a, length = rng.uniform(0, 2 * math.pi), r * rng.uniform(0.6, 0.9)
                draw.line([(c, c), (c + length * math.cos(a), c + length * math.sin(a))], fill=255, width=max(6, width - 2))
            if rng.random() < 0.4:
                for a in np.linspace(0, 2 * math.pi, 12, endpoint=False):
                    draw.line([(c + 0.7 * r * math.cos(a), c + 0.7 * r * math.sin(a)),
                               (c + 0.85 * r * math.cos(a), c + 0.85 * r * math.sin(a))], fill=255, width=4)
        elif kind == 8:  # a disc: solid, shaded like a ball, half filled, or a ring with a grey inside
            hi = _disc(rng, width)
        else:  # ring with something inside, or concentric rings (not a plain 0)
            c, r = _HI / 2, rng.uniform(34, 50)
            draw.ellipse([c - r, c - r * rng.uniform(0.7, 1.0), c + r, c + r], outline=255, width=width)
            if rng.random() < 0.5:
                draw.ellipse([c - r / 2.5, c - r / 2.5, c + r / 2.5, c + r / 2.5], fill=255)
            else:
                draw.line([(c - r, c), (c + r, c)], fill=255, width=width)
        hi = _as_float(img) if hi is None else hi
        if fill and rng.random() < 0.5:
            hi = hi * _texture(rng, hi.shape)
        hi = _warp(rng, hi, rotate=40, elastic=2.0)
        out[i] = _normalise(_ink_level(rng, hi)) if rng.random() < 0.75 else _to_u8(_down(hi))
    return out


def _disc(rng, width: int) -> np.ndarray:
    """A disc at the 112 px scale (the ``near`` variant's ``shapes``): solid, a ball lit from one side, half or a
    quarter filled inside a ring, or a ring whose inside is grey (a round button, a shaded icon)."""
    c, r = _HI / 2, rng.uniform(30, 50)
    yy, xx = np.mgrid[0:_HI, 0:_HI].astype(np.float32)
    ry = r * rng.uniform(0.75, 1.0)
    d = np.sqrt(((xx - c) / r) ** 2 + ((yy - c) / ry) ** 2)
    style = rng.integers(4)
    if style == 0:
        disc = (d <= 1.0).astype(np.float32)
    elif style == 1:
        a = rng.uniform(0, 2 * math.pi)
        light = 0.5 + 0.5 * (((xx - c) * math.cos(a) + (yy - c) * math.sin(a)) / r)
        disc = (d <= 1.0) * np.clip(rng.uniform(0.2, 0.5) + 0.7 * light * (1 - 0.5 * d), 0.0, 1.0)
    elif style == 2:
        a = rng.uniform(0, 2 * math.pi)
        side = ((xx - c) * math.cos(a) + (yy - c) * math.sin(a)) > 0
        disc = np.maximum((d <= 1.0) * side, ((d <= 1.0) & (d >= 1.0 - width / r))).astype(np.float32)
    else:
        disc = np.where(d <= 1.0 - width / r, rng.uniform(0.25, 0.7), (d <= 1.0).astype(np.float32))
    return disc.astype(np.float32)


@_register("blobs", "ink blots, smudges, thumb-like ovals with grey texture")
def _blobs(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        field = _smooth_field(rng, (_HI, _HI), int(rng.integers(3, 8)), 1.0)
        yy, xx = np.mgrid[0:_HI, 0:_HI] / (_HI - 1) - 0.5
        ry, rx = rng.uniform(0.2, 0.45, 2)
        envelope = 1.0 - (yy / ry) ** 2 - (xx / rx) ** 2
        level = field + 1.2 * envelope
        mask = level > rng.uniform(0.2, 0.8)
        hi = mask.astype(np.float32)
        if rng.random() < 0.5:
            hi = hi * _texture(rng, hi.shape)
        if rng.random() < 0.5:  # soft edges (a smudge)
            hi = _resize(_resize(hi, 28, 28), _HI, _HI)
        hi = _warp(rng, hi, rotate=90, elastic=3.0)
        out[i] = _normalise(_ink_level(rng, hi)) if rng.random() < 0.6 else _to_u8(_down(hi))
    return out


@_register("noise", "noise, paper texture, gradients, stripes, checkerboards, blank frames")
def _noise(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.float32)
    yy, xx = np.mgrid[0:_FIELD, 0:_FIELD].astype(np.float32)
    for i in range(n):
        kind = rng.integers(8)
        if kind == 0:
            x = rng.random((_FIELD, _FIELD))
        elif kind == 1:
            x = (rng.random((_FIELD, _FIELD)) < rng.uniform(0.02, 0.4)) * rng.uniform(0.5, 1.0)
        elif kind == 2:
            x = rng.normal(rng.uniform(0.0, 0.6), rng.uniform(0.05, 0.3), (_FIELD, _FIELD))
        elif kind == 3:  # paper: low-frequency texture plus grain
            x = _smooth_field(rng, (_FIELD, _FIELD), int(rng.integers(3, 10)), rng.uniform(0.05, 0.3))
            x = x + rng.uniform(0.0, 0.5) + rng.normal(0, rng.uniform(0.0, 0.08), x.shape)
        elif kind == 4:  # gradient
            a = rng.uniform(0, 2 * math.pi)
            x = ((xx - 13.5) * math.cos(a) + (yy - 13.5) * math.sin(a)) / 27.0 + 0.5
            x = x * rng.uniform(0.3, 1.0)
        elif kind == 5:  # stripes
            period, a = rng.uniform(3, 12), rng.uniform(0, math.pi)
            x = 0.5 + 0.5 * np.sign(np.sin(2 * math.pi * (xx * math.cos(a) + yy * math.sin(a)) / period))
        elif kind == 6:  # checkerboard
            s = int(rng.integers(2, 8))
            x = ((yy // s + xx // s) % 2) * rng.uniform(0.5, 1.0)
        else:  # blank or near-blank, a few specks
            x = np.full((_FIELD, _FIELD), rng.uniform(0.0, 0.15)) + (rng.random((_FIELD, _FIELD)) < 0.01) * rng.uniform(0.3, 1)
        out[i] = x
    return _to_u8(out)
