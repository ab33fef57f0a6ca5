"""``marks``: hand-drawn marks and operators (+ × − = ÷ < > → ✓ * # % ...), the ``marks`` variant's own kind.

A digit model taught on the registered kinds still reads a hand-drawn ``>`` as 7 and ``+`` as 4 (nineteenth session,
RESULTS "Not a digit"): the fonts' operators are a few glyphs among a thousand, and the crosses and arrows of
``shapes`` are held out. These are drawn as a pen would: each mark a few strokes whose ends wander, slanted, wobbled and
of any pen width, fitted in the MNIST frame. ``--negative-variant marks`` draws the ``near`` variant plus this kind (an
equal share); screened as a warm start of the shipped model's recipe and not adopted (RESULTS "Not a digit",
nineteenth session). Marks a person could read as a digit (a lone
upright bar, a circle, brackets, ``!``, ``?``, ``&``, ``S``-like curves, ``≤`` and ``≥``, which a hurried pen makes a
2) are not drawn. :data:`HELD_OUT_MARKS` are left out of training so that their rejection measures how far the kind
generalises (``benchmarks/figures/reject_marks.py``).
"""

from __future__ import annotations

import math

import numpy as np

from edgedigits.train.negatives._draw import _as_float, _canvas, _ink_level, _normalise, _pen, _warp
from edgedigits.train.negatives.registry import _FIELD, _HI, _register


