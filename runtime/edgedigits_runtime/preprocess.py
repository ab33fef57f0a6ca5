"""Photo or scan of a handwritten digit -> a 28x28 uint8 MNIST-like image (numpy only).

MNIST digits are white ink on black, scaled to fit 20x20 (aspect ratio kept, anti-aliased)
and placed in 28x28 so that their centre of mass is the centre. A photo differs in every
way; :func:`preprocess_image` undoes that, step by step:

1. decode (Pillow, only for files/bytes): EXIF orientation applied, transparency flattened,
   grey (ITU-R 601 luma), shrunk to at most :data:`WORK_SIZE` pixels on the long side;
2. polarity: the ink is the heavier tail of the residuals around a smooth background
   (dark ink on paper is inverted to white on black);
3. illumination: a robust quadratic background surface is subtracted (uneven lighting);
4. blank check: no ink clearly above the noise -> :class:`~edgedigits_runtime.errors.InputError`;
5. Otsu threshold, connected components: specks and blobs touching the border are ignored;
6. crop to the ink, thicken strokes that would come out thinner than MNIST's, resize to fit
   20x20 keeping the aspect ratio (area averaging), paste in 28x28 and shift the centre of
   mass to the centre.

Already 28x28 white-on-black images pass through unchanged.

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

import io
import os
import warnings
from pathlib import Path

import numpy as np

from edgedigits_runtime.errors import BackendUnavailableError, InputError

__all__ = ["preprocess_image", "load_image", "require_pillow", "MAX_PIXELS", "WORK_SIZE"]

MAX_PIXELS = 50_000_000  # larger images are refused (decompression bombs); a 48 MP phone photo fits
WORK_SIZE = 512  # long side of the working image
_BOX, _FIELD = 20, 28  # MNIST: the digit fits 20x20 inside 28x28
_CENTRE = 14.0  # MNIST test digits' mean centre of mass (row and column)
_TARGET_STROKE = 2.6  # MNIST stroke width in the 28x28 image, pixels (about)
_MIN_CONTRAST = 0.08  # ink must stand this far (of full scale) above the background ...
_MIN_SNR = 6.0  # ... and this many noise sigmas
_MIN_SIDE = 8  # fewer pixels than this either way cannot hold a digit (and breaks the 4x4 background grid)


def require_pillow():
    """Import Pillow's Image module or say how to install it.

    Raises:
      BackendUnavailableError: Pillow is not installed.
    """
    try:
        from PIL import Image
    except ImportError:
        raise BackendUnavailableError('reading image files needs Pillow: pip install "edgedigits-runtime[image]"') from None
    return Image


def load_image(source, name: str | None = None) -> np.ndarray:
    """Decode an image file to float32 grey in [0, 1], EXIF-rotated, at most :data:`WORK_SIZE` on the long side.

    Args:
      source: a path, or the file's bytes.
      name: what to call it in messages (default: the path, or "image bytes").

    Returns:
      float32 (H, W) in [0, 1].

    Raises:
      InputError: empty, not an image, truncated, or over :data:`MAX_PIXELS` (decompression bomb).
      BackendUnavailableError: Pillow is not installed.
    """
    Image = require_pillow()
    from PIL import ImageOps, UnidentifiedImageError

    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or "image bytes"
    else:
        label = name or str(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise InputError(f"{label}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{label} is a folder, not an image file") from None
    if not data:
        raise InputError(f"{label} is empty (0 bytes): not an image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
            pixels = img.size[0] * img.size[1]
            if min(img.size) < _MIN_SIDE:
                raise InputError(f"{label} is {img.size[0]}x{img.size[1]} pixels: too small or too thin to hold a digit "
                                 f"(at least {_MIN_SIDE}x{_MIN_SIDE}); use a larger image of the digit")
            if pixels > MAX_PIXELS:
                raise InputError(f"{label} is {img.size[0]}x{img.size[1]} = {pixels / 1e6:.0f} MP, over the "
                                 f"{MAX_PIXELS / 1e6:.0f} MP limit (a decompression bomb?): use a smaller image")
            img.draft("L", (WORK_SIZE, WORK_SIZE))  # JPEG: decode at a reduced scale, much faster
            img = ImageOps.exif_transpose(img)
            img.load()
            grey = _to_grey(img, Image)
        except InputError:  # ours, above (a ValueError: keep it from the clause below)
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(f"{label} is too large to decode safely ({exc}); use a smaller image") from None
        except UnidentifiedImageError:
            raise InputError(f"{label} is not an image Pillow can read (PNG, JPEG, BMP, ...)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated / corrupted data
            raise InputError(f"{label} is truncated or corrupted ({exc}); re-save or re-copy it") from None
    return grey


def _to_grey(img, Image) -> np.ndarray:
    """A PIL image -> float32 grey [0, 1] with transparency flattened, long side <= WORK_SIZE."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return _as_grey(np.asarray(img.convert("RGBA")))  # flattened as arrays are (see there)
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    if img.mode == "RGB":
        img = img.convert("L")
    return _shrink(np.asarray(img, dtype=np.float32) / 255.0, WORK_SIZE)


