"""Photo/scan preprocessing: synthetic photos of MNIST test digits keep their accuracy; bad images are errors."""

from __future__ import annotations

import io

import numpy as np
import pytest

from edgedigits_runtime.errors import BackendUnavailableError, InputError
from edgedigits_runtime.preprocess import MAX_PIXELS, preprocess_image

PIL = pytest.importorskip("PIL")
from photos import make_photo  # noqa: E402
from PIL import Image  # noqa: E402

N_PHOTOS = 300


@pytest.fixture(scope="module")
def sample(mnist_test):
    images, labels = mnist_test
    idx = np.random.default_rng(1).choice(len(images), N_PHOTOS, replace=False)
    return images[idx], labels[idx]


def test_mnist_arrays_pass_through_unchanged(sample):
    images, _ = sample
    for image in images[:50]:
        out = preprocess_image(image)
        assert out.dtype == np.uint8 and out.shape == (28, 28)
        np.testing.assert_array_equal(out, image)
    np.testing.assert_array_equal(preprocess_image(images[0].astype(np.float32) / 255), images[0])


@pytest.mark.slow
@pytest.mark.parametrize("kind, options", [
    ("photos: enlarged, off-centre, dark on light, gradient light, noise, RGB, rotated, JPEG", {}),
    ("light on dark, no JPEG", {"invert": False, "jpeg": False}),
])
def test_synthetic_photos_stay_close_to_mnist_accuracy(clf, sample, kind, options):
    images, labels = sample
    rng = np.random.default_rng(7)
    baseline = float((clf.predict(images) == labels).mean())
    processed = np.stack([preprocess_image(make_photo(image, rng, **options)) for image in images])
    assert processed.dtype == np.uint8 and processed.shape == (N_PHOTOS, 28, 28)
    accuracy = float((clf.predict(processed) == labels).mean())
    assert accuracy >= 0.97 and accuracy >= baseline - 0.025, f"{kind}: {accuracy:.1%} vs MNIST {baseline:.1%}"


@pytest.mark.parametrize("invert", [True, False], ids=["dark on light", "light on dark"])
def test_tight_crops_filling_the_frame(clf, sample, invert):
    # A scan cropped to the digit: ink and paper both cover large areas. This once fooled the noise
    # estimate (and with it polarity) into returning a blank field, silently classified as "1".
    images, labels = sample
    crops = [np.asarray(Image.fromarray(255 - image if invert else image).resize((200, 200), Image.BILINEAR))
             for image in images[:150]]
    processed = np.stack([preprocess_image(crop) for crop in crops])
    assert (processed.max(axis=(1, 2)) >= 128).all()
    baseline = float((clf.predict(images[:150]) == labels[:150]).mean())
    accuracy = float((clf.predict(processed) == labels[:150]).mean())
    assert accuracy >= baseline - 0.02, f"{accuracy:.1%} vs MNIST {baseline:.1%}"


def test_output_is_mnist_shaped(sample):
    image = sample[0][3]
    out = preprocess_image(make_photo(image, np.random.default_rng(0), size=(480, 640), scale=9.0))
    rows, cols = np.nonzero(out > 30)
    assert rows.max() - rows.min() < 22 and cols.max() - cols.min() < 22  # fits ~20x20
    assert out[0].max() == 0 and out[:, 0].max() == 0  # black border, white ink
    ys, xs = np.mgrid[0:28, 0:28]
    mass = out.astype(float).sum()
    assert abs((out * ys).sum() / mass - 14) <= 1 and abs((out * xs).sum() / mass - 14) <= 1


def test_inputs_of_every_kind(sample, tmp_path):
    """Files, bytes, RGBA with transparency, grey arrays, EXIF-rotated JPEG: all give the same digit."""
    image = sample[0][0]
    photo = make_photo(image, np.random.default_rng(0), jpeg=False)  # (H, W, 3) uint8
    reference = preprocess_image(photo)
    grey = np.asarray(Image.fromarray(photo).convert("L"))
    assert _close(preprocess_image(grey), reference)
    Image.fromarray(photo).save(tmp_path / "p.png")
    assert _close(preprocess_image(tmp_path / "p.png"), reference)
    assert _close(preprocess_image((tmp_path / "p.png").read_bytes()), reference)
    # Dark ink on a transparent sheet.
    rgba = np.zeros(photo.shape[:2] + (4,), np.uint8)
    rgba[..., 3] = 255 - grey
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert _close(preprocess_image(tmp_path / "t.png"), reference, tolerance=0.2)
    # EXIF orientation 6: the camera stored it rotated; the viewer (and we) rotate it back.
    stored = Image.fromarray(photo).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", quality=95, exif=exif)
    assert _close(preprocess_image(buf.getvalue()), reference, tolerance=0.2)


