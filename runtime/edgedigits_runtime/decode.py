"""Image files, bytes, file objects, Pillow images and arrays -> a uint8 grey working image (OpenCV, Pillow).

The first step of the photo path (:mod:`edgedigits_runtime.preprocess`, :mod:`edgedigits_runtime.read`): Pillow reads
only the header (what it is, its size: the decompression-bomb and tiny-image checks happen before any pixel is
decoded, whether it has transparency, its EXIF orientation); OpenCV decodes the pixels as grey (Pillow the formats
OpenCV cannot: TGA, PCX, QOI, ..., GIF before OpenCV 4.11; TIFFs with alpha and grey PNGs with a transparent level,
which OpenCV reads wrong; transparent GIFs and large transparent PNGs, with less memory), EXIF orientation applied, to a
working image of :data:`WORK_MIN` to :data:`WORK_SIZE` pixels on the long side (the photo, or the region asked for,
reduced by 1, 2, 4 or 8: JPEGs decoded at that scale in the DCT domain, other formats and arrays decoded whole and
area-averaged by the same factor, so they all give the same working image); transparency of every kind (an alpha band,
straight or premultiplied; a palette, grey level or colour marked transparent) is flattened: luma over alpha on white,
or on black when the opaque part is light on average (decided once, :func:`_is_light`); each kind is held to a
reference flatten in tests/runtime/transparent.py. A JPEG cut short is refused on every OpenCV version (4.6 and 4.8 fill
the rest with grey). A file of several frames or pages (animated GIF, WebP or PNG, multi-page TIFF) is read by its
first (an animated WebP by Pillow where OpenCV cannot decode it: before 4.11). Files are read to at most
:data:`MAX_FILE_BYTES`.

Example:

>>> from edgedigits_runtime.decode import load_image
>>> grey = load_image("photo.jpg")    # doctest: +SKIP
>>> grey.dtype, max(grey.shape) <= 512    # doctest: +SKIP
(dtype('uint8'), True)
"""

from __future__ import annotations

import io
import os
import re
import threading
import warnings

import numpy as np

from edgedigits_runtime.errors import BackendUnavailableError, InputError
from edgedigits_runtime.fileio import read_at_most

__all__ = ["MAX_FILE_BYTES", "MAX_PIXELS", "WORK_MIN", "WORK_SIZE", "decode_memory", "grey_image", "load_image",
           "load_image_scaled", "require_image_libs"]

MAX_PIXELS = 50_000_000  # larger images are refused (decompression bombs); a 48 MP phone photo fits
MAX_FILE_BYTES = 256 << 20  # larger files are refused unread (a 50 MP uncompressed RGBA image is 200 MB): /dev/zero
WORK_SIZE = 512  # at most this many pixels on the long side of the working image ...
WORK_MIN = 320  # ... and, when the photo is larger, at least this many (JPEGs decode at 1/2, 1/4, 1/8 scale)
_FLATTEN_ROWS = 256  # a transparent image is flattened this many rows at a time (memory: _flatten_four)
_PILLOW_RGBA_PIXELS = 4_000_000  # transparent PNGs this large are decoded by Pillow (memory: _pillow_alpha_grey)
_MIN_SIDE = 8  # fewer pixels than this either way cannot hold a digit (and breaks the 4x4 background grid)
# Python's warning filters are process-wide and warnings.catch_warnings is not thread-safe: a server decodes in several
# threads at once, and blocks entered and left out of order left the filters changed for the process's life (Pillow's
# DecompressionBombWarning an error, or every warning ignored). Ours take turns (header reads only).
_WARNINGS = threading.Lock()
_INSTALL = 'pip install "edgedigits-runtime[image]"'
_cv2_module = None


def require_image_libs():
    """Import OpenCV (its log quietened) or say how to install it.

    OpenCV's thread count is left as the caller set it: the photo path's images are small, and
    one or two threads made no difference to a 640x480 photo's time (1.91 vs 1.94 ms, 2 cores).

    Returns:
      the ``cv2`` module.

    Raises:
      BackendUnavailableError: opencv-python-headless is not installed.
    """
    global _cv2_module
    if _cv2_module is None:
        try:
            import cv2
        except ImportError:
            raise BackendUnavailableError(f"reading photos needs OpenCV: {_INSTALL}") from None
        if os.environ.get("EDGEDIGITS_VERBOSE") != "1":  # libpng/libjpeg/libtiff chatter on bad files: we raise our own errors
            _silence_opencv_log(cv2)
        _cv2_module = cv2
    return _cv2_module