def _as_grey(array) -> np.ndarray:
    """An array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), uint8 or float in [0, 1] -> float32 grey [0, 1]."""
    x = np.asarray(array)
    if x.dtype == bool:
        x = x.astype(np.float32)
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
        x = x.astype(np.float32)
    else:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise InputError(f"integer image must be in 0-255; got values in [{low}, {high}]")
        x = x.astype(np.float32) / 255.0
    if x.ndim == 3:
        if x.shape[2] == 1:
            x = x[..., 0]
        else:
            luma = x[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
            if x.shape[2] == 4:  # ink drawn on a transparent sheet: put it on a background that contrasts with it
                alpha = x[..., 3]
                opaque = alpha > 0.5
                back = 1.0 if (not opaque.any() or float(luma[opaque].mean()) < 0.5) else 0.0
                luma = luma * alpha + back * (1.0 - alpha)
            x = luma
    return _shrink(x, WORK_SIZE)


def preprocess_image(source, name: str | None = None) -> np.ndarray:
    """Turn a photo or scan of one digit into the 28x28 uint8 white-on-black image MNIST models expect.

    Example:

    >>> x = preprocess_image("seven.jpg")                  # doctest: +SKIP
    >>> clf.predict(x)                                     # doctest: +SKIP
    array([7])

    Args:
      source: an image file path, the file's bytes (PNG, JPEG, BMP, ...: needs Pillow), or an
        array (H, W) grey / (H, W, 3) RGB / (H, W, 4) RGBA, uint8 or float in [0, 1]. Any size,
        either polarity, uneven lighting, some noise, the digit anywhere.
      name: what to call the source in error messages.

    Returns:
      uint8 (28, 28): white ink on black, fitted to 20x20, centred by centre of mass. A 28x28
      white-on-black input is returned unchanged (as uint8).

    Raises:
      InputError: not an image, empty, truncated, too large (decompression bomb), a bad array,
        or no ink (blank page).
      BackendUnavailableError: a file was given and Pillow is not installed.
    """
    if isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        grey = load_image(source, name)
    else:
        grey = _as_grey(source)
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "image")
    if min(grey.shape) < _MIN_SIDE:
        raise InputError(f"{label} is too thin to hold a digit: {grey.shape[1]}x{grey.shape[0]} pixels once shrunk to "
                         f"{WORK_SIZE} on the long side (at least {_MIN_SIDE} each way); crop closer around the digit")
    if grey.shape == (_FIELD, _FIELD) and _is_mnist_like(grey):
        return np.round(grey * 255.0).astype(np.uint8)
    return _to_mnist(grey, label)


def _is_mnist_like(grey: np.ndarray) -> bool:
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(border.mean()) < 0.1 and float(np.median(grey)) < 0.1 and float(grey.max()) > 0.3


