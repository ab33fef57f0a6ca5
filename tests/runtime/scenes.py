"""A second, independent maker of number photos: the conditions a user's photo may bring, one at a time.

tests/runtime/photos.py builds a number on a 28-pixel MNIST canvas and then enlarges the whole
canvas into a 640x480 photo. This module does not share its conventions: each MNIST *test* digit is
resized on its own straight to its height in the photo's pixels, neighbours are spaced by a fraction
of the digit height, pen and paper are RGB colours, and every defect is drawn at the photo's own
resolution. :func:`scene` makes a plain photo with one :data:`CONDITIONS` entry switched on, so
each condition can be measured alone (benchmarks/figures/read_conditions.py); :func:`no_digit_scene`
makes photos without any digit (objects, letters, textures); :func:`frame_clutter_scene` a one-digit photo with a
desk or a thumb at the frame (benchmarks/figures/photo_path_screen.py).

Never used to train anything: it is a benchmark (and test) generator.

Example:

>>> rng = np.random.default_rng(11)                                        # doctest: +SKIP
>>> jpeg, number = scene(images, labels, rng, "shadow")                    # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

CONDITIONS = (
    "plain",  # 640x480, dark pen on white paper, digits 1/6-1/4 of the height, a clear gap or touching
    "small_photo",  # 320x240
    "large_photo",  # 1280x960
    "portrait",  # 480x640 or 960x1280
    "small_number",  # digits 1/14-1/9 of the photo's height, anywhere
    "large_number",  # the number fills 85-95% of the width
    "off_centre",  # near an edge or a corner
    "colours",  # a coloured pen (blue, red, green, purple) on coloured paper (yellow, blue, pink, grey, kraft)
    "thin_pen",  # strokes 1-2 photo pixels wide
    "thick_pen",  # strokes 1.5-2x MNIST's
    "tilt",  # perspective: the page photographed at an angle
    "shadow",  # a hard shadow edge across the photo (one side at 35-60% brightness)
    "ruled",  # ruled paper: lines (faint to dark) crossing the digits
    "squared",  # squared (graph) paper, faint to dark
    "underline_touch",  # an underline the digits' lower ends touch or cross
    "unequal",  # digits of unequal height (0.7-1.3x)
    "jpeg_low",  # JPEG quality 8-25
    "noise",  # camera noise (sigma 0.05-0.10, per colour channel)
    "motion_blur",  # a short linear motion blur (4-9 px)
    "ruled_dark",  # ruled paper whose lines are nearly as dark as the pen
    "decimal_point",  # a pen dot on the baseline in a gap between two digits (the answer has the ".")
    "minus",  # a pen bar at mid-height just before the first digit (the answer starts with "-")
)

PENS = {"blue": (0.10, 0.15, 0.55), "black": (0.08, 0.08, 0.10), "red": (0.65, 0.10, 0.12),
        "green": (0.10, 0.40, 0.15), "purple": (0.35, 0.12, 0.45)}
PAPERS = {"white": (0.93, 0.93, 0.91), "yellow": (0.95, 0.90, 0.55), "blue": (0.70, 0.82, 0.92),
          "pink": (0.95, 0.75, 0.80), "grey": (0.72, 0.72, 0.72), "kraft": (0.75, 0.60, 0.42)}


def scene(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, condition: str = "plain", *,
          length: int | None = None, encode: bool = True) -> tuple[bytes | np.ndarray, str]:
    """A photo of a 3-6 digit number (MNIST test digits drawn from ``images``) with one condition.

    Args:
      images, labels: MNIST test digits (uint8 (n, 28, 28), white on black) and their labels.
      rng: the random source (the photo is a function of it).
      condition: one of :data:`CONDITIONS`.
      length: the number of digits (default: random 3-6).
      encode: JPEG bytes (quality 85, or low for ``jpeg_low``); False: the RGB uint8 array.

    Returns:
      (the photo, the number as a string).
    """
    import cv2

    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, not {condition!r}")
    n = int(rng.integers(3, 7)) if length is None else length
    idx = rng.choice(len(images), n, replace=False)
    w, h = {"small_photo": (320, 240), "large_photo": (1280, 960)}.get(condition, (640, 480))
    if condition == "portrait":
        w, h = ((480, 640), (960, 1280))[int(rng.integers(2))]
    frac = rng.uniform(1 / 6, 1 / 4)
    if condition == "small_number":
        frac = rng.uniform(1 / 14, 1 / 9)
    digit_h = frac * h
    heights = np.full(n, digit_h) * rng.uniform(0.95, 1.05, n)
    if condition == "unequal":
        heights = digit_h * rng.uniform(0.7, 1.3, n)
    gaps = digit_h * np.where(rng.random(n) < 0.3, rng.uniform(-0.04, 0.0, n), rng.uniform(0.04, 0.3, n))
    pieces = [_digit(images[i], hh, condition, rng, cv2) for i, hh in zip(idx, heights)]
    point = int(rng.integers(1, n)) if condition == "decimal_point" else 0
    if point:  # room for the dot: a clear gap
        gaps[point] = rng.uniform(0.2, 0.4) * digit_h
    lead = bar = thick = 0.0
    if condition == "minus":  # a bar 0.35-0.7 digit heights long, stroke-thick, this far before the first digit
        bar, thick = rng.uniform(0.35, 0.7) * digit_h, rng.uniform(0.07, 0.13) * digit_h
        lead = bar + rng.uniform(0.1, 0.35) * digit_h
    total = sum(p.shape[1] for p in pieces) + float(gaps[1:].sum()) + lead
    if condition == "large_number":
        f = rng.uniform(0.85, 0.95) * w / total
        pieces = [cv2.resize(p, (max(2, round(p.shape[1] * f)), max(2, round(p.shape[0] * f))),
                             interpolation=cv2.INTER_LINEAR) for p in pieces]
        gaps, heights, total, lead, bar, thick = gaps * f, heights * f, total * f, lead * f, bar * f, thick * f
    elif total > 0.9 * w:  # a long number on a narrow photo: smaller digits
        f = 0.9 * w / total
        pieces = [cv2.resize(p, (max(2, round(p.shape[1] * f)), max(2, round(p.shape[0] * f))),
                             interpolation=cv2.INTER_AREA) for p in pieces]
        gaps, heights, total, lead, bar, thick = gaps * f, heights * f, total * f, lead * f, bar * f, thick * f
    tallest = max(p.shape[0] for p in pieces)
    if condition == "off_centre":
        margin = 0.06 * digit_h  # near the edge, the ink whole (a digit cut by the frame cannot be read)
        left = margin + rng.choice([rng.uniform(0.0, 0.04), rng.uniform(0.96, 1.0)]) * (w - total - 2 * margin)
        top = margin + rng.choice([rng.uniform(0.0, 0.04), rng.uniform(0.96, 1.0)]) * (h - tallest - 2 * margin)
    elif condition == "small_number":
        left, top = rng.uniform(0.02, 0.98) * (w - total), rng.uniform(0.05, 0.95) * (h - tallest)
    else:
        left, top = rng.uniform(0.3, 0.7) * (w - total), rng.uniform(0.3, 0.7) * (h - tallest)
    ink = np.zeros((h, w), np.float32)
    x = left + lead
    base = top + tallest  # digits stand on one baseline, with a little wobble
    bottoms, spans = [], []
    for i, p in enumerate(pieces):
        if i:
            x += gaps[i]
        spans.append((x, x + p.shape[1]))
        ph, pw = p.shape
        y = int(round(base - ph + rng.uniform(-0.04, 0.04) * digit_h))
        xi = int(round(x))
        y0, x0 = max(y, 0), max(xi, 0)
        y1, x1 = min(y + ph, h), min(xi + pw, w)
        if y1 > y0 and x1 > x0:
            np.maximum(ink[y0:y1, x0:x1], p[y0 - y : y1 - y, x0 - xi : x1 - xi], out=ink[y0:y1, x0:x1])
        bottoms.append(y + ph)
        x += pw
    number = "".join(str(int(labels[i])) for i in idx)
    if point:  # a round dot 0.09-0.2 digit heights across, resting on the neighbours' baseline
        r = rng.uniform(0.045, 0.1) * digit_h
        cx = (spans[point - 1][1] + spans[point][0]) / 2 + rng.uniform(-0.15, 0.15) * (gaps[point] - 2 * r)
        cy = (bottoms[point - 1] + bottoms[point]) / 2 - r - rng.uniform(0.0, 0.06) * digit_h
        axes = (max(1, round(r * rng.uniform(0.85, 1.15))), max(1, round(r)))
        cv2.ellipse(ink, (round(cx), round(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
        number = number[:point] + "." + number[point:]
    if condition == "minus":  # slightly turned, at mid-height
        y = base - rng.uniform(0.4, 0.6) * float(np.median(heights))
        tilt = np.tan(np.deg2rad(rng.uniform(-8, 8))) * bar
        cv2.line(ink, (round(left), round(y + tilt / 2)), (round(left + bar), round(y - tilt / 2)), 1.0,
                 max(1, round(thick)), cv2.LINE_AA)
        number = "-" + number
    pen, paper = np.array(PENS["black" if rng.random() < 0.5 else "blue"]), np.array(PAPERS["white"])
    if condition == "colours":
        pen = np.array(PENS[str(rng.choice(["blue", "red", "green", "purple"]))])
        paper = np.array(PAPERS[str(rng.choice(["yellow", "blue", "pink", "grey", "kraft"]))])
    lines = np.zeros((h, w), np.float32)  # printed lines of the paper (not the pen)
    if condition == "underline_touch":
        thick = max(1, round(rng.uniform(0.03, 0.07) * digit_h))
        y = int(round(np.median(bottoms) - rng.uniform(0.0, 0.08) * digit_h))
        cv2.line(ink, (int(left - 0.1 * digit_h), y), (int(left + total + 0.1 * digit_h), y + int(rng.integers(-3, 4))),
                 1.0, thick)
    if condition in ("ruled", "squared", "ruled_dark"):
        period = rng.uniform(0.3, 0.6) * digit_h if condition == "squared" else rng.uniform(0.5, 1.1) * digit_h
        thick = int(rng.integers(1, 3))
        offset = rng.uniform(0, period)
        for yy in np.arange(offset, h, period):
            cv2.line(lines, (0, int(yy)), (w - 1, int(yy)), 1.0, thick)
        if condition == "squared":
            for xx in np.arange(rng.uniform(0, period), w, period):
                cv2.line(lines, (int(xx), 0), (int(xx), h - 1), 1.0, thick)
        lines *= rng.uniform(0.3, 1.0)  # faint to as dark as a pen
    if condition == "tilt":
        ink, lines = _tilt((ink, lines), rng, cv2)
    line_colour = np.array((0.55, 0.70, 0.90)) if rng.random() < 0.6 else np.array((0.6, 0.6, 0.6))
    if condition == "ruled_dark":
        lines /= max(float(lines.max()), 1e-6)
        line_colour = pen * rng.uniform(1.0, 1.6)
    photo = _render(ink, lines, pen, paper, line_colour, rng, condition, cv2)
    return _finish(photo, rng, condition, encode, cv2), number


def _digit(img: np.ndarray, height: float, condition: str, rng, cv2) -> np.ndarray:
    """One MNIST digit resized to ``height`` photo pixels (float ink 0-1), pen width as the condition says."""
    d = np.asarray(img, np.float32) / 255.0
    rows, cols = np.flatnonzero(d.max(axis=1) > 0.1), np.flatnonzero(d.max(axis=0) > 0.1)
    d = d[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    f = height / d.shape[0]
    big = cv2.resize(d, (max(2, round(d.shape[1] * f)), max(2, round(height))), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big, 0.0, 1.0)
    if condition == "thin_pen":  # a fine pen: the strokes' centre lines, 1-2 px wide
        line = _thin(big > 0.4)
        if rng.random() < 0.5:
            line = cv2.dilate(line.view(np.uint8), np.ones((2, 2), np.uint8)).view(bool)
        big = np.clip(cv2.GaussianBlur(line.astype(np.float32), (0, 0), 0.5) * 1.8, 0.0, 1.0)
    elif condition == "thick_pen":
        k = max(1, round(f * rng.uniform(0.3, 0.6)))
        big = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return big


def _thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a bool mask to one-pixel-wide centre lines (connected where the strokes are)."""
    m = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(m, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]  # P2..P9 clockwise
            b = sum(p)
            a = sum((p[i] == 0) & (p[(i + 1) % 8] == 1) for i in range(8))
            if step == 0:
                c = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                c = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            drop = (m == 1) & (b >= 2) & (b <= 6) & (a == 1) & c
            if drop.any():
                m[drop] = 0
                changed = True
        if not changed:
            return m[1:-1, 1:-1].astype(bool)


