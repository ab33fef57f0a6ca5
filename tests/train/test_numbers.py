"""Synthetic numbers for the sequence reader: seeded, through the runtime's own line path, labels that match."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits.train.numbers import MARK, MAX_LABELS, MAX_LENGTH, make_lines, mark_pool, render_number
from edgedigits_runtime.line import LINE_HEIGHT, LINE_WIDTH, normalise_line

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def fake_digits():
    """Ten digit-like shapes drawn in code (0: a ring, 1..9: that many short bars), so no data files are needed."""
    x = np.zeros((10, 28, 28), np.uint8)
    yy, xx = np.mgrid[0:28, 0:28]
    x[0][np.abs(np.hypot(yy - 14, (xx - 14) * 1.6) - 8) < 1.8] = 255
    for d in range(1, 10):
        for k in range(d):
            x[d, 4 + 2 * k : 5 + 2 * k, 8:20] = 255
        x[d, 4:24, 13:15] = 255
    return x, np.arange(10)


def test_lines_are_seeded_and_shaped_like_the_reader_input(fake_digits):
    images, labels = fake_digits
    lines, digits, lengths = make_lines(images, labels, 12, seed=3)
    again, _, _ = make_lines(images, labels, 12, seed=3)
    other, _, _ = make_lines(images, labels, 12, seed=4)
    assert lines.shape == (12, LINE_HEIGHT, LINE_WIDTH) and lines.dtype == np.uint8
    assert np.array_equal(lines, again) and not np.array_equal(lines, other)
    assert digits.shape == (12, MAX_LABELS) and lengths.min() >= 1 and lengths.max() <= MAX_LENGTH
    assert (digits < MARK).all()  # no marks unless asked for
    for row, n in zip(digits, lengths):
        assert (row[:n] >= 0).all() and (row[n:] == -1).all()
    assert all(line.max() > 200 for line in lines)  # ink scaled to full range


def test_longer_numbers_take_more_of_the_line(fake_digits):
    images, labels = fake_digits
    lines, _, lengths = make_lines(images, labels, 40, seed=5, lengths=(1, 6))
    used = np.array([np.flatnonzero(line.max(axis=0) > 60)[-1] for line in lines])
    assert used[lengths == 6].mean() > 2 * used[lengths == 1].mean()


def test_render_number_is_a_grey_photo_either_polarity(fake_digits):
    images, _ = fake_digits
    rng = np.random.default_rng(1)
    photos = [render_number(images[[1, 2, 3]], rng, style=style) for style in ("apart", "touching", "overlapping") * 4]
    assert all(p.dtype == np.uint8 and p.ndim == 2 for p in photos)
    paper = [float(np.median(p)) for p in photos]
    assert min(paper) < 128 < max(paper)  # light on dark and dark on light both occur


def test_marks_pool_leaves_out_the_held_out_kind(fake_digits, monkeypatch):
    import edgedigits.train.negatives as negatives

    asked = []
    real = negatives.generate
    monkeypatch.setattr(negatives, "generate", lambda n, **kw: asked.append(kw["kinds"]) or real(n, **kw))
    pool = mark_pool(60, seed=2, digits=np.repeat(fake_digits[0], 3, axis=0), holdout=("shapes",))
    assert pool.dtype == np.uint8 and pool.shape[1:] == (28, 28) and 40 <= len(pool) <= 60
    assert ["shapes"] not in asked and ["digit_pairs"] not in asked and ["glyphs"] in asked
    assert np.array_equal(pool, mark_pool(60, seed=2, digits=np.repeat(fake_digits[0], 3, axis=0)))


def test_lines_with_marks_label_each_run_of_marks_once(fake_digits):
    images, labels = fake_digits
    marks = np.zeros((3, 28, 28), np.uint8)
    marks[:, 6:22, 6:22] = 255  # filled squares: not digits
    lines, tokens, lengths = make_lines(images, labels, 60, seed=7, marks=marks, mark_share=0.6)
    rows = [row[:n].tolist() for row, n in zip(tokens, lengths)]
    with_marks = [r for r in rows if MARK in r]
    assert 20 <= len(with_marks) <= 50 and [MARK] in with_marks  # marks alone, and among digits
    assert any(len(r) > 1 for r in with_marks)
    assert all(not (a == b == MARK) for r in rows for a, b in zip(r, r[1:]))  # neighbouring marks are one
    assert all(len(r) <= MAX_LABELS and (np.array(r) <= MARK).all() for r in rows)


def test_fine_pen_draws_thinner_strokes_and_is_off_by_default(fake_digits):
    images, labels = fake_digits
    assert all(np.array_equal(a, b) for a, b in zip(make_lines(images, labels, 8, seed=9),
                                                    make_lines(images, labels, 8, seed=9, fine_pen=0.0, rules=0.0)))
    ink = []
    for share in (0.0, 1.0):
        rng = np.random.default_rng(4)
        photos = [render_number(images[[0, 8, 3]], rng, style="apart", fine_pen=share) for _ in range(10)]
        # ink share of each photo: pixels far from its paper's level (median), either polarity
        ink.append(np.mean([np.mean(np.abs(p.astype(int) - np.median(p)) > 40) for p in photos]))
    assert ink[1] < 0.75 * ink[0]


def test_rules_draw_long_lines_the_line_path_then_erases(fake_digits):
    images, labels = fake_digits
    def longest_run(photo):  # longest horizontal run of pixels far from the paper (either polarity), share of width
        far = np.abs(photo.astype(int) - np.median(photo)) > 25
        best = 0
        for row in far:
            edges = np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0]))
            if len(edges):
                best = max(best, int((edges[1::2] - edges[::2]).max()))
        return best / photo.shape[1]
    runs = []
    for share in (0.0, 1.0):
        rng = np.random.default_rng(2)
        runs.append([longest_run(render_number(images[[3, 5, 0]], rng, style="apart", rules=share)) for _ in range(10)])
    assert np.median(runs[1]) > 1.5 * np.median(runs[0])  # underlines and paper lines: long straight runs
    lines, _, _ = make_lines(images, labels, 20, seed=6, rules=1.0)  # through the runtime's line path (it erases rules)
    assert lines.shape[0] == 20 and all(line.max() > 200 for line in lines)


def test_marks_apart_leave_a_digits_width_between_a_mark_and_the_digits(fake_digits):
    images, labels = fake_digits

    def widest_gap(photo):  # widest run of empty columns between the ink of its line image, in line heights
        from edgedigits_runtime.preprocess import find_ink

        line = normalise_line(find_ink(photo))
        cols = np.flatnonzero(line.image.max(axis=0) > 0.3)
        return float(np.diff(cols).max() - 1) / LINE_HEIGHT

    gaps = []
    for wide in ((), {1}):
        rng = np.random.default_rng(5)
        gaps.append([widest_gap(render_number(images[[8, 3]], rng, style="touching", wide=wide)) for _ in range(10)])
    assert np.median(gaps[0]) < 0.3 and np.median(gaps[1]) > 0.5  # touching digits; then a digit's width apart (median:
    # a turned line or pencil specks hide a gap now and then)
    pool = np.stack([images[0]] * 4)  # any non-digit images will do for the labels
    default = make_lines(images, labels, 8, seed=4, marks=pool, mark_share=0.5)
    off = make_lines(images, labels, 8, seed=4, marks=pool, mark_share=0.5, marks_apart=False)
    assert all(np.array_equal(a, b) for a, b in zip(default, off))  # off by default: the lines of earlier versions
    apart = make_lines(images, labels, 8, seed=4, marks=pool, mark_share=0.5, marks_apart=True)
    assert apart[0].shape == default[0].shape and not np.array_equal(apart[0], default[0])