def _arc(cx, cy, rx, ry, a0, a1, k=16):
    """Points of an elliptic arc in unit coordinates, angles in degrees (0 = right, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, k))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in t]


# Each mark: strokes (polylines in unit coordinates, y down) and dots ((x, y) of a filled pen dot).
MARKS = {
    "plus": ([[(0.5, 0.1), (0.5, 0.9)], [(0.1, 0.5), (0.9, 0.5)]], []),
    "times": ([[(0.2, 0.2), (0.8, 0.8)], [(0.8, 0.2), (0.2, 0.8)]], []),
    "minus": ([[(0.1, 0.5), (0.9, 0.5)]], []),
    "equals": ([[(0.1, 0.35), (0.9, 0.35)], [(0.1, 0.65), (0.9, 0.65)]], []),
    "divide": ([[(0.1, 0.5), (0.9, 0.5)]], [(0.5, 0.22), (0.5, 0.78)]),
    "plus_minus": ([[(0.5, 0.1), (0.5, 0.65)], [(0.15, 0.38), (0.85, 0.38)], [(0.15, 0.88), (0.85, 0.88)]], []),
    "less": ([[(0.85, 0.15), (0.15, 0.5), (0.85, 0.85)]], []),
    "greater": ([[(0.15, 0.15), (0.85, 0.5), (0.15, 0.85)]], []),
    "arrow_right": ([[(0.1, 0.5), (0.9, 0.5)], [(0.62, 0.25), (0.9, 0.5), (0.62, 0.75)]], []),
    "arrow_left": ([[(0.9, 0.5), (0.1, 0.5)], [(0.38, 0.25), (0.1, 0.5), (0.38, 0.75)]], []),
    "arrow_up": ([[(0.5, 0.9), (0.5, 0.1)], [(0.25, 0.38), (0.5, 0.1), (0.75, 0.38)]], []),
    "arrow_down": ([[(0.5, 0.1), (0.5, 0.9)], [(0.25, 0.62), (0.5, 0.9), (0.75, 0.62)]], []),
    "arrow_diagonal": ([[(0.15, 0.85), (0.85, 0.15)], [(0.5, 0.15), (0.85, 0.15), (0.85, 0.5)]], []),
    "tick": ([[(0.1, 0.55), (0.35, 0.85), (0.9, 0.15)]], []),
    "asterisk": ([[(0.5, 0.1), (0.5, 0.9)], [(0.15, 0.3), (0.85, 0.7)], [(0.85, 0.3), (0.15, 0.7)]], []),
    "hash": ([[(0.38, 0.1), (0.3, 0.9)], [(0.7, 0.1), (0.62, 0.9)], [(0.1, 0.35), (0.9, 0.35)], [(0.1, 0.65), (0.9, 0.65)]],
             []),
    "percent": ([[(0.85, 0.1), (0.15, 0.9)], _arc(0.27, 0.25, 0.13, 0.13, 0, 360), _arc(0.73, 0.75, 0.13, 0.13, 0, 360)],
                []),
    "tilde": ([_arc(0.3, 0.55, 0.2, 0.15, 180, 360) + _arc(0.7, 0.45, 0.2, 0.15, 180, 0)], []),
    "approx": ([_arc(0.3, 0.4, 0.2, 0.12, 180, 360) + _arc(0.7, 0.3, 0.2, 0.12, 180, 0),
                _arc(0.3, 0.72, 0.2, 0.12, 180, 360) + _arc(0.7, 0.62, 0.2, 0.12, 180, 0)], []),
    "not_equal": ([[(0.1, 0.38), (0.9, 0.38)], [(0.1, 0.62), (0.9, 0.62)], [(0.7, 0.1), (0.3, 0.9)]], []),
    "caret": ([[(0.15, 0.85), (0.5, 0.15), (0.85, 0.85)]], []),
    "vee": ([[(0.15, 0.15), (0.5, 0.85), (0.85, 0.15)]], []),
    "star": ([[(0.5 + 0.42 * math.sin(4 * math.pi * k / 5), 0.55 - 0.42 * math.cos(4 * math.pi * k / 5)) for k in range(6)]],
             []),
    # Held out of training (HELD_OUT_MARKS): their rejection is the kind's honest estimate.
    "root": ([[(0.05, 0.6), (0.25, 0.9), (0.5, 0.1), (0.95, 0.1)]], []),
    "heart": ([_arc(0.3, 0.32, 0.2, 0.2, 150, 360) + _arc(0.7, 0.32, 0.2, 0.2, 180, 390) + [(0.5, 0.9), (0.13, 0.42)]], []),
    "smiley": ([_arc(0.5, 0.5, 0.42, 0.42, 0, 360, 24), _arc(0.5, 0.55, 0.22, 0.18, 20, 160)], [(0.35, 0.38), (0.65, 0.38)]),
    "infinity": ([_arc(0.3, 0.5, 0.2, 0.2, 0, 360) + _arc(0.7, 0.5, 0.2, 0.2, 180, -180)], []),
}
HELD_OUT_MARKS = ("root", "heart", "smiley", "infinity")
TRAINED_MARKS = tuple(name for name in MARKS if name not in HELD_OUT_MARKS)


_MARGIN = 12.0  # px of the 112 px canvas left around a mark's unit square
_SIZE = _HI - 2 * _MARGIN


def _at(rng, p, shift, wander: float, own: bool) -> tuple[float, float]:
    """Canvas position of the unit point ``p`` moved by its stroke's ``shift`` and, when ``own``, a wander of its own."""
    dx, dy = rng.normal(0, wander, 2) if own else (0.0, 0.0)
    return (_MARGIN + _SIZE * (p[0] + shift[0] + dx), _MARGIN + _SIZE * (p[1] + shift[1] + dy))


def draw_marks(rng, n: int, names=TRAINED_MARKS) -> np.ndarray:
    """``n`` hand-drawn marks, each one of ``names`` (:data:`MARKS`) picked at random: uint8 (n, 28, 28), MNIST form."""
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        strokes, dots = MARKS[names[int(rng.integers(len(names)))]]
        img, draw = _canvas()
        width = _pen(rng)
        wander = rng.uniform(0.01, 0.04)  # how far a stroke, and a straight stroke's corners, stray (a hurried pen)
        for stroke in strokes:  # curves move as a whole (the warp below wobbles them); straight strokes' corners too
            shift = rng.normal(0, wander, 2)
            draw.line([_at(rng, p, shift, wander, len(stroke) <= 4) for p in stroke], fill=255, width=width, joint="curve")
        for dot in dots:
            x, y = _at(rng, dot, rng.normal(0, wander, 2), wander, False)
            r = width * rng.uniform(0.6, 1.1)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
        hi = _warp(rng, _as_float(img), rotate=20, elastic=3.0)
        out[i] = _normalise(_ink_level(rng, hi))
    return out


@_register("marks", "hand-drawn marks and operators: + x - = / < > arrows, ticks, * # %, ~, stars", only="marks")
def _marks(rng, n, digits):
    return draw_marks(rng, n)
