"""benchmarks/figures/photo_path_screen.py: the two screened photo-path conditions (C: a detail of a larger shape cut
by the frame; F: a filled shape the background fit hollowed), and scenes.py's photos with clutter at the frame."""

import numpy as np
import pytest
from bench_helpers import figure_script


def _paper(h=120, w=160):
    return np.full((h, w), 235, np.uint8)


def test_c_sees_a_body_at_the_frame_larger_than_the_detail_kept(monkeypatch):
    cv2 = pytest.importorskip("cv2")
    script = figure_script("photo_path_screen", monkeypatch)
    img = _paper()
    cv2.rectangle(img, (-10, 20), (55, 100), 30, 8)  # an icon's body (drawn in outline) cut by the left edge
    cv2.ellipse(img, (100, 60), (12, 28), 0, -60, 60, 30, 5)  # an arc inside, clear of it
    field, d, _ = script.prepare(img)
    assert field is not None and d > 1  # the photo path keeps the arc, drops a body several times its size
    alone = _paper()
    cv2.ellipse(alone, (100, 60), (12, 28), 0, -60, 60, 30, 5)
    assert script.prepare(alone)[1] == 0.0


def test_f_fills_a_disc_the_photo_path_hollowed_and_leaves_a_written_zero(monkeypatch):
    cv2 = pytest.importorskip("cv2")
    script = figure_script("photo_path_screen", monkeypatch)
    disc = np.full((64, 64), 255, np.uint8)
    cv2.circle(disc, (32, 32), 28, 0, -1)  # a record button: the fitted background follows it, a ring is left
    field, _, filled = script.prepare(disc)
    assert field is not None and filled is not None
    assert int((filled > 128).sum()) > int((field > 128).sum()) + 50  # the inside is ink again
    zero = np.full((200, 200), 240, np.uint8)
    cv2.ellipse(zero, (100, 100), (40, 60), 0, 0, 360, 20, 12)
    field, _, filled = script.prepare(zero)
    assert field is not None and np.array_equal(field, filled)  # a 0's hole is paper: nothing filled


@pytest.mark.parametrize("kind", ["desk", "thumb"])
def test_frame_clutter_touches_the_frame_and_keeps_the_digit(monkeypatch, kind):
    pytest.importorskip("cv2")
    figure_script("photo_path_screen", monkeypatch)  # puts tests/runtime (scenes.py) on sys.path
    from scenes import frame_clutter_scene, scene

    rng = np.random.default_rng(3)
    digits = np.zeros((2, 28, 28), np.uint8)
    digits[:, 6:22, 12:16] = 255  # a "1"
    photo, number = frame_clutter_scene(digits, np.array([1, 1]), np.random.default_rng([4, 1]), kind, encode=False)
    plain, _ = scene(digits, np.array([1, 1]), np.random.default_rng([4, 1]), "plain", length=1, encode=False)
    assert number == "1" and photo.shape == plain.shape
    changed = np.abs(photo.astype(int) - plain.astype(int)).max(axis=2) > 40
    edge = np.concatenate([changed[0], changed[-1], changed[:, 0], changed[:, -1]])
    assert edge.any()  # the clutter reaches the frame ...
    ys, xs = np.nonzero(plain.mean(axis=2) < 0.5 * np.median(plain.mean(axis=2)))
    assert not changed[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].any()  # ... and leaves the digit alone
    with pytest.raises(ValueError):
        frame_clutter_scene(digits, np.array([1, 1]), rng, "cat")


def test_clutter_seeds_and_a_runtime_constant_reach_the_screen(monkeypatch, capsys):
    pytest.importorskip("cv2")
    script = figure_script("photo_path_screen", monkeypatch)
    import edgedigits_runtime.preprocess as preprocess

    monkeypatch.setattr(preprocess, "_DESK_DARK", preprocess._DESK_DARK)  # restored after the test
    seen = {}

    def sets(only, fashion, data_dir=None, clutter_seeds=(1314, 1315)):
        seen["seeds"], seen["dark"] = clutter_seeds, preprocess._DESK_DARK
        return {"a plain page": ([_paper()], None)}

    monkeypatch.setattr(script, "make_sets", sets)
    assert script.main(["--only", "clutter", "--clutter-seeds", "1418,1419", "--set", "preprocess._DESK_DARK=0"]) == 0
    assert seen == {"seeds": (1418, 1419), "dark": 0}
    assert "| a plain page | 1 |" in capsys.readouterr().out
