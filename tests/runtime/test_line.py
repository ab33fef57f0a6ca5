"""normalise_line (the one photo -> line path of the reader and its training data), CTC decoding and box mapping."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits_runtime.errors import InputError
from edgedigits_runtime.line import FRAME, LINE_HEIGHT, LINE_WIDTH, line_rows, normalise_line
from edgedigits_runtime.preprocess import find_ink
from edgedigits_runtime.reader import (
    MARK,
    ctc_align,
    ctc_best_of_length,
    ctc_greedy,
    ctc_log_likelihood,
    digit_boxes,
)

pytest.importorskip("cv2")


def _page(bars, size=(200, 400), dark=True, specks=()):
    """Paper with dark (or light) vertical bars (x, y, w, h) and small specks (x, y)."""
    rng = np.random.default_rng(0)
    page = np.full(size, 0.85 if dark else 0.15, np.float32)
    for x, y, w, h in bars:
        page[y : y + h, x : x + w] = 0.15 if dark else 0.85
    for x, y in specks:
        page[y : y + 2, x : x + 2] = 0.15 if dark else 0.85
    page += rng.normal(0, 0.01, size).astype(np.float32)
    return (np.clip(page, 0, 1) * 255).astype(np.uint8)


BARS = [(100, 60, 12, 60), (150, 62, 30, 58), (210, 58, 20, 62)]


@pytest.mark.parametrize("dark", [True, False], ids=["dark on light", "light on dark"])
def test_line_is_the_marks_box_fitted_to_the_fixed_height(dark):
    line = normalise_line(find_ink(_page(BARS, dark=dark, specks=[(20, 20), (380, 180), (300, 30)])))
    assert line.image.shape == (LINE_HEIGHT, LINE_WIDTH) and line.image.dtype == np.float32
    assert 0.0 <= line.image.min() and 0.95 <= line.image.max() <= 1.0
    # the box from the first bar to the last, plus a margin, 32 pixels tall: about 32 * 130 / 76 columns used
    assert line.top == 0 and 45 <= line.width <= 70
    assert not line.image[:, line.width + 1 :].any()  # left-aligned, padding empty
    # the specks are not in the line: three bars of ink only (column profile has three runs)
    inked = line.image.max(axis=0) > 0.5
    runs = np.flatnonzero(np.diff(inked.astype(int)) == 1)
    assert len(runs) + int(inked[0]) == 3
    # columns map back to the ink's pixels
    c0, c1 = line.columns_to_ink(0, line.width)  # (the 60 pixel tall bars were shrunk to about 36 first)
    assert c0 <= 100 * line.ink.scale and 230 * line.ink.scale <= c1 <= 245 * line.ink.scale


def _ink_runs(line) -> int:
    inked = line.image.max(axis=0) > 0.5
    return len(np.flatnonzero(np.diff(inked.astype(int)) == 1)) + int(inked[0])


@pytest.mark.parametrize("extra", ["underline", "slanted rule", "frame"])
def test_rules_and_frames_around_the_number_are_not_marks(extra):
    plain = normalise_line(find_ink(_page(BARS)))
    page = _page(BARS)
    if extra == "underline":
        page[130:134, 60:280] = 38
    elif extra == "slanted rule":
        for x in range(40, 300):
            page[150 + (x - 40) // 12 : 153 + (x - 40) // 12, x] = 38
    else:  # a form field's box around the number
        page[35:39, 80:260] = page[145:149, 80:260] = page[35:149, 80:84] = page[35:149, 256:260] = 38
    line = normalise_line(find_ink(page))
    assert _ink_runs(line) == 3 and abs(line.width - plain.width) <= 2


def test_a_thin_tall_mark_alone_or_among_digits_is_not_a_rule():
    one = normalise_line(find_ink(_page([(150, 60, 5, 60)])))  # a "1" drawn thin: 12 times taller than wide
    assert one is not None and _ink_runs(one) == 1
    line = normalise_line(find_ink(_page(BARS + [(260, 60, 5, 60)])))
    assert _ink_runs(line) == 4


def test_long_line_fits_the_width_and_is_centred_vertically():
    bars = [(10 + 22 * k, 80, 10, 30) for k in range(16)]
    line = normalise_line(find_ink(_page(bars, size=(200, 400))))
    assert line.width == LINE_WIDTH and line.image.shape == (LINE_HEIGHT, LINE_WIDTH)
    assert line.top > 0 and not line.image[: line.top - 1].any()


def test_too_many_marks_is_an_error_not_a_long_line():
    bars = [(8 + 12 * (k % 30), 20 + 60 * (k // 30), 6, 30) for k in range(90)]
    with pytest.raises(InputError, match="separate marks"):
        normalise_line(find_ink(_page(bars, size=(220, 400))))


def _probs(sequence, frames=LINE_WIDTH // FRAME, classes=11):
    """Per-frame probabilities that put 0.9 on the given symbol per frame (the last class = blank; padded with blanks)."""
    p = np.full((frames, classes), 0.01, np.float32)
    seq = list(sequence) + [classes - 1] * (frames - len(sequence))
    p[np.arange(frames), seq] = 0.9
    return p / p.sum(axis=1, keepdims=True)


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    found = ctc_greedy(_probs([10, 3, 3, 10, 1, 10, 1, 1, 7, 10]))
    assert [d for d, _ in found] == [3, 1, 1, 7]
    assert [f.tolist() for _, f in found] == [[1, 2], [4], [6, 7], [8]]
    assert ctc_greedy(_probs([])) == []


def test_ctc_best_of_length_reads_exactly_n_digits():
    p = _probs([10, 3, 3, 10, 1, 10, 1, 1, 7, 10])
    for n in range(1, 7):
        assert len(ctc_best_of_length(p, n)) == n
    assert [d for d, _ in ctc_best_of_length(p, 4)] == [3, 1, 1, 7]  # the greedy reading when it has that length
    assert [d for d, _ in ctc_best_of_length(p, 3)] in ([3, 1, 7], [3, 1, 1], [1, 1, 7], [3, 1, 7])
    assert ctc_best_of_length(_probs([10] * 4, frames=4), 5) == []  # 4 frames cannot hold 5 digits


def test_ctc_greedy_reads_marks_and_merges_neighbouring_ones():
    """12 outputs: digits, the non-digit mark (10), blank (11). A run of marks (a word) is one mark, blanks between or not."""
    b = 11
    found = ctc_greedy(_probs([b, 3, b, MARK, MARK, b, MARK, b, 7, b, MARK], classes=12))
    assert [d for d, _ in found] == [3, MARK, 7, MARK]
    assert [f.tolist() for _, f in found] == [[1], [3, 4, 6], [8], [10]]
    assert [d for d, _ in ctc_greedy(_probs([b, MARK, b, b, MARK], classes=12))] == [MARK]


def test_ctc_best_of_length_counts_marks_as_nothing():
    b = 11
    p = _probs([b, 3, b, MARK, MARK, b, 1, 1, 7, b], classes=12)
    assert [d for d, _ in ctc_best_of_length(p, 3)] == [3, 1, 7]
    assert all(d != MARK for n in range(1, 6) for d, _ in ctc_best_of_length(p, n))


def _collapse(path, classes):
    """What a frame-by-frame path reads: repeats merged, blanks dropped, neighbouring marks one mark (12 outputs)."""
    out, last = [], None
    for s in path:
        if s != last and s != classes - 1 and not (classes == MARK + 2 and s == MARK and out and out[-1] == MARK):
            out.append(int(s))
        last = s
    return tuple(out)


@pytest.mark.parametrize(("classes", "frames"), [(4, 6), (12, 4)])
def test_ctc_likelihood_sums_every_path_that_reads_a_candidate(classes, frames):
    """Against enumerating every frame-by-frame path (a mark in several runs with blanks between is one mark)."""
    import itertools

    rng = np.random.default_rng(classes)
    probs = rng.random((2, frames, classes)) ** 3
    probs /= probs.sum(axis=2, keepdims=True)
    total, best = {}, {}
    for path in itertools.product(range(classes), repeat=frames):
        key = _collapse(path, classes)
        p = np.prod([probs[:, t, s] for t, s in enumerate(path)], axis=0)
        total[key] = total.get(key, 0.0) + p
        if p[0] > best.get(key, (0.0, None))[0]:
            best[key] = (p[0], path)
    keys = sorted(total, key=lambda k: -total[k][0])[:25]
    assert any(MARK in k for k in keys) == (classes == 12)
    np.testing.assert_allclose(ctc_log_likelihood(probs, keys), np.log([total[k] for k in keys]), rtol=1e-9)
    for key in keys:  # the forced alignment is the most likely path that reads the candidate
        found = ctc_align(probs[0], key)
        assert [s for s, _ in found] == list(key)
        inked = sorted(int(t) for _, f in found for t in f)
        assert inked == [t for t, s in enumerate(best[key][1]) if s != classes - 1]
    too_long = (0,) * (frames + 1)  # repeated digits need blanks between: the frames cannot hold them
    assert np.isneginf(ctc_log_likelihood(probs, [too_long])).all() and ctc_align(probs[0], too_long) == []


def test_ctc_alignment_of_the_greedy_reading_is_the_greedy_path():
    b = 11
    p = _probs([b, 3, 3, b, MARK, b, MARK, 1, b, 1, 7, b], classes=12)
    greedy = ctc_greedy(p)
    aligned = ctc_align(p, [s for s, _ in greedy])
    assert [(s, f.tolist()) for s, f in aligned] == [(s, f.tolist()) for s, f in greedy]


def test_boxes_come_from_the_frames_where_each_digit_peaks():
    line = normalise_line(find_ink(_page(BARS)))
    s = line.ink.scale  # the 60 pixel tall bars were shrunk to about 36 first
    centres = []
    for x, _, w, _ in BARS:  # where each bar's centre lands in the line, in frames
        centres.append(int(((x + w / 2) * s - line.x0) * line.factor / FRAME))
    seq = [10] * (LINE_WIDTH // FRAME)
    for digit, c in zip((1, 0, 7), centres):
        seq[c] = digit
    probs = _probs(seq)
    found = ctc_greedy(probs)
    assert [d for d, _ in found] == [1, 0, 7]
    boxes = digit_boxes(line, probs, found)
    for box, bar in zip(boxes, BARS):
        x0, y0, x1, y1 = (v / s for v in box)
        x, y, w, h = bar
        assert abs(x0 - x) <= 3 and abs(x1 - (x + w)) <= 3 and abs(y0 - y) <= 3 and abs(y1 - (y + h)) <= 3


def test_an_underline_touching_the_digits_is_erased_but_not_their_strokes(mnist_test):
    import cv2

    from edgedigits_runtime.line import normalise_line
    from edgedigits_runtime.preprocess import find_ink

    images, _ = mnist_test
    canvas = np.zeros((90, 180), np.uint8)
    for k in range(4):
        canvas[31:59, 30 + 30 * k : 58 + 30 * k] = images[k]
    bottom = int(np.flatnonzero(canvas.max(axis=1) > 40)[-1])
    plain = 255 - cv2.resize(canvas, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    cv2.line(canvas, (20, bottom - 1), (160, bottom - 1), 255, 1)  # through the digits' lowest strokes
    ruled = 255 - cv2.resize(canvas, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    clean, underlined = (normalise_line(find_ink(p)) for p in (plain, ruled))
    assert underlined.width <= clean.width + 4  # the rule's ends are gone
    assert underlined.image.shape == clean.image.shape
    both = (underlined.image > 0.5) & (clean.image > 0.5)
    assert both.sum() >= 0.8 * (clean.image > 0.5).sum()  # the digits' strokes stayed


def test_a_fine_pens_strokes_are_drawn_as_thick_as_the_readers_training_strokes(mnist_test):
    # scenes.py's thin pen: MNIST digits thinned to 1-2 px lines in a 640x480 photo (a stroke about 3% of the digit
    # height where MNIST's is 10-15%). The line step thickens such strokes; a photo with ordinary strokes is untouched.
    import cv2
    from scenes import scene

    from edgedigits_runtime import line as lines
    from edgedigits_runtime.preprocess import load_image_scaled

    images, labels = mnist_test
    for condition, thin in (("thin_pen", True), ("plain", False), ("thick_pen", False)):
        photo, _ = scene(images, labels, np.random.default_rng([108, 1]), condition)
        ink = find_ink(load_image_scaled(photo)[0])
        marks, height = lines._marks(ink, "photo")
        width = lines._stroke_width(ink, marks, cv2) / height
        thick = lines._thickened(ink, marks, height)
        assert (thick is not None) == thin and (width < lines._THIN) == thin
        if thin:
            marks, height = lines._marks(thick, "photo")
            assert lines._stroke_width(thick, marks, cv2) / height >= 2.5 * width  # about MNIST's width now
            assert 0.08 <= lines._stroke_width(thick, marks, cv2) / height <= 0.2


def test_a_piece_left_by_an_erased_underline_is_not_a_decimal_point():
    # Erasing an underline the digits touch may leave a short piece of it (or of a stroke lying along it) on the
    # baseline between two digits: round and filled like a pen dot, it was read as one ("6143" -> "614.3").
    from edgedigits_runtime import line as lines

    page = _page([(100, 60, 14, 60), (180, 60, 14, 60)])
    page[112:120, 142:150] = 38  # a dot on the baseline between the two bars
    ink = find_ink(page)
    marks, height = lines._marks(ink, "page")
    signs = lines._signs(ink, marks, height)
    assert [symbol for _, symbol, _ in signs] == ["."]
    x0, y0, x1, y1 = signs[0][2]
    erased = np.zeros(ink.shape, bool)
    erased[y1, x1 + 1 : x1 + 6] = True  # ink the underline eraser took, right beside it
    assert lines._signs(ink, marks, height, erased) == []
    far = np.zeros(ink.shape, bool)
    far[y1, x1 + 8 : x1 + 14] = True  # erased ink further away leaves a pen dot alone
    assert [symbol for _, symbol, _ in lines._signs(ink, marks, height, far)] == ["."]


def test_marks_on_several_lines_come_apart_in_rows():
    """Marks whose heights overlap are one row (a bar a little lower than its neighbours too); each row is an ink of
    its own: only its marks labelled, the others' pixels cleared, each row a line normalise_line takes."""
    first = [(40, 30, 12, 60), (100, 40, 12, 60), (160, 30, 12, 60)]
    second = [(60, 200, 12, 60), (200, 200, 12, 60)]
    ink = find_ink(_page(first + second, size=(300, 400)))
    with pytest.raises(InputError, match="not one line"):
        normalise_line(ink)
    rows = line_rows(ink)
    assert [len(row.stats) - 1 for row in rows] == [3, 2]
    for row, (top, bottom) in zip(rows, ((30, 100), (200, 260))):
        ys = np.flatnonzero(row.labels.max(axis=1))
        assert top - 2 <= ys.min() and ys.max() <= bottom + 2
        assert row.ink[(ink.labels > 0) & (row.labels == 0)].max(initial=0) == 0
        assert normalise_line(row) is not None
    assert len(line_rows(find_ink(_page(BARS)))) == 1  # one line: one row
