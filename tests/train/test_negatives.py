"""Generated non-digits: every kind, reproducible from a seed, held-out kinds left out, digit kinds from given digits."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits.errors import UsageError
from edgedigits.train.negatives import (
    DIGIT_KINDS,
    KINDS,
    VARIANTS,
    font_source,
    generate,
    list_kinds,
    variant_kinds,
)


@pytest.fixture(scope="module")
def fake_digits():
    """Digit-like strokes drawn in code (MNIST-shaped), so these tests need no data files."""
    rng = np.random.default_rng(0)
    x = np.zeros((20, 28, 28), np.uint8)
    for i in range(20):
        r = int(rng.integers(5, 9))
        yy, xx = np.mgrid[0:28, 0:28]
        ring = np.abs(np.hypot(yy - 14, (xx - 14) * 1.4) - r) < 1.6
        x[i][ring] = 255
    return x


def test_every_kind_makes_mnist_shaped_images(fake_digits):
    for name in list_kinds():
        images, kinds = generate(12, seed=0, kinds=[name], digits=fake_digits)
        assert images.shape == (12, 28, 28) and images.dtype == np.uint8, name
        assert set(kinds.tolist()) == {name}
        if name != "noise":  # noise includes blank frames on purpose
            assert (images.max(axis=(1, 2)) > 100).mean() >= 0.9, name


def test_same_seed_same_images_other_seed_other_images(fake_digits):
    a, ka = generate(40, seed=3, digits=fake_digits)
    b, kb = generate(40, seed=3, digits=fake_digits)
    c, _ = generate(40, seed=4, digits=fake_digits)
    np.testing.assert_array_equal(a, b)
    assert ka.tolist() == kb.tolist()
    assert not np.array_equal(a, c)


def test_equal_shares_and_exclusion(fake_digits):
    images, kinds = generate(len(list_kinds()) * 5 - 1, seed=1, exclude=["shapes"], digits=fake_digits)
    names, counts = np.unique(kinds, return_counts=True)
    assert "shapes" not in names and len(names) == len(list_kinds()) - 1
    assert counts.max() - counts.min() <= 1
    _, kinds = generate(20, seed=1)  # no digits: the digit-based kinds are skipped
    assert not set(kinds.tolist()) & set(DIGIT_KINDS)


def test_bad_requests():
    with pytest.raises(UsageError, match="unknown non-digit kind"):
        generate(5, seed=0, kinds=["unicorns"])
    with pytest.raises(UsageError, match="no non-digit kind left"):
        generate(5, seed=0, kinds=["noise"], exclude=["noise"])
    with pytest.raises(UsageError, match=">= 0"):
        generate(-1, seed=0)
    assert generate(0, seed=0)[0].shape == (0, 28, 28)
    assert font_source() == "pillow-default" or font_source().split("+")[0] in ("dejavu", "liberation", "urw-base35", "freefont")


def test_pillow_default_font_fallback(monkeypatch):
    """Without DejaVu on the machine the glyphs come from Pillow's own scalable font."""
    from edgedigits.train.negatives import glyphs

    monkeypatch.setattr(glyphs, "_font_files", lambda: ())
    images, _ = generate(6, seed=0, kinds=["glyphs"])
    assert glyphs.font_source() == "pillow-default"
    assert (images.max(axis=(1, 2)) > 100).all()


def test_glyphs_leave_out_anything_with_a_numeric_value():
    """Fractions (½), superscripts, circled digits and digits of other scripts are never drawn as non-digits."""
    from edgedigits.train.negatives.glyphs import _looks_like_a_digit

    for ch in "½¼¾²⅓①❶➉٣७0O○◯":
        assert _looks_like_a_digit(ch), ch
    for ch in "AHYetfx%&":
        assert not _looks_like_a_digit(ch), ch


def test_the_near_variant_changes_only_glyphs_words_and_shapes(fake_digits):
    changed = sorted(name for name in list_kinds() if KINDS[name].has_near)
    assert changed == ["glyphs", "shapes", "words"] and set(VARIANTS) == {"standard", "near", "wide", "marks", "scripts"}
    for name in list_kinds():
        standard, _ = generate(8, seed=2, kinds=[name], digits=fake_digits)
        near, _ = generate(8, seed=2, kinds=[name], digits=fake_digits, variant="near")
        again, _ = generate(8, seed=2, kinds=[name], digits=fake_digits, variant="near")
        np.testing.assert_array_equal(near, again)  # reproducible from the seed
        assert np.array_equal(near, standard) != (name in changed), name
        assert near.shape == (8, 28, 28) and near.dtype == np.uint8


def test_unknown_variant_is_refused_with_the_choices():
    with pytest.raises(UsageError, match="unknown non-digit variant 'close'; choose from standard, near, wide, marks"):
        generate(4, seed=0, variant="close")


