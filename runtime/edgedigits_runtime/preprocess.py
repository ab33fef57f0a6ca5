"""Photo or scan of a handwritten digit -> a 28x28 uint8 MNIST-like image (OpenCV).

MNIST digits are white ink on black, scaled to fit 20x20 (aspect ratio kept, anti-aliased)
and placed in 28x28 so that their centre of mass is the centre. A photo differs in every
way; :func:`preprocess_image` undoes that, step by step, with OpenCV's C routines doing the
per-pixel work on a reduced copy of the photo:

1. decode (:mod:`edgedigits_runtime.decode`): files, bytes, Pillow images and arrays to a uint8 grey working image
   of at most :data:`WORK_SIZE` pixels on the long side, EXIF orientation applied, transparency flattened, the
   decompression-bomb and tiny-image checks made from the header before any pixel is decoded;
2. polarity: the ink is the heavier tail of the residuals around a smooth background
   (dark ink on paper is inverted to white on black); when that says light ink, the tails at sharp
   edges only have the last word (glare, a smooth bright patch, is not light ink);
3. illumination: a robust quadratic background surface, fitted to block statistics of a
   48x48 thumbnail, is subtracted (uneven lighting); when that leaves a large blob at the border
   and the blocks show a straight step (a hard shadow edge across the photo, which no smooth
   surface follows), the ink is measured instead against a median background (edges kept),
   relative to it; when the fitted paper is :data:`_UNEVEN` times brighter at its brightest than at its
   darkest (light falling off strongly across the photo), the ink is multiplied by the paper's median
   level over its local level (within :data:`_GAIN`), so strokes in the dim part stay above the threshold;
4. blank check: no ink clearly above the noise -> :class:`~edgedigits_runtime.errors.InputError`;
5. Otsu threshold, connected components: specks and blobs touching the border are ignored;
6. crop to the ink, thicken strokes that would come out thinner than MNIST's, resize to fit
   20x20 keeping the aspect ratio (area averaging), paste in 28x28 and shift the centre of
   mass to the centre.

Already 28x28 white-on-black images pass through unchanged; MNIST's layout drawn dark on light (28x28) is
inverted, nothing else. Steps 1-5 are shared with
:func:`edgedigits_runtime.read.read_number` (:func:`find_ink`), step 6 too (:func:`field_of_parts`).

Example:

>>> from edgedigits_runtime import load_default
>>> from edgedigits_runtime.preprocess import preprocess_image
>>> x = preprocess_image("photo_of_a_seven.jpg")    # doctest: +SKIP
>>> x.shape, x.dtype                                # doctest: +SKIP
((28, 28), dtype('uint8'))
>>> load_default().predict(x)                       # doctest: +SKIP
array([7])
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np

from edgedigits_runtime.decode import (
    MAX_FILE_BYTES,
    MAX_PIXELS,
    WORK_MIN,
    WORK_SIZE,
    grey_image,
    load_image,
    load_image_scaled,
    require_image_libs,
)
from edgedigits_runtime.errors import InputError

__all__ = ["MAX_FILE_BYTES", "MAX_PIXELS", "WORK_MIN", "WORK_SIZE", "Ink", "erase_ink", "field_of_parts", "find_ink", "load_image",
           "load_image_scaled", "preprocess_image", "require_image_libs", "shrink_ink",
           "thicken_ink"]

_BOX, _FIELD = 20, 28  # MNIST: the digit fits 20x20 inside 28x28
_CENTRE = 14.0  # MNIST test digits' mean centre of mass (row and column)
_TARGET_STROKE = 2.6  # MNIST stroke width in the 28x28 image, pixels (about)
_MIN_CONTRAST = 0.08  # ink must stand this far (of full scale) above the background ...
_MIN_SNR = 6.0  # ... and this many noise sigmas
_GRID = 8  # background blocks per side
_CROP_MAX = 72  # a digit's crop is shrunk to at most this many pixels before it becomes a 28x28 field
_THUMB = 48  # thumbnail side the block statistics are taken on (6x6 samples per block)
_STEP_SHARE = 0.02  # a component this share of the image touching its border: maybe a hard shadow edge ...
_STEP_WINDOW = 0.2  # ... then the background is a median over this share of the short side (edges kept)
# ... or when a desk shows past the paper's edge (:func:`_desk_edge`): along a side of the frame a band at most
# _DESK_DARK of the paper's level, along at least _DESK_COVER of that side, its inner edge a straight line (|slope| at
# most _DESK_SLOPE, median residual at most _DESK_FIT of the side) over at least _DESK_KEEP of it (the rest: corners
# where another side's desk meets it); photos only (a working image's short side at least _DESK_MIN_SIDE). Fourteenth
# session (RESULTS.md, "Not a digit"); _DESK_DARK = 0: off.
_DESK_DARK, _DESK_COVER, _DESK_KEEP, _DESK_SLOPE, _DESK_FIT, _DESK_MIN_SIDE = 0.75, 0.9, 0.4, 0.1, 0.015, 128
# Light falling off strongly across the photo (the fitted paper this many times brighter at its brightest than at its
# darkest): the ink is measured against the paper's own brightness there (strokes in the dim part keep their
# strokes above the threshold), by a gain of the paper's median level over its local level within _GAIN. Ratio 3
# chosen on seed 11 in the tenth session, the cap 2.5 named there; adopted in the eleventh by a rule written first on
# tuning seeds 60, 80, 120: numbers written wide apart +16 of 900, all 43 tuning sets +41, no number set lower, no
# one-digit photo's field changed (RESULTS.md, "Reading numbers", eleventh session). inf: off.
_UNEVEN = 3.0
_GAIN = (0.5, 2.5)
# Glare (a smooth bright patch: a whiteboard's or glossy paper's reflection) can outweigh dark strokes in the polarity
# vote and become the "ink". When the vote says light ink, the tails are summed again only at sharp edges
# (gradient above _GLARE_EDGE of full scale per pixel, on the half-size residual); the ink is dark when the dark tail
# is _GLARE times the light one there. Sixteenth session (RESULTS.md, "Runtime"); inf: off.
_GLARE, _GLARE_EDGE = 3.0, 0.02


# --------------------------------------------------------------------------- the public one-digit path


def preprocess_image(source, name: str | None = None) -> np.ndarray:
    """Turn a photo or scan of one digit into the 28x28 uint8 white-on-black image MNIST models expect.

    Example:

    >>> x = preprocess_image("seven.jpg")                  # doctest: +SKIP
    >>> clf.predict(x)                                     # doctest: +SKIP
    array([7])

    Args:
      source: an image file path, the file's bytes (PNG, JPEG, BMP, ...), a binary file object, a Pillow
        image (any mode, EXIF orientation applied), or an array (H, W) grey / (H, W, 3) RGB / (H, W, 4)
        RGBA, uint8 or float in [0, 1]. Any size, either polarity, uneven lighting, some noise, the digit
        anywhere.
      name: what to call the source in error messages.

    Returns:
      uint8 (28, 28): white ink on black, fitted to 20x20, centred by centre of mass. A 28x28
      white-on-black input is returned unchanged (as uint8); a 28x28 one in MNIST's layout drawn
      dark on light is returned inverted.

    Raises:
      InputError: not an image, empty, truncated, too large (decompression bomb), a bad array,
        or no ink (blank page).
      BackendUnavailableError: OpenCV is not installed (or Pillow, for a file).
    """
    grey = grey_image(source, name)
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "image")
    if grey.shape == (_FIELD, _FIELD) and _is_mnist_like(grey):
        return grey.copy()
    if grey.shape == (_FIELD, _FIELD) and _is_mnist_like(255 - grey):  # MNIST's layout drawn dark on light
        return 255 - grey
    ink = find_ink(grey, label)
    return field_of_parts(ink, [(int(i), None) for i in _digit_components(ink)], label)


def _is_mnist_like(grey: np.ndarray) -> bool:
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(border.mean()) < 25.5 and float(np.median(grey)) < 25.5 and int(grey.max()) > 76


# --------------------------------------------------------------------------- the shared front end


@dataclasses.dataclass
class Ink:
    """What :func:`find_ink` found in a working image.

    Attributes:
      ink: float32 (H, W), ink bright, background about 0 (clipped at 0).
      sigma: pixel noise of the working image (fraction of full scale).
      labels: int32 (H, W) connected components of the thresholded ink (0 = background).
      stats: int32 (n, 5) OpenCV component stats (x, y, w, h, area); row 0 the background.
      inverted: True when the photo was dark ink on light paper.
      scale: pixels of this image per pixel of the working image it was found in (see :func:`shrink_ink`).
      threshold: the ink level the components were thresholded at.
    """

    ink: np.ndarray
    sigma: float
    labels: np.ndarray
    stats: np.ndarray
    inverted: bool
    scale: float = 1.0
    threshold: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.ink.shape


def find_ink(grey: np.ndarray, label: str = "image") -> Ink:
    """Polarity, uneven light, blank check, threshold and components of a uint8 grey working image.

    Args:
      grey: uint8 (H, W), as :func:`load_image` returns.
      label: what to call the image in errors.

    Returns:
      an :class:`Ink`.

    Raises:
      InputError: no ink clearly above the noise (a blank page).
    """
    cv2 = require_image_libs()
    h, w = grey.shape
    sigma = _noise_sigma(grey, cv2)
    # Polarity from a half-size copy (area-averaged: its noise is half the working image's), the
    # background's block statistics from a thumbnail of that.
    halved = min(h, w) >= 64
    half = cv2.resize(grey, (w // 2, h // 2), interpolation=cv2.INTER_AREA) if halved else grey
    thumb = cv2.resize(half, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA)
    blocks = np.sort(_blocks(thumb), axis=1).astype(np.float32) * np.float32(1.0 / 255.0)  # quantiles by index
    paper = _fit_surface(_quantile(blocks, 0.5))  # background, either polarity
    residual = _surface(paper, *half.shape)
    cv2.addWeighted(half, 1.0 / 255.0, residual, -1.0, 0.0, dst=residual, dtype=cv2.CV_32F)  # in place: less memory
    cut = 4.0 * sigma * (0.5 if halved else 1.0)
    light, dark = _tails(residual, cut, cv2)
    if light > dark and _glare(residual, cut, cv2):  # a smooth bright patch outweighed the dark strokes
        light, dark = dark, light
    if dark == light:  # nothing stands out from the fitted background (a digit filling the frame): the border is paper
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        dark, light = float(np.median(border)), float(np.median(grey))
    inverted = dark > light
    sign = -1.0 if inverted else 1.0
    # What is left of the background in ink polarity: the 30th percentile of each block of
    # sign * (thumb - paper), fitted likewise (for dark ink: minus the 70th percentile of thumb - paper).
    level = _quantile(blocks, 0.3 if sign > 0 else 0.7) - _DESIGN @ paper
    rest = _fit_surface(sign * level)
    # ink = sign * (grey - paper) - rest, the two surfaces evaluated as one, negatives clipped
    ink = _surface(sign * paper + rest, h, w)
    cv2.addWeighted(grey, sign / 255.0, ink, -1.0, 0.0, dst=ink, dtype=cv2.CV_32F)
    np.maximum(ink, 0.0, out=ink)
    if _UNEVEN < float("inf"):
        _relative_to_paper(ink, paper, cv2)
    found = _threshold_ink(ink, sigma, inverted, label, cv2)
    # A hard shadow edge across the photo: the smooth surface cannot follow it, and the shadow becomes one large
    # "ink" blob at the border, merged with the digits. Then (only then) measure the ink against the paper's
    # own edge-preserving background.
    # The same when the paper does not fill the frame and a desk shows past its straight edge.
    if _STEP_SHARE * h * w <= _largest_at_border(found) and (_hard_step(_quantile(blocks, 0.5), paper)
                                                             or _desk_edge(half, cv2)):
        found = _threshold_ink(*_ink_over_steps(grey, sigma, cv2), label, cv2)
    return found


def _relative_to_paper(ink: np.ndarray, paper: np.ndarray, cv2) -> None:
    """Under strongly uneven light (:data:`_UNEVEN`), ``ink`` (in place) times the paper's median level over its
    level at each pixel (clipped to :data:`_GAIN`): light multiplies paper and ink alike, so the strokes in the dim
    part of the photo stand as far above their paper as those in the bright part. Else ``ink`` is left as it is."""
    h, w = ink.shape
    low, high = _surface_range(paper, h, w)  # bounds: when they settle it, the pixels need not be computed
    if high <= _UNEVEN * max(low, 1e-3):
        return
    level = _surface(paper, h, w)
    low, high = cv2.minMaxLoc(level)[:2]
    if high <= _UNEVEN * max(low, 1e-3):
        return
    gain = np.float32(_median(_DESIGN @ paper)) / np.maximum(level, np.float32(1e-3))
    np.clip(gain, _GAIN[0], _GAIN[1], out=gain)
    np.multiply(ink, gain, out=ink)


def _glare(residual: np.ndarray, cut: float, cv2) -> bool:
    """Whether light "ink" that outweighs the dark is a smooth bright patch (glare, a reflection) and the strokes are dark.

    The tails of :func:`_tails` summed again, only where the residual changes sharply (gradient, Sobel over 8, above
    :data:`_GLARE_EDGE` of full scale per pixel): the edges of strokes, either polarity, keep their sign there; glare
    on a whiteboard or glossy paper fades out over tens of pixels and drops out. True when the dark tail is
    :data:`_GLARE` times the light one there or more.
    """
    if _GLARE == float("inf"):
        return False
    gx = cv2.Sobel(residual, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(residual, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    sharp = cv2.magnitude(gx, gy) > _GLARE_EDGE
    light, dark = _tails(np.where(sharp, residual, np.float32(0.0)), cut, cv2)
    return dark > _GLARE * light


def _tails(residual: np.ndarray, cut: float, cv2) -> tuple[float, float]:
    """(light, dark): the summed residuals above ``cut`` and (as a positive sum) below ``-cut``; the heavier is the ink."""
    light = float(cv2.sumElems(cv2.threshold(residual, cut, 0, cv2.THRESH_TOZERO)[1])[0])
    dark = -float(cv2.sumElems(cv2.threshold(residual, -cut, 0, cv2.THRESH_TOZERO_INV)[1])[0])
    return light, dark


def _threshold_ink(ink: np.ndarray, sigma: float, inverted: bool, label: str, cv2) -> Ink:
    """Blank check, threshold (Otsu, above the noise) and components of the ink image."""
    h, w = ink.shape
    k = 1 if max(h, w) < 160 else 2
    smooth = cv2.blur(ink, (2 * k + 1, 2 * k + 1))
    smooth8 = cv2.convertScaleAbs(smooth, alpha=255.0)
    # Level statistics from every other row (the same distribution; a histogram dominated by one bin is slow)
    sample = smooth8[::2] if h >= 64 else smooth8
    hist = cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel()
    peak = float(np.searchsorted(np.cumsum(hist), 0.999 * sample.size)) / 255.0
    if peak < max(_MIN_CONTRAST, _MIN_SNR * sigma / (2 * k + 1)):
        raise InputError(f"{label}: no ink found (the image looks blank, or the digits are too small in it: contrast "
                         f"{peak:.3f}, noise {sigma:.3f}); photograph the digits closer, with more contrast")
    threshold = max(_otsu(hist) / 255.0, 3.0 * sigma / (2 * k + 1), 0.5 * _MIN_CONTRAST)
    mask = (smooth > threshold).view(np.uint8)
    n, labels, stats = _components(mask, cv2)
    if n < 2 or int(stats[1:, cv2.CC_STAT_AREA].sum()) < 4:
        raise InputError(f"{label}: no ink found (only specks above the threshold); photograph the digits closer")
    return Ink(ink, sigma, labels, stats, inverted, 1.0, threshold)


def _largest_at_border(ink: Ink) -> int:
    """Pixels of the largest component touching the image's border (0: none)."""
    h, w = ink.shape
    x, y, bw, bh, area = (ink.stats[1:, i] for i in range(5))
    border = (x == 0) | (y == 0) | (x + bw >= w) | (y + bh >= h)
    return int(area[border].max()) if border.any() else 0