def _silence_opencv_log(cv2) -> None:
    """Set OpenCV's own log to silent: ``cv2.utils.logging`` (OpenCV 5.0) or ``cv2.setLogLevel`` (OpenCV 4.6, Debian
    bookworm's on 32-bit Raspberry Pi OS, and 4.8 have no ``cv2.utils.logging``; 0 is their silent level)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)


def _require_pillow():
    try:
        from PIL import Image
    except ImportError:
        raise BackendUnavailableError(f"reading image files needs Pillow (for their header): {_INSTALL}") from None
    return Image


# --------------------------------------------------------------------------- decoding


def load_image(source, name: str | None = None) -> np.ndarray:
    """Decode an image file to uint8 grey, EXIF-rotated, transparency flattened, working size.

    The long side comes out between :data:`WORK_MIN` and :data:`WORK_SIZE` pixels (smaller
    images keep their size): JPEGs are decoded at a reduced DCT scale, others decoded and shrunk
    by area averaging.

    Args:
      source: a path, the file's bytes, or a binary file object (read to its end, at most :data:`MAX_FILE_BYTES`).
      name: what to call it in messages (default: the path, or "image bytes").

    Returns:
      uint8 (H, W).

    Raises:
      InputError: empty, not an image, truncated, over :data:`MAX_PIXELS` (decompression bomb) or
        :data:`MAX_FILE_BYTES`, 32-bit samples out of range (floats 0.0-1.0, whole numbers 0-255 understood).
      BackendUnavailableError: OpenCV or Pillow is not installed.
    """
    return _decode(source, name, None)[0]


def load_image_scaled(source, name: str | None = None, roi=None) -> tuple[np.ndarray, float, tuple[int, int]]:
    """An image file, its bytes or an array as a uint8 grey working image, and how it maps to the photo.

    Args:
      source: a path, the file's bytes, or an array (as :func:`preprocess_image` takes).
      name: what to call it in messages.
      roi: (x, y, w, h) in the photo's pixels (after EXIF rotation): only this region, decoded
        at the scale that suits the region's size. Clipped to the photo.

    Returns:
      (uint8 (H, W) working image, working pixels per photo pixel, (x, y) of its top-left corner in the photo).

    Raises:
      InputError: as :func:`load_image` and :func:`preprocess_image`; a ``roi`` outside the photo.
    """
    if _is_encoded(source):
        grey, scale, origin = _decode(source, name, roi)
    else:
        x = _as_array(source)
        origin = (0, 0)
        if roi is not None and x.ndim >= 2:
            x0, y0, x1, y1 = clip_roi(roi, x.shape[1], x.shape[0], name or "image")
            x, origin = x[y0:y1, x0:x1], (x0, y0)
        grey = _as_grey(x)
        scale = grey.shape[1] / x.shape[1]
    _check_side(grey, source, name)
    return grey, scale, origin


def clip_roi(roi, width: int, height: int, label: str) -> tuple[int, int, int, int]:
    """``roi`` (x, y, w, h) clipped to a ``width`` x ``height`` photo: (x0, y0, x1, y1).

    Raises:
      InputError: the region keeps less than 8 pixels of the photo either way (named ``label`` in the message).
    """
    x, y, w, h = roi
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 - x0 < _MIN_SIDE or y1 - y0 < _MIN_SIDE:
        raise InputError(f"{label}: the region {x},{y},{w},{h} lies outside the {width}x{height} photo (or keeps less "
                         f"than {_MIN_SIDE} pixels of it); give x,y,w,h inside the photo")
    return x0, y0, x1, y1


def _transparent(head) -> bool:
    """Whether an image opened by Pillow (its header read) has transparency: an alpha band (straight, or premultiplied:
    Pillow's ``RGBa``, ``La``), a palette with a transparent entry, or one transparent grey level or colour (a grey or
    RGB PNG's tRNS chunk)."""
    return head.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in head.info


# Pillow's modes of a grey image (1, 2, 4, 8 or 16 bits a sample). Transparent, its one transparent level (a PNG's tRNS)
# is lost by OpenCV, and by Pillow's own conversion at 2, 4 and 16 bits (its key is not scaled as the samples are);
# see _rgba.
_GREY_MODES = ("1", "L", "I", "I;16", "I;16B")


def _pillow_flattens(alpha: bool, kind: str | None, mode: str, pixels: int) -> bool:
    """Whether :func:`_decode` hands a transparent image to Pillow's band path (:func:`_pillow_alpha_grey`); :func:`decode_memory`
    counts that path by the same rule.

    TIFFs with transparency always: OpenCV decodes an 8-bit RGBA TIFF through libtiff's RGBA interface, which
    premultiplies the colour of unassociated alpha (ExtraSamples 2, as Pillow writes it), and gives 16-bit ones as
    stored, so the colour's meaning depends on the bit depth; it drops a grey + alpha TIFF's alpha. Pillow's mode says
    which alpha it is (associated alpha is un-premultiplied). GIFs with a transparent colour always: Pillow holds one
    byte a pixel, OpenCV 5's 4-channel decode took 9.2 (and OpenCV before 4.11 has no GIF decoder). Grey PNGs with a
    transparent level always (OpenCV drops the level). Other transparent PNGs from :data:`_PILLOW_RGBA_PIXELS` up:
    less memory than OpenCV's decode.
    """
    if not alpha:
        return False
    return kind in ("TIFF", "GIF") or (kind == "PNG" and (mode in _GREY_MODES or pixels >= _PILLOW_RGBA_PIXELS))


def _decode(source, name, roi):
    Image = _require_pillow()
    cv2 = require_image_libs()
    from PIL import UnidentifiedImageError

    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or "image bytes"
    else:
        label = name or str(getattr(source, "name", None) or "image stream" if hasattr(source, "read") else source)
        try:
            data = read_at_most(source, MAX_FILE_BYTES)
        except FileNotFoundError:
            raise InputError(f"{label}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{label} is a folder, not an image file") from None
        except OSError as exc:  # no permission, a symlink loop, an I/O error
            raise InputError(f"{label}: cannot read it ({exc.strerror or exc})") from None
        if data is None:
            raise InputError(f"{label} holds more than {MAX_FILE_BYTES >> 20} MB: too large for an image file this "
                             "reader takes (a device or an endless stream?); pass an image file") from None
    if not data:
        raise InputError(f"{label} is empty (0 bytes): not an image")
    with _WARNINGS, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            head = Image.open(io.BytesIO(data))  # reads the header only
            width, height = head.size
            mode, kind = head.mode, head.format
            alpha = _transparent(head)
            orientation = head.getexif().get(0x0112, 1)
            animated = kind == "WEBP" and bool(getattr(head, "is_animated", False))  # OpenCV before 4.11 cannot decode it
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputError(f"{label} is too large to decode safely: over the {MAX_PIXELS / 1e6:.0f} MP limit (a "
                             "decompression bomb?); use a smaller image") from None  # (Pillow's message: its own limit)
        except UnidentifiedImageError:
            raise InputError(f"{label} is not an image (PNG, JPEG, BMP, ...) that can be read") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:  # a header cut short or corrupted
            raise InputError(f"{label} is truncated or corrupted ({exc}); re-save or re-copy it") from None
    if kind in _NEVER_DECODED:
        raise InputError(f"{label} is PostScript ({kind}): not read, since decoding it runs Ghostscript on the file "
                         "(a program, from whoever sent it); save it as PNG or JPEG")
    pixels = width * height
    if pixels > MAX_PIXELS:
        raise InputError(f"{label} is {width}x{height} = {pixels / 1e6:.0f} MP, over the "
                         f"{MAX_PIXELS / 1e6:.0f} MP limit (a decompression bomb?): use a smaller image")
    if min(width, height) < _MIN_SIDE:
        raise InputError(f"{label} is {width}x{height} pixels: too small or too thin to hold a digit "
                         f"(at least {_MIN_SIDE}x{_MIN_SIDE}); use a larger image of the digit")
    if orientation in (5, 6, 7, 8):  # stored on its side: the photo as seen is the other way round
        width, height = height, width
    if kind in ("JPEG", "MPO") and _jpeg_cut_short(data):  # OpenCV 4.6 and 4.8 decode the missing part as grey
        raise InputError(f"{label} is truncated or corrupted (its JPEG data ends before the image does); "
                         "re-save or re-copy it")
    x0, y0, x1, y1 = (0, 0, width, height) if roi is None else clip_roi(roi, width, height, label)
    factor = _reduction(x1 - x0, y1 - y0)
    buf = np.frombuffer(data, np.uint8)
    if _pillow_flattens(alpha, kind, mode, pixels):  # TIFF, GIF, grey PNG with a transparent level, large PNG
        img = _pillow_alpha_grey(head, label, cv2, _png_depth(data) if kind == "PNG" else 8)
    elif alpha:  # OpenCV applies no EXIF orientation when it keeps alpha: do it here
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if img is not None:
            img = _orient(_grey_from_array(_to_uint8(img), cv2), orientation, cv2)  # grey first: no turned 4-channel copy
    elif kind in ("JPEG", "MPO") and factor > 1:  # decoded at 1/factor in the DCT domain: most of the work skipped
        img = cv2.imdecode(buf, getattr(cv2, f"IMREAD_REDUCED_GRAYSCALE_{factor}"))
    else:
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        if img is None and mode in ("F", "I"):  # 32-bit samples (a float TIFF): OpenCV decodes them only as they are
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
            if img is not None:
                img = _grey_from_array(_orient(_samples_to_uint8(img, label), orientation, cv2), cv2)
    if img is None and (animated or not _opencv_decodes(kind)):  # a format OpenCV does not decode (TGA, PCX, QOI, ...)
        img = _pillow_grey(data, label, kind, cv2)
    if img is None:
        raise InputError(f"{label} is truncated or corrupted (its {kind or 'image'} data cannot be decoded); "
                         "re-save or re-copy it")
    decoded = width / img.shape[1]  # photo pixels per decoded pixel: 1, or about factor (the decoder rounds sizes up)
    if roi is not None:
        a, b = int(x0 / decoded), int(y0 / decoded)
        img = img[b : max(b + 1, round(y1 / decoded)), a : max(a + 1, round(x1 / decoded))]
        x0, y0 = round(a * decoded), round(b * decoded)  # where the crop starts in the photo (a decoded pixel's edge)
    grey = _to_working(img, cv2, factor if decoded < 1.5 else 1)
    return grey, grey.shape[1] / (img.shape[1] * decoded), (x0, y0)


# Memory a decode takes beyond the file's bytes, per pixel of the image, by the path _decode takes (what the server's
# peak RSS grew by for one 49 MP file through /v1/read, OpenCV 5.0 and Pillow 13 on x86_64, rounded up: RESULTS.md,
# "Serving over HTTP", sixteenth session). A JPEG decoded at a reduced DCT scale keeps nothing full-size, except a
# progressive one: libjpeg holds every component's coefficients (2 bytes each) until the last scan.
_BYTES_PER_PIXEL = {
    "jpeg-reduced": 0.25, "pillow-alpha": 6.0, "pillow-palette": 3.5,
    "png-grey": 3.5, "png-grey16": 4.5, "png-colour": 6.2, "webp": 4.5, "tiff": 2.5, "gif": 6.4,
    "alpha": 2.2,  # per byte of the 4-channel array OpenCV decodes (8 or 16 bits a sample); PNG's take 3.25 (below)
    "webp-animated": 17.0,  # its first frame: OpenCV 5's animation decoder 9.2, Pillow 9.4's (OpenCV 4.6) 16.5 at 12 MP
    "other": 8.0,
}
_MEMORY_FLOOR = 2_000_000  # the working images, the reader's arrays: what a small image costs anyway
_DECODE_OVERHEAD = 16_000_000  # the decoders' own buffers beside the pixels (12 MP files: up to 10 MB over B/px) ...
_OVERHEAD_PER_PIXEL = 2.5  # ... reached from 6.4 MP up (a 4 MP grey + alpha PNG: 2 bytes a pixel over 6)


def decode_memory(data: bytes) -> int:
    """Bytes of memory that decoding and preparing these image bytes will take at its peak (an estimate from the
    header alone, on the high side), beyond the bytes themselves: what a server counts before it decodes.

    Args:
      data: an image file's bytes.

    Returns:
      Bytes (at least a small floor). A file whose header cannot be read costs the floor: decoding it fails at once.
    """
    Image = _require_pillow()
    try:
        with _WARNINGS, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head = Image.open(io.BytesIO(data))
            width, height = head.size
            mode, kind = head.mode, head.format
            alpha = _transparent(head)
            progressive = bool(head.info.get("progressive") or head.info.get("progression"))
            layers = getattr(head, "layer", None) or []
            animated = kind == "WEBP" and bool(getattr(head, "is_animated", False))
    except Exception:  # noqa: BLE001 (anything Pillow cannot open: the decode refuses it before any pixel)
        return _MEMORY_FLOOR
    pixels = width * height
    if pixels > MAX_PIXELS or min(width, height) < _MIN_SIDE:
        return _MEMORY_FLOOR  # refused from the header
    sixteen = (kind == "PNG" and _png_depth(data) == 16) or mode.startswith("I;16")
    if kind == "TIFF":
        bits = head.tag_v2.get(258, (8,)) if hasattr(head, "tag_v2") else (8,)
        sixteen = max(bits if isinstance(bits, tuple) else (bits,)) > 8
    if _pillow_flattens(alpha, kind, mode, pixels):
        per = _BYTES_PER_PIXEL["pillow-palette" if mode in ("P", "1", "L") else "pillow-alpha"]
    elif not _opencv_decodes(kind):  # Pillow's decode (GIF where OpenCV has no GIF decoder)
        per = _BYTES_PER_PIXEL["other"]
    elif animated:  # the first frame of an animated WebP: OpenCV's or (before 4.11) Pillow's animation decoder
        per = _BYTES_PER_PIXEL["webp-animated"]
    elif alpha:
        per = 4 * (2 if sixteen else 1) * (3.25 if kind == "PNG" else _BYTES_PER_PIXEL["alpha"])
    elif kind in ("JPEG", "MPO") and (progressive or _reduction(width, height) == 1):
        h, v = max((c[1] for c in layers), default=1), max((c[2] for c in layers), default=1)
        per = 2 * sum(c[1] * c[2] / (h * v) for c in layers) + 0.25 if layers else 7.0  # the coefficients
    elif kind in ("JPEG", "MPO"):
        per = _BYTES_PER_PIXEL["jpeg-reduced"]
    elif kind == "PNG":
        per = _BYTES_PER_PIXEL["png-colour" if mode not in _GREY_MODES else
                               "png-grey16" if sixteen else "png-grey"]
    elif kind in ("WEBP", "TIFF", "GIF"):
        per = _BYTES_PER_PIXEL[kind.lower()] * (2 if sixteen else 1)
    else:
        per = _BYTES_PER_PIXEL["other"]
    overhead = min(_DECODE_OVERHEAD, pixels * _OVERHEAD_PER_PIXEL) if per >= 1 else 0  # (not for a reduced JPEG)
    return max(_MEMORY_FLOOR, int(pixels * per + overhead))


# In a JPEG's entropy-coded data, 0xFF is followed by 0x00 (a stuffed byte), a restart marker (0xD0-0xD7) or more
# 0xFF fill bytes; any other byte after 0xFF is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff(?![\x00\xd0-\xd7\xff])")


def _jpeg_cut_short(data: bytes) -> bool:
    """Whether a JPEG file ends before its (first) image's end-of-image marker: a truncated copy or upload.

    libjpeg only warns about a premature end; OpenCV 4.6 (Debian bookworm's, 32-bit Raspberry Pi OS) and 4.8 then
    return the image with the missing part filled in grey, and a half-received photo would be read as if whole
    (OpenCV 5.0 returns nothing). The markers are walked from the start: segments skipped by their lengths (an EXIF
    thumbnail's own end marker inside APP1 is skipped with it), entropy-coded data up to the next marker, until the
    end-of-image marker (bytes after it, or an MPO's second image, are not looked at).

    Args:
      data: the file's bytes (starting with the start-of-image marker, as Pillow found).

    Returns:
      True only when the data runs out before the end-of-image marker; False when it is there, or when the marker
      structure is not what a JPEG's is (the decoder then judges).
    """
    pos, n = 2, len(data)  # after SOI
    while True:
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 1 >= n:
            return True
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI
            return False
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if pos + 3 >= n:
            return True
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if end > n:
            return True
        if marker == 0xDA:  # SOS: its header, then entropy-coded data up to the next marker
            found = _JPEG_NEXT_MARKER.search(data, end)
            if found is None:
                return True
            end = found.start()
        pos = end


# Pillow's names of the formats every OpenCV build decodes: their data OpenCV refuses is truncated or corrupted
# (Pillow may still make something of a cut file; it is refused all the same, on every OpenCV). Others (TGA, PCX, QOI,
# and AVIF or JPEG 2000 where OpenCV was built without them) are decoded by Pillow when OpenCV cannot; GIF too where
# OpenCV has no GIF decoder (before 4.11: OpenCV 4.6 of Debian bookworm, 32-bit Raspberry Pi OS's).
_OPENCV_FORMATS = ("PNG", "JPEG", "MPO", "BMP", "DIB", "TIFF", "WEBP", "PPM", "SUN")
_GIF_1X1 = (b"GIF87a\x01\x00\x01\x00\x81\x00\x00" + b"\x00" * 12
            + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x08\x04\x00\x01\x04\x04\x00;")  # one black pixel
_opencv_gif = None


def _opencv_decodes(kind: str | None) -> bool:
    """Whether this OpenCV decodes images of Pillow's format ``kind`` (for GIF: tried once, on a 1x1 GIF)."""
    global _opencv_gif
    if kind != "GIF":
        return kind in _OPENCV_FORMATS
    if _opencv_gif is None:
        cv2 = require_image_libs()
        _opencv_gif = cv2.imdecode(np.frombuffer(_GIF_1X1, np.uint8), cv2.IMREAD_GRAYSCALE) is not None
    return _opencv_gif


def _png_depth(data: bytes) -> int:
    """A PNG's bits per sample (1, 2, 4, 8 or 16), from its header (IHDR, the first chunk)."""
    return data[24] if len(data) > 24 else 8


# Pillow decodes EPS by running Ghostscript (an external interpreter with a history of exploits) on the file:
# never for a file that may come from anyone (`edgedigits-rt serve`), so never at all.
_NEVER_DECODED = ("EPS",)


def _pillow_grey(data: bytes, label: str, kind: str | None, cv2) -> np.ndarray:
    """What OpenCV could not decode, decoded by Pillow (its size already checked) as OpenCV would give it: uint8
    grey, transparency flattened (:func:`_pillow_alpha_grey`), EXIF orientation applied (:func:`_orientation_left`).
    Formats such as TGA, PCX, QOI, SGI, DDS, XBM; GIF where OpenCV has no GIF decoder.

    Pillow decodes the image once; it is made grey a band of :data:`_FLATTEN_ROWS` rows at a time (the whole image's
    arrays at once took 14-16 bytes a pixel: RESULTS.md, "Runtime", seventeenth session).

    Raises:
      InputError: Pillow cannot decode it either (truncated or corrupted; its reason in the message); 32-bit samples
        out of range.
    """
    Image = _require_pillow()
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        if _transparent(image):
            return _pillow_alpha_grey(image, label, cv2)
        width, height = image.size
        out = np.empty((height, width), np.uint8)
        for y in range(0, height, _FLATTEN_ROWS):
            band = _mode_array(image.crop((0, y, width, min(height, y + _FLATTEN_ROWS))))
            if band.dtype == bool:
                band = band.astype(np.uint8) * np.uint8(255)  # (Pillow's 1-bit arrays may hold 255 for True: no .view)
            out[y : y + len(band)] = band if band.ndim == 2 else cv2.cvtColor(band, cv2.COLOR_RGB2GRAY)
        return _orient(out, _orientation_left(image), cv2)
    except InputError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{label} is truncated or corrupted (its {kind or 'image'} data cannot be decoded: "
                         f"{exc}); re-save or re-copy it") from None


def _reduction(w: int, h: int) -> int:
    """1, 2, 4 or 8: the largest that keeps at least :data:`WORK_MIN` pixels on the long side (and 8 on the short)."""
    factor = 1
    while factor < 8 and max(w, h) // (2 * factor) >= WORK_MIN and min(w, h) // (2 * factor) >= _MIN_SIDE:
        factor *= 2
    return factor


def _to_working(img: np.ndarray, cv2, factor: int | None = None) -> np.ndarray:
    """Area-average by 1/``factor`` (default: :func:`_reduction` of its size), then at most :data:`WORK_SIZE` long."""
    h, w = img.shape[:2]
    if factor is None:
        factor = _reduction(w, h)
    if factor > 1:
        img = cv2.resize(img, (-(-w // factor), -(-h // factor)), interpolation=cv2.INTER_AREA)  # sizes as the JPEG decoder's
    return _shrink(img, WORK_SIZE, cv2)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint16:  # (in place: a 49 MP 16-bit RGBA image is 392 MB already)
        return np.right_shift(img, 8, out=img).astype(np.uint8)
    if img.dtype != np.uint8:
        return np.clip(img.astype(np.float32) * (255.0 if img.dtype.kind == "f" else 1.0), 0, 255).astype(np.uint8)
    return img


def _samples_to_uint8(img: np.ndarray, label: str) -> np.ndarray:
    """32-bit samples as decoded -> uint8, by the rule arrays follow: floats 0.0-1.0, whole numbers 0-255."""
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        raise InputError(f"{label} holds NaN or infinite samples: save it as an 8- or 16-bit image")
    low, high, top = float(img.min()), float(img.max()), (1.0 if img.dtype.kind == "f" else 255.0)
    if low < 0 or high > top:
        kind = "floating-point samples (0.0-1.0 understood)" if top == 1.0 else "32-bit samples (0-255 understood)"
        raise InputError(f"{label} holds {kind} in [{low:g}, {high:g}]: save it as an 8- or 16-bit image")
    return np.round(img.astype(np.float32) * np.float32(255.0 / top)).astype(np.uint8)


def _orient(img: np.ndarray, orientation: int, cv2) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an array as decoded."""
    if orientation in (2, 4, 5, 7):
        img = cv2.flip(img, 1)
    turn = {3: cv2.ROTATE_180, 4: cv2.ROTATE_180, 5: cv2.ROTATE_90_COUNTERCLOCKWISE, 6: cv2.ROTATE_90_CLOCKWISE,
            7: cv2.ROTATE_90_CLOCKWISE, 8: cv2.ROTATE_90_COUNTERCLOCKWISE}.get(orientation)
    return img if turn is None else cv2.rotate(img, turn)


def _grey_from_array(img: np.ndarray, cv2) -> np.ndarray:
    """A decoded uint8 array (grey, BGR or BGRA as OpenCV gives them) -> uint8 grey, transparency flattened."""
    if img.ndim == 2:
        return img
    if img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return _flatten_four(img, cv2.COLOR_BGRA2GRAY, cv2)


def _flatten_four(img: np.ndarray, code: int, cv2) -> np.ndarray:
    """A 4-channel uint8 image (BGRA or RGBA: ``code`` turns it grey) -> uint8 grey, transparency flattened.

    Done a band of :data:`_FLATTEN_ROWS` rows at a time, so that the peak memory is the decoded image and its grey
    copy (a 49 MP RGBA PNG took the process to 845 MB at full size); the same bytes as at full size (a test).
    """
    return _flatten_bands(lambda: (img[y : y + _FLATTEN_ROWS] for y in range(0, img.shape[0], _FLATTEN_ROWS)),
                          img.shape[:2], code, cv2)


def _pillow_alpha_grey(image, label: str, cv2, depth: int = 8) -> np.ndarray:
    """A transparent image opened by Pillow (``image``: a large PNG, a grey PNG with a transparent level, a TIFF with
    alpha, a GIF with a transparent colour; ``depth`` a PNG's bits per sample) -> uint8 grey, transparency flattened,
    EXIF orientation applied (:func:`_orientation_left`).

    Pillow decodes it once (4 bytes a pixel, 1 or 2 for a palette or grey; 16-bit samples kept to their high byte, as
    OpenCV's path does) and hands it over a band at a time as straight RGBA (:func:`_rgba`): for a PNG the same pixels
    as OpenCV's path, so the same grey (a test). OpenCV's decode of the same file peaks at twice to four times that (a
    49 MP 16-bit RGBA PNG took the server to 1 GB).
    """
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InputError(f"{label} is truncated or corrupted (its {image.format or 'image'} data cannot be decoded); "
                         "re-save or re-copy it") from None
    width, height = image.size
    key = _grey_key(image, depth)

    def bands():
        for y in range(0, height, _FLATTEN_ROWS):
            yield _rgba(image.crop((0, y, width, min(height, y + _FLATTEN_ROWS))), key)

    return _orient(_flatten_bands(bands, (height, width), cv2.COLOR_RGBA2GRAY, cv2), _orientation_left(image), cv2)


def _orientation_left(image) -> int:
    """The EXIF orientation a Pillow image still needs once loaded: Pillow's TIFF loader turns the image itself (Pillow
    9.4 keeps the tag all the same: it must not be applied twice); other formats keep it to be applied (a loader that
    applies it drops it)."""
    return 1 if image.format == "TIFF" else image.getexif().get(0x0112, 1)


def _grey_key(image, depth: int = 8):
    """The transparent level of a grey image (``depth`` bits a sample in its file) as the samples of ``np.asarray(image)``
    hold it, or None (not a grey image with a transparent level). Pillow scales 2- and 4-bit samples to 0-255 but
    keeps their tRNS level as written."""
    if image.mode not in _GREY_MODES or "transparency" not in image.info:
        return None
    key = image.info["transparency"]
    if image.mode == "1":
        return bool(key)
    top = (1 << depth) - 1
    return key * (255 // top) if depth < 8 and key <= top else key


def _rgba(image, key=None) -> np.ndarray:
    """A transparent Pillow image (or a band of one) -> uint8 RGBA, straight colour: premultiplied modes divided out,
    a grey image's transparent level ``key`` (:func:`_grey_key`) made alpha 0, 16-bit grey to its high byte."""
    if key is not None:
        x = np.asarray(image)
        if x.dtype == bool:  # 1-bit
            grey = x.astype(np.uint8) * np.uint8(255)
        else:  # 8-bit, or 16-bit (I;16, or I in Pillow before 10) to its high byte
            grey = (x >> 8 if image.mode.startswith("I") else x).astype(np.uint8)
        alpha = np.where(x == key, np.uint8(0), np.uint8(255))
        return np.dstack((grey, grey, grey, alpha))
    if image.mode == "La":  # (Pillow converts La only to LA)
        image = image.convert("LA")
    return np.asarray(image if image.mode == "RGBA" else image.convert("RGBA"))


def _flatten_bands(bands, shape: tuple[int, int], code: int, cv2) -> np.ndarray:
    """Flatten a 4-channel image given as ``bands()``, an iterator over its bands of rows (called twice: first the
    whole image's opaque part decides light or dark, then each band is flattened) -> uint8 grey of ``shape``."""
    opaque = ink = 0
    for band in bands():
        count, total = _opaque_sums(cv2.cvtColor(band, code), cv2.extractChannel(band, 3), cv2)
        opaque, ink = opaque + count, ink + total
    light = _is_light(opaque, ink)
    out, y = np.empty(shape, np.uint8), 0
    for band in bands():
        out[y : y + len(band)] = _flatten_alpha(cv2.cvtColor(band, code), cv2.extractChannel(band, 3), cv2, light)
        y += len(band)
    return out


def _opaque_sums(luma: np.ndarray, alpha: np.ndarray, cv2) -> tuple[int, float]:
    """How many pixels are opaque (alpha > 0.5), and the sum of their luma (exact: integers in a double)."""
    opaque = cv2.compare(alpha, 127, cv2.CMP_GT)
    return cv2.countNonZero(opaque), cv2.sumElems(cv2.bitwise_and(luma, luma, mask=opaque))[0]


def _is_light(opaque: int, ink: float) -> bool:
    """Whether the opaque part (``opaque`` pixels, luma summed to ``ink``) is light on average: then it goes on black."""
    return bool(opaque) and ink >= 127.5 * opaque


def _flatten_alpha(luma: np.ndarray, alpha: np.ndarray, cv2, light: bool) -> np.ndarray:
    """Ink drawn on a transparent sheet: put it on a background that contrasts with it.

    ``luma`` and ``alpha`` uint8 (H, W), a band of the image; uint8 grey out: luma over alpha on white, or on black
    when the whole image's opaque part is ``light`` (:func:`_flatten_bands` decides). One float32 band at a time.
    """
    out = cv2.multiply(luma, alpha, scale=1.0 / 255.0, dtype=cv2.CV_32F)  # luma * alpha
    if not light:  # + 255 * (1 - alpha): on white
        np.subtract(out, alpha, out=out)
        out += np.float32(255.0)
    return cv2.convertScaleAbs(out)  # rounded


def _is_encoded(source) -> bool:
    """A path, an image file's bytes or a binary file object (``open(..., "rb")``, an upload), not an array."""
    return isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(source, "read")


def _as_array(source) -> np.ndarray:
    """``np.asarray(source)`` (a Pillow image by :func:`_pil_array`), refused when ``source`` is no array at all (None,
    a number, a dict, ...)."""
    if type(source).__module__.startswith("PIL.") and hasattr(source, "mode"):
        try:
            return _pil_array(source)
        except InputError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as exc:  # decoded only now: a cut file, a closed image
            raise InputError(f"the Pillow image cannot be read ({exc}): its file is truncated or corrupted, or the "
                             "image was closed") from None
    x = np.asarray(source)
    if not isinstance(source, np.ndarray) and (x.dtype.kind == "O" or x.ndim == 0):
        raise InputError(f"an image must be a file path, the file's bytes, a binary file object or an array (H, W), "
                         f"(H, W, 3) or (H, W, 4); got {type(source).__name__}")
    return x


def _pil_array(image) -> np.ndarray:
    """A Pillow image as the array its file would decode to: EXIF orientation applied, palette and other colour
    modes as RGB(A) (``np.asarray`` of a palette image gives palette indices), any transparency as straight RGBA
    (:func:`_rgba`), 16 bits as their high byte, 32-bit samples by the arrays' rule (floats 0.0-1.0, whole numbers
    0-255)."""
    from PIL import ImageOps

    return _mode_array(ImageOps.exif_transpose(image))


def _mode_array(image) -> np.ndarray:
    """:func:`_pil_array` of an image already turned upright."""
    mode = image.mode
    if _transparent(image):  # alpha, premultiplied alpha, a transparent palette entry, level or colour: as RGBA
        return _rgba(image, _grey_key(image))
    if mode in ("1", "L", "RGB"):
        return np.asarray(image)
    if mode.startswith("I;16"):
        return (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
    if mode in ("I", "F"):
        return _samples_to_uint8(np.asarray(image), "image")
    return np.asarray(image.convert("RGB"))


def _as_grey(array) -> np.ndarray:
    """An array (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or float in [0, 1] -> uint8 grey, working size."""
    cv2 = require_image_libs()
    x = _as_array(array)
    if x.dtype == bool:
        x = x.astype(np.uint8) * 255
    if x.dtype.kind not in "uif":
        raise InputError(f"image array has dtype {x.dtype}; pass uint8 (0-255) or float (0.0-1.0)")
    if x.ndim == 3 and x.shape[2] in (1, 3, 4):
        pass
    elif x.ndim != 2:
        raise InputError(f"image array has shape {x.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    if min(x.shape[:2]) < _MIN_SIDE:
        raise InputError(f"image array is {x.shape[0]}x{x.shape[1]}: too small to hold a digit "
                         f"(at least {_MIN_SIDE}x{_MIN_SIDE})")
    if x.dtype.kind == "f":
        if not np.isfinite(x).all():
            raise InputError("image array contains NaN or infinity")
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1:
            raise InputError(f"float image must be in [0, 1]; got values in [{low:g}, {high:g}]: pass uint8 or divide by 255")
        x = np.round(x.astype(np.float32) * 255.0).astype(np.uint8)
    elif x.dtype != np.uint8:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise InputError(f"integer image must be in 0-255; got values in [{low}, {high}] (16-bit data: pass x >> 8)")
        x = x.astype(np.uint8)
    if x.ndim == 3:
        if x.shape[2] == 1:
            x = x[..., 0]
        elif x.shape[2] == 3:
            x = cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_RGB2GRAY)
        else:
            x = np.ascontiguousarray(x)
            x = _flatten_four(x, cv2.COLOR_RGBA2GRAY, cv2)
    return _to_working(np.ascontiguousarray(x), cv2)


def _shrink(img: np.ndarray, limit: int, cv2) -> np.ndarray:
    h, w = img.shape[:2]
    if max(h, w) <= limit:
        return img
    f = limit / max(h, w)
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def grey_image(source, name: str | None = None) -> np.ndarray:
    """Any source :func:`~edgedigits_runtime.preprocess.preprocess_image` takes, as its uint8 grey working image.

    Args:
      source: a path, the file's bytes, a binary file object, a Pillow image or an array.
      name: what to call it in messages.

    Returns:
      uint8 (H, W), at least 8 pixels each way.

    Raises:
      InputError: as :func:`load_image`, a bad array, or too thin to hold a digit.
      BackendUnavailableError: OpenCV or Pillow is not installed.
    """
    if _is_encoded(source):
        grey = load_image(source, name)
    else:
        grey = _as_grey(source)
    _check_side(grey, source, name)
    return grey


def _check_side(grey, source, name) -> None:
    if min(grey.shape) < _MIN_SIDE:
        label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "image")
        raise InputError(f"{label} is too thin to hold a digit: {grey.shape[1]}x{grey.shape[0]} pixels once shrunk to "
                         f"{WORK_SIZE} on the long side (at least {_MIN_SIDE} each way); crop closer around the digit")
