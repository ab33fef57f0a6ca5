"""``glyphs`` and ``words``: letters and symbols rendered from the installed fonts, distorted like handwriting."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from edgedigits.train.negatives._draw import _down, _elongation, _ink_level, _normalise, _to_u8, _warp
from edgedigits.train.negatives.registry import _FIELD, _HI, _register

_LOOKS_LIKE_A_DIGIT = set("0123456789OoQDIlij|!ZzSsBbgqGT/\\()[]{}°ºΟοΙΖΒΘθδбвЗзОоІіЈјбԳՅՏՕօ٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹"
                          "⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉①②③④⑤⑥⑦⑧⑨'`,.:;-_~^\"ı¦ℓЭэζςβԳգՑցЧчЬьՅյ")
_DIGIT_LIKE_NAMES = ("DIGIT", "NUMBER", "NUMERAL", "VERTICAL", "CIRCLE", "RING OPERATOR", "OMICRON", "IOTA", "THETA",
                     "SMALL LETTER DELTA", "LETTER ZE", "LETTER DZE", "LETTER BE", "LETTER O", "LETTER I", "LETTER L",
                     "SCRIPT SMALL L", "ALEF", "VAV", "FINAL NUN", "YOD", "DOLLAR", "BULLET", "DOT OPERATOR",
                     "SOFT SIGN", "LETTER CHE", "PARENTHESIS", "BRACKET")


# Near-digit symbols whose names match the words above but that nobody reads as a digit: a circle with something in or
# across it (circled operators, clock faces, half-filled and filled discs, theta). These are exactly what a model
# taught only on plain digits reads as 0; the ``near`` variant draws them as non-digits. A plain circle (a 0) stays out.
_NEAR_SHARE = 0.1  # share of the ``near`` variant's glyphs drawn from them
_LATIN_SHARE = 0.3  # share of its glyphs (and of the letters of its words) that are plain Latin letters A-Z, a-z
_NEAR_DIGIT_SYMBOLS = frozenset("ΘθϑѲѳ⊕⊖⊗⊘⊙⊚⊛⊜⊝⊡⌼⌽⌾⍉⍜⍟⍥⎉⎊⎋⏀⏁⏂⏣⏺◍●◐◑◒◓◔◕◖◗◘◙◴◵◶◷⚆⚇⚈⚉⚫⛒⛞⛣✪❂➲↺↻⇴")


def _looks_like_a_digit(ch: str) -> bool:
    """Leave out glyphs a person could read as a digit (O, l, I, Z, S, accented forms of them, circles, bars, ...) and
    anything with a numeric value (fractions such as ½, superscripts, circled digits, digits of other scripts)."""
    import unicodedata

    base = unicodedata.normalize("NFKD", ch)[:1] or ch
    name = unicodedata.name(ch, "")
    return (ch in _LOOKS_LIKE_A_DIGIT or base in _LOOKS_LIKE_A_DIGIT or unicodedata.numeric(ch, None) is not None
            or any(word in name for word in _DIGIT_LIKE_NAMES))


_RANGES = [(0x21, 0x7E), (0xA1, 0xFF), (0x100, 0x17F), (0x391, 0x3C9), (0x410, 0x44F), (0x531, 0x556), (0x561, 0x586),
           (0x5D0, 0x5EA), (0x627, 0x64A), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2300, 0x23FF), (0x25A0, 0x25FF),
           (0x2600, 0x26FF), (0x2700, 0x27BF), (0x20A0, 0x20BF), (0x2100, 0x214F)]
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"),
              Path("/usr/share/fonts/opentype/urw-base35"), Path("/usr/share/fonts/truetype/freefont"))
# Debian packages fonts-dejavu-core, fonts-liberation, fonts-urw-base35, fonts-freefont-ttf (whichever are installed):
# sans, serif, mono, condensed, light, bold and italic faces, a calligraphic script (Z003) and a geometric (URW Gothic).
_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
          "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansCondensed.ttf",
          "DejaVuSans-ExtraLight.ttf", "LiberationSans-Regular.ttf", "LiberationSerif-Italic.ttf",
          "LiberationSansNarrow-Bold.ttf", "LiberationMono-Regular.ttf", "Z003-MediumItalic.otf", "URWGothic-Book.otf",
          "URWBookman-LightItalic.otf", "C059-Italic.otf", "NimbusSans-Bold.otf", "P052-Roman.otf", "FreeSerifItalic.ttf",
          "FreeSans.ttf", "FreeMonoBold.ttf")


def font_source() -> str:
    """Which fonts the ``glyphs`` kind uses here: the font families found (e.g. ``"dejavu+liberation"``) or
    ``"pillow-default"``."""
    files = _font_files()
    if not files:
        return "pillow-default"
    names = {"dejavu": "DejaVu", "liberation": "Liberation", "urw-base35": "URW", "freefont": "Free"}
    return "+".join(family for family, mark in names.items() if any(f"/{family}/" in f for f in files))


@functools.lru_cache(maxsize=1)
def _font_files() -> tuple[str, ...]:
    found = []
    for name in _FONTS:
        for folder in _FONT_DIRS:
            if (folder / name).is_file():
                found.append(str(folder / name))
                break
    return tuple(found)


@functools.lru_cache(maxsize=64)
def _font(path: str | None, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=256)
def _charset(path: str | None, subset: str = "standard") -> tuple[str, ...]:
    """Characters of :data:`_RANGES` the font really draws (not a 'missing glyph' box), minus digit look-alikes;
    ``subset`` ``"with_near"``: plus :data:`_NEAR_DIGIT_SYMBOLS`, ``"near"``: only those, ``"latin"``: only plain
    Latin letters (either may be empty)."""
    if subset == "near":
        return tuple(ch for ch in _charset(path, "with_near") if ch in _NEAR_DIGIT_SYMBOLS)
    if subset == "latin":
        return tuple(ch for ch in _charset(path) if ch.isascii() and ch.isalpha())
    draws = _draws(_font(path, 32))
    chars = []
    for lo, hi in _RANGES:
        for code in range(lo, hi + 1):
            ch = chr(code)
            near = subset == "with_near" and ch in _NEAR_DIGIT_SYMBOLS
            if (_looks_like_a_digit(ch) and not near) or not ch.isprintable() or ch.isspace():
                continue
            if draws(ch):
                chars.append(ch)
    return tuple(chars)


def _draws(font):
    """A test of whether ``font`` really draws a character: at least 12 inked pixels (of its 32 px bitmap, Pillow's C
    rasteriser, no image drawing) and not the font's 'no such glyph' box."""

    def _render(ch):
        mask = font.getmask(ch)
        return np.asarray(mask, np.uint8).reshape(mask.size[1], mask.size[0])

    missing = _render("\uffff")

    def draws(ch: str) -> bool:
        drawn = _render(ch)
        return int((drawn > 128).sum()) >= 12 and not (drawn.shape == missing.shape and np.array_equal(drawn, missing))

    return draws


