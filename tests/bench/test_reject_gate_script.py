"""benchmarks/figures/reject_gate.py: the input statistics it screens measure what they say on images drawn here."""

import numpy as np
from bench_helpers import figure_script


def _ring(filled: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:28, 0:28]
    r = np.hypot(yy - 13.5, xx - 13.5)
    return np.where((r <= 8) & (filled | (r >= 5)), 255, 0).astype(np.uint8)


def test_euler_number_counts_parts_minus_holes(monkeypatch):
    stats = figure_script("reject_gate", monkeypatch)._stats
    two_dots = np.zeros((28, 28), np.uint8)
    two_dots[5:9, 5:9] = two_dots[18:22, 18:22] = 255
    eight = np.zeros((28, 28), np.uint8)  # two rings stacked: one part, two holes
    eight[4:14, 9:19] = eight[13:23, 9:19] = 255
    eight[6:12, 11:17] = eight[15:21, 11:17] = 0
    s = stats(np.stack([_ring(), _ring(filled=True), two_dots, eight, np.zeros((28, 28), np.uint8)]))
    assert s["euler (8-conn.)"].tolist() == [0, 1, 2, -1, 0]
    assert s["euler (4-conn.)"].tolist() == [0, 1, 2, -1, 0]


def test_box_fill_and_stroke_width_of_a_bar(monkeypatch):
    bar = np.zeros((1, 28, 28), np.uint8)
    bar[0, 4:24, 12:15] = 255  # 20 x 3 px
    s = figure_script("reject_gate", monkeypatch)._stats(bar)
    assert (s["height"][0], s["width"][0], s["inked px"][0]) == (20, 3, 60)
    assert s["fill"][0] == 1.0 and s["saturated share"][0] == 1.0
    assert 2.5 < s["stroke width"][0] < 3.5  # 2 x area / perimeter of a long thin bar: about its width
    assert s["centre offset"][0] < 0.6 and s["ink near frame"][0] == 0.0
