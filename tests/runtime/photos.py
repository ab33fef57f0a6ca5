"""Synthetic "photos" of MNIST test digits: the ways a phone picture of a digit on paper differs from MNIST."""

from __future__ import annotations

import io

import numpy as np


def make_photo(digit: np.ndarray, rng: np.random.Generator, *, size=(240, 320), invert=True, rgb=True, gradient=True,
               noise=0.03, jpeg=True, rotate=True, scale=None) -> bytes | np.ndarray:
    """One MNIST digit (uint8 28x28) as a photo: enlarged, off-centre, dark on light paper, lit unevenly,
    noisy, RGB, slightly rotated, JPEG-compressed. Returns the encoded bytes (jpeg) or the array."""
    from PIL import Image

    h, w = size
    scale = scale or rng.uniform(3.0, 6.0)
    side = int(28 * scale)
    img = Image.fromarray(digit).resize((side, side), Image.BILINEAR)
    if rotate:
        img = img.rotate(float(rng.uniform(-10, 10)), resample=Image.BILINEAR)
    big = np.asarray(img, dtype=np.float32) / 255.0
    canvas = np.zeros((h, w), np.float32)
    top = int(rng.integers(0, max(h - side, 1)))
    left = int(rng.integers(0, max(w - side, 1)))
    canvas[top : top + side, left : left + side] = big[: h - top, : w - left]
    if invert:  # dark ink (0.15) on light paper (0.85)
        canvas = 0.85 - 0.7 * canvas
    else:
        canvas = 0.1 + 0.75 * canvas
    if gradient:
        yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
        light = 0.7 + 0.5 * (rng.uniform(0.3, 1.0) * xx + rng.uniform(0.0, 0.6) * yy)
        canvas = canvas * light / light.max()
    canvas = canvas + rng.normal(0, noise, canvas.shape)
    canvas = np.clip(canvas, 0, 1)
    if rgb:
        tint = np.array([1.0, 0.97, 0.9], np.float32)
        canvas = np.clip(canvas[..., None] * tint, 0, 1)
    array = (canvas * 255).astype(np.uint8)
    if not jpeg:
        return array
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


SPACINGS = {  # gap between neighbouring digits' strokes, in MNIST pixels (28 px = one digit's field), per style
    "apart": (1.5, 8.0),  # a clear gap, uneven
    "touching": (-1.0, 0.0),  # strokes just meet
    "overlapping": (-2.5, -1.0),  # strokes cross slightly into the neighbour's
    "wide": (8.0, 24.0),  # written wide apart: up to most of a digit's width between strokes (not drawn by default)
}