# --------------------------------------------------------------------------- the pipeline


def _to_mnist(grey: np.ndarray, label: str) -> np.ndarray:
    ink, sigma = _ink_image(grey)  # white ink on black, background ~0
    mask = _ink_mask(ink, sigma, label)
    keep = _keep_components(mask)
    rows, cols = np.nonzero(keep)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    # Ink values around the kept strokes only (specks elsewhere are dropped), floored above the noise.
    near = _dilate(keep, 2)
    level = float(np.percentile(ink[keep], 90))
    floor = max(3.0 * sigma, 0.15 * level)
    clean = np.where(near, np.clip((ink - floor) / max(level - floor, 1e-6), 0.0, 1.0), 0.0).astype(np.float32)
    pad = 2
    crop = clean[max(top - pad, 0) : bottom + pad, max(left - pad, 0) : right + pad]
    crop_mask = keep[max(top - pad, 0) : bottom + pad, max(left - pad, 0) : right + pad]
    scale = _BOX / max(bottom - top, right - left)
    crop = _thicken(crop, crop_mask, scale)
    h, w = crop.shape
    out_h = max(1, int(round(h * scale)))
    out_w = max(1, int(round(w * scale)))
    small = _resize(crop, out_h, out_w)
    # Trim the padding's empty rows/cols so the digit (not the margin) fits 20x20.
    small = _trim(small)
    if max(small.shape) > _BOX:
        f = _BOX / max(small.shape)
        small = _resize(small, max(1, round(small.shape[0] * f)), max(1, round(small.shape[1] * f)))
    out = _centre(small)
    if int(out.max()) < 128 or int((out >= 128).sum()) < 8:  # never hand a model an empty field as if it were a digit
        raise InputError(f"{label}: the ink found is too faint or too small to be a digit after clean-up; "
                         "photograph the digit closer, with more contrast")
    return out