def _hard_step(values: np.ndarray, paper: np.ndarray) -> bool:
    """Whether the blocks' background levels are a straight step (a shadow's edge) on a smooth surface.

    Fits the quadratic surface plus a step across each of :data:`_STEP_SIDES`' candidate lines (least
    squares, then once more without the blocks more than 2.5 robust sigmas off: blocks dominated by
    ink); a step is there when the best line's step is at least :data:`_STEP_MIN` of full scale and
    leaves the blocks within :data:`_STEP_FIT` (median absolute residual), a quarter of the smooth
    surface's alone or less.
    """
    v = np.asarray(values, np.float64)
    smooth = float(np.median(np.abs(v - _DESIGN @ paper)))
    coef = np.linalg.solve(_STEP_NORMAL, (_STEP_X.transpose(0, 2, 1) @ v)[:, :, None])[:, :, 0]  # (lines, 7)
    resid = np.abs(v - np.einsum("lkj,lj->lk", _STEP_X, coef))
    spread = np.maximum(2.5 * 1.4826 * np.median(resid, axis=1, keepdims=True), 0.01)
    weight = (resid <= spread).astype(np.float64)
    normal = np.einsum("lk,lki,lkj->lij", weight, _STEP_X, _STEP_X) + 1e-9 * np.eye(7)
    coef = np.linalg.solve(normal, np.einsum("lk,lki,k->li", weight, _STEP_X, v)[:, :, None])[:, :, 0]
    fit = np.median(np.abs(v - np.einsum("lkj,lj->lk", _STEP_X, coef)), axis=1)
    best = int(np.argmin(fit))
    return abs(coef[best, 6]) >= _STEP_MIN and fit[best] <= min(_STEP_FIT, 0.25 * smooth)