def _tilt(layers, rng, cv2):
    """A perspective warp: the far edge of the page 10-25% narrower, turned up to 8 degrees."""
    h, w = layers[0].shape
    squeeze = rng.uniform(0.10, 0.25) * w / 2
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    if rng.random() < 0.5:  # top edge further away
        dst = np.float32([[squeeze, 0], [w - squeeze, 0], [w, h], [0, h]])
    else:  # one side further away
        s = squeeze * h / w
        dst = np.float32([[0, 0], [w, s], [w, h - s], [0, h]])
    turn = np.deg2rad(rng.uniform(-8, 8))
    centre = np.float32([w / 2, h / 2])
    rot = np.float32([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    dst = (dst - centre) @ rot.T + centre
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return tuple(cv2.warpPerspective(a, m, (w, h), flags=cv2.INTER_LINEAR) for a in layers)


def _render(ink, lines, pen, paper, line_colour, rng, condition, cv2) -> np.ndarray:
    """Paper, printed lines and the pen's ink as an RGB float image, lit (a soft falloff, maybe a hard shadow)."""
    h, w = ink.shape
    rgb = np.empty((h, w, 3), np.float32)
    for c in range(3):
        base = paper[c] * (1 - lines * 0.85) + line_colour[c] * lines * 0.85
        rgb[..., c] = base * (1 - ink) + pen[c] * ink
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    light = 1.0 - rng.uniform(0.05, 0.25) * ((yy - cy) ** 2 + (xx - cx) ** 2) / float(h * h + w * w)  # vignette-like
    if condition == "shadow":  # a hard edge: a straight line across the photo, one side darker
        angle = rng.uniform(0, np.pi)
        px, py = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        side = (xx - px) * np.sin(angle) - (yy - py) * np.cos(angle) > 0
        edge = cv2.GaussianBlur(side.astype(np.float32), (0, 0), rng.uniform(0.5, 2.0))
        light = light * (1 - (1 - rng.uniform(0.35, 0.6)) * edge)
    return rgb * light[..., None]


def _finish(photo: np.ndarray, rng, condition: str, encode: bool, cv2):
    """Motion blur or a little focus blur, sensor noise, then JPEG."""
    h, w = photo.shape[:2]
    if condition == "motion_blur":
        length = int(rng.integers(4, 10))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0
        turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, turn, (length, length))
        photo = cv2.filter2D(photo, -1, kernel / kernel.sum())
    else:
        photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.3, 0.9) * max(1.0, w / 640))
    sigma = rng.uniform(0.05, 0.10) if condition == "noise" else rng.uniform(0.005, 0.02)
    photo = photo + rng.normal(0, sigma, photo.shape).astype(np.float32)
    array = (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)
    if not encode:
        return array
    return _jpeg(array, int(rng.integers(8, 26)) if condition == "jpeg_low" else 85, cv2)