def test_near_symbols_are_drawn_only_by_the_near_variant():
    """A circle with something in or across it (⊕, ◐, θ) is a near-digit non-digit: left out of the standard glyphs (as
    before variants existed), drawn by the near variant; a plain circle (a 0) by neither."""
    from edgedigits.train.negatives.glyphs import _NEAR_DIGIT_SYMBOLS, _charset, _font_files

    path = (_font_files() or (None,))[0]
    standard, with_near, near = _charset(path), _charset(path, "with_near"), _charset(path, "near")
    assert not set(standard) & _NEAR_DIGIT_SYMBOLS
    assert set(near) <= _NEAR_DIGIT_SYMBOLS and set(near) == set(with_near) - set(standard)
    assert not {"0", "O", "○", "◯"} & set(with_near)
    latin = _charset(path, "latin")
    assert latin and all(ch.isascii() and ch.isalpha() for ch in latin)


def test_near_shapes_include_discs_with_grey_or_half_filled_insides():
    """The near variant's discs: solid, a lit ball, half filled in a ring, or a ring with a grey inside; each one's ink
    lies within its radius and fills a good part of it (unlike a 0's ring)."""
    from edgedigits.train.negatives.drawn import _disc
    from edgedigits.train.negatives.registry import _HI

    rng = np.random.default_rng(5)
    for _ in range(12):
        disc = _disc(rng, width=10)
        assert disc.shape == (_HI, _HI) and 0.0 <= disc.min() and disc.max() <= 1.0
        assert disc[:2].max() == 0.0 and disc[-2:].max() == 0.0  # nothing at the top and bottom edges
        assert (disc > 0.1).mean() > 0.15  # more than a thin ring's ink


def test_the_wide_variant_draws_the_near_kinds_and_its_own_in_equal_shares(fake_digits):
    """``wide``: every kind the others draw, drawn as ``near`` draws it (same seed, same images), plus its own kinds
    (rows of the one registry with ``only="wide"``), which no other variant draws unless named, and which can be held
    out or asked for by name like the others."""
    own = sorted(k for k, row in KINDS.items() if row.only == "wide")
    assert own == ["brush", "fragments", "patterns", "pictograms"] and not set(own) & set(list_kinds())
    assert variant_kinds("wide") == list_kinds() + own and variant_kinds("near") == list_kinds() == variant_kinds()
    images, kinds = generate((len(variant_kinds("wide")) - 1) * 3, seed=4, exclude=["shapes"], digits=fake_digits, variant="wide")
    names, counts = np.unique(kinds, return_counts=True)
    assert set(names) == set(variant_kinds("wide")) - {"shapes"} and counts.min() == counts.max() == 3
    for name in list_kinds():
        wide, _ = generate(6, seed=2, kinds=[name], digits=fake_digits, variant="wide")
        near, _ = generate(6, seed=2, kinds=[name], digits=fake_digits, variant="near")
        np.testing.assert_array_equal(wide, near)
    _, kinds = generate(60, seed=4, digits=fake_digits, variant="near")
    assert not set(kinds.tolist()) & set(own)
    _, kinds = generate(30, seed=4, exclude=own, digits=fake_digits, variant="wide")
    assert not set(kinds.tolist()) & set(own)
    named, _ = generate(4, seed=0, kinds=["pictograms"])  # named: drawn whatever the variant, the same images
    np.testing.assert_array_equal(named, generate(4, seed=0, kinds=["pictograms"], variant="wide")[0])


def test_a_wide_kind_can_be_the_held_out_kind_of_any_variant():
    """``--holdout-kind pictograms`` is valid (the kind is registered); the report's held-out images are drawn by name."""
    from edgedigits.train.config import TrainConfig

    for variant in VARIANTS:
        assert TrainConfig(holdout_kind="pictograms", negative_variant=variant).validate().holdout_kind == "pictograms"
    with pytest.raises(UsageError, match="unknown non-digit kind 'pictogram'"):
        TrainConfig(holdout_kind="pictogram").validate()


def test_the_wide_kinds_make_ink_that_is_neither_blank_nor_one_straight_bar():
    """Each of the wide variant's kinds: MNIST-shaped, reproducible, with ink; a 1 being a bar, ``fragments`` never
    keeps a thin straight piece (it cuts another) and ``brush`` blots the rare straight one out (one try: nearly never)."""
    from edgedigits.train.negatives._draw import _elongation

    for name in variant_kinds("wide")[len(list_kinds()):]:
        images, kinds = generate(24, seed=9, kinds=[name], variant="wide")
        again, _ = generate(24, seed=9, kinds=[name], variant="wide")
        np.testing.assert_array_equal(images, again)
        assert images.shape == (24, 28, 28) and images.dtype == np.uint8 and set(kinds.tolist()) == {name}
        assert (images.max(axis=(1, 2)) > 100).mean() >= 0.9, name
        bars = np.array([_elongation(im) >= 3.5 for im in images])
        if name == "fragments":
            assert not bars.any()
        if name == "brush":
            assert bars.mean() <= 0.05


