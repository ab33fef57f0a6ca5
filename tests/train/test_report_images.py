"""The images "not a digit" is calibrated and measured on: made once by train (in a second process while it trains),
saved in the run folder and reused by export, the same images however they are made."""

from __future__ import annotations

import types

import numpy as np
import pytest

from edgedigits.train import extras, negatives
from edgedigits.train.config import TrainConfig


@pytest.fixture()
def splits(monkeypatch):
    """Digit-like strokes as validation digits (no data files), and fewer report images than a run's 3,000."""
    monkeypatch.setattr(negatives, "HOLDOUT_IMAGES", 12)
    x = np.zeros((8, 28, 28), np.uint8)
    for i in range(8):
        x[i, 4 + i // 2 : 24, 11 : 14 + i % 3] = 255
    return types.SimpleNamespace(x_train=x, y_train=np.ones(8, np.uint8), x_val=x[::-1].copy(), y_val=np.ones(8, np.uint8))


CONFIG = TrainConfig(negatives=0.5, photo_digits=1.0, holdout_kind="shapes")


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_every_part_is_made_and_a_digits_only_run_has_no_photo_digits(splits):
    images = extras.make_report_images(splits, CONFIG)
    assert set(images) == {"photo_x", "photo_y", "holdout_x", "trained_x", "trained_kinds"}
    assert images["holdout_x"].shape == (12, 28, 28) and images["holdout_x"].dtype == np.uint8
    assert len(images["trained_x"]) == len(images["trained_kinds"]) == 12 and "shapes" not in set(images["trained_kinds"])
    assert 1 <= len(images["photo_x"]) <= 8 and len(images["photo_x"]) == len(images["photo_y"])
    plain = extras.make_report_images(splits, TrainConfig(negatives=0.0, holdout_kind=None), parts=("photo", "holdout"))
    assert plain == {}


def test_saved_images_are_reused_only_for_the_same_validation_digits_and_options(splits, tmp_path):
    cache = tmp_path / "report_images.npz"
    made = extras.make_report_images(splits, CONFIG)
    cache.write_bytes(extras.npz_bytes(made, extras.report_key(splits, CONFIG)))
    assert _equal(extras.report_images(splits, CONFIG, cache=cache), made)  # names, dtypes and values kept
    assert extras.report_images(splits, CONFIG, cache=cache)["trained_kinds"].tolist() == made["trained_kinds"].tolist()
    # what export asks for when the file is missing: those parts only
    fresh = extras.report_images(splits, CONFIG, parts=("photo", "holdout"), cache=tmp_path / "missing.npz")
    assert set(fresh) == {"photo_x", "photo_y", "holdout_x"} and np.array_equal(fresh["holdout_x"], made["holdout_x"])
    # another held-out kind, other validation digits, no photo digits: the file is not theirs
    other = TrainConfig(negatives=0.5, photo_digits=1.0, holdout_kind="noise")
    assert not np.array_equal(extras.report_images(splits, other, cache=cache)["holdout_x"], made["holdout_x"])
    moved = types.SimpleNamespace(**{**vars(splits), "x_val": splits.x_val[::-1].copy()})
    assert extras.report_key(moved, CONFIG) != extras.report_key(splits, CONFIG)
    assert "photo_x" not in extras.report_images(splits, TrainConfig(negatives=0.5, photo_digits=0.0,
                                                                      holdout_kind="shapes"), cache=cache)
    cache.write_bytes(b"not a zip")
    assert _equal(extras.report_images(splits, CONFIG, cache=cache), made)  # unreadable: made again


def test_images_made_in_a_second_process_are_the_same(splits):
    if extras.cores() < 2:
        pytest.skip("one core: made in-process")
    with extras.Background(extras.make_report_images, splits, CONFIG, ("photo",)) as job:
        there = job.result()
        assert job.parallel
    assert _equal(there, extras.make_report_images(splits, CONFIG, ("photo",)))


def test_export_calibrates_on_the_images_its_run_saved(splits, tmp_path, monkeypatch):
    from edgedigits.export import api
    from edgedigits.export.config import ExportConfig
    from edgedigits.runs import REPORT_FILE

    made = extras.make_report_images(splits, CONFIG)
    (tmp_path / REPORT_FILE).write_bytes(extras.npz_bytes(made, extras.report_key(splits, CONFIG)))

    def not_again(*args, **kwargs):
        raise AssertionError("made again although the run folder holds them")

    class Model:  # what _reject_calibration asks of the Keras model
        def predict(self, images, batch_size, verbose):
            return np.full((len(images), 10), 0.09, np.float32)

    monkeypatch.setattr(extras, "make_report_images", not_again)
    probs, labels = np.full((5, 10), 0.09, np.float32), np.zeros(5, np.uint8)
    calibration = api._reject_calibration(Model(), splits, CONFIG, ExportConfig(run=str(tmp_path)), probs, labels, tmp_path)
    assert np.array_equal(calibration.photo_x, made["photo_x"]) and np.array_equal(calibration.nondigits, made["holdout_x"])
    (tmp_path / REPORT_FILE).unlink()  # a run from before the file: made here, the same images
    monkeypatch.undo()
    monkeypatch.setattr(negatives, "HOLDOUT_IMAGES", 12)
    again = api._reject_calibration(Model(), splits, CONFIG, ExportConfig(run=str(tmp_path)), probs, labels, tmp_path)
    assert np.array_equal(again.photo_x, made["photo_x"]) and np.array_equal(again.nondigits, made["holdout_x"])
