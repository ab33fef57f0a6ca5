"""The ``wide`` variant's own kinds: pictograms, patterns, fragments cut by the frame, brush strokes."""

from __future__ import annotations

import math

import numpy as np

from edgedigits.train.negatives._draw import (
    _as_float,
    _catmull_rom,
    _curve,
    _down,
    _elongation,
    _ink_level,
    _normalise,
    _resize,
    _texture,
    _to_u8,
    _warp,
)
from edgedigits.train.negatives.glyphs import _font_files, _glyph_canvas
from edgedigits.train.negatives.registry import _FIELD, _HI, _register_wide

# --------------------------------------------------------------------------- the ``wide`` variant's own kinds
#
# Kinds only the ``wide`` variant draws (registered with ``only="wide"``; ``generate(..., variant="wide")`` adds them to
# the kinds every variant draws, which it draws as ``near`` does). Breadth, not more of the same: pictogram-like compositions of
# primitives, bounded patterns, pieces of several glyphs cut by the frame, brush strokes and blots with holes. Nothing
# here draws from the evaluation's sources or the ``shapes`` generator: every image is built from the primitives below,
# and each one combines two parts or more, so that none is a plain ring (a 0) or a plain bar (a 1).


def _closed_spline(rng, c: tuple[float, float], r: float, points: int, jitter: float) -> list[tuple[float, float]]:
    """A smooth closed random outline around ``c`` (radius ``r`` +- ``jitter``), Catmull-Rom through ``points`` points."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, points)) if rng.random() < 0.5 else np.linspace(0, 2 * math.pi, points,
                                                                                                  endpoint=False)
    radii = r * (1.0 + rng.uniform(-jitter, jitter, points))
    ctrl = np.stack([c[0] + radii * np.cos(angles), c[1] + radii * np.sin(angles)], axis=1)
    pts = []
    for j in range(points):
        pts += _catmull_rom(ctrl[j - 1], ctrl[j], ctrl[(j + 1) % points], ctrl[(j + 2) % points], 10)
    return pts


def _outline(rng, c, r) -> list[tuple[float, float]]:
    """A closed outline of a pictogram's body: a rounded box, a document with a folded corner, a speech bubble, a
    shield, a house, a tag or a smooth random blob."""
    x, y = c
    w, h = r * rng.uniform(0.7, 1.0), r * rng.uniform(0.7, 1.0)
    style = rng.integers(7)
    if style == 0:  # a box with cut corners
        k = r * rng.uniform(0.1, 0.3)
        return [(x - w + k, y - h), (x + w - k, y - h), (x + w, y - h + k), (x + w, y + h - k), (x + w - k, y + h),
                (x - w + k, y + h), (x - w, y + h - k), (x - w, y - h + k)]
    if style == 1:  # a document: a box with its top right corner folded
        k = r * rng.uniform(0.3, 0.5)
        return [(x - w, y - h), (x + w - k, y - h), (x + w, y - h + k), (x + w, y + h), (x - w, y + h)]
    if style == 2:  # a speech bubble
        t = x + rng.uniform(-0.5, 0.3) * w
        return [(x - w, y - h), (x + w, y - h), (x + w, y + 0.5 * h), (t + 0.4 * w, y + 0.5 * h), (t, y + h),
                (t + 0.1 * w, y + 0.5 * h), (x - w, y + 0.5 * h)]
    if style == 3:  # a shield
        return [(x - w, y - h), (x + w, y - h), (x + w, y), (x, y + h), (x - w, y)]
    if style == 4:  # a house
        return [(x, y - h), (x + w, y - 0.2 * h), (x + 0.8 * w, y - 0.2 * h), (x + 0.8 * w, y + h), (x - 0.8 * w, y + h),
                (x - 0.8 * w, y - 0.2 * h), (x - w, y - 0.2 * h)]
    if style == 5:  # a tag
        return [(x - w, y - 0.6 * h), (x + 0.4 * w, y - 0.6 * h), (x + w, y), (x + 0.4 * w, y + 0.6 * h), (x - w, y + 0.6 * h)]
    return _closed_spline(rng, c, r, int(rng.integers(5, 9)), 0.35)


def _pictogram_canvas(rng) -> np.ndarray:
    """One pictogram at 112 px: a body (outlined, or filled with holes cut out) and one to three details inside,
    across or out of it (a bar, a handle, dots, lines of 'text', a tick, a smaller outline, an arrowhead, a second body)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (_HI, _HI), 0)
    draw = ImageDraw.Draw(img)
    width = int(rng.integers(3, 13))
    c = (_HI / 2 + rng.uniform(-8, 8), _HI / 2 + rng.uniform(-8, 8))
    r = rng.uniform(26, 44)
    body = _outline(rng, c, r)
    filled = rng.random() < 0.4
    if filled:
        draw.polygon(body, fill=255)
    else:
        draw.line(body + [body[0]], fill=255, width=width, joint="curve")
    ink, cut = (0, 255) if filled else (255, 0)
    for _ in range(int(rng.integers(1, 4))):
        detail = rng.integers(9)
        if detail == 0:  # a bar across the body
            a = rng.uniform(0, math.pi)
            draw.line([(c[0] - r * math.cos(a), c[1] - r * math.sin(a)), (c[0] + r * math.cos(a), c[1] + r * math.sin(a))],
                      fill=ink, width=width)
        elif detail == 1:  # a handle: straight out of the body, away from its centre
            a = rng.uniform(0, 2 * math.pi)
            draw.line([(c[0] + 0.9 * r * math.cos(a), c[1] + 0.9 * r * math.sin(a)),
                       (c[0] + 1.5 * r * math.cos(a), c[1] + 1.5 * r * math.sin(a))], fill=255, width=width + 4)
        elif detail == 2:  # dots
            for _ in range(int(rng.integers(1, 4))):
                px, py = c[0] + rng.uniform(-0.5, 0.5) * r, c[1] + rng.uniform(-0.5, 0.5) * r
                s = rng.uniform(3, 8)
                draw.ellipse([px - s, py - s, px + s, py + s], fill=ink)
        elif detail == 3:  # lines of 'text'
            for k in range(int(rng.integers(2, 5))):
                ty = c[1] - 0.4 * r + k * 0.25 * r
                draw.line([(c[0] - 0.5 * r, ty), (c[0] + rng.uniform(0.0, 0.5) * r, ty)], fill=ink, width=max(2, width // 2))
        elif detail == 4:  # a tick
            draw.line([(c[0] - 0.45 * r, c[1]), (c[0] - 0.1 * r, c[1] + 0.35 * r), (c[0] + 0.5 * r, c[1] - 0.4 * r)],
                      fill=ink, width=width, joint="curve")
        elif detail == 5:  # a smaller outline inside (a hole when the body is filled)
            inner = _outline(rng, (c[0] + rng.uniform(-0.2, 0.2) * r, c[1] + rng.uniform(-0.2, 0.2) * r), r * rng.uniform(0.25, 0.5))
            if filled:
                draw.polygon(inner, fill=cut)
            else:
                draw.line(inner + [inner[0]], fill=255, width=max(2, width - 2), joint="curve")
        elif detail == 6:  # an arrowhead at the end of an open arc
            a0, sweep = rng.uniform(0, 2 * math.pi), rng.uniform(1.5, 4.5)
            t = np.linspace(a0, a0 + sweep, 30)
            rr = 0.6 * r
            pts = list(zip((c[0] + rr * np.cos(t)).tolist(), (c[1] + rr * np.sin(t)).tolist()))
            draw.line(pts, fill=ink, width=width, joint="curve")
            ex, ey = pts[-1]
            ta = a0 + sweep + math.pi / 2
            for side in (-0.5, 0.5):
                draw.line([(ex, ey), (ex - 14 * math.cos(ta + side), ey - 14 * math.sin(ta + side))], fill=ink, width=width)
        elif detail == 7:  # a cross inside
            s = 0.35 * r
            draw.line([(c[0] - s, c[1] - s), (c[0] + s, c[1] + s)], fill=ink, width=width)
            draw.line([(c[0] - s, c[1] + s), (c[0] + s, c[1] - s)], fill=ink, width=width)
        else:  # a second body overlapping the first
            d = (c[0] + rng.uniform(-0.6, 0.6) * r, c[1] + rng.uniform(-0.6, 0.6) * r)
            other = _outline(rng, d, r * rng.uniform(0.4, 0.7))
            draw.line(other + [other[0]], fill=255, width=width, joint="curve")
    hi = _as_float(img)
    if rng.random() < 0.25:  # a grey or shaded body, as a toolbar picture often is
        hi = hi * rng.uniform(0.4, 1.0) if rng.random() < 0.5 else hi * _texture(rng, hi.shape)
    return hi


@_register_wide("pictograms", "pictogram-like compositions: a body (outlined, or filled with holes) and 1-3 details")
def _pictograms(rng, n, digits):
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        hi = _warp(rng, _pictogram_canvas(rng), rotate=20, elastic=2.0)
        if rng.random() < 0.3:  # a soft, blurred picture
            hi = _resize(_resize(hi, 40, 40), _HI, _HI)
        out[i] = _normalise(_ink_level(rng, hi)) if rng.random() < 0.8 else _to_u8(_down(hi))
    return out


@_register_wide("patterns", "hatching, cross-hatching, dot grids, concentric rings, waves, dashes and bricks, in a region or "
                "over the frame")
def _patterns(rng, n, digits):
    from PIL import Image, ImageDraw

    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    yy, xx = np.mgrid[0:_HI, 0:_HI].astype(np.float32)
    for i in range(n):
        img = Image.new("L", (_HI, _HI), 0)
        draw = ImageDraw.Draw(img)
        width = int(rng.integers(3, 11))
        style = rng.integers(6)
        step = rng.uniform(14, 26)
        if style in (0, 1):  # hatching (one direction) or cross-hatching (two), at least three lines each
            for a in [rng.uniform(0, math.pi)] + ([rng.uniform(0, math.pi)] if style == 1 else []):
                for off in np.arange(-_HI, _HI, step):
                    cx, cy = _HI / 2 + off * math.cos(a + math.pi / 2), _HI / 2 + off * math.sin(a + math.pi / 2)
                    draw.line([(cx - _HI * math.cos(a), cy - _HI * math.sin(a)), (cx + _HI * math.cos(a), cy + _HI * math.sin(a))],
                              fill=255, width=width)
        elif style == 2:  # a grid of dots, regular or jittered
            s = rng.uniform(3, 7)
            for gy in np.arange(step / 2, _HI, step):
                for gx in np.arange(step / 2, _HI, step):
                    jy, jx = rng.normal(0, 2 * (rng.random() < 0.5), 2)
                    draw.ellipse([gx + jx - s, gy + jy - s, gx + jx + s, gy + jy + s], fill=255)
        elif style == 3:  # concentric rings (three or more: a target, ripples)
            cx, cy = rng.uniform(30, _HI - 30, 2)
            for rr in np.arange(step / 2, 1.6 * _HI, step):
                draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], outline=255, width=width)
        elif style == 4:  # waves
            a, amp, period = rng.uniform(0, math.pi), rng.uniform(4, 12), rng.uniform(20, 50)
            t = np.linspace(-_HI, 2 * _HI, 120)
            for off in np.arange(-_HI, _HI, step):
                u, v = t, _HI / 2 + off + amp * np.sin(2 * math.pi * t / period)
                px, py = u * math.cos(a) - (v - _HI / 2) * math.sin(a), u * math.sin(a) + (v - _HI / 2) * math.cos(a) + _HI / 2
                draw.line(list(zip(px.tolist(), py.tolist())), fill=255, width=width)
        else:  # rows of dashes (text seen from afar) or bricks
            bricks = rng.random() < 0.5
            for k, gy in enumerate(np.arange(step / 2, _HI, step)):
                gx = -rng.uniform(0, 30) + (step if bricks and k % 2 else 0)
                while gx < _HI:
                    length = rng.uniform(12, 40) if not bricks else 2 * step
                    if bricks:
                        draw.rectangle([gx, gy - step / 2, gx + length, gy + step / 2], outline=255, width=max(2, width // 2))
                    else:
                        draw.line([(gx, gy), (gx + length, gy)], fill=255, width=width)
                    gx += length + rng.uniform(6, 16)
        hi = _as_float(img)
        region = rng.integers(3)  # the whole frame, a disc-like blob or a box of it
        if region == 1:
            pts = _closed_spline(rng, (_HI / 2, _HI / 2), rng.uniform(28, 46), 6, 0.3)
            mask = Image.new("L", (_HI, _HI), 0)
            ImageDraw.Draw(mask).polygon(pts, fill=255)
            hi = hi * _as_float(mask)
        elif region == 2:
            h, w = rng.uniform(40, 100, 2)
            box = (np.abs(yy - _HI / 2) < h / 2) & (np.abs(xx - _HI / 2) < w / 2)
            hi = hi * box
        hi = _warp(rng, hi, rotate=20, elastic=2.0)
        out[i] = _normalise(_ink_level(rng, hi)) if region and rng.random() < 0.6 else _to_u8(_down(hi))
    return out


@_register_wide("fragments", "pieces of several glyphs or pictograms, big, cut by the frame (what a camera sees too close)")
def _fragments(rng, n, digits):
    fonts = _font_files() or (None,)
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        for _ in range(5):  # a piece that is one straight stroke is a 1: cut another
            if rng.random() < 0.6:  # a row of glyphs, enlarged so that the frame cuts it
                row = _glyph_canvas(rng, fonts, int(rng.integers(2, 5)), spacing=(0.0, 0.2))
            else:
                row = _pictogram_canvas(rng)
            zoom = rng.uniform(1.6, 3.0)
            big = _resize(row, int(_HI * zoom), int(_HI * zoom))
            y, x = (int(rng.integers(0, big.shape[k] - _HI + 1)) for k in (0, 1))
            hi = _warp(rng, np.clip(big[y : y + _HI, x : x + _HI], 0.0, 1.0), rotate=10, elastic=2.0)
            img = _to_u8(_down(_ink_level(rng, hi)))
            if img.max() > 100 and _elongation(img) < 3.5:
                break
        out[i] = img
    return out


@_register_wide("brush", "two to five brush strokes, thick at one end and thin at the other, and blots with holes")
def _brush(rng, n, digits):
    from PIL import Image, ImageDraw

    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        img = Image.new("L", (_HI, _HI), 0)
        draw = ImageDraw.Draw(img)
        if rng.random() < 0.6:  # brush strokes: a width that grows or shrinks along the stroke (three or more strokes:
            for _ in range(int(rng.integers(3, 6))):  # two make a 7, a 4 or an L too easily)
                pts = _curve(rng, int(rng.integers(2, 4)))
                w0, w1 = rng.uniform(2, 8), rng.uniform(10, 22)
                if rng.random() < 0.5:
                    w0, w1 = w1, w0
                for k, (p, q) in enumerate(zip(pts[:-1], pts[1:])):
                    w = w0 + (w1 - w0) * k / max(len(pts) - 2, 1)
                    draw.line([p, q], fill=255, width=int(round(w)))
                    draw.ellipse([q[0] - w / 2, q[1] - w / 2, q[0] + w / 2, q[1] + w / 2], fill=255)
        else:  # a blot with two or three holes (one centred hole would make a 0), sometimes a second blot
            c = (_HI / 2, _HI / 2)
            draw.polygon(_closed_spline(rng, c, rng.uniform(34, 48), int(rng.integers(5, 9)), 0.3), fill=255)
            for _ in range(int(rng.integers(2, 4))):
                hc = (c[0] + rng.uniform(-22, 22), c[1] + rng.uniform(-22, 22))
                draw.polygon(_closed_spline(rng, hc, rng.uniform(5, 12), 5, 0.3), fill=0)
            if rng.random() < 0.4:
                oc = (c[0] + rng.uniform(-40, 40), c[1] + rng.uniform(-40, 40))
                draw.polygon(_closed_spline(rng, oc, rng.uniform(10, 24), 6, 0.4), fill=255)
        hi = _as_float(img)
        if rng.random() < 0.3:
            hi = hi * _texture(rng, hi.shape)
        hi = _warp(rng, hi, rotate=30, elastic=3.0)
        out[i] = _normalise(_ink_level(rng, hi)) if rng.random() < 0.8 else _to_u8(_down(hi))
        if _elongation(out[i]) >= 3.5:  # strokes that ended up along one line are a 1: blot it out into a blob instead
            out[i] = _normalise(_resize(_resize(hi, 14, 14), _HI, _HI) > 0.2)
    return out
