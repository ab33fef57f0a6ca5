"""Generated non-digits: every kind, reproducible from a seed, held-out kinds left out, digit kinds from given digits."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits.errors import UsageError
from edgedigits.train.negatives import (
    DIGIT_KINDS,
    KINDS,
    font_source,
    generate,
    list_kinds,
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
    images, kinds = generate(len(KINDS) * 5 - 1, seed=1, exclude=["shapes"], digits=fake_digits)
    names, counts = np.unique(kinds, return_counts=True)
    assert "shapes" not in names and len(names) == len(KINDS) - 1
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
    from edgedigits.train import negatives

    monkeypatch.setattr(negatives, "_font_files", lambda: ())
    images, _ = generate(6, seed=0, kinds=["glyphs"])
    assert negatives.font_source() == "pillow-default"
    assert (images.max(axis=(1, 2)) > 100).all()


def test_glyphs_leave_out_anything_with_a_numeric_value():
    """Fractions (½), superscripts, circled digits and digits of other scripts are never drawn as non-digits."""
    from edgedigits.train.negatives import _looks_like_a_digit

    for ch in "½¼¾²⅓①❶➉٣७0O○◯":
        assert _looks_like_a_digit(ch), ch
    for ch in "AHYetfx%&":
        assert not _looks_like_a_digit(ch), ch