def _close(a, b, tolerance=0.12):
    """Mean absolute difference below ``tolerance`` of full scale."""
    return float(np.abs(a.astype(float) - b.astype(float)).mean()) / 255 < tolerance


def test_specks_and_border_blobs_are_ignored(clf, sample):
    images, labels = sample
    rng = np.random.default_rng(5)
    hits = 0
    for image, label in zip(images[:40], labels[:40]):
        photo = make_photo(image, rng, jpeg=False, rgb=False, size=(300, 300), scale=5.0).astype(np.float32)
        for _ in range(6):  # pencil dots
            y, x = rng.integers(5, 295, 2)
            photo[y : y + 3, x : x + 3] = 30
        photo[:, :6] = 20  # the shadow of the page edge
        hits += int(clf.predict(preprocess_image(photo.astype(np.uint8)))[0] == label)
    assert hits >= 38


@pytest.mark.parametrize("make, message", [
    (lambda: np.full((200, 300), 200, np.uint8), "no ink found"),
    (lambda: np.clip(np.random.default_rng(0).normal(0.8, 0.02, (240, 320)), 0, 1), "no ink found"),
    (lambda: (np.linspace(0.3, 0.9, 320)[None, :] * np.ones((240, 1))).astype(np.float32), "no ink found"),
    (lambda: b"", "empty"),
    (lambda: b"hello, not an image", "not an image"),
    (lambda: np.zeros((4, 4), np.uint8), "too small"),
    (lambda: np.full((1, 300), 255, np.uint8), "too small"),
    (lambda: np.full((5000, 5), 255, np.uint8), "too small"),
    (lambda: np.full((30, 7000), 255, np.uint8), "too thin"),  # 512x2 once shrunk
    (lambda: np.zeros((30, 30, 2), np.uint8), "shape"),
    (lambda: np.full((30, 30), np.nan), "NaN"),
    (lambda: np.full((30, 30), 2.0), r"\[0, 1\]"),
    (lambda: np.full((30, 30), "x"), "dtype"),
])
def test_bad_images_are_input_errors(make, message):
    with pytest.raises(InputError, match=message):
        preprocess_image(make())


def test_truncated_and_missing_files(tmp_path, sample):
    photo = make_photo(sample[0][0], np.random.default_rng(0), jpeg=False)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    for cut in (20, len(buf.getvalue()) // 2, len(buf.getvalue()) - 300):
        (tmp_path / "cut.png").write_bytes(buf.getvalue()[:cut])
        with pytest.raises(InputError, match="cut.png is (truncated or corrupted|not an image)"):
            preprocess_image(tmp_path / "cut.png")
    with pytest.raises(InputError, match="file not found"):
        preprocess_image(tmp_path / "missing.png")
    with pytest.raises(InputError, match="is a folder"):
        preprocess_image(tmp_path)


def test_decompression_bomb(tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 100  # a 1-bit PNG of ~51 MP compresses to a few KB
    Image.new("1", (side, side), 1).save(tmp_path / "bomb.png", optimize=True)
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    with pytest.raises(InputError, match="decompression bomb"):
        preprocess_image(tmp_path / "bomb.png")
    huge = 20_000  # 400 MP: over Pillow's own limit too
    Image.new("1", (huge, huge), 1).save(tmp_path / "huge.png")
    with pytest.raises(InputError, match="(decompression bomb|too large)"):
        preprocess_image(tmp_path / "huge.png")


def test_pillow_missing_says_what_to_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(BackendUnavailableError, match=r'pip install "edgedigits-runtime\[image\]"'):
        preprocess_image(tmp_path / "x.png")
    assert preprocess_image(np.zeros((28, 28), np.uint8) + np.eye(28, dtype=np.uint8) * 255).shape == (28, 28)