def make_number_photo(digits: np.ndarray, rng: np.random.Generator, *, spacing: str = "apart", size=(480, 640),
                      invert: bool | None = None, wave: float | None = None, noise: float | None = None,
                      blur: float | None = None, jpeg: int | None = 85, rgb: bool = True,
                      height: float | None = None, rule: str | None = None,
                      ) -> tuple[bytes | np.ndarray, list[tuple[int, int, int, int]]]:
    """A handwritten number as a photo, built from MNIST digits (uint8 (n, 28, 28), left to right).

    Neighbours are placed so that the gap between their strokes (row by row, after the wavy
    baseline has moved them up and down) is drawn from ``SPACINGS[spacing]``: a clear gap,
    touching, or overlapping strokes. Each digit gets its own size jitter; the whole number a
    slight slant of the line, uneven light, noise, blur, RGB tint and JPEG compression.

    Args:
      digits: the digits' images (white on black, as MNIST), left to right.
      rng: the random source (the photo is a function of it).
      spacing: "apart", "touching", "overlapping" or "wide" (a key of ``SPACINGS``).
      size: (height, width) of the photo.
      invert: dark ink on light paper (default: random, 70% dark on light).
      wave: amplitude of the wavy baseline in MNIST pixels (default: random 0-4).
      noise: pixel noise sigma (default: random 0.01-0.05).
      blur: Gaussian blur sigma in photo pixels (default: random 0-1.5).
      jpeg: JPEG quality (None: return the array instead of bytes).
      rgb: a tinted RGB photo (else grey).
      height: digit height in photo pixels (default: random, as large as fits and at least 1/6 of the photo).
      rule: also draw "underline" (a line 2-4 MNIST px under the number, as on a form) or "box" (a form field's
        frame 3-6 px around it), 1-2 px thick, in the digits' ink (default None: neither; the random stream of
        the other options is the same either way up to this draw).

    Returns:
      (JPEG bytes or uint8 array, the digits' ink boxes (x, y, w, h) in the photo).
    """
    import cv2

    lo, hi = SPACINGS[spacing]
    n = len(digits)
    wave = rng.uniform(0.0, 4.0) if wave is None else wave
    phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.3)
    sizes = rng.uniform(0.88, 1.08, n)
    pieces, offsets = [], []
    for i, d in enumerate(digits):
        side = max(8, round(28 * sizes[i]))
        pieces.append(cv2.resize(np.asarray(d, np.uint8), (side, side), interpolation=cv2.INTER_LINEAR))
        offsets.append(wave * np.sin(phase + freq * i) + rng.uniform(-1.0, 1.0) + (28 - side) / 2)
    top_pad = int(np.ceil(wave + 6))
    canvas_h = 28 + 2 * top_pad
    canvas = np.zeros((canvas_h, (28 + max(12, int(np.ceil(hi)))) * n + 40), np.float32)  # 40n+40 unless wide
    right_edge = np.full(canvas_h, -np.inf)  # rightmost ink column so far, per row
    boxes28 = []
    x = 4.0
    for i, piece in enumerate(pieces):
        y = int(round(top_pad + offsets[i]))
        ph, pw = piece.shape
        ink = piece > 40
        rows = np.flatnonzero(ink.any(axis=1))
        if i == 0:
            left = x
        else:
            gap = rng.uniform(lo, hi)
            first = np.array([np.flatnonzero(ink[r])[0] if ink[r].any() else np.inf for r in range(ph)])
            need = right_edge[y : y + ph] - first  # leftmost position per row that keeps strokes apart
            left = float(np.max(need[np.isfinite(need)])) + 1.0 + gap if np.isfinite(need).any() else x
            # Slight overlap only: the ink boxes may share at most a quarter of the narrower one's width.
            px, _, pw_ink, _ = boxes28[-1]
            cols = np.flatnonzero(ink.any(axis=0))
            share = 0.25 * min(pw_ink, cols[-1] - cols[0] + 1)
            left = max(left, px + pw_ink - share - cols[0])
        xi = int(round(left))
        canvas[y : y + ph, xi : xi + pw] = np.maximum(canvas[y : y + ph, xi : xi + pw], piece.astype(np.float32) / 255)
        last = np.array([np.flatnonzero(ink[r])[-1] if ink[r].any() else -np.inf for r in range(ph)])
        right_edge[y : y + ph] = np.maximum(right_edge[y : y + ph], xi + last)
        cols = np.flatnonzero(ink.any(axis=0))
        boxes28.append((xi + cols[0], y + rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1))
    used = np.flatnonzero(canvas.max(axis=0) > 0)
    canvas = canvas[:, : used[-1] + 4]
    if rule is not None:
        canvas, boxes28 = _draw_rule(canvas, boxes28, rule, rng)
    h, w = size
    ch, cw = canvas.shape
    fit = min(0.9 * w / cw, 0.6 * h / ch)
    scale = fit if height is None else height / 28.0
    scale = min(scale, fit) if height is not None else rng.uniform(min(max(fit * 0.55, h / 6 / 28), fit), fit)
    nh, nw = max(1, round(ch * scale)), max(1, round(cw * scale))
    big = cv2.resize(canvas, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, left = int(rng.integers(0, max(h - nh, 1))), int(rng.integers(0, max(w - nw, 1)))
    slant = rng.uniform(-3.0, 3.0)  # the line is not quite level
    photo = np.zeros((h, w), np.float32)
    photo[top : top + nh, left : left + nw] = big[: h - top, : w - left]
    turn = cv2.getRotationMatrix2D((left + nw / 2, top + nh / 2), slant, 1.0)
    photo = cv2.warpAffine(photo, turn, (w, h), flags=cv2.INTER_LINEAR)
    boxes = []
    for bx, by, bw, bh in boxes28:
        corners = np.array([[bx, by], [bx + bw, by], [bx, by + bh], [bx + bw, by + bh]], np.float64) * scale
        corners += [left, top]
        moved = corners @ turn[:, :2].T + turn[:, 2]
        x0, y0 = moved.min(axis=0)
        x1, y1 = moved.max(axis=0)
        boxes.append((int(x0), int(y0), int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0))))
    invert = bool(rng.random() < 0.7) if invert is None else invert
    paper, ink_level = rng.uniform(0.7, 0.92), rng.uniform(0.05, 0.3)
    if invert:
        photo = paper - (paper - ink_level) * photo
    else:
        photo = (1 - paper) + (paper - (1 - paper)) * 0.9 * photo
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w], np.float32)[:, None, None]
    light = 0.65 + 0.5 * (rng.uniform(-1.0, 1.0) * xx + rng.uniform(-0.6, 0.6) * yy)
    photo = photo * light / light.max()
    blur = rng.uniform(0.0, 1.5) if blur is None else blur
    if blur > 0.2:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    noise = rng.uniform(0.01, 0.05) if noise is None else noise
    photo = np.clip(photo + rng.normal(0, noise, photo.shape).astype(np.float32), 0, 1)
    if rgb:
        tint = np.array([1.0, 0.97, 0.9], np.float32) * rng.uniform(0.95, 1.0, 3).astype(np.float32)
        photo = np.clip(photo[..., None] * tint, 0, 1)
    array = (photo * 255).astype(np.uint8)
    if jpeg is None:
        return array, boxes
    ok, buf = cv2.imencode(".jpg", array[..., ::-1] if rgb else array, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
    return buf.tobytes(), boxes


def _draw_rule(canvas, boxes28, rule: str, rng):
    """An underline or a frame around the number on the MNIST-pixel canvas (padded to make room)."""
    import cv2

    pad = 9
    canvas = np.pad(canvas, pad)
    boxes28 = [(x + pad, y + pad, w, h) for x, y, w, h in boxes28]
    rows = np.flatnonzero(canvas.max(axis=1) > 0)
    cols = np.flatnonzero(canvas.max(axis=0) > 0)
    thick = int(rng.integers(1, 3))
    if rule == "underline":
        y = int(rows[-1] + rng.integers(2, 5))
        canvas[y : y + thick, max(cols[0] - 4, 0) : cols[-1] + 5] = 1.0
    elif rule == "box":
        m = int(rng.integers(3, 7))
        cv2.rectangle(canvas, (int(cols[0] - m), int(rows[0] - m)), (int(cols[-1] + m), int(rows[-1] + m)), 1.0, thick)
    else:
        raise ValueError(f"rule must be 'underline' or 'box', not {rule!r}")
    return canvas, boxes28


def number_photos(images: np.ndarray, labels: np.ndarray, count: int, seed: int, *, spacing: str | None = None,
                  size=(480, 640), lengths=(3, 6), **options) -> list[tuple[bytes | np.ndarray, str, str]]:
    """``count`` photos of numbers of 3-6 MNIST digits drawn from ``images``: [(photo, number, spacing), ...].

    Spacing styles (when not fixed) are drawn 50% apart, 25% touching, 25% overlapping.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        idx = rng.choice(len(images), n, replace=False)
        style = spacing or str(rng.choice(["apart", "apart", "touching", "overlapping"]))
        photo, _ = make_number_photo(images[idx], rng, spacing=style, size=size, **options)
        out.append((photo, "".join(str(int(d)) for d in labels[idx]), style))
    return out


def ruled_number_photo(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *, gap=(22, 30),
                       period=(60, 110), shade=(150, 255), thick=(2, 4)) -> tuple[np.ndarray, str]:
    """A number of 3-6 MNIST digits on ruled paper whose lines are nearly as dark as the pen: (grey photo, number).

    The digits are placed ``gap`` MNIST pixels apart (drawn per digit; ranges are ``rng.integers``' [low, high)) on a
    320x160 canvas enlarged 3x; then lines across the whole canvas every ``period`` pixels, each a little slanted,
    ``shade`` bright (of the pen's 255) and ``thick`` pixels thick; dark ink on light paper (uint8, 960x480).
    """
    import cv2

    idx = rng.choice(len(images), int(rng.integers(3, 7)), replace=False)
    canvas = np.zeros((160, 320), np.uint8)
    x = 40
    for i in idx:
        canvas[66:94, x : x + 28] = np.maximum(canvas[66:94, x : x + 28], images[i])
        x += int(rng.integers(*gap))
    canvas = cv2.resize(canvas, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    step = int(rng.integers(*period))
    for y in range(int(rng.integers(0, step)), canvas.shape[0], step):
        cv2.line(canvas, (0, y), (canvas.shape[1] - 1, y + int(rng.integers(-4, 5))), int(rng.uniform(*shade)),
                 int(rng.integers(*thick)))
    return (255 - 0.8 * canvas).astype(np.uint8), "".join(str(int(labels[i])) for i in idx)


GLYPH_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # fonts-dejavu(-core), installed by .ci/run
               "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",  # fonts-liberation
               "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",  # fonts-freefont-ttf
               "/usr/share/fonts/opentype/urw-base35/URWBookman-Light.otf")  # fonts-urw-base35


def make_glyph_photo(char: str, rng: np.random.Generator, *, font: str | None = None, stroke: int = 0,
                     **options) -> bytes | np.ndarray:
    """A letter or symbol (not a digit) written like an MNIST digit (fitted to 20x20 in 28x28) and photographed by
    :func:`make_photo` (``options`` go there). ``font``: a font file (default: the first of :data:`GLYPH_FONTS` present,
    else Pillow's own font)."""
    from pathlib import Path

    from PIL import Image, ImageDraw, ImageFont

    path = font or next((f for f in GLYPH_FONTS if Path(f).is_file()), None)
    face = ImageFont.truetype(path, 80) if path else ImageFont.load_default(size=80)
    img = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(img).text((20, 5), char, fill=255, font=face, stroke_width=stroke, stroke_fill=255)
    glyph = img.crop(img.getbbox())
    f = 20 / max(glyph.size)
    glyph = glyph.resize((max(1, round(glyph.size[0] * f)), max(1, round(glyph.size[1] * f))), Image.BILINEAR)
    field = Image.new("L", (28, 28), 0)
    field.paste(glyph, ((28 - glyph.size[0]) // 2, (28 - glyph.size[1]) // 2))
    return make_photo(np.asarray(field), rng, **options)


def natural_crops(count: int, rng: np.random.Generator) -> list | None:
    """``count`` square crops (48 px to half the short side) of the photo bundled with matplotlib
    (``grace_hopper.jpg``): real-world pictures with no digit. None when that file is not installed."""
    from pathlib import Path

    import matplotlib
    from PIL import Image

    photo = Path(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    if not photo.is_file():
        return None
    img = np.asarray(Image.open(photo).convert("RGB"))
    crops = []
    for _ in range(count):
        side = int(rng.integers(48, min(img.shape[:2]) // 2))
        y, x = int(rng.integers(0, img.shape[0] - side)), int(rng.integers(0, img.shape[1] - side))
        crops.append(np.ascontiguousarray(img[y : y + side, x : x + side]))
    return crops


def number_frame(images: np.ndarray, labels: np.ndarray, text: str, rng: np.random.Generator, *,
                 size=(240, 320)) -> np.ndarray:
    """A camera frame (BGR uint8, ``size`` = (height, width)) of the number ``text`` written with MNIST digits
    (the k-th digit of ``text`` is the k-th image of that label), dark on light paper, as :func:`make_number_photo`."""
    picks = [int(np.flatnonzero(labels == int(c))[k]) for k, c in enumerate(text)]
    rgb, _ = make_number_photo(images[picks], rng, spacing="apart", invert=True, noise=0.02, blur=0.0, wave=1.0,
                               size=size, jpeg=None)
    return np.ascontiguousarray(rgb[..., ::-1])


def write_video(path, frames, fps: float) -> None:
    """Frames (BGR uint8, all one size) as an MJPG .avi at ``fps`` (MJPG in .avi: every OpenCV build writes it)."""
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), (width, height))
    if not writer.isOpened():
        raise RuntimeError("this OpenCV cannot write MJPG .avi")
    for frame in frames:
        writer.write(frame)
    writer.release()