def test_marks_are_drawn_by_the_marks_variant_only_and_never_the_held_out_ones(fake_digits):
    """``marks`` (hand-drawn + x - = < > arrows, ticks ...): the ``marks`` variant's own kind, an equal share beside
    the kinds drawn as ``near`` draws them; reproducible; MNIST-shaped with ink; its one bar (a minus) lies flat, never
    a 1; the held-out marks (root, heart, smiley, infinity) are not among the trained ones."""
    from edgedigits.train.negatives._draw import _elongation
    from edgedigits.train.negatives.marks import HELD_OUT_MARKS, MARKS, TRAINED_MARKS, draw_marks

    assert KINDS["marks"].only == "marks" and variant_kinds("marks") == list_kinds() + ["marks"]
    assert set(TRAINED_MARKS) | set(HELD_OUT_MARKS) == set(MARKS) and not set(TRAINED_MARKS) & set(HELD_OUT_MARKS)
    for variant in ("standard", "near", "wide"):
        _, kinds = generate(60, seed=4, digits=fake_digits, variant=variant)
        assert "marks" not in set(kinds.tolist())
    _, kinds = generate(len(variant_kinds("marks")) * 2, seed=4, digits=fake_digits, variant="marks")
    names, counts = np.unique(kinds, return_counts=True)
    assert "marks" in names.tolist() and counts.min() == counts.max() == 2
    for name in list_kinds():  # the other kinds: as near draws them
        np.testing.assert_array_equal(generate(6, seed=2, kinds=[name], digits=fake_digits, variant="marks")[0],
                                      generate(6, seed=2, kinds=[name], digits=fake_digits, variant="near")[0])
    images, _ = generate(40, seed=3, kinds=["marks"], variant="marks")
    np.testing.assert_array_equal(images, generate(40, seed=3, kinds=["marks"], variant="marks")[0])
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8
    assert (images.max(axis=(1, 2)) > 100).all()
    held = draw_marks(np.random.default_rng(0), 12, HELD_OUT_MARKS)
    assert held.shape == (12, 28, 28) and (held.max(axis=(1, 2)) > 100).all()
    minus = draw_marks(np.random.default_rng(1), 12, ("minus",))
    assert all(_elongation(im) >= 3.0 and np.ptp(np.nonzero(im > 100)[1]) > 2 * np.ptp(np.nonzero(im > 100)[0])
               for im in minus)


def test_scripts_are_drawn_by_the_scripts_variant_only_and_never_the_held_out_alphabets(fake_digits):
    """``scripts`` (letters of alphabets ``glyphs`` never draws): the ``scripts`` variant's own kind, an equal share
    beside the kinds drawn as ``near`` draws them; reproducible; MNIST-shaped with ink; no letter of a held-out alphabet
    (Georgian, Cherokee, Ethiopic, Thai, kana) and none a digit model reads as a digit is ever among the letters drawn."""
    from edgedigits.train.negatives.scripts import (
        _READ_AS_A_DIGIT,
        HELD_OUT_SCRIPTS,
        TRAINED_SCRIPTS,
        draw_letters,
        script_pools,
    )

    assert KINDS["scripts"].only == "scripts" and variant_kinds("scripts") == list_kinds() + ["scripts"]
    for variant in ("standard", "near", "wide", "marks"):
        _, kinds = generate(60, seed=4, digits=fake_digits, variant=variant)
        assert "scripts" not in set(kinds.tolist())
    _, kinds = generate(len(variant_kinds("scripts")) * 2, seed=4, digits=fake_digits, variant="scripts")
    names, counts = np.unique(kinds, return_counts=True)
    assert "scripts" in names.tolist() and counts.min() == counts.max() == 2
    for name in list_kinds():  # the other kinds: as near draws them
        np.testing.assert_array_equal(generate(6, seed=2, kinds=[name], digits=fake_digits, variant="scripts")[0],
                                      generate(6, seed=2, kinds=[name], digits=fake_digits, variant="near")[0])
    pools = script_pools(TRAINED_SCRIPTS)
    if not pools:
        pytest.skip("GNU FreeFont (fonts-freefont-ttf) is not installed")
    trained = {ch for _, letters in pools for ch in letters}
    held = [(lo, hi) for lo, hi in HELD_OUT_SCRIPTS.values()]
    assert not any(lo <= ord(ch) <= hi for ch in trained for lo, hi in held)
    assert not trained & _READ_AS_A_DIGIT and len(trained) > 1000
    images, _ = generate(40, seed=3, kinds=["scripts"], variant="scripts")
    np.testing.assert_array_equal(images, generate(40, seed=3, kinds=["scripts"], variant="scripts")[0])
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8
    assert (images.max(axis=(1, 2)) > 100).all()
    held_out = draw_letters(np.random.default_rng(0), 12, script_pools({"Georgian": HELD_OUT_SCRIPTS["Georgian"]}))
    assert held_out.shape == (12, 28, 28) and (held_out.max(axis=(1, 2)) > 100).all()
