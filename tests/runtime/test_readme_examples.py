"""The Python examples in README.md and runtime/README.md run as written (so they never go stale)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PIL = pytest.importorskip("PIL")


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_main_readme_runtime_example_classifies_a_photo(mnist_test, tmp_path, monkeypatch):
    from photos import make_photo
    from PIL import Image

    images, labels = mnist_test
    (block,) = [b for b in _python_blocks(ROOT / "README.md") if "edgedigits_runtime" in b]
    Image.fromarray(make_photo(images[0], np.random.default_rng(0), jpeg=False)).save(tmp_path / "digit.jpg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["label"] == labels[0]


def test_runtime_readme_examples_run(mnist_test, tmp_path, monkeypatch):
    """Each python block of runtime/README.md, with the files it names made from MNIST test digits."""
    from photos import make_photo
    from PIL import Image

    images, labels = mnist_test
    assert labels[0] == 7  # the example photographs a 7
    blocks = _python_blocks(ROOT / "runtime" / "README.md")
    assert blocks, "runtime/README.md lost its Python example"
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for block in blocks:
        if "read_number" in block or "watch(" in block:  # the number-reading and watch examples: own tests below
            continue
        for name in set(re.findall(r'"([\w./-]+\.(?:jpg|png))"', block)):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(make_photo(images[0], rng, jpeg=False)).save(tmp_path / name)
        for name in set(re.findall(r'"([\w./-]+\.tflite)"', block)):  # an exported model: the shipped one stands in
            from edgedigits_runtime import DEFAULT_MODEL

            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(DEFAULT_MODEL.read_bytes())
            (target.parent / "manifest.json").write_text(
                (DEFAULT_MODEL.parent / "manifest.json").read_text().replace("default_int8.tflite", target.name))
        namespace: dict = {}
        exec(compile(block, "runtime/README.md", "exec"), namespace)
        if "x" in namespace:
            assert namespace["clf"].predict(namespace["x"]).tolist() == [7]  # as the example's comment says


def test_runtime_readme_read_number_example(mnist_test, tmp_path, monkeypatch):
    """The read_number block: number.jpg a photo of a 4-digit number, meter.jpg one inside the region it names."""
    import cv2
    from photos import make_number_photo

    images, labels = mnist_test
    (block,) = [b for b in _python_blocks(ROOT / "runtime" / "README.md") if "read_number" in b]
    rng = np.random.default_rng(12)
    digits = [i for i in range(60) if labels[i] in (2, 0, 4, 8)][:4]
    truth = "".join(str(int(labels[i])) for i in digits)
    photo, _ = make_number_photo(images[digits], rng, spacing="apart", invert=True, noise=0.02, blur=0.0, wave=1.0)
    (tmp_path / "number.jpg").write_bytes(photo)
    x, y, w, h = (int(v) for v in re.search(r"roi=\((\d+), (\d+), (\d+), (\d+)\)", block).groups())
    inside, _ = make_number_photo(images[digits], rng, spacing="apart", invert=True, noise=0.02, blur=0.0, wave=1.0,
                                  size=(h, w), jpeg=None, rgb=False)
    page = np.clip(rng.normal(float(np.median(inside)), 3.0, (480, 640)), 0, 255).astype(np.uint8)
    page[y : y + h, x : x + w] = inside
    cv2.imwrite(str(tmp_path / "meter.jpg"), page)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "runtime/README.md", "exec"), namespace)
    assert namespace["reading"].number == truth and namespace["meter"].number == truth
    assert len(namespace["boxes"]) == 4 and namespace["row"]["number"] == truth


def test_runtime_readme_watch_example(mnist_test, tmp_path, monkeypatch, capsys):
    """The watch block on meter.avi: 2048 for 1.2 s, then a blank scene for 1 s (10 frames a second)."""
    from photos import number_frame, write_video

    images, labels = mnist_test
    (block,) = [b for b in _python_blocks(ROOT / "runtime" / "README.md") if "watch(" in b]
    frame = number_frame(images, labels, "2048", np.random.default_rng(5))
    blank = np.full_like(frame, 200)
    write_video(tmp_path / "meter.avi", [frame] * 12 + [blank] * 10, fps=10)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "runtime/README.md", "exec"), namespace)
    assert capsys.readouterr().out.splitlines() == ["0.5s 2048", "1.8s no number"]  # frames at 0, 0.3, 0.5, 0.8, ...: 3 alike
    assert namespace["summary"]["reason"] == "end of video" and namespace["summary"]["number"] == ""
    assert namespace["row"]["event"] == "change" and namespace["row"]["number"] == ""