def _glyph_canvas(rng, fonts, count: int, spacing=(0.0, 0.15), mix: tuple[float, float] | None = None):
    """``count`` random symbols of one random font side by side, drawn big, cropped, fitted in the 112 px canvas.
    ``mix`` (the ``near`` variant) ``(near, latin)``: the symbols are near-digit symbols with probability ``near``, else
    plain Latin letters with probability ``latin``, else any (near-digit symbols included)."""
    from PIL import Image, ImageDraw

    path = fonts[int(rng.integers(len(fonts)))]
    chars = _charset(path)
    if mix is not None:
        chars = _charset(path, "with_near")
        draw = rng.random()
        if draw < mix[0]:  # a near-digit symbol (a circle with something in it), when the font has some
            chars = _charset(path, "near") or chars
        elif draw < mix[0] + mix[1]:  # a plain Latin letter
            chars = _charset(path, "latin") or chars
    font = _font(path, 72)  # one size per font (cached); the warp varies the scale
    stroke = int(rng.integers(0, 4))
    pieces = []
    for _ in range(count):
        img = Image.new("L", (_HI + 16, _HI + 16), 0)
        ImageDraw.Draw(img).text((8, 8), chars[int(rng.integers(len(chars)))], fill=255, font=font, stroke_width=stroke,
                                 stroke_fill=255)
        box = img.getbbox()
        if box is not None:
            pieces.append(np.asarray(img.crop(box), np.float32) / 255.0)
    if not pieces:
        return np.zeros((_HI, _HI), np.float32)
    height = max(p.shape[0] for p in pieces)
    gap = int(rng.uniform(*spacing) * height)
    row = np.zeros((height, sum(p.shape[1] for p in pieces) + gap * (len(pieces) - 1) + 2), np.float32)
    x = 0
    for p in pieces:
        top = height - p.shape[0] if rng.random() < 0.7 else (height - p.shape[0]) // 2  # on the baseline, mostly
        row[top : top + p.shape[0], x : x + p.shape[1]] = np.maximum(row[top : top + p.shape[0], x : x + p.shape[1]], p)
        x += p.shape[1] + gap
    glyph = Image.fromarray(row, mode="F")
    f = 84.0 / max(glyph.size)
    glyph = glyph.resize((max(1, round(glyph.size[0] * f)), max(1, round(glyph.size[1] * f))), Image.BILINEAR)
    canvas = np.zeros((_HI, _HI), np.float32)
    gh, gw = glyph.size[1], glyph.size[0]
    top, left = (_HI - gh) // 2, (_HI - gw) // 2
    canvas[top : top + gh, left : left + gw] = np.clip(np.asarray(glyph, np.float32), 0.0, 1.0)
    return canvas


@_register("glyphs", "letters and symbols of many scripts from fonts, distorted like handwriting", has_near=True)
def _glyphs(rng, n, digits, near: bool = False):
    fonts = _font_files() or (None,)
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        for _ in range(5):  # a thin straight glyph (a slash, a long dash) is a 1 to anyone: draw another
            count = 2 if rng.random() < 0.15 else 1  # now and then two symbols, as in "ab" or "%&"
            hi = _warp(rng, _glyph_canvas(rng, fonts, count, mix=(_NEAR_SHARE, _LATIN_SHARE) if near else None))
            out[i] = _normalise(_ink_level(rng, hi))
            if _elongation(out[i]) < 3.5:
                break
    return out


@_register("words", "two to four letters of one font in a row, as on a label or a sign, distorted like handwriting",
           has_near=True)
def _words(rng, n, digits, near: bool = False):
    fonts = _font_files() or (None,)
    out = np.empty((n, _FIELD, _FIELD), np.uint8)
    for i in range(n):
        canvas = _glyph_canvas(rng, fonts, int(rng.integers(2, 5)), spacing=(-0.05, 0.25),
                               mix=(0.0, _LATIN_SHARE) if near else None)
        hi = _warp(rng, canvas, rotate=10, elastic=2.5)
        out[i] = _normalise(_ink_level(rng, hi)) if rng.random() < 0.8 else _to_u8(_down(hi))
    return out