def _jpeg(array: np.ndarray, quality: int, cv2) -> bytes:
    """An RGB uint8 photo as the JPEG bytes a camera would save (OpenCV wants BGR)."""
    ok, buf = cv2.imencode(".jpg", array[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes()


NO_DIGIT_KINDS = ("objects", "letters", "textures")
LETTER_FONTS = ("/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf",  # a script hand (fonts-urw-base35)
                "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
                "/usr/share/fonts/opentype/urw-base35/C059-Italic.otf",
                "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf")
LETTERS = "ABCDEFHKLMNPRSTUVWXYZabdefhkmnprstuvwxyz"


def no_digit_scene(rng: np.random.Generator, kind: str, *, encode: bool = True) -> bytes | np.ndarray:
    """A 640x480 photo with no digit: ``objects`` (a few filled and outlined shapes, keys, a cup's ring),
    ``letters`` (a short handwritten-looking word in one of :data:`LETTER_FONTS` present) or ``textures``
    (wood grain, fabric, crumpled paper)."""
    import cv2

    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    paper = np.array(PAPERS[str(rng.choice(list(PAPERS)))], np.float32)
    rgb = np.ones((h, w, 3), np.float32) * paper
    if kind == "objects":
        for _ in range(int(rng.integers(1, 4))):
            colour = tuple(float(c) for c in rng.uniform(0.05, 0.7, 3))
            cx, cy, r = int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h), int(rng.uniform(20, 110))
            shape = int(rng.integers(4))
            if shape == 0:
                cv2.circle(rgb, (cx, cy), r, colour, -1 if rng.random() < 0.5 else int(rng.integers(3, 10)))
            elif shape == 1:
                cv2.rectangle(rgb, (cx - r, cy - r // 2), (cx + r, cy + r // 2), colour, -1)
            elif shape == 2:  # a key: a ring and a shank with teeth
                cv2.circle(rgb, (cx, cy), r // 3, colour, max(3, r // 10))
                cv2.line(rgb, (cx + r // 3, cy), (cx + r, cy), colour, max(3, r // 8))
                for t in range(2):
                    cv2.line(rgb, (cx + r - 6 - 10 * t, cy), (cx + r - 6 - 10 * t, cy + r // 5), colour, 4)
            else:
                pts = (np.array([cx, cy]) + rng.uniform(-r, r, (int(rng.integers(3, 7)), 2))).astype(np.int32)
                cv2.fillPoly(rgb, [cv2.convexHull(pts)], colour)
    elif kind == "letters":
        from pathlib import Path

        from PIL import Image, ImageDraw, ImageFont

        fonts = [f for f in LETTER_FONTS if Path(f).is_file()]
        word = "".join(LETTERS[int(i)] for i in rng.integers(len(LETTERS), size=int(rng.integers(1, 5))))
        size = int(rng.uniform(60, 130))
        face = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], size) if fonts else ImageFont.load_default(size)
        layer = Image.new("L", (w, h), 0)
        ImageDraw.Draw(layer).text((int(rng.uniform(0.05, 0.4) * w), int(rng.uniform(0.2, 0.6) * h)), word, fill=255,
                                   font=face, stroke_width=int(rng.integers(0, 3)), stroke_fill=255)
        ink = np.asarray(layer, np.float32)[..., None] / 255.0
        pen = np.array(PENS[str(rng.choice(list(PENS)))], np.float32)
        rgb = rgb * (1 - ink) + pen * ink
    elif kind == "textures":
        style = int(rng.integers(3))
        if style == 0:  # wood grain
            f = rng.uniform(0.05, 0.2)
            grain = np.sin(f * (yy + 12 * np.sin(xx / rng.uniform(30, 90))) + rng.uniform(0, 6))
            rgb = rgb * (0.8 + 0.15 * grain[..., None])
        elif style == 1:  # woven fabric
            p = rng.uniform(4, 12)
            weave = np.sin(xx / p) * np.sin(yy / p)
            rgb = rgb * (0.8 + 0.15 * weave[..., None])
        else:  # crumpled paper: smooth random relief
            relief = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), rng.uniform(6, 20))
            relief /= max(float(np.abs(relief).max()), 1e-6)
            rgb = rgb * (0.8 + 0.2 * relief[..., None])
    else:
        raise ValueError(f"kind must be one of {NO_DIGIT_KINDS}, not {kind!r}")
    light = 1.0 - rng.uniform(0.05, 0.25) * ((yy - rng.uniform(0, h)) ** 2 + (xx - rng.uniform(0, w)) ** 2) / (h * h + w * w)
    return _finish(rgb * light[..., None], rng, "plain", encode, cv2)


FRAME_CLUTTER = ("desk", "thumb")


def frame_clutter_scene(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, kind: str, *,
                        encode: bool = True) -> tuple[bytes | np.ndarray, str]:
    """A plain one-digit photo (:func:`scene`) with something else at the frame, away from the digit.

    ``desk``: the paper does not fill the frame: a textured desk (dark or mid wood, black, grey) shows on 1-4 sides,
    the paper's edges a little turned and at least a quarter of the digit's height from it. ``thumb``: a
    skin-coloured rounded blob (a thumb or finger holding the paper) enters from one edge, clear of the digit. Both
    touch the frame: the cost check of a photo-path condition on what lies at the border (RESULTS.md, "Not a digit",
    thirteenth session).

    Returns:
      (the photo: JPEG bytes, quality 85, or the RGB uint8 array with ``encode=False``; the digit as a string).
    """
    import cv2

    if kind not in FRAME_CLUTTER:
        raise ValueError(f"kind must be one of {FRAME_CLUTTER}, not {kind!r}")
    photo, number = scene(images, labels, rng, "plain", length=1, encode=False)
    rgb = photo.astype(np.float32) / 255.0
    h, w = rgb.shape[:2]
    grey = rgb.mean(axis=2)
    ys, xs = np.nonzero(grey < 0.5 * np.median(grey))
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
    if kind == "desk":
        out = _on_desk(rgb, (x0, y0, x1, y1), rng, cv2)
    else:
        out = _with_thumb(rgb, (x0, y0, x1, y1), rng, cv2)
    array = (np.clip(out, 0, 1) * 255).astype(np.uint8)
    if not encode:
        return array, number
    return _jpeg(array, 85, cv2), number


def _on_desk(rgb, box, rng, cv2):
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    m = 0.25 * (y1 - y0)
    sides = rng.random(4) < 0.5  # left, top, right, bottom: the desk shows there
    if not sides.any():
        sides[int(rng.integers(4))] = True
    left = rng.uniform(0.0, max(x0 - m, 1.0)) if sides[0] else -20.0
    top = rng.uniform(0.0, max(y0 - m, 1.0)) if sides[1] else -20.0
    right = rng.uniform(min(x1 + m, w - 1.0), w) if sides[2] else w + 20.0
    bottom = rng.uniform(min(y1 + m, h - 1.0), h) if sides[3] else h + 20.0
    c = np.array([(left + right) / 2, (top + bottom) / 2])
    corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
    a = np.deg2rad(rng.uniform(-4, 4))
    corners = (corners - c) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + c
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1.0, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.2)
    colour = [np.array([0.30, 0.20, 0.12]), np.array([0.12, 0.12, 0.13]), np.array([0.45, 0.45, 0.47]),
              np.array([0.55, 0.40, 0.25])][int(rng.integers(4))] * rng.uniform(0.7, 1.2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = 1.0 + 0.12 * np.sin(rng.uniform(0.05, 0.3) * (yy + 10 * np.sin(xx / rng.uniform(30, 90))))
    table = np.clip(colour[None, None] * grain[..., None] + rng.normal(0, 0.02, (h, w, 3)), 0, 1)
    return rgb * mask[..., None] + table * (1 - mask[..., None])


def _with_thumb(rgb, box, rng, cv2):
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    dh = y1 - y0
    skin = np.array([0.87, 0.67, 0.55]) * rng.uniform(0.55, 1.0)
    for _ in range(20):  # an edge and a place where the thumb stays clear of the digit
        edge = int(rng.integers(4))
        half, length = rng.uniform(0.3, 0.6) * dh, rng.uniform(0.6, 1.5) * dh
        if edge in (0, 2):  # left / right: the thumb lies along x
            cy, cx = rng.uniform(0.1, 0.9) * h, (0.0 if edge == 0 else w)
            axes, reach = (length, half), (cx - length, cy - half, cx + length, cy + half)
        else:
            cx, cy = rng.uniform(0.1, 0.9) * w, (0.0 if edge == 1 else h)
            axes, reach = (half, length), (cx - half, cy - length, cx + half, cy + length)
        m = 0.15 * dh
        if reach[2] < x0 - m or reach[0] > x1 + m or reach[3] < y0 - m or reach[1] > y1 + m:
            break
    else:
        return rgb
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (round(cx), round(cy)), (round(axes[0]), round(axes[1])), float(rng.uniform(-15, 15)), 0, 360,
                1.0, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), 2.0)
    shade = np.linspace(0.85, 1.1, h, dtype=np.float32)[:, None, None]
    return rgb * (1 - mask[..., None]) + np.clip(skin * shade + rng.normal(0, 0.015, (h, w, 3)), 0, 1) * mask[..., None]
