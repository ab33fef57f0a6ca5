"""Images with transparency of every kind a user or a client may send, built in code, and what a right flatten of
each gives: the reference the runtime's decode is held to (tests/runtime/test_decode.py, RESULTS.md "Runtime",
seventeenth session).

Each kind's maker returns the file's bytes (or a Pillow image / an array) and the truth it was made from: straight
(unassociated) colour in [0, 1] (H, W, 3, RGB) and alpha in [0, 1] (H, W). :func:`reference` flattens the truth by the
rule :mod:`edgedigits_runtime.decode` documents, in float, independently of its code: the luma of the colour
(0.299 R + 0.587 G + 0.114 B) over alpha on white, or on black when the opaque part (alpha over one half) is light on
average (its mean luma at least 127.5 of 255).

The scene (:func:`scene`): a ramp of alpha 0-255 across the columns in a coloured ink, an opaque block of ink (the
digit), a half-transparent block, a strip of random colour under random alpha, and everywhere else junk colour under
alpha 0 (what is under a transparent pixel must not show). ``light``: white ink (flattened on black) or dark ink.
Files are written by Pillow or OpenCV where they can write the kind, else by the small writers here (PNG and TIFF
chunk by chunk, BMP with a V4/V5 header), so that each layout (ExtraSamples of a TIFF, tRNS of a PNG, ...) is the one
named.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

H, W = 96, 128  # under the working size: the working image is the decoded image, pixel for pixel


# --------------------------------------------------------------------------- the truth


def scene(light: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """8-bit straight RGB (H, W, 3) and alpha (H, W): see the module's docstring."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # junk under alpha 0
    alpha = np.zeros((H, W), np.uint8)
    ink = np.array((235, 225, 205) if light else (25, 45, 120), np.uint8)
    rgb[4:36] = ink + rng.integers(0, 20, (32, W, 3), dtype=np.uint8)  # the ramp's ink, a little uneven
    alpha[4:36] = np.round(np.linspace(0, 255, W)).astype(np.uint8)
    rgb[44:84, 12:52] = ink
    alpha[44:84, 12:52] = 255  # the digit: opaque
    rgb[44:84, 64:104] = ink
    alpha[44:84, 64:104] = 128  # half transparent
    alpha[88:94] = rng.integers(0, 256, (6, W), dtype=np.uint8)  # random colour (already) under random alpha
    return rgb, alpha


