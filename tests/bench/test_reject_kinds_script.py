"""benchmarks/figures/reject_kinds.py: one raw and one photo-path set per kind of the variant asked for."""

import types

import numpy as np
from bench_helpers import figure_script


def test_kind_sets_draw_every_kind_of_the_variant_raw_and_through_the_photo_path(monkeypatch):
    import edgedigits.data
    from edgedigits.train.negatives import variant_kinds

    digits = np.zeros((8, 28, 28), np.uint8)
    digits[:, 6:22, 12:17] = 255  # stand-ins for the validation digits the digit-based kinds cut up
    monkeypatch.setattr(edgedigits.data, "load_splits", lambda data_dir=None: types.SimpleNamespace(x_val=digits))
    sets = figure_script("reject_kinds", monkeypatch).kind_sets("wide", 3)
    assert list(sets) == variant_kinds("wide") and {"pictograms", "patterns", "fragments", "brush"} <= set(sets)
    for kind, (raw, photo) in sets.items():
        assert raw.shape == (3, 28, 28) and raw.dtype == np.uint8, kind
        assert photo.ndim == 3 and photo.shape[1:] == (28, 28) and len(photo) <= 3, kind


def test_contact_sheet_puts_each_image_in_its_cell(tmp_path, monkeypatch):
    from PIL import Image

    images = np.zeros((17, 28, 28), np.uint8)
    images[16] = 255  # the 17th image: the first cell of the second row
    figure_script("reject_kinds", monkeypatch).contact_sheet(images, str(tmp_path / "s.png"))
    sheet = np.asarray(Image.open(tmp_path / "s.png"))
    assert sheet.shape == (2 * 90, 16 * 90)
    assert sheet[:90].max() == 0 and sheet[90 + 3 : 90 + 87, 3:87].min() == 255 and sheet[90:, 90:].max() == 0


def test_fashion_kind_sets_give_a_raw_and_a_photo_path_set_per_class(tmp_path, monkeypatch):
    clothes = tmp_path / "clothes"
    clothes.mkdir()
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 8:20] = 200  # a light garment on black, as Fashion-MNIST draws one
    (clothes / "3.json").write_text('{"data": [[], ' + ", ".join([str(image.ravel().tolist())] * 3) + "]}")
    sets = figure_script("reject_kinds", monkeypatch).fashion_kind_sets(str(tmp_path), 2)
    assert list(sets) == ["Fashion-MNIST dress"]
    raw, photo = sets["Fashion-MNIST dress"]
    assert raw.shape == (2, 28, 28) and (raw == image).all()
    assert photo.ndim == 3 and photo.shape[1:] == (28, 28) and len(photo) <= 2
