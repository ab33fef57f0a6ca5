"""Photo-path digits: training digits rendered as photos and prepared by the runtime's own preprocess_image."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgedigits.errors import UsageError
from edgedigits.train.photo_digits import _ramp, photo_digits, render_photo


@pytest.fixture(scope="module")
def strokes():
    """Digit-like strokes drawn in code (rings and bars, MNIST-shaped), labelled 0 and 1: no data files needed."""
    x = np.zeros((10, 28, 28), np.uint8)
    yy, xx = np.mgrid[0:28, 0:28]
    for i in range(10):
        if i % 2:
            x[i, 4 + i // 2 : 24, 12 : 15 + i % 3] = 255
        else:
            x[i][np.abs(np.hypot(yy - 14, (xx - 14) * 1.4) - (6 + i // 3)) < 1.6] = 255
    return x, np.arange(10) % 2


def test_photo_digits_are_fields_of_the_photo_path_with_their_labels(strokes):
    x, y = strokes
    images, labels = photo_digits(x, y, 24, seed=0)
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28) and 20 <= len(images) <= 24
    assert labels.dtype == np.int64 and set(labels.tolist()) <= {0, 1}
    # like preprocess_image's output: ink centred, fitted to 20 px, dark background
    assert (images[:, 0, :] == 0).all() and (images[:, :, 0] == 0).all()
    heights = np.array([np.ptp(np.flatnonzero(im.max(axis=1) > 25)) + 1 for im in images])
    assert np.median(heights) >= 18
    # a bar stays a bar (label 1 is narrow), a ring a ring (wide)
    widths = np.array([np.ptp(np.flatnonzero(im.max(axis=0) > 60)) + 1 for im in images])
    assert np.median(widths[labels == 1]) < np.median(widths[labels == 0])


def test_same_seed_same_images(strokes):
    x, y = strokes
    a, la = photo_digits(x, y, 6, seed=3)
    b, lb = photo_digits(x, y, 6, seed=3)
    c, _ = photo_digits(x, y, 6, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_render_photo_is_a_grey_picture_of_the_digit_on_paper(strokes):
    photo = render_photo(strokes[0][0], np.random.default_rng(0))
    assert photo.dtype == np.uint8 and photo.ndim == 2 and 64 <= min(photo.shape) and max(photo.shape) <= 288
    assert np.ptp(photo) > 60  # ink stands out from the paper


@pytest.mark.parametrize("h, w, angle", [(64, 288, 0.3), (288, 64, 2.0), (97, 131, 4.5), (1, 5, 6.2)])
def test_light_ramp_is_exactly_the_full_grid_formula(h, w, angle):
    # the photos (and so the training images) must not change with how the ramp is computed
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dense = ((xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle)).astype(np.float32)
    ramp = _ramp(h, w, angle)
    assert ramp.dtype == np.float32 and ramp.shape == (h, w)
    assert np.array_equal(ramp, dense)


def test_bad_counts():
    with pytest.raises(UsageError, match="whole number"):
        photo_digits(np.zeros((1, 28, 28), np.uint8), [0], -1, seed=0)
    with pytest.raises(UsageError, match="need MNIST digits"):
        photo_digits(np.zeros((0, 28, 28), np.uint8), [], 2, seed=0)
    images, labels = photo_digits(np.zeros((0, 28, 28), np.uint8), [], 0, seed=0)
    assert images.shape == (0, 28, 28) and labels.shape == (0,)


def test_training_extras_are_generated_once_and_reused_from_the_run_folder(strokes, tmp_path):
    import types

    from edgedigits.train.config import TrainConfig
    from edgedigits.train.extras import with_negatives
    from edgedigits.train.trainer import NOT_A_DIGIT_LABEL

    x, y = strokes
    splits = types.SimpleNamespace(x_train=np.concatenate([x] * 4), y_train=np.concatenate([y] * 4))
    config = TrainConfig(negatives=0.5, photo_digits=0.5, photo_negatives=0.5, holdout_kind="shapes")
    cache = tmp_path / "training_extras.npz"
    lines = []
    images, labels = with_negatives(splits, config, lines.append, cache=cache)
    assert cache.is_file() and not any("reusing" in line for line in lines)
    assert images.shape[0] == labels.shape[0] and images[: len(x) * 4].tobytes() == splits.x_train.tobytes()
    assert (labels == NOT_A_DIGIT_LABEL).sum() == 20 and 16 <= (labels[40:] != NOT_A_DIGIT_LABEL).sum() <= 20
    assert any("photo path" in line for line in lines)
    again = []
    same_images, same_labels = with_negatives(splits, config, again.append, cache=cache)
    assert any("reusing" in line for line in again)
    np.testing.assert_array_equal(same_images, images)
    np.testing.assert_array_equal(same_labels, labels)
    other = []
    with_negatives(splits, TrainConfig(negatives=0.5, photo_digits=0.5, seed=1), other.append, cache=cache)
    assert not any("reusing" in line for line in other)  # another seed: generated again (and the cache replaced)


def test_the_near_variant_generates_its_own_extras_and_never_reuses_standard_ones(strokes, tmp_path):
    import types

    from edgedigits.train.config import TrainConfig
    from edgedigits.train.extras import with_negatives
    from edgedigits.train.trainer import NOT_A_DIGIT_LABEL

    x, y = strokes
    splits = types.SimpleNamespace(x_train=np.concatenate([x] * 6), y_train=np.concatenate([y] * 6))
    cache = tmp_path / "training_extras.npz"
    standard = TrainConfig(negatives=1.0, photo_digits=0.0, holdout_kind="noise")
    images, labels = with_negatives(splits, standard, lambda line: None, cache=cache)
    lines = []
    near = TrainConfig(negatives=1.0, photo_digits=0.0, holdout_kind="noise", negative_variant="near")
    near_images, near_labels = with_negatives(splits, near, lines.append, cache=cache)
    assert not any("reusing" in line for line in lines) and any("variant near" in line for line in lines)
    np.testing.assert_array_equal(near_labels, labels)  # as many non-digits, labelled the same
    assert (near_labels == NOT_A_DIGIT_LABEL).sum() == 60
    assert not np.array_equal(near_images, images)  # glyphs, words and shapes are drawn from the near variant


def test_photo_digits_prepared_in_other_processes_are_the_same_images(strokes):
    x, y = strokes
    images, labels = photo_digits(x, y, 40, seed=3)
    images2, labels2 = photo_digits(x, y, 40, seed=3, workers=2)
    np.testing.assert_array_equal(images2, images)
    np.testing.assert_array_equal(labels2, labels)


def test_extras_made_in_parallel_are_the_same_images(strokes, monkeypatch):
    import types

    from edgedigits.train import extras
    from edgedigits.train.config import TrainConfig

    if extras.cores() < 2:
        pytest.skip("one core: the photo-path digits are made in-process")
    x, y = strokes
    splits = types.SimpleNamespace(x_train=np.concatenate([x] * 4), y_train=np.concatenate([y] * 4))
    config = TrainConfig(negatives=0.5, photo_digits=0.5, photo_negatives=0.5, holdout_kind="shapes")
    here, there = [], []
    images, labels = extras.with_negatives(splits, config, here.append)
    monkeypatch.setattr(extras, "PARALLEL_MIN_IMAGES", 0)
    images2, labels2 = extras.with_negatives(splits, config, there.append)
    assert not any("(in parallel)" in line for line in here) and any("(in parallel)" in line for line in there)
    np.testing.assert_array_equal(images2, images)
    np.testing.assert_array_equal(labels2, labels)


def test_work_in_the_background_falls_back_to_this_process(monkeypatch):
    from edgedigits.train import extras

    with extras.Background(divmod, 7, 3, parallel=False) as job:
        assert job.result() == (2, 1) and not job.parallel
    monkeypatch.setattr(extras, "cores", lambda: 1)
    with extras.Background(divmod, 9, 4) as job:
        assert job.result() == (2, 1) and not job.parallel