def reference(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The right flatten of straight colour ``rgb`` (H, W, 3, RGB, floats in [0, 1]) under ``alpha`` ([0, 1]): float
    grey levels 0-255."""
    luma = 255.0 * (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114)
    opaque = alpha > 0.5
    light = bool(opaque.any()) and luma[opaque].mean() >= 127.5
    return luma * alpha + (0.0 if light else 255.0) * (1.0 - alpha)


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / (65535.0 if x.dtype == np.uint16 else 255.0)


def _sixteen(x8: np.ndarray, rng) -> np.ndarray:
    """8-bit samples as 16-bit ones with the high byte kept and a random low byte (0 stays 0, 255 stays 65535)."""
    x = x8.astype(np.uint16) << 8 | rng.integers(0, 256, x8.shape, dtype=np.uint16)
    x[x8 == 0], x[x8 == 255] = 0, 65535
    return x


def _grey(rgb: np.ndarray) -> np.ndarray:
    return np.round(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.uint8)


# --------------------------------------------------------------------------- writers


def _pillow(image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def png_bytes(samples: np.ndarray, colour_type: int, trns: bytes | None = None, palette: np.ndarray | None = None,
              depth: int | None = None) -> bytes:
    """A PNG written chunk by chunk: ``samples`` (H, W[, C]) uint8 or uint16, PNG colour type 0 (grey), 2 (RGB),
    3 (palette indices), 4 (grey + alpha) or 6 (RGBA); ``trns`` the tRNS chunk's body; ``palette`` (N, 3) uint8;
    ``depth`` 1, 2 or 4 for packed grey levels or indices (default 8, or 16 for uint16)."""
    depth = depth or (16 if samples.dtype == np.uint16 else 8)
    h, w = samples.shape[:2]
    if depth < 8:
        bits = np.unpackbits(samples.astype(np.uint8)[..., None], axis=2)[..., 8 - depth:]
        rows = np.packbits(bits.reshape(h, -1), axis=1)
    else:
        rows = samples.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).view(np.uint8).reshape(h, -1)
    raw = np.hstack((np.zeros((h, 1), np.uint8), rows)).tobytes()  # filter type 0 on every row
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0))
    if palette is not None:
        out += _chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    return out + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def tiff_bytes(samples: np.ndarray, photometric: int, extra: int | None) -> bytes:
    """An uncompressed little-endian TIFF written tag by tag: ``samples`` (H, W, C) uint8 or uint16 (C = 2 grey + one
    more, 4 RGB + one more), ``photometric`` 1 (grey, black is zero) or 2 (RGB), ``extra`` the ExtraSamples value of
    the last sample (0 unspecified, 1 associated alpha, 2 unassociated alpha; None: no ExtraSamples tag)."""
    h, w, c = samples.shape
    bits = 16 if samples.dtype == np.uint16 else 8
    data = samples.astype("<u2" if bits == 16 else np.uint8).tobytes()
    bits_at, data_at = 8, 8 + 2 * c  # after the 8-byte header: BitsPerSample's values, then the pixels, then the IFD
    ifd_at = data_at + len(data) + len(data) % 2
    tags = [(256, 4, w), (257, 4, h), (258, 3, None), (259, 3, 1), (262, 3, photometric), (273, 4, data_at),
            (277, 3, c), (278, 4, h), (279, 4, len(data)), (284, 3, 1)]  # (tag, 3 SHORT or 4 LONG, value)
    if extra is not None:
        tags.append((338, 3, extra))
    entries = b""
    for tag, kind, value in tags:
        if tag == 258:  # c values: in the entry when they fit in its 4 bytes, else before the pixels
            entries += struct.pack("<HHI", tag, 3, c) + (struct.pack("<2H", bits, bits) if c == 2 else
                                                         struct.pack("<I", bits_at))
        else:
            entries += struct.pack("<HHI", tag, kind, 1)
            entries += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    return (b"II*\x00" + struct.pack("<I", ifd_at) + struct.pack(f"<{c}H", *([bits] * c)) + data
            + b"\x00" * (len(data) % 2) + struct.pack("<H", len(tags)) + entries + struct.pack("<I", 0))


def bmp_bytes(rgba: np.ndarray, header: int) -> bytes:
    """A 32-bit bottom-up BMP with BI_BITFIELDS and an alpha mask, ``header`` 108 (V4) or 124 (V5) bytes."""
    h, w = rgba.shape[:2]
    pixels = np.ascontiguousarray(rgba[::-1][..., [2, 1, 0, 3]]).tobytes()  # BGRA, bottom row first
    info = struct.pack("<IiiHHIIiiII", header, w, h, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    info += struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000) + b"sRGB"[::-1] + b"\x00" * 36
    info += b"\x00" * (header - len(info))  # V4: gamma; V5: intent, profile (none)
    offset = 14 + header
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + pixels


# --------------------------------------------------------------------------- the kinds


def _straight(rgb8, alpha8):
    return _unit(rgb8), _unit(alpha8)


def _rgba8(light):
    rgb, alpha = scene(light)
    return rgb, alpha, np.dstack((rgb, alpha))


def _png_rgba8(light):
    rgb, alpha, rgba = _rgba8(light)
    return _pillow(__import__("PIL.Image").Image.fromarray(rgba, "RGBA"), "PNG"), *_straight(rgb, alpha)


def _png_rgba16(light):
    import cv2

    rgb, alpha, rgba = _rgba8(light)
    rgba16 = _sixteen(rgba, np.random.default_rng(5))
    return cv2.imencode(".png", rgba16[..., [2, 1, 0, 3]])[1].tobytes(), _unit(rgba16[..., :3]), _unit(rgba16[..., 3])


def _la(light, bits):
    rgb, alpha = scene(light)
    grey = _grey(rgb)
    if bits == 8:
        from PIL import Image

        data = _pillow(Image.fromarray(np.dstack((grey, alpha)), "LA"), "PNG")
        return data, _unit(np.repeat(grey[..., None], 3, 2)), _unit(alpha)
    la16 = _sixteen(np.dstack((grey, alpha)), np.random.default_rng(6))
    return png_bytes(la16, 4), _unit(np.repeat(la16[..., :1], 3, 2)), _unit(la16[..., 1])


def _palette_scene(light, binary):
    """Indices (H, W), a palette (256, 3) and its alpha (256,): entries 0-127 the ramp's ink at alpha 0-254 (0/255
    when ``binary``), 128-191 junk colours at alpha 0, 192-255 the ink, opaque."""
    rng = np.random.default_rng(7)
    ink = np.array((235, 225, 205) if light else (25, 45, 120))
    palette = np.empty((256, 3), np.uint8)
    palette[:128] = np.clip(ink + rng.integers(-15, 16, (128, 3)), 0, 255)
    palette[128:192] = rng.integers(0, 256, (64, 3))
    palette[192:] = np.clip(ink + rng.integers(-10, 11, (64, 3)), 0, 255)
    table = np.zeros(256, np.uint8)
    table[:128] = np.arange(128) * 2 if not binary else np.where(np.arange(128) < 64, 0, 255)
    table[192:] = 255
    idx = rng.integers(128, 192, (H, W)).astype(np.uint8)
    idx[4:36] = np.linspace(0, 127.99, W).astype(np.uint8)
    idx[44:84, 12:52] = rng.integers(192, 256, (40, 40))
    idx[88:94] = rng.integers(0, 256, (6, W))
    return idx, palette, table


def _png_palette(light, binary):
    idx, palette, table = _palette_scene(light, binary)
    data = png_bytes(idx, 3, trns=table.tobytes(), palette=palette)
    return data, _unit(palette[idx]), _unit(table[idx])


def _gif(light):
    from PIL import Image

    idx, palette, _ = _palette_scene(light, True)
    image = Image.fromarray(idx, "P")
    image.putpalette(palette.tobytes())
    key = 130  # one junk entry transparent, as GIF allows
    table = np.full(256, 255, np.uint8)
    table[key] = 0
    idx = np.where((idx >= 128) & (idx < 192), key, idx).astype(np.uint8)  # every junk pixel that one entry
    image = Image.fromarray(idx, "P")
    image.putpalette(palette.tobytes())
    return _pillow(image, "GIF", transparency=key, optimize=False), _unit(palette[idx]), _unit(table[idx])


def _gif_grey(light):
    """A GIF whose palette is all grey levels, one entry transparent: Pillow opens it as mode L (not P), with the
    transparent entry in its info."""
    from PIL import Image

    rgb, alpha = scene(light)
    grey = _grey(rgb) // 2 * 2  # even levels; the transparent entry is an odd one
    grey[alpha < 128] = 77
    image = Image.fromarray(grey, "L").convert("P")  # a grey palette (entry i: level i)
    data = _pillow(image, "GIF", transparency=77, optimize=False)
    return data, _unit(np.repeat(grey[..., None], 3, 2)), (grey != 77) * 1.0


def _key_scene(light, colour):
    """Opaque ink on junk-free paper where one colour (the key) is transparent: tRNS of a grey or RGB PNG."""
    rgb, alpha = scene(light)
    key = np.array((200, 30, 90), np.uint8) if colour else np.full(3, 77, np.uint8)
    clear = alpha < 128
    rgb = rgb.copy()
    rgb[clear] = key
    if not colour:
        rgb = np.repeat(_grey(rgb)[..., None], 3, 2)
    rgb[(rgb == key).all(axis=2)] ^= np.uint8(1)  # no opaque pixel of the key's colour
    rgb[clear] = key
    return rgb, key, (~clear * 255).astype(np.uint8)


def _png_key(light, colour, bits):
    rgb, key, alpha = _key_scene(light, colour)
    if bits == 16:
        rgb = rgb.astype(np.uint16) * 257
        key = key.astype(np.uint16) * 257
    samples = rgb if colour else rgb[..., 0]
    trns = struct.pack(">3H", *key.tolist()) if colour else struct.pack(">H", int(key[0]))
    return png_bytes(samples, 2 if colour else 0, trns=trns), _unit(rgb), _unit(alpha)


def _png_low(light, depth, palette):
    """A 1-, 2- or 4-bit grey PNG with one transparent level, or a 4-bit palette PNG with tRNS (packed samples)."""
    rgb, alpha = scene(light)
    top = (1 << depth) - 1
    level = np.round(_grey(rgb) / 255.0 * top).astype(np.uint8)
    if palette:
        colours = np.clip(np.linspace(0, 255, top + 1)[:, None] * [1.0, 0.8, 0.6], 0, 255).astype(np.uint8)
        table = np.round(np.linspace(0, 255, top + 1)[::-1]).astype(np.uint8)  # each entry its own alpha
        table[0] = 255  # (entries past tRNS's end are opaque)
        return (png_bytes(level, 3, trns=table.tobytes(), palette=colours, depth=depth), _unit(colours[level]),
                _unit(table[level]))
    key = 1 if depth > 1 else 0
    level[(alpha < 128)] = key
    level[(alpha >= 128) & (level == key)] = key + 1
    grey = np.round(level.astype(np.float64) * (255.0 / top))
    return png_bytes(level, 0, trns=struct.pack(">H", key), depth=depth), np.repeat(grey[..., None] / 255.0, 3, 2), (level != key) * 1.0


def _webp(light, writer):
    rgb, alpha, rgba = _rgba8(light)
    if writer == "pillow":
        from PIL import Image

        data = _pillow(Image.fromarray(rgba, "RGBA"), "WEBP", lossless=True, exact=True)
    else:
        import cv2

        data = cv2.imencode(".webp", rgba[..., [2, 1, 0, 3]], (cv2.IMWRITE_WEBP_QUALITY, 101))[1].tobytes()
    return data, *_straight(rgb, alpha)


def _tiff_rgba(light, bits, extra):
    rgb, alpha, rgba = _rgba8(light)
    if bits == 16:
        rgba = _sixteen(rgba, np.random.default_rng(8))
    straight, a = _unit(rgba[..., :3]), _unit(rgba[..., 3])
    stored = rgba.copy()
    if extra == 1:  # associated: the colour stored already multiplied by alpha
        top = 65535 if bits == 16 else 255
        stored[..., :3] = np.round(rgba[..., :3].astype(np.float64) * rgba[..., 3:4] / top).astype(rgba.dtype)
        straight = _unit(stored[..., :3]) / np.maximum(a[..., None], 1e-12)  # what that stored colour means
        straight[a == 0] = 0.0
    return tiff_bytes(stored, 2, extra), straight, a


def _tiff_pillow(light, mode, compression=None):
    from PIL import Image

    rgb, alpha, rgba = _rgba8(light)
    if mode == "LA":
        grey = _grey(rgb)
        rgb, rgba = np.repeat(grey[..., None], 3, 2), np.dstack((grey, alpha))
    options = {"compression": compression} if compression else {}
    return _pillow(Image.fromarray(rgba, mode), "TIFF", **options), *_straight(rgb, alpha)


def _tiff_la(light, bits, extra):
    rgb, alpha = scene(light)
    la = np.dstack((_grey(rgb), alpha))
    if bits == 16:
        la = _sixteen(la, np.random.default_rng(9))
    grey, a = _unit(la[..., 0]), _unit(la[..., 1])
    stored = la.copy()
    if extra == 1:  # associated: the grey stored already multiplied by alpha
        stored[..., 0] = np.round(la[..., 0].astype(np.float64) * a).astype(la.dtype)
        grey = np.where(a > 0, _unit(stored[..., 0]) / np.maximum(a, 1e-12), 0.0)
    return tiff_bytes(stored, 1, extra), np.repeat(grey[..., None], 3, 2), a


def _tiff_opencv(light, bits):
    import cv2

    rgb, alpha, rgba = _rgba8(light)
    if bits == 16:
        rgba = _sixteen(rgba, np.random.default_rng(10))
    data = cv2.imencode(".tiff", np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]))[1].tobytes()
    return data, _unit(rgba[..., :3]), _unit(rgba[..., 3])


def _bmp(light, header):
    rgb, alpha, rgba = _rgba8(light)
    return bmp_bytes(rgba, header), *_straight(rgb, alpha)


def _pillow_format(light, fmt, decoded=False, **options):
    """``decoded``: a lossy codec, whose truth is what Pillow decodes (straight RGBA), not what was encoded."""
    from PIL import Image

    rgb, alpha, rgba = _rgba8(light)
    data = _pillow(Image.fromarray(rgba, "RGBA"), fmt, **options)
    if decoded:
        rgba = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
        rgb, alpha = rgba[..., :3], rgba[..., 3]
    return data, *_straight(rgb, alpha)


def _ico(light, bitmap):
    from PIL import Image

    rgb, alpha, rgba = _rgba8(light)
    data = _pillow(Image.fromarray(rgba, "RGBA"), "ICO", sizes=[(W, H)], **({"bitmap_format": "bmp"} if bitmap else {}))
    return data, *_straight(rgb, alpha)


def _pillow_image(light, mode):
    """A Pillow image in ``mode`` (not a file): what ``preprocess_image`` is handed by a program."""
    from PIL import Image

    rgb, alpha, rgba = _rgba8(light)
    if mode in ("LA", "La"):
        grey = _grey(rgb)
        rgb, image = np.repeat(grey[..., None], 3, 2), Image.fromarray(np.dstack((grey, alpha)), "LA")
    else:
        image = Image.fromarray(rgba, "RGBA")
    if mode in ("RGBa", "La"):  # Pillow's premultiplied modes: its convert() multiplies
        image = image.convert(mode)
        stored = np.asarray(image).astype(np.float64)
        a = stored[..., -1:] / 255.0
        colour = np.where(a > 0, stored[..., :-1] / 255.0 / np.maximum(a, 1e-12), 0.0)
        rgb8 = np.repeat(colour, 3, 2) if mode == "La" else colour
        return image, np.clip(rgb8, 0, 1), a[..., 0]
    return image, *_straight(rgb, alpha)


def _array(light):
    rgb, alpha, rgba = _rgba8(light)
    return rgba, *_straight(rgb, alpha)


# name -> (maker(light) -> (source, rgb [0,1], alpha [0,1]), largest error allowed in grey levels of 255, note)
# Tolerances: 8-bit kinds 1 (OpenCV's fixed-point luma, one rounding); 16-bit kinds 2.5 (colour and alpha to their
# high byte, as the runtime takes 16-bit samples, then the same); premultiplied storage 2 (8-bit) and 3 (16-bit):
# the colour divided out in 8 bits, then multiplied again.
KINDS = {
    "png-rgba8": (_png_rgba8, 1, "Pillow"),
    "png-rgba16": (_png_rgba16, 2.5, "OpenCV"),
    "png-la8": (lambda light: _la(light, 8), 1, "Pillow"),
    "png-la16": (lambda light: _la(light, 16), 2.5, "written here"),
    "png-palette-alpha": (lambda light: _png_palette(light, False), 1, "tRNS with 128 levels"),
    "png-palette-binary": (lambda light: _png_palette(light, True), 1, "tRNS 0 or 255"),
    "png-grey-trns8": (lambda light: _png_key(light, False, 8), 1, "grey with a transparent level"),
    "png-grey-trns16": (lambda light: _png_key(light, False, 16), 2.5, "grey with a transparent level"),
    "png-rgb-trns8": (lambda light: _png_key(light, True, 8), 1, "RGB with a transparent colour"),
    "png-rgb-trns16": (lambda light: _png_key(light, True, 16), 2.5, "RGB with a transparent colour"),
    "png-grey1-trns": (lambda light: _png_low(light, 1, False), 1, "1-bit grey, black transparent"),
    "png-grey2-trns": (lambda light: _png_low(light, 2, False), 1, "2-bit grey with a transparent level"),
    "png-grey4-trns": (lambda light: _png_low(light, 4, False), 1, "4-bit grey with a transparent level"),
    "png-palette4-alpha": (lambda light: _png_low(light, 4, True), 1, "4-bit palette, tRNS"),
    "gif-transparent": (_gif, 1, "Pillow, one transparent index"),
    "gif-grey-transparent": (_gif_grey, 1, "Pillow, a grey palette: mode L"),
    "webp-lossless-pillow": (lambda light: _webp(light, "pillow"), 1, "Pillow, exact"),
    "webp-lossless-opencv": (lambda light: _webp(light, "opencv"), 1, "OpenCV, quality 101"),
    "tiff-rgba8-pillow": (lambda light: _tiff_pillow(light, "RGBA"), 1, "Pillow: ExtraSamples 2"),
    "tiff-rgba8-pillow-deflate": (lambda light: _tiff_pillow(light, "RGBA", "tiff_adobe_deflate"), 1, "Pillow"),
    "tiff-la8-pillow": (lambda light: _tiff_pillow(light, "LA"), 1, "Pillow: ExtraSamples 2"),
    "tiff-rgba8-jpeg": (lambda light: _pillow_format(light, "TIFF", decoded=True, compression="jpeg"), 1,
                        "Pillow, JPEG-compressed: truth decoded"),
    "tiff-rgba8-unassoc": (lambda light: _tiff_rgba(light, 8, 2), 1, "ExtraSamples 2"),
    "tiff-rgba8-assoc": (lambda light: _tiff_rgba(light, 8, 1), 2, "ExtraSamples 1"),
    "tiff-rgba16-unassoc": (lambda light: _tiff_rgba(light, 16, 2), 2.5, "ExtraSamples 2"),
    "tiff-rgba16-assoc": (lambda light: _tiff_rgba(light, 16, 1), 3, "ExtraSamples 1"),
    "tiff-la8-assoc": (lambda light: _tiff_la(light, 8, 1), 2, "ExtraSamples 1"),
    "tiff-la16-unassoc": (lambda light: _tiff_la(light, 16, 2), 2.5, "ExtraSamples 2"),
    "tiff-rgba8-opencv": (lambda light: _tiff_opencv(light, 8), 1, "OpenCV's writer"),
    "tiff-rgba16-opencv": (lambda light: _tiff_opencv(light, 16), 2.5, "OpenCV's writer"),
    "bmp-v4": (lambda light: _bmp(light, 108), 1, "BI_BITFIELDS, alpha mask"),
    "bmp-v5": (lambda light: _bmp(light, 124), 1, "BI_BITFIELDS, alpha mask"),
    "ico-png": (lambda light: _ico(light, False), 1, "Pillow"),
    "ico-bmp": (lambda light: _ico(light, True), 1, "Pillow"),
    "tga": (lambda light: _pillow_format(light, "TGA"), 1, "Pillow"),
    "sgi": (lambda light: _pillow_format(light, "SGI"), 1, "Pillow"),
    "dds": (lambda light: _pillow_format(light, "DDS"), 1, "Pillow"),
    "qoi": (lambda light: _pillow_format(light, "QOI"), 1, "Pillow 11.3+"),
    "jpeg2000": (lambda light: _pillow_format(light, "JPEG2000", irreversible=False), 1, "Pillow, lossless"),
    "avif": (lambda light: _pillow_format(light, "AVIF", decoded=True, quality=90), 1, "Pillow 11.2+, truth decoded"),
    "webp-lossy": (lambda light: _pillow_format(light, "WEBP", decoded=True, quality=80), 1, "Pillow, truth decoded"),
    "pillow-RGBA": (lambda light: _pillow_image(light, "RGBA"), 1, "a Pillow image"),
    "pillow-LA": (lambda light: _pillow_image(light, "LA"), 1, "a Pillow image"),
    "pillow-RGBa": (lambda light: _pillow_image(light, "RGBa"), 2, "a Pillow image, premultiplied"),
    "pillow-La": (lambda light: _pillow_image(light, "La"), 2, "a Pillow image, premultiplied"),
    "array-rgba": (_array, 1, "a numpy array"),
}