def _ink_image(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Grey [0, 1] -> (ink image with polarity fixed (ink bright) and smooth background removed, noise sigma)."""
    surface = _background(grey, np.median)
    residual = grey - surface
    cut = 4.0 * _noise_sigma(grey)
    dark = float(-residual[residual < -cut].sum())
    light = float(residual[residual > cut].sum())
    if dark == light:  # nothing stands out from the fitted background (a digit filling the frame): the border is paper
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        dark, light = float(np.median(border)), float(np.median(grey))
    ink = 1.0 - grey if dark > light else grey
    flat = ink - _background(ink, lambda v, axis: np.percentile(v, 30, axis=axis))
    flat = np.clip(flat, 0.0, None)
    return flat, _noise_sigma(flat)


def _noise_sigma(img: np.ndarray) -> float:
    """Pixel noise: robust spread of neighbour differences (large flat areas of ink or paper don't inflate it)."""
    diffs = np.concatenate([np.diff(img, axis=0).ravel(), np.diff(img, axis=1).ravel()])
    centre = np.median(diffs)
    return max(1.4826 * float(np.median(np.abs(diffs - centre))) / np.sqrt(2.0), 0.004)


def _background(img: np.ndarray, stat) -> np.ndarray:
    """A smooth background: ``stat`` of each block of an 8x8 grid, robust quadratic fit, evaluated everywhere."""
    h, w = img.shape
    n = 8 if min(h, w) >= 64 else 4
    bh, bw = h // n, w // n
    blocks = img[: bh * n, : bw * n].reshape(n, bh, n, bw).transpose(0, 2, 1, 3).reshape(n * n, bh * bw)
    v = np.asarray(stat(blocks, axis=1), dtype=np.float64)
    centres = (np.arange(n) + 0.5) / n - 0.5
    cy, cx = np.repeat(centres, n), np.tile(centres, n)
    design = np.stack([np.ones_like(cy), cy, cx, cy * cy, cx * cx, cy * cx], axis=1)
    use = np.ones(len(v), bool)
    for _ in range(4):  # drop blocks dominated by ink (outliers on either side), refit
        coef, *_ = np.linalg.lstsq(design[use], v[use], rcond=None)
        resid = v - design @ coef
        spread = max(1.4826 * float(np.median(np.abs(resid[use]))), 0.01)
        new = np.abs(resid) <= 2.5 * spread
        if new.sum() < 8 or np.array_equal(new, use):
            break
        use = new
    gy = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    gx = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    yy, xx = gy[:, None], gx[None, :]
    return (coef[0] + coef[1] * yy + coef[2] * xx + coef[3] * yy * yy + coef[4] * xx * xx + coef[5] * yy * xx).astype(np.float32)


def _ink_mask(ink: np.ndarray, sigma: float, label: str) -> np.ndarray:
    """Otsu threshold of the (lightly smoothed) ink image; InputError when there is no ink."""
    k = 1 if max(ink.shape) < 160 else 2
    smooth = _box_blur(ink, k)
    peak = float(np.percentile(smooth, 99.9))
    if peak < max(_MIN_CONTRAST, _MIN_SNR * sigma / (2 * k + 1)):
        raise InputError(f"{label}: no ink found (the image looks blank: contrast {peak:.3f}, noise {sigma:.3f}); "
                         "photograph the digit closer, with more contrast")
    threshold = max(_otsu(smooth), 3.0 * sigma / (2 * k + 1), 0.5 * _MIN_CONTRAST)
    mask = smooth > threshold
    if mask.sum() < 4:
        raise InputError(f"{label}: no ink found (only specks above the threshold); photograph the digit closer")
    return mask


def _otsu(img: np.ndarray) -> float:
    hist, edges = np.histogram(img, bins=256, range=(0.0, max(float(img.max()), 1e-6)))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist).astype(np.float64)
    total = weight[-1]
    mean = np.cumsum(hist * centres)
    w0, w1 = weight[:-1], total - weight[:-1]
    valid = (w0 > 0) & (w1 > 0)
    m0 = np.where(valid, mean[:-1] / np.where(w0 > 0, w0, 1), 0)
    m1 = np.where(valid, (mean[-1] - mean[:-1]) / np.where(w1 > 0, w1, 1), 0)
    between = np.where(valid, w0 * w1 * (m0 - m1) ** 2, -1)
    return float(centres[int(np.argmax(between))])


def _keep_components(mask: np.ndarray) -> np.ndarray:
    """The digit's connected components: drop specks (< 8% of the largest) and border-touching blobs when others remain."""
    factor = max(1, -(-max(mask.shape) // 128))  # label a max-pooled copy (<= 128 px): fast, same components
    if factor > 1:
        h, w = mask.shape
        ph, pw = -(-h // factor), -(-w // factor)
        padded = np.zeros((ph * factor, pw * factor), bool)
        padded[:h, :w] = mask
        pooled = padded.reshape(ph, factor, pw, factor).any(axis=(1, 3))
        labels = np.repeat(np.repeat(_label(pooled), factor, axis=0), factor, axis=1)[:h, :w] * mask
    else:
        labels = _label(mask)
    ids, sizes = np.unique(labels[labels > 0], return_counts=True)
    h, w = mask.shape
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    inside = ~np.isin(ids, edge)
    if inside.any() and sizes[inside].max() >= 0.2 * sizes.max():
        ids, sizes = ids[inside], sizes[inside]
    biggest = sizes.max()
    keep_ids = ids[sizes >= 0.08 * biggest]
    return np.isin(labels, keep_ids)


def _label(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels (0 = background), numpy only: min-label propagation with pointer jumping."""
    h, w = mask.shape
    big = h * w + 1
    labels = np.where(mask, np.arange(1, h * w + 1, dtype=np.int64).reshape(h, w), big)
    while True:
        padded = np.pad(labels, 1, constant_values=big)
        best = labels.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.minimum(best, padded[dy : dy + h, dx : dx + w], out=best)
        best = np.where(mask, best, big)
        flat = np.append(best.ravel(), big)
        for _ in range(4):  # pointer jumping: adopt the label of the pixel your label names
            jumped = np.where(flat[:-1] < big, flat[np.minimum(flat[:-1], big) - 1], big)
            flat[:-1] = np.minimum(flat[:-1], jumped)
        best = flat[:-1].reshape(h, w)
        if np.array_equal(best, labels):
            return np.where(mask, labels, 0)
        labels = best


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(radius):
        p = np.pad(out, 1)
        out = p[1:-1, 1:-1] | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]
    return out


def _grey_dilate(img: np.ndarray, radius: int) -> np.ndarray:
    out = img
    for _ in range(radius):
        p = np.pad(out, 1)
        out = np.maximum.reduce([p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
    return out


def _thicken(crop: np.ndarray, mask: np.ndarray, scale: float) -> np.ndarray:
    """Dilate thin strokes (thin pen, large digit) so they come out about as wide as MNIST's."""
    area = float(mask.sum())
    edges = float(np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1]))
    width = 2.0 * area / max(edges, 1.0)  # stroke width (px) of a long thin shape
    missing = _TARGET_STROKE / scale - width
    radius = int(round(missing / 2.0))
    return _grey_dilate(crop, radius) if radius >= 1 else crop


def _box_blur(img: np.ndarray, k: int) -> np.ndarray:
    if k < 1:
        return img
    size = 2 * k + 1
    p = np.pad(img, k, mode="edge")
    c = np.cumsum(np.cumsum(np.pad(p, ((1, 0), (1, 0))), axis=0), axis=1)
    h, w = img.shape
    total = c[size:, size:] - c[:-size, size:][:h] - c[size:, :-size][:, :w] + c[:-size, :-size][:h, :w]
    return (total / (size * size)).astype(np.float32)


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) resampling matrix: area averaging when shrinking, linear interpolation when enlarging."""
    if n_out <= n_in:
        edges = np.linspace(0.0, n_in, n_out + 1)
        lo, hi = edges[:-1, None], edges[1:, None]
        j = np.arange(n_in)[None, :]
        overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
        return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    left = np.floor(pos).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    frac = pos - left
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), left] += 1 - frac
    m[np.arange(n_out), right] += frac
    return m


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    return (_weights(img.shape[0], h) @ img @ _weights(img.shape[1], w).T).astype(np.float32)


def _shrink(img: np.ndarray, limit: int) -> np.ndarray:
    h, w = img.shape
    if max(h, w) <= limit:
        return img.astype(np.float32, copy=False)
    f = limit / max(h, w)
    return _resize(img, max(1, round(h * f)), max(1, round(w * f)))


def _trim(img: np.ndarray, level: float = 0.02) -> np.ndarray:
    rows = np.nonzero(img.max(axis=1) > level)[0]
    cols = np.nonzero(img.max(axis=0) > level)[0]
    if not len(rows) or not len(cols):
        return img
    return img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _centre(small: np.ndarray) -> np.ndarray:
    """Paste in 28x28 and shift (whole pixels) so the centre of mass lands on MNIST's centre."""
    field = np.zeros((_FIELD, _FIELD), np.float32)
    h, w = small.shape
    top, left = (_FIELD - h) // 2, (_FIELD - w) // 2
    field[top : top + h, left : left + w] = small
    total = float(field.sum())
    if total > 0:
        ys, xs = np.mgrid[0:_FIELD, 0:_FIELD]
        dy = int(round(_CENTRE - float((field * ys).sum()) / total))
        dx = int(round(_CENTRE - float((field * xs).sum()) / total))
        # Never push ink out of the field.
        dy = int(np.clip(dy, -top, _FIELD - (top + h)))
        dx = int(np.clip(dx, -left, _FIELD - (left + w)))
        field = np.roll(field, (dy, dx), axis=(0, 1))
    return np.round(np.clip(field, 0.0, 1.0) * 255.0).astype(np.uint8)