def _desk_edge(half: np.ndarray, cv2) -> bool:
    """Whether a desk shows past the paper's straight edge along a side of the frame (then the smooth background fails).

    On the half-size grey image (3x3 box blur): the paper's level is the 75th percentile of its central half; a side
    shows a desk when its two outermost pixel lines' median is at most :data:`_DESK_DARK` of it, the pixels at the
    frame are darker than midway between the two along at least :data:`_DESK_COVER` of the side, and the band's depth
    (to the first pixel brighter than midway), where it is under half the image (at least :data:`_DESK_KEEP` of the
    side), is a straight line (:data:`_DESK_SLOPE`, :data:`_DESK_FIT`). A digit or a thumb cut by the frame covers a
    part of a side only. Photos only: the working image's short side at least :data:`_DESK_MIN_SIDE` (twice
    ``half``'s).

    Args:
      half: uint8 (H, W), the working image at half size.
      cv2: the OpenCV module.

    Returns:
      True when some side shows a desk.
    """
    if _DESK_DARK <= 0 or 2 * min(half.shape) < _DESK_MIN_SIDE:
        return False
    g = cv2.blur(half, (3, 3)).astype(np.float32)
    hh, ww = g.shape
    paper = _percentile(g[hh // 4: 3 * hh // 4, ww // 4: 3 * ww // 4].ravel(), 75)
    for side in (g, g[:, ::-1], g.T, g.T[:, ::-1]):  # rows run along a side, column 0 at the frame
        edge = _median(side[:, :2].ravel())
        if edge > _DESK_DARK * paper:
            continue
        bright = side > 0.5 * (edge + paper)
        at_frame = ~bright[:, 0]
        if at_frame.mean() < _DESK_COVER:
            continue
        depth = np.where(bright.any(axis=1), np.argmax(bright, axis=1), side.shape[1]).astype(np.float64)
        keep = at_frame & (depth < 0.5 * side.shape[1])
        if keep.mean() < _DESK_KEEP:
            continue
        t = np.nonzero(keep)[0].astype(np.float64)
        slope, offset = np.polyfit(t, depth[keep], 1)
        if abs(slope) <= _DESK_SLOPE and _median(np.abs(depth[keep] - slope * t - offset)) <= _DESK_FIT * len(depth):
            return True
    return False


def _ink_over_steps(grey: np.ndarray, sigma: float, cv2) -> tuple[np.ndarray, float, bool]:
    """(ink, sigma, inverted) against an edge-preserving background: a hard shadow edge, or a desk past the paper.

    The background is the median over a window about :data:`_STEP_WINDOW` of the short side (wider than
    strokes, so they drop out; a straight edge between light and shadow is kept), and the ink is
    measured relative to it (divided by it, times the lit paper's level): in the shadow both paper and
    ink are darker by the same factor. The polarity is taken from the residuals of the image's central half: along a
    desk's edge at the frame the median leaves a light fringe on the paper that can outweigh the digit (RESULTS.md,
    "Not a digit", fourteenth session).
    """
    h, w = grey.shape
    size = max(3, round(_STEP_WINDOW * min(h, w)) | 1)
    back = cv2.medianBlur(grey, size).astype(np.float32) * np.float32(1.0 / 255.0)
    residual = cv2.addWeighted(grey, 1.0 / 255.0, back, -1.0, 0.0, dtype=cv2.CV_32F)
    light, dark = _tails(np.ascontiguousarray(residual[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]), 4.0 * sigma, cv2)
    inverted = dark > light
    lit = max(float(np.percentile(back[::4, ::4], 90)), 0.05)
    scale = lit / np.maximum(back, 0.25 * lit)
    ink = residual * scale * (-1.0 if inverted else 1.0)
    np.maximum(ink, 0.0, out=ink)
    return ink, sigma, inverted


def shrink_ink(ink: Ink, factor: float) -> Ink:
    """The same ink at ``factor`` (< 1) of the size: area-averaged, thresholded at the same level, components again.

    Reading a number needs its digits only about 30 pixels tall; every later step costs per pixel.
    """
    cv2 = require_image_libs()
    h, w = ink.shape
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    small = cv2.resize(ink.ink, size, interpolation=cv2.INTER_AREA)
    mask = (small > ink.threshold).view(np.uint8)
    _, labels, stats = _components(mask, cv2)
    return Ink(small, ink.sigma * factor, labels, stats, ink.inverted, ink.scale * size[0] / w, ink.threshold)


def erase_ink(ink: Ink, where: np.ndarray) -> Ink:
    """The same ink with the pixels ``where`` (bool, its shape) removed: no ink there, components again."""
    cv2 = require_image_libs()
    kept = ink.ink.copy()
    kept[where] = 0.0
    mask = ((ink.labels > 0) & ~where).view(np.uint8)
    _, labels, stats = _components(mask, cv2)
    return dataclasses.replace(ink, ink=kept, labels=labels, stats=stats)


def thicken_ink(ink: Ink, where: np.ndarray, radius: int) -> Ink:
    """The same ink with the strokes ``where`` (bool, its shape) drawn ``radius`` pixels wider on each side.

    Grey dilation of their ink (a disc ``2 * radius + 1`` across): a fine pen's strokes as wide as the reader's
    training strokes, at their own darkness; the rest of the ink unchanged; components again.
    """
    cv2 = require_image_libs()
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    strokes = np.where(where, ink.ink, np.float32(0.0))
    kept = np.maximum(ink.ink, cv2.dilate(strokes, disc))
    mask = ((ink.labels > 0) | cv2.dilate(where.view(np.uint8), disc).view(bool)).view(np.uint8)
    _, labels, stats = _components(mask, cv2)
    return dataclasses.replace(ink, ink=kept, labels=labels, stats=stats)


def _components(mask: np.ndarray, cv2) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a 0/1 uint8 mask: (count with the background, int32 labels, int32 stats).

    Labelled inside the mask's bounding box only (ink covers a small part of a photo: most of the
    scan is skipped), with Grana's algorithm (about 3x faster here than the default choice).
    """
    h, w = mask.shape
    x, y, bw, bh = cv2.boundingRect(mask)
    labels = np.zeros((h, w), np.int32)
    if bw == 0:
        return 1, labels, np.array([[0, 0, w, h, h * w]], np.int32)
    n, sub, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask[y : y + bh, x : x + bw], 8, cv2.CV_32S,
                                                                     cv2.CCL_GRANA)
    labels[y : y + bh, x : x + bw] = sub
    stats[1:, 0] += x
    stats[1:, 1] += y
    stats[0] = (0, 0, w, h, h * w - int(stats[1:, 4].sum()))
    return n, labels, stats


def _noise_sigma(grey: np.ndarray, cv2) -> float:
    """Pixel noise: robust spread of horizontal neighbour differences (flat areas of ink or paper don't inflate it)."""
    rows = grey[::2] if grey.shape[0] >= 64 else grey  # every other row is plenty of samples
    diffs = cv2.absdiff(rows[:, 1:], rows[:, :-1])
    hist = cv2.calcHist([diffs], [0], None, [256], [0, 256]).ravel()
    median = float(np.searchsorted(np.cumsum(hist), 0.5 * diffs.size))
    # median |d| of a normal difference is 0.6745 * sqrt(2) sigma; +0.5 for the uint8 rounding of the median
    return max((median + 0.5) / 255.0 / (0.6745 * np.sqrt(2.0)) if median > 0 else 0.0, 0.004)


def _blocks(thumb: np.ndarray) -> np.ndarray:
    n, b = _GRID, _THUMB // _GRID
    return thumb.reshape(n, b, n, b).transpose(0, 2, 1, 3).reshape(n * n, b * b)


def _quantile(rows: np.ndarray, q: float) -> np.ndarray:
    """Each row's ``q`` quantile (numpy's default, linear) of rows that are already sorted."""
    at = q * (rows.shape[1] - 1)
    lo = int(at)
    hi = min(lo + 1, rows.shape[1] - 1)
    return rows[:, lo] + (at - lo) * (rows[:, hi] - rows[:, lo])


def _percentile(x: np.ndarray, q: float) -> float:
    """``np.percentile(x, q)`` (linear) of a 1-D array, by partition (a fraction of numpy's call overhead)."""
    at = q / 100.0 * (len(x) - 1)
    lo = int(at)
    hi = min(lo + 1, len(x) - 1)
    part = np.partition(x, (lo, hi))
    return float(part[lo]) + (at - lo) * float(part[hi] - part[lo])


def _median(x: np.ndarray) -> float:
    s = np.sort(x)
    return 0.5 * float(s[(len(s) - 1) // 2] + s[len(s) // 2])


def _otsu(hist: np.ndarray) -> int:
    """Otsu's threshold of a 256-bin histogram (as ``cv2.threshold(..., THRESH_OTSU)``: the level, ink above it)."""
    q1 = np.cumsum(hist, dtype=np.float64)  # pixel counts, not fractions: the same argmax
    m1 = np.cumsum(hist * _LEVELS)
    n = q1[-1]
    both = q1 * (n - q1)
    between = (m1[-1] * q1 - n * m1) ** 2 / np.maximum(both, 1.0)
    between[both < 1.0] = -1.0  # one class empty
    best = int(np.argmax(between))
    return best if between[best] >= 0 else 0


_LEVELS = np.arange(256, dtype=np.float64)
_CENTRES = (np.arange(_GRID) + 0.5) / _GRID - 0.5
_CY, _CX = np.repeat(_CENTRES, _GRID), np.tile(_CENTRES, _GRID)
_DESIGN = np.stack([np.ones_like(_CY), _CY, _CX, _CY * _CY, _CX * _CX, _CY * _CX], axis=1)
_OUTER = np.einsum("ki,kj->kij", _DESIGN, _DESIGN).reshape(len(_DESIGN), 36)  # each block's term of the normal matrix
_RIDGE = 1e-9 * np.eye(6)  # keeps the normal equations solvable with only a few blocks left


def _fit_surface(values: np.ndarray) -> np.ndarray:
    """Robust quadratic surface through the blocks' values (blocks dominated by ink dropped as outliers).

    Least squares through all blocks, then up to three refits without the blocks that lie more
    than 2.5 robust sigmas off.
    """
    cv2 = require_image_libs()
    v = np.asarray(values, np.float64)
    coef = _SOLVE_ALL @ v
    use = _ALL
    for _ in range(3):
        resid = np.abs(v - _DESIGN @ coef)
        spread = max(1.4826 * _median(resid[use]), 0.01)
        new = resid <= 2.5 * spread
        if np.count_nonzero(new) < 8 or (new == use).all():
            break
        use = new
        weight = use.astype(np.float64)
        normal = (weight @ _OUTER).reshape(6, 6) + _RIDGE
        coef = cv2.solve(normal, ((weight * v) @ _DESIGN)[:, None], flags=cv2.DECOMP_CHOLESKY)[1].ravel()
    return coef


_STEP_MIN = 0.25  # a shadow's step: at least this much darker (of full scale) ...
_STEP_FIT = 0.015  # ... and a straight edge explaining the blocks this well (median absolute residual)


def _step_sides() -> np.ndarray:
    """The blocks' side (0/1) of each candidate straight edge: 18 directions x 15 positions (15-85% of the blocks)."""
    sides = []
    for angle in np.deg2rad(np.arange(0, 180, 10)):
        along = _CX * np.cos(angle) + _CY * np.sin(angle)
        for cut in np.quantile(along, np.linspace(0.15, 0.85, 15)):
            sides.append(along > cut)
    return np.unique(np.array(sides, np.float64), axis=0)


_STEP_SIDES = _step_sides()
_STEP_X = np.concatenate([np.broadcast_to(_DESIGN, (len(_STEP_SIDES), *_DESIGN.shape)), _STEP_SIDES[:, :, None]], axis=2)
_STEP_NORMAL = _STEP_X.transpose(0, 2, 1) @ _STEP_X + 1e-9 * np.eye(7)
_SOLVE_ALL = np.linalg.solve(_DESIGN.T @ _DESIGN + _RIDGE, _DESIGN.T)  # the fit through all blocks, as one matrix
_ALL = np.ones(len(_DESIGN), bool)


def _surface(coef: np.ndarray, h: int, w: int) -> np.ndarray:
    """The quadratic surface ``coef`` (block-centre coordinates -0.5..0.5) at every pixel centre of an h x w image.

    c0 + c1 y + c3 y^2 + c2 x + c4 x^2 + c5 y x is the rank-3 product [f(y), 1, y] @ [1, g(x), c5 x]: one matmul.
    """
    gy, gy2 = _axis(h)
    gx, gx2 = _axis(w)
    c = coef.astype(np.float32)
    left = np.empty((h, 3), np.float32)
    left[:, 0] = c[0] + c[1] * gy + c[3] * gy2
    left[:, 1] = 1.0
    left[:, 2] = gy
    right = np.empty((3, w), np.float32)
    right[0] = 1.0
    right[1] = c[2] * gx + c[4] * gx2
    right[2] = c[5] * gx
    return left @ right


def _surface_range(coef: np.ndarray, h: int, w: int) -> tuple[float, float]:
    """A lower and an upper bound of :func:`_surface` ``(coef, h, w)`` over its pixels, without computing them.

    The quadratic's exact minimum and maximum over the rectangle spanned by the pixel centres (its corners, the
    vertices along its edges, its stationary point inside), widened by far more than the float32 rounding of the
    pixels' values: the true range of the computed surface lies inside, so a decision these bounds settle is the one
    the pixels give.
    """
    c0, c1, c2, c3, c4, c5 = (float(v) for v in coef)
    ys, xs = (0.5 / h - 0.5, 0.5 - 0.5 / h), (0.5 / w - 0.5, 0.5 - 0.5 / w)

    def at(y, x):
        return c0 + c1 * y + c2 * x + c3 * y * y + c4 * x * x + c5 * y * x

    values = [at(y, x) for y in ys for x in xs]
    for y in ys:  # along the edges y = const: c4 x^2 + (c2 + c5 y) x + ...
        if c4 and xs[0] < (x := -(c2 + c5 * y) / (2 * c4)) < xs[1]:
            values.append(at(y, x))
    for x in xs:
        if c3 and ys[0] < (y := -(c1 + c5 * x) / (2 * c3)) < ys[1]:
            values.append(at(y, x))
    det = 4 * c3 * c4 - c5 * c5
    if det:
        y, x = (c5 * c2 - 2 * c4 * c1) / det, (c5 * c1 - 2 * c3 * c2) / det
        if ys[0] < y < ys[1] and xs[0] < x < xs[1]:
            values.append(at(y, x))
    margin = 1e-4 * (1.0 + abs(c0) + abs(c1) + abs(c2) + abs(c3) + abs(c4) + abs(c5))
    return min(values) - margin, max(values) + margin


@functools.lru_cache(maxsize=32)
def _axis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates -0.5..0.5 along an axis of ``n`` pixels, and their squares (read-only: cached)."""
    g = (np.arange(n, dtype=np.float32) + 0.5) / n - 0.5
    g2 = g * g
    g.flags.writeable = g2.flags.writeable = False
    return g, g2


def _digit_components(ink: Ink) -> np.ndarray:
    """Ids of the one digit's components: drop specks (< 8% of the largest) and border-touching blobs when others remain."""
    stats = ink.stats
    h, w = ink.shape
    ids = np.arange(1, len(stats))
    sizes = stats[1:, 4]
    x, y, bw, bh = stats[1:, 0], stats[1:, 1], stats[1:, 2], stats[1:, 3]
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    if inside.any() and sizes[inside].max() >= 0.2 * sizes.max():
        ids, sizes = ids[inside], sizes[inside]
    return ids[sizes >= 0.08 * sizes.max()]


# --------------------------------------------------------------------------- crop -> 28x28


def field_of_parts(ink: Ink, parts, label: str = "image") -> np.ndarray:
    """The ink of some components, each possibly only between two cut lines, as a 28x28 MNIST field.

    Args:
      ink: what :func:`find_ink` found.
      parts: ``[(component id, cut), ...]``; ``cut`` None for the whole component, or
        ``(x0, y0, x1, y1, lo, hi)``: only its pixels inside the box [x0, x1) x [y0, y1) whose
        column is in [lo[r], hi[r]) on row y0 + r (a cut through touching digits need not be straight).
      label: what to call the image in errors.

    Returns:
      uint8 (28, 28), white ink on black, fitted to 20x20, centred by centre of mass.

    Raises:
      InputError: what is left is too faint or too small to be a digit.
    """
    cv2 = require_image_libs()
    stats = ink.stats
    boxes = []
    for comp, cut in parts:
        if cut is None:
            x, y, w, h = (int(v) for v in stats[comp, :4])
            boxes.append((x, y, x + w, y + h))
        else:
            boxes.append(cut[:4])
    x0, x1 = min(b[0] for b in boxes), max(b[2] for b in boxes)
    y0, y1 = min(b[1] for b in boxes), max(b[3] for b in boxes)
    pad = 3
    h, w = ink.shape
    top, left = max(y0 - pad, 0), max(x0 - pad, 0)
    bottom, right = min(y1 + pad, h), min(x1 + pad, w)
    lab = ink.labels[top:bottom, left:right]
    if len(parts) == 1 and parts[0][1] is None:
        keep = (lab == parts[0][0]).view(np.uint8)
    else:
        keep = np.zeros(lab.shape, np.uint8)
        for (comp, cut), (bx0, by0, bx1, by1) in zip(parts, boxes):
            sub = lab[by0 - top : by1 - top, bx0 - left : bx1 - left] == comp
            if cut is not None:
                cols = np.arange(bx0, bx1)[None, :]
                sub &= (cols >= cut[4][:, None]) & (cols < cut[5][:, None])
            keep[by0 - top : by1 - top, bx0 - left : bx1 - left] |= sub.view(np.uint8)
    return _field_from_crop(ink.ink[top:bottom, left:right], keep, ink.sigma, label, cv2, lab)


_CROSS = None


def _field_from_crop(crop: np.ndarray, keep: np.ndarray, sigma: float, label: str, cv2, labels=None) -> np.ndarray:
    global _CROSS
    if _CROSS is None:
        _CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    if max(crop.shape) > _CROP_MAX:  # a large digit: the same at 1.5-3x the field's size is plenty, and faster
        # Shrunk by a whole factor (padded with background to a multiple of it): OpenCV's fast area averaging,
        # ~10x cheaper than a fractional one.
        k = -(-max(crop.shape) // _CROP_MAX)
        bottom, right = -crop.shape[0] % k, -crop.shape[1] % k
        if bottom or right:
            crop, keep = (cv2.copyMakeBorder(a, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=0) for a in (crop, keep))
            if labels is not None:
                labels = cv2.copyMakeBorder(labels, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=0)
        size = (crop.shape[1] // k, crop.shape[0] // k)
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        keep = (cv2.resize(keep.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.3).view(np.uint8)
        if labels is not None:
            labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
        sigma /= k
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    if len(rows) == 0:
        raise InputError(f"{label}: the ink found is too small to be a digit; photograph the digit closer")
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    # Ink values around the kept strokes only (other marks are dropped), floored above the noise.
    near = cv2.dilate(keep, _CROSS, iterations=2)
    if labels is not None:  # the soft edges of the kept strokes, not the neighbouring strokes they touch
        near &= (labels == 0).view(np.uint8) | keep
    values = crop[keep.view(bool)]
    level = _percentile(values, 90)
    floor = max(3.0 * sigma, 0.15 * level)
    clean = (crop - floor) * np.float32(1.0 / max(level - floor, 1e-6))
    np.maximum(clean, 0.0, out=clean)  # ufuncs: np.clip's wrapper costs more than the work here
    np.minimum(clean, 1.0, out=clean)
    clean *= near
    pad = 2
    ct, cl = max(top - pad, 0), max(left - pad, 0)
    clean = clean[ct : bottom + pad, cl : right + pad]
    mask = keep[ct : bottom + pad, cl : right + pad]
    scale = _BOX / max(bottom - top, right - left)
    clean = _thicken(clean, mask, scale, cv2)
    ch, cw = clean.shape
    small = _resize(clean, max(1, round(ch * scale)), max(1, round(cw * scale)), cv2)
    small = _trim(small)  # the padding's empty rows/cols go, so the digit (not the margin) fits 20x20
    if max(small.shape) > _BOX:
        f = _BOX / max(small.shape)
        small = _resize(small, max(1, round(small.shape[0] * f)), max(1, round(small.shape[1] * f)), cv2)
    out = _centre(small)
    if int(out.max()) < 128 or int((out >= 128).sum()) < 8:  # never hand a model an empty field as if it were a digit
        raise InputError(f"{label}: the ink found is too faint or too small to be a digit after clean-up; "
                         "photograph the digit closer, with more contrast")
    return out


def _thicken(crop: np.ndarray, mask: np.ndarray, scale: float, cv2) -> np.ndarray:
    """Dilate thin strokes (thin pen, large digit) so they come out about as wide as MNIST's."""
    area = float(cv2.countNonZero(mask))
    edges = float(np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1]))
    width = 2.0 * area / max(edges, 1.0)  # stroke width (px) of a long thin shape
    radius = round((_TARGET_STROKE / scale - width) / 2.0)
    return cv2.dilate(crop, _CROSS, iterations=radius) if radius >= 1 else crop


def _resize(img: np.ndarray, h: int, w: int, cv2) -> np.ndarray:
    shrink = h <= img.shape[0] and w <= img.shape[1]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _trim(img: np.ndarray, level: float = 0.02) -> np.ndarray:
    rows = np.flatnonzero(img.max(axis=1) > level)
    cols = np.flatnonzero(img.max(axis=0) > level)
    if not len(rows) or not len(cols):
        return img
    return img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]



def _centre(small: np.ndarray) -> np.ndarray:
    """Paste in 28x28 and shift (whole pixels) so the centre of mass lands on MNIST's centre."""
    cv2 = require_image_libs()
    h, w = small.shape
    top, left = (_FIELD - h) // 2, (_FIELD - w) // 2
    total = float(small.sum())
    if total > 0:
        ys = float((small.sum(axis=1) * np.arange(h)).sum()) / total + top
        xs = float((small.sum(axis=0) * np.arange(w)).sum()) / total + left
        # Never push ink out of the field.
        top += min(max(round(_CENTRE - ys), -top), _FIELD - (top + h))
        left += min(max(round(_CENTRE - xs), -left), _FIELD - (left + w))
    field = np.zeros((_FIELD, _FIELD), np.uint8)
    field[top : top + h, left : left + w] = cv2.convertScaleAbs(small, alpha=255.0)  # rounded, saturated
    return field
