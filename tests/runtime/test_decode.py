"""edgedigits_runtime.decode: files, bytes, Pillow images and arrays to the grey working image (formats, transparency,
EXIF, reduced decoding, regions, truncated files, bombs, size limits)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from edgedigits_runtime import decode
from edgedigits_runtime.decode import MAX_PIXELS
from edgedigits_runtime.errors import BackendUnavailableError, InputError
from edgedigits_runtime.preprocess import preprocess_image

PIL = pytest.importorskip("PIL")
from photos import make_photo  # noqa: E402
from PIL import Image  # noqa: E402


@pytest.fixture(scope="module")
def sample(mnist_test):
    images, labels = mnist_test
    idx = np.random.default_rng(1).choice(len(images), 300, replace=False)
    return images[idx], labels[idx]


def _close(a, b, tolerance=0.12):
    """Mean absolute difference below ``tolerance`` of full scale."""
    return float(np.abs(a.astype(float) - b.astype(float)).mean()) / 255 < tolerance


def test_flattening_transparency_keeps_one_float_image_at_a_time(sample):
    """Alpha over white (dark ink) or black (light ink), rounded like the float formula; a 49 MP RGBA PNG took 1.6 GB
    with a float copy per step (0.8 GB now, OpenCV's decode alone 0.4 GB)."""
    from edgedigits_runtime.decode import _flatten_four, require_image_libs

    cv2 = require_image_libs()
    rng = np.random.default_rng(0)
    luma, alpha = (rng.integers(0, 256, (64, 80), dtype=np.uint8) for _ in range(2))
    for back, ink in ((1.0, luma // 4), (0.0, 192 + luma // 4)):  # dark ink: on white; light ink: on black
        lum, a = ink.astype(np.float64) / 255, alpha.astype(np.float64) / 255
        expected = np.round((lum * a + back * (1 - a)) * 255)
        ink = ink.astype(np.uint8)
        flat = _flatten_four(np.dstack((ink, ink, ink, alpha)), cv2.COLOR_BGRA2GRAY, cv2)
        assert np.abs(flat.astype(int) - expected).max() <= 1
    transparent = np.dstack((luma, luma, luma, np.zeros_like(alpha)))
    assert (_flatten_four(transparent, cv2.COLOR_BGRA2GRAY, cv2) == 255).all()  # nothing opaque: white paper


def test_large_rgba_pngs_decoded_by_pillow_give_opencvs_grey(monkeypatch):
    """Large 8-bit RGBA PNGs are decoded by Pillow and flattened band by band (a 49 MP one took 620 MB through
    OpenCV's decode, whose peak is twice the image): the same grey as OpenCV's path, EXIF turn and light ink
    included; a cut file is still refused as truncated."""

    rng = np.random.default_rng(2)
    files = []
    for light, orientation in ((False, 1), (True, 1), (False, 6), (True, 8)):
        rgba = rng.integers(0, 256, (300, 420, 4), dtype=np.uint8)
        rgba[..., :3] = rgba[..., :3] // 3 + (170 if light else 0)
        rgba[100:200, 150:170, 3] = 255  # a bar of opaque ink
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buf, "PNG", exif=exif)
        files.append(buf.getvalue())
    monkeypatch.setattr(decode, "_FLATTEN_ROWS", 64)
    pillow_calls = []
    monkeypatch.setattr(decode, "_pillow_alpha_grey",
                        lambda *a, f=decode._pillow_alpha_grey: pillow_calls.append(1) or f(*a))
    for data in files:
        monkeypatch.setattr(decode, "_PILLOW_RGBA_PIXELS", 10**12)
        opencv = decode.load_image(data)
        monkeypatch.setattr(decode, "_PILLOW_RGBA_PIXELS", 0)
        assert np.array_equal(decode.load_image(data), opencv)
    assert len(pillow_calls) == len(files)  # each file went once through Pillow's path
    with pytest.raises(InputError, match="truncated or corrupted"):
        decode.load_image(files[0][: len(files[0]) // 2])


def test_large_transparent_pngs_of_every_kind_decoded_by_pillow_give_opencvs_grey(monkeypatch):
    """16-bit RGBA, grey + alpha and palette PNGs with transparency go through Pillow's band path too (a 49 MP 16-bit
    RGBA PNG took the server to 1 GB through OpenCV's decode): the same grey as OpenCV's path, 16-bit samples to
    their high byte as there."""
    import cv2

    rng = np.random.default_rng(3)
    files = {}
    rgba16 = rng.integers(0, 65536, (120, 170, 4), dtype=np.uint16)
    rgba16[30:90, 70:80, 3] = 65535
    files["rgba16"] = cv2.imencode(".png", rgba16)[1].tobytes()
    la = rng.integers(0, 256, (120, 170, 2), dtype=np.uint8)
    la[30:90, 70:80] = (20, 255)
    buf = io.BytesIO()
    Image.fromarray(la, "LA").save(buf, "PNG")
    files["la"] = buf.getvalue()
    grey = rng.integers(0, 256, (120, 170), dtype=np.uint8)
    palette = Image.fromarray(grey, "L").convert("P", palette=Image.Palette.ADAPTIVE, colors=200)
    buf = io.BytesIO()
    palette.save(buf, "PNG", transparency=bytes(rng.integers(0, 256, 200, dtype=np.uint8)))
    files["palette"] = buf.getvalue()
    monkeypatch.setattr(decode, "_FLATTEN_ROWS", 32)
    for name, data in files.items():
        monkeypatch.setattr(decode, "_PILLOW_RGBA_PIXELS", 10**12)
        opencv = decode.load_image(data)
        monkeypatch.setattr(decode, "_PILLOW_RGBA_PIXELS", 0)
        assert np.array_equal(decode.load_image(data), opencv), name


def test_decode_memory_estimates_from_the_header():
    """What a server counts before decoding: by the path the decode takes, from the header alone; never under a
    small floor, and the floor for bytes that are not an image (the decode refuses them at once)."""
    import cv2

    from edgedigits_runtime.decode import decode_memory

    floor = decode_memory(b"not an image")
    assert floor > 0 and decode_memory(b"") == floor
    white = np.full((3000, 4000), 255, np.uint8)
    grey_png = cv2.imencode(".png", white)[1].tobytes()
    rgba_png = cv2.imencode(".png", np.dstack([white] * 4))[1].tobytes()
    jpeg = cv2.imencode(".jpg", white)[1].tobytes()
    buf = io.BytesIO()
    Image.fromarray(np.dstack([white] * 3)).save(buf, "JPEG", progressive=True, subsampling=0)  # 4:4:4
    progressive = buf.getvalue()
    pixels = 12_000_000
    assert decode_memory(jpeg) < pixels < decode_memory(grey_png) < decode_memory(rgba_png)  # decoded at 1/8
    assert decode_memory(progressive) >= 6 * pixels  # libjpeg keeps 2 bytes a coefficient of 3 full components
    tiny = cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes()  # refused from its header: too small
    assert decode_memory(tiny) == floor
    digit = cv2.imencode(".png", np.zeros((28, 28), np.uint8))[1].tobytes()  # what /v1/predict mostly gets
    assert decode_memory(digit) == floor


_MEASURE = """
import sys
from edgedigits_runtime.decode import decode_memory, load_image
def peak():  # VmHWM: this process's own (ru_maxrss keeps the parent's across exec)
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
data = open(sys.argv[1], "rb").read()
load_image(open(sys.argv[2], "rb").read())  # the libraries loaded, their buffers made
before = peak()
load_image(data)
print(decode_memory(data), peak() - before)
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads its peak memory from /proc")
@pytest.mark.parametrize("kind", ["grey-png", "rgb-png", "rgba-png", "rgba16-png", "la-png", "palette-png",
                                  "progressive-jpeg", "rgba-webp", "rgba-tiff", "rgba-tiff-pillow", "gif-transparent",
                                  "rgba-tga", "animated-webp"])
def test_decode_memory_is_at_least_what_decoding_takes(kind, tmp_path):
    """The estimate is on the high side of what decoding the file really takes (the peak memory of a fresh process
    that decodes it, 12 MP): the server's budget counts on it."""
    import subprocess
    import sys

    import cv2

    side = np.full((3000, 4000), 250, np.uint8)
    side[1000:2000, 1800:2200] = 10
    alpha = np.full_like(side, 255)
    alpha[:300, :300] = 0
    if kind == "grey-png":
        data = cv2.imencode(".png", side)[1].tobytes()
    elif kind == "rgb-png":
        data = cv2.imencode(".png", np.dstack([side] * 3))[1].tobytes()
    elif kind == "rgba-png":
        data = cv2.imencode(".png", np.dstack([side] * 3 + [alpha]))[1].tobytes()
    elif kind == "rgba16-png":
        data = cv2.imencode(".png", np.dstack([side] * 3 + [alpha]).astype(np.uint16) * 257)[1].tobytes()
    elif kind in ("la-png", "palette-png"):
        image = Image.fromarray(np.dstack([side, alpha]), "LA") if kind == "la-png" else Image.fromarray(side).convert("P")
        buf = io.BytesIO()
        image.save(buf, "PNG", **({} if kind == "la-png" else {"transparency": 0}))
        data = buf.getvalue()
    elif kind == "progressive-jpeg":
        data = cv2.imencode(".jpg", np.dstack([side] * 3), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    elif kind in ("rgba-tiff-pillow", "rgba-tga"):  # Pillow's band path (TGA: OpenCV cannot decode it)
        buf = io.BytesIO()
        Image.fromarray(np.dstack([side] * 3 + [alpha]), "RGBA").save(buf, "TIFF" if kind == "rgba-tiff-pillow" else "TGA")
        data = buf.getvalue()
    elif kind == "animated-webp":  # its first frame (Pillow's animation decoder where OpenCV cannot: 4.6)
        buf = io.BytesIO()
        frames = [Image.fromarray(np.dstack([x] * 3)) for x in (side, 255 - side)]
        frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
        data = buf.getvalue()
    elif kind == "gif-transparent":
        buf = io.BytesIO()
        Image.fromarray(side).convert("P").save(buf, "GIF", transparency=0)
        data = buf.getvalue()
    elif kind == "rgba-webp":
        data = cv2.imencode(".webp", np.dstack([side] * 3 + [alpha]), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    else:
        data = cv2.imencode(".tiff", np.dstack([side] * 3 + [alpha]))[1].tobytes()
    path, small = tmp_path / "big", tmp_path / "small.png"
    path.write_bytes(data)
    small.write_bytes(cv2.imencode(".png", np.dstack([side[:300, :400]] * 3 + [alpha[:300, :400]]))[1].tobytes())
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path), str(small)], capture_output=True, text=True,
                         check=True, env={**os.environ, "OPENCV_LOG_LEVEL": "ERROR"})
    estimate, grew = map(int, out.stdout.split())
    assert estimate >= grew > 0, (kind, estimate, grew)


def test_transparency_is_flattened_band_by_band_with_the_same_bytes(monkeypatch):
    """A 4-channel image is flattened a band of rows at a time (a 49 MP RGBA PNG took the server to 845 MB at full
    size): the same bytes as in one band, and the light/dark decision is the whole image's, not each band's."""
    from edgedigits_runtime.decode import _flatten_four, require_image_libs

    cv2 = require_image_libs()
    rng = np.random.default_rng(1)
    for light_rows in (0, 40, 70):  # the top rows light and opaque, the rest dark: the decision spans bands
        img = rng.integers(0, 256, (101, 37, 4), dtype=np.uint8)
        img[:light_rows, :, :3] = 250
        img[:light_rows, :, 3] = 255
        img[light_rows:, :, :3] //= 3
        for code in (cv2.COLOR_BGRA2GRAY, cv2.COLOR_RGBA2GRAY):
            monkeypatch.setattr(decode, "_FLATTEN_ROWS", 10**6)
            whole = _flatten_four(img, code, cv2)
            monkeypatch.setattr(decode, "_FLATTEN_ROWS", 7)
            assert np.array_equal(_flatten_four(img, code, cv2), whole)
            luma, alpha = cv2.cvtColor(img, code), np.ascontiguousarray(img[..., 3])
            light = decode._is_light(*decode._opaque_sums(luma, alpha, cv2))
            reference = decode._flatten_alpha(luma, alpha, cv2, light)
            assert np.array_equal(whole, reference)


def _made(kind, light):
    """``transparent.KINDS[kind]`` made with ``light`` ink, or a skip where this Pillow cannot write the kind."""
    from transparent import KINDS

    try:
        return KINDS[kind][0](light)
    except KeyError as exc:  # a writer this Pillow lacks (QOI before 11.3, AVIF before 11.2)
        pytest.skip(f"this Pillow cannot write {exc}")


def _readable(source) -> bool:
    """Whether Pillow can open the file at all (else the runtime refuses it from the header: 'not an image')."""
    if not isinstance(source, bytes):
        return True
    try:
        Image.open(io.BytesIO(source))
    except Exception:  # noqa: BLE001 (any refusal: Pillow cannot identify it)
        return False
    return True


_KINDS = sorted(__import__("transparent").KINDS)


@pytest.mark.parametrize("kind, band", [(kind, False) for kind in _KINDS] + [
    pytest.param(kind, True, id=f"{kind}-band") for kind in _KINDS if kind.startswith(("png", "tiff"))])
def test_transparency_is_flattened_right_in_every_kind(kind, band, monkeypatch):
    """Every kind of image with transparency a user or a client may send (PNG RGBA/LA 8 and 16 bits, palette and grey
    and RGB with tRNS, GIF, WebP, TIFF with unassociated and associated alpha, BMP V4/V5, ICO, TGA, ..., Pillow images
    and arrays; tests/runtime/transparent.py) gives the grey a right flatten of its known colour and alpha gives,
    within the rounding of its samples: what a file Pillow cannot read at all is refused, never read wrong. Also with
    the band path forced (large PNGs). Before the seventeenth session, 8-bit RGBA TIFFs written by Pillow were off by up
    to 61 grey levels (OpenCV premultiplied them again), LA TIFFs by 252, grey and RGB PNGs with tRNS by 178."""
    from transparent import KINDS, reference

    if band:  # as a large PNG (a TIFF always) is read
        monkeypatch.setattr(decode, "_PILLOW_RGBA_PIXELS", 0)
        monkeypatch.setattr(decode, "_FLATTEN_ROWS", 16)
    tolerance = KINDS[kind][1]
    for light in (False, True):
        source, rgb, alpha = _made(kind, light)
        if not _readable(source):
            with pytest.raises(InputError, match="is not an image"):
                decode.grey_image(source)
            continue
        grey = decode.grey_image(source)
        expected = reference(rgb, alpha)
        assert grey.shape == expected.shape
        assert np.abs(grey - expected).max() <= tolerance, (kind, light)


def test_transparent_tiffs_gifs_and_grey_keyed_pngs_take_pillows_path_whatever_their_size(monkeypatch):
    """OpenCV's decode of a TIFF with alpha means something else by bit depth (libtiff premultiplies 8-bit colour), it
    drops a grey PNG's transparent level, and its 4-channel GIF takes 9 bytes a pixel (Pillow's 3): all go to
    Pillow's band path at any size, and the memory estimate counts that path (the same rule); an opaque TIFF and an
    RGB PNG with tRNS under the size stay with OpenCV."""
    from transparent import KINDS

    calls = []
    monkeypatch.setattr(decode, "_pillow_alpha_grey", lambda *a, f=decode._pillow_alpha_grey: calls.append(1) or f(*a))
    for kind, pillow in (("tiff-rgba8-pillow", True), ("tiff-rgba16-opencv", True), ("tiff-la8-pillow", True),
                         ("png-grey-trns8", True), ("png-grey4-trns", True), ("png-rgb-trns8", False),
                         ("gif-transparent", True), ("gif-grey-transparent", True),
                         ("png-rgba8", False), ("webp-lossless-pillow", False)):
        data = KINDS[kind][0](False)[0]
        calls.clear()
        decode.load_image(data)
        assert bool(calls) == pillow, kind
        head = Image.open(io.BytesIO(data))
        alpha = decode._transparent(head)
        assert alpha and decode._pillow_flattens(alpha, head.format, head.mode, 96 * 128) == pillow, kind
    opaque = io.BytesIO()
    Image.fromarray(np.full((40, 50, 3), 200, np.uint8)).save(opaque, "TIFF")
    calls.clear()
    assert (decode.load_image(opaque.getvalue()) == 200).all() and not calls


@pytest.mark.parametrize("orientation", [3, 6, 8])
@pytest.mark.parametrize("fmt, mode", [("TIFF", "RGBA"), ("TIFF", "LA"), ("TIFF-lzw", "RGBA"), ("PNG", "L"),
                                       ("PNG", "RGBA"), ("WEBP", "RGBA"), ("TGA", "RGBA")])
def test_exif_orientation_of_transparent_images_read_by_pillow(fmt, mode, orientation, monkeypatch):
    """Pillow's band path (TIFFs with alpha, grey PNGs with a transparent level, large PNGs) turns the flattened grey
    by the EXIF orientation as OpenCV's path does, once (Pillow's TIFF loader turns the image itself): the same grey
    as the upright file's. (TGA holds no EXIF: read as stored, the same as upright.)"""
    from transparent import scene

    monkeypatch.setattr(decode, "_PILLOW_RGBA_PIXELS", 0)
    rgb, alpha = scene(False)
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    upright = {"RGBA": Image.fromarray(np.dstack((rgb, alpha)), "RGBA"),
               "LA": Image.fromarray(np.dstack((grey, alpha)), "LA"),
               "L": Image.fromarray(np.where(alpha < 128, 77, grey | 1).astype(np.uint8), "L")}[mode]
    turn = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    files = []
    options = {"transparency": 77} if mode == "L" else {"lossless": True} if fmt == "WEBP" else {}
    if fmt == "TIFF-lzw":
        fmt, options = "TIFF", {"compression": "tiff_lzw"}
    for image, extra in ((upright, {}), (upright if fmt == "TGA" else upright.transpose(turn), {"exif": exif})):
        buf = io.BytesIO()
        image.save(buf, fmt, **extra, **options)
        files.append(buf.getvalue())
    want, got = decode.grey_image(files[0]), decode.grey_image(files[1])
    assert want.shape == got.shape and np.array_equal(want, got)
    assert want.min() < 100 and want.max() == 255  # dark ink, and transparent paper flattened to white


@pytest.mark.parametrize("fmt, mode, options", [
    ("GIF", "L", {"duration": 100, "loop": 0}), ("GIF", "RGB", {"duration": 100}),
    ("WEBP", "RGB", {"duration": 100, "lossless": True}), ("WEBP", "RGBA", {"duration": 100, "lossless": True}),
    ("PNG", "L", {"duration": 100}), ("PNG", "RGBA", {"duration": 100}), ("TIFF", "L", {}), ("TIFF", "RGBA", {})],
    ids=["gif", "gif-rgb", "webp", "webp-rgba", "apng", "apng-rgba", "tiff-pages", "tiff-pages-rgba"])
def test_multi_frame_files_are_read_by_their_first_frame(fmt, mode, options):
    """Animated GIF, WebP and PNG, multi-page TIFF: the first frame (page) is read, on every OpenCV (4.6 cannot
    decode an animated WebP: Pillow reads it there, where it was refused as "truncated or corrupted")."""
    frames = [np.full((80, 120), 240, np.uint8) for _ in range(3)]
    for i, frame in enumerate(frames):
        frame[10:70, 10 + 35 * i : 25 + 35 * i] = 20  # a bar further right in each frame
    images = [Image.fromarray(frame).convert(mode) for frame in frames]
    buf = io.BytesIO()
    images[0].save(buf, fmt, save_all=True, append_images=images[1:], **options)
    assert getattr(Image.open(io.BytesIO(buf.getvalue())), "n_frames", 1) == 3
    grey = decode.grey_image(buf.getvalue())
    assert np.abs(grey.astype(int) - frames[0]).max() <= 2
    assert decode.decode_memory(buf.getvalue()) > 0


def test_gifs_are_read_by_pillow_where_opencv_has_no_gif_decoder(monkeypatch):
    """OpenCV before 4.11 (4.6: Debian bookworm's, 32-bit Raspberry Pi OS's) has no GIF decoder, and every GIF was
    refused as "truncated or corrupted": there Pillow decodes them, to the same grey as OpenCV's GIF decoder where it
    has one; a cut GIF is still refused."""
    from transparent import KINDS

    rng = np.random.default_rng(4)
    plain = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (60, 90), dtype=np.uint8)).save(plain, "GIF")
    files = [plain.getvalue(), KINDS["gif-transparent"][0](False)[0], KINDS["gif-transparent"][0](True)[0]]
    native = decode._opencv_decodes("GIF")
    opencv = [decode.load_image(data) for data in files] if native else None
    monkeypatch.setattr(decode, "_opencv_gif", False)
    assert not decode._opencv_decodes("GIF")
    pillow = [decode.load_image(data) for data in files]
    if native:
        for a, b in zip(opencv, pillow):
            assert np.abs(a.astype(int) - b).max() <= 1
    with pytest.raises(InputError, match="truncated or corrupted"):
        decode.load_image(files[0][: len(files[0]) // 2])
    assert decode.decode_memory(files[1]) > 0


@pytest.mark.parametrize("fmt, mode", [("TGA", "RGB"), ("PCX", "RGB"), ("QOI", "RGB"), ("SGI", "RGB"), ("XBM", "1"),
                                       ("DDS", "RGB"), ("IM", "L")])
def test_formats_opencv_does_not_decode_are_read_by_pillow(sample, fmt, mode):
    """TGA, PCX, QOI, ... were "truncated or corrupted; re-save or re-copy it" (OpenCV cannot decode them; the files
    were fine): now decoded by Pillow like the PNG of the same photo. A cut file is still refused as truncated."""
    photo = make_photo(sample[0][0], np.random.default_rng(0), jpeg=False, rgb=False)
    image = Image.fromarray(photo).convert(mode, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    try:
        image.save(buf, format=fmt)
    except (KeyError, OSError, ValueError):  # pragma: no cover - a Pillow build without this writer
        pytest.skip(f"this Pillow cannot write {fmt}")
    png = io.BytesIO()
    image.save(png, format="PNG")
    assert _close(preprocess_image(buf.getvalue()), preprocess_image(png.getvalue()), tolerance=0.02)
    if fmt in ("TGA", "PCX", "SGI"):
        with pytest.raises(InputError, match="truncated or corrupted"):
            preprocess_image(buf.getvalue()[: len(buf.getvalue()) // 2])


def test_postscript_is_never_handed_to_ghostscript(sample, monkeypatch):
    """An EPS file is refused from its header: Pillow would run Ghostscript on it (with gs installed, as on many
    Pis with printing, the server ran it on anyone's upload)."""
    import subprocess

    def no_program(*args, **kwargs):  # pragma: no cover - the test fails if reached
        raise AssertionError(f"an external program was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_program)
    monkeypatch.setattr(subprocess, "check_call", no_program)
    buf = io.BytesIO()
    Image.fromarray(make_photo(sample[0][0], np.random.default_rng(0), jpeg=False, rgb=False)).save(buf, format="EPS")
    with pytest.raises(InputError, match=r"PostScript \(EPS\).*Ghostscript.*PNG or JPEG"):
        preprocess_image(buf.getvalue())


def test_pillow_images_of_every_mode_read_as_their_files(sample, tmp_path):
    """A Pillow image is read as its file would be (np.asarray of a palette image gave palette indices; 16-bit and
    LA images were refused; an EXIF-rotated photo opened with Pillow was read on its side)."""
    photo = make_photo(sample[0][0], np.random.default_rng(0), jpeg=False, rgb=False)  # (H, W) uint8, dark on light
    reference = preprocess_image(photo)
    grey = Image.fromarray(photo)
    alpha = Image.fromarray(np.stack([np.zeros_like(photo), 255 - photo], -1), "LA")  # ink drawn as alpha
    palette_alpha = Image.new("P", grey.size, 0).convert("PA")  # (Pillow's LA -> PA conversion drops the alpha)
    palette_alpha.putalpha(Image.fromarray(255 - photo))
    images = {"L": grey, "RGB": grey.convert("RGB"), "P": grey.convert("RGB").quantize(64), "LA": alpha,
              "PA": palette_alpha, "CMYK": grey.convert("CMYK"), "I;16": Image.fromarray(photo.astype(np.uint16) * 257),
              "F": Image.fromarray(photo.astype(np.float32) / 255, "F"), "1": grey.point(lambda v: 255 * (v > 128)).convert("1")}
    for mode, image in images.items():
        assert image.mode == mode
        assert _close(preprocess_image(image), reference, tolerance=0.2), mode
    exif = Image.Exif()
    exif[0x0112] = 6
    grey.rotate(90, expand=True).save(tmp_path / "turned.jpg", quality=95, exif=exif)
    with Image.open(tmp_path / "turned.jpg") as opened:
        assert _close(preprocess_image(opened), reference, tolerance=0.2)
    with pytest.raises(InputError, match=r"16-bit data: pass x >> 8"):
        preprocess_image(photo.astype(np.uint16) * 257)
    grey.save(tmp_path / "p.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "p.png").read_bytes()[:2000])
    with Image.open(tmp_path / "cut.png") as cut, pytest.raises(InputError, match="the Pillow image cannot be read"):
        preprocess_image(cut)  # Pillow decodes lazily: an OSError at our call before
    closed = Image.open(tmp_path / "p.png")
    closed.close()
    with pytest.raises(InputError, match="or the image was closed"):
        preprocess_image(closed)


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


def test_files_over_the_size_limit_are_refused_unread(tmp_path, sample, monkeypatch):
    """A device (/dev/zero) or an endless stream is refused after MAX_FILE_BYTES, not read until the memory is full."""
    Image.fromarray(make_photo(sample[0][0], np.random.default_rng(0), jpeg=False)).save(tmp_path / "p.png")
    monkeypatch.setattr(decode, "MAX_FILE_BYTES", (tmp_path / "p.png").stat().st_size - 1)
    with open(tmp_path / "p.png", "rb") as stream:
        for source in [tmp_path / "p.png", stream] + (["/dev/zero"] if os.path.exists("/dev/zero") else []):
            with pytest.raises(InputError, match="holds more than"):
                preprocess_image(source)


def test_file_objects_and_32_bit_samples(tmp_path, sample):
    """A binary file object reads as its bytes; float/int32 TIFFs as arrays do (floats 0-1, whole numbers 0-255);
    other ranges and non-images are one-line errors that say what was received."""
    photo = make_photo(sample[0][0], np.random.default_rng(0), jpeg=False, rgb=False)  # (H, W) uint8
    reference = preprocess_image(photo)
    Image.fromarray(photo).save(tmp_path / "p.png")
    with open(tmp_path / "p.png", "rb") as fh:
        assert _close(preprocess_image(fh), reference)
    assert _close(preprocess_image(io.BytesIO((tmp_path / "p.png").read_bytes())), reference)
    Image.fromarray(photo.astype(np.float32) / 255, "F").save(tmp_path / "f.tif")
    Image.fromarray(photo.astype(np.int32), "I").save(tmp_path / "i.tif")
    for name in ("f.tif", "i.tif"):
        assert _close(preprocess_image(tmp_path / name), reference), name
    Image.fromarray(photo.astype(np.float32), "F").save(tmp_path / "f255.tif")
    Image.fromarray(photo.astype(np.int32) * 4, "I").save(tmp_path / "i1020.tif")
    with pytest.raises(InputError, match=r"f255.tif holds floating-point samples \(0.0-1.0 understood\) in \["):
        preprocess_image(tmp_path / "f255.tif")
    with pytest.raises(InputError, match=r"i1020.tif holds 32-bit samples \(0-255 understood\)"):
        preprocess_image(tmp_path / "i1020.tif")
    for thing, kind in ((None, "NoneType"), (7, "int"), ({"a": 1}, "dict")):
        with pytest.raises(InputError, match=f"an image must be a file path.*; got {kind}"):
            preprocess_image(thing)


def test_decompression_bomb(tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 100  # a 1-bit PNG of ~51 MP compresses to a few KB
    Image.new("1", (side, side), 1).save(tmp_path / "bomb.png", optimize=True)
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    with pytest.raises(InputError, match="decompression bomb"):
        preprocess_image(tmp_path / "bomb.png")
    huge = 20_000  # 400 MP: over Pillow's own limit too
    Image.new("1", (huge, huge), 1).save(tmp_path / "huge.png")
    with pytest.raises(InputError, match="huge.png is too large to decode safely: over the 50 MP limit"):
        preprocess_image(tmp_path / "huge.png")  # one limit named, not also Pillow's own (89,478,485 pixels)


def test_pillow_missing_says_what_to_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(BackendUnavailableError, match=r'pip install "edgedigits-runtime\[image\]"'):
        preprocess_image(tmp_path / "x.png")
    assert preprocess_image(np.zeros((28, 28), np.uint8) + np.eye(28, dtype=np.uint8) * 255).shape == (28, 28)


def _encode(array: np.ndarray, fmt: str = "JPEG", **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **options)
    return buf.getvalue()


def _marks(height: int, width: int, squares) -> np.ndarray:
    """Grey paper with dark squares (x, y, side) at known places in photo pixels."""
    page = np.full((height, width), 210, np.uint8)
    for x, y, side in squares:
        page[y : y + side, x : x + side] = 30
    return page


@pytest.fixture
def decoder_calls(monkeypatch):
    """The flags of every cv2.imdecode call (the call still happens)."""
    from edgedigits_runtime.decode import require_image_libs

    cv2 = require_image_libs()
    calls, real = [], cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: calls.append(flags) or real(buf, flags))
    return calls


@pytest.mark.parametrize("size, factor, working", [
    ((240, 320), 1, (240, 320)),
    ((480, 640), 2, (240, 320)),
    ((960, 1280), 4, (240, 320)),
    ((1920, 2560), 8, (240, 320)),
    ((3000, 4000), 8, (375, 500)),
    ((3840, 5120), 8, (384, 512)),  # 640x480 at 1/8, then area-shrunk to WORK_SIZE
    ((600, 5000), 8, (61, 512)),  # the long side decides ...
    ((40, 2600), 4, (8, 512)),  # ... but the short side keeps at least 8 pixels (not 5 at 1/8)
])
def test_jpegs_decode_at_the_reduced_scale_the_working_size_needs(size, factor, working, decoder_calls):
    import cv2

    from edgedigits_runtime.decode import load_image_scaled

    h, w = size
    grey, scale, origin = load_image_scaled(_encode(_marks(h, w, [(w // 3, h // 4, max(2, h // 3))])))
    flag = cv2.IMREAD_GRAYSCALE if factor == 1 else getattr(cv2, f"IMREAD_REDUCED_GRAYSCALE_{factor}")
    assert decoder_calls == [flag]
    assert grey.dtype == np.uint8 and grey.shape[0] == pytest.approx(working[0], abs=1) and grey.shape[1] == working[1]
    assert scale == pytest.approx(working[1] / w) and origin == (0, 0)


def test_png_and_arrays_are_area_shrunk_to_the_same_working_image_as_a_jpeg(decoder_calls):
    import cv2

    from edgedigits_runtime.decode import load_image_scaled

    page = _marks(960, 1280, [(100, 120, 200), (700, 500, 300)])
    from_jpeg = load_image_scaled(_encode(page, quality=95))
    from_png = load_image_scaled(_encode(page, "PNG"))
    from_array = load_image_scaled(page)
    assert decoder_calls == [cv2.IMREAD_REDUCED_GRAYSCALE_4, cv2.IMREAD_GRAYSCALE]  # PNGs decode whole, then INTER_AREA
    for grey, scale, origin in (from_png, from_array):
        assert grey.shape == from_jpeg[0].shape == (240, 320) and scale == from_jpeg[1] and origin == (0, 0)
        assert float(np.abs(grey.astype(int) - from_jpeg[0]).mean()) < 2.0


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_region_maps_back_to_photo_pixels_through_the_reduction(fmt):
    from edgedigits_runtime.decode import load_image_scaled

    squares = [(1203, 811, 40), (1500, 1000, 60), (300, 300, 50)]  # the last lies outside the region
    page = _marks(1920, 2560, squares)
    roi = (1101, 707, 901, 601)  # 901 px across: decoded at 1/2
    grey, scale, (ox, oy) = load_image_scaled(_encode(page, fmt, **({"quality": 95} if fmt == "JPEG" else {})), roi=roi)
    assert scale == pytest.approx(0.5, abs=0.002) and abs(ox - roi[0]) <= 1 and abs(oy - roi[1]) <= 1
    assert grey.shape[1] == pytest.approx(roi[2] * scale, abs=1) and grey.shape[0] == pytest.approx(roi[3] * scale, abs=1)
    import cv2

    n, _, stats, centres = cv2.connectedComponentsWithStats((grey < 120).view(np.uint8))
    found = sorted((ox + cx / scale, oy + cy / scale) for cx, cy in centres[1:])
    expected = sorted((x + side / 2, y + side / 2) for x, y, side in squares[:2])
    assert len(found) == 2
    for (fx, fy), (ex, ey) in zip(found, expected):
        assert abs(fx - ex) <= 1.5 and abs(fy - ey) <= 1.5


@pytest.mark.parametrize("orientation", [3, 6, 8, 5])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_with_reduced_decode_and_region(orientation, fmt):
    from edgedigits_runtime.decode import load_image_scaled

    page = _marks(960, 1280, [(100, 120, 200), (700, 500, 300), (1100, 40, 60)])
    stored = {3: lambda a: np.rot90(a, 2), 6: lambda a: np.rot90(a, 1), 8: lambda a: np.rot90(a, -1),
              5: lambda a: np.rot90(a, 1)[::-1]}[orientation](page)  # what the camera wrote; the viewer undoes it
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(np.ascontiguousarray(stored), fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {}))
    upright = load_image_scaled(page)
    seen = load_image_scaled(data)
    assert seen[0].shape == upright[0].shape and seen[1] == upright[1]
    assert float(np.abs(seen[0].astype(int) - upright[0]).mean()) < 2.0
    roi = (650, 450, 400, 400)  # in the upright photo's pixels
    part, scale, origin = load_image_scaled(data, roi=roi)
    wrong = np.abs(part.astype(int) - page[450:850, 650:1050])  # a shifted or turned crop would differ by 180
    assert part.shape == (400, 400) and float(wrong.mean()) < 1.0 and int(wrong.max()) < 60
    assert scale == 1.0 and origin == (650, 450)


def test_bombs_and_tiny_images_are_refused_from_the_header_before_decoding(tmp_path, decoder_calls):
    side = int(MAX_PIXELS ** 0.5) + 100
    Image.new("1", (side, side), 1).save(tmp_path / "bomb.png", optimize=True)
    with pytest.raises(InputError, match="decompression bomb"):
        preprocess_image(tmp_path / "bomb.png")
    Image.new("L", (6, 400), 255).save(tmp_path / "thin.png")
    with pytest.raises(InputError, match="too small or too thin"):
        preprocess_image(tmp_path / "thin.png")
    with pytest.raises(InputError, match="outside"):
        from edgedigits_runtime.decode import load_image_scaled

        load_image_scaled(_encode(_marks(480, 640, [])), roi=(700, 0, 50, 50))
    assert decoder_calls == []


def test_truncated_jpegs_are_refused_at_a_reduced_scale_too(sample):
    photo = make_photo(sample[0][0], np.random.default_rng(0), size=(960, 1280), scale=20.0)  # decoded at 1/4
    for cut in (len(photo) // 10, len(photo) // 2, len(photo) - 100):
        with pytest.raises(InputError, match="truncated or corrupted"):
            preprocess_image(photo[:cut])


def _jpeg_variants(photo: np.ndarray) -> dict:
    """One photo as JPEG files the way cameras, phones and libraries write them."""
    import cv2

    def pil(image, **options):
        buf = io.BytesIO()
        image.save(buf, format=options.pop("format", "JPEG"), **options)
        return buf.getvalue()

    image = Image.fromarray(photo)
    exif = Image.Exif()
    exif[0x0112] = 6
    thumb = pil(image.resize((80, 60)))  # an EXIF thumbnail: a whole JPEG, end marker included, inside APP1
    app1 = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00" + thumb
    base = pil(image)
    return {"baseline": base, "progressive": pil(image, progressive=True), "optimised": pil(image, optimize=True),
            "grey": pil(image.convert("L")), "CMYK": pil(image.convert("CMYK")), "EXIF": pil(image, exif=exif.tobytes()),
            "thumbnail": base[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + base[2:],
            "restart markers": cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_RST_INTERVAL, 2])[1].tobytes(),
            "bytes after the end": base + b"\x00trailer" * 20,
            "MPO": pil(image, format="MPO", save_all=True, append_images=[image])}


def test_cut_jpegs_are_truncated_whatever_the_encoding(sample):
    # OpenCV 4.6 (Debian bookworm: 32-bit Raspberry Pi OS) and 4.8 decode a JPEG cut short with its missing part grey:
    # a half-received photo was read as a digit or called blank. The runtime walks the JPEG's markers itself, on every
    # OpenCV, so the message names the cut-off data (OpenCV 5.0 alone would say "cannot be decoded").
    from edgedigits_runtime.decode import _jpeg_cut_short

    photo = make_photo(sample[0][0], np.random.default_rng(3), size=(480, 640), scale=12.0, jpeg=False)
    for kind, data in _jpeg_variants(photo).items():
        assert not _jpeg_cut_short(data), kind
        preprocess_image(data)  # whole files decode
        end = len(data) if kind != "bytes after the end" else len(data) - 160
        end = end if kind != "MPO" else data.index(b"\xff\xd8", 2)  # the first image's end
        assert _jpeg_cut_short(data[:200]), kind  # within the header: Pillow already says it is cut
        for cut in (end // 3, end - 300, end - 2):
            assert _jpeg_cut_short(data[:cut]), f"{kind} cut to {cut} of {len(data)} bytes"
            with pytest.raises(InputError, match="truncated or corrupted .its JPEG data ends before the image does"):
                preprocess_image(data[:cut])


def test_opencv_log_is_silent_on_a_broken_file(capfd):
    # OpenCV 4.6 (32-bit Raspberry Pi OS bookworm) and 4.8 have no cv2.utils.logging: its "[ WARN ...] failed
    # TIFFReadRGBAStrip" went to stderr before the runtime's own one-line error.
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 120), dtype=np.uint8)).save(buf, format="TIFF")
    capfd.readouterr()
    with pytest.raises(InputError, match="truncated or corrupted"):
        preprocess_image(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert "WARN" not in capfd.readouterr().err


def test_decodes_in_threads_leave_the_warning_filters_as_they_were():
    """A server decodes uploads in several threads at once: the decode's warnings.catch_warnings blocks (Pillow's
    DecompressionBombWarning as an error; none while a header is read for the memory budget), entered and left out of
    order, left Python's process-wide filters changed for good (here the "error" filter stayed: 3 runs of 3). They
    take turns now."""
    import threading
    import warnings

    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 40), 200, np.uint8)).save(buffer, "PNG")
    png = buffer.getvalue()
    before = list(warnings.filters)

    def decodes():
        for _ in range(300):
            decode.decode_memory(png)
            decode.load_image(png)

    threads = [threading.Thread(target=decodes) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert list(warnings.filters) == before
