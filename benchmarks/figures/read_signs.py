"""`read_number` on printed numbers with a minus, a decimal point or another symbol: what each answer is.

Usage:
  python benchmarks/figures/read_signs.py [--sizes 60,100] [--set MODULE.NAME=VALUE ...]

Each text of :data:`TEXTS` is printed in each font of tests/runtime/photos.py ``GLYPH_FONTS`` that is present
(DejaVu Sans, Liberation Serif, FreeSans Bold, URW Bookman), at each size (pixels), dark on light and light on
dark, on a 640x480 photo (uneven light, a little noise, JPEG 85; the photo's random stream seeded by its index),
and read with the shipped reader. Prints, per text, how many photos read as :data:`TEXTS` says (the symbol read,
or for symbols that are not read, the digits alone) and the most common other answers. ``--set`` as in
read_conditions.py, e.g. ``--set "line._DOT=(9,9)" --set "line._BAR=(9,9)"`` (no minus or decimal point: the
reading before the sixth session). One thread.
"""

from __future__ import annotations

import argparse
import collections
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# text printed -> the right answer ("" = "no digits found"). A comma, a colon and other symbols are not read:
# the right answer is then the digits alone (or, for '$' and '%', which the reader takes for digits, see RESULTS.md).
TEXTS = {"-42": "-42", "12.5": "12.5", "-0.75": "-0.75", "3.14": "3.14", "98.6": "98.6", "-7": "-7", "-273.15": "-273.15",
         "0.5": "0.5", "1,024": "1024", "07:30": "0730", "2048": "2048", "$45": "45", "50%": "50"}


def photo(text: str, font: str | None, size: int, invert: bool, rng: np.random.Generator) -> bytes:
    """``text`` printed at ``size`` px on a 640x480 photo: uneven light, noise, JPEG 85."""
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype(font, size) if font else ImageFont.load_default(size=size)
    layer = Image.new("L", (640, 480), 0)
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=face)
    draw.text((int(rng.uniform(0.1, 0.9) * (640 - (x1 - x0))) - x0, int(rng.uniform(0.2, 0.8) * (480 - (y1 - y0))) - y0),
              text, fill=255, font=face)
    ink = np.asarray(layer, np.float32) / 255.0
    yy, xx = np.mgrid[0:480, 0:640] / 640.0
    paper = 0.85 + rng.uniform(-0.1, 0.1) * xx + rng.uniform(-0.1, 0.1) * yy
    grey = paper * (1 - ink) + 0.12 * ink if not invert else 0.15 + ink * (paper - 0.15)
    grey = np.clip(grey + rng.normal(0, 0.02, grey.shape), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((grey * 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2
    from photos import GLYPH_FONTS
    from read_conditions import _set_constant, answer

    from edgedigits_runtime.reader import load_reader

    cv2.setNumThreads(1)
    for setting in args.set:
        _set_constant(setting)
    reader = load_reader(num_threads=1)
    fonts = [f for f in GLYPH_FONTS if Path(f).is_file()] or [None]
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"fonts: {', '.join(Path(f).stem if f else 'Pillow default' for f in fonts)}; sizes {sizes} px; "
          "both polarities\n")
    print("| printed | right answer | read right | other answers (most common) |")
    print("|---|---|---:|---|")
    k = 0
    for text, want in TEXTS.items():
        got = []
        for font in fonts:
            for size in sizes:
                for invert in (False, True):
                    kind, number = answer(photo(text, font, size, invert, np.random.default_rng([args.seed, k])), reader)
                    got.append(number if kind == "number" else ("no digits found" if kind == "none" else "refused"))
                    k += 1
        right = sum(g == want for g in got)
        others = collections.Counter(g for g in got if g != want).most_common(3)
        print(f"| `{text}` | `{want}` | {right}/{len(got)} | {', '.join(f'{g} ({n})' for g, n in others)} |")
    print("\n(command: python benchmarks/figures/read_signs.py " + " ".join(argv if argv is not None else sys.argv[1:]) + ")")
    return 0


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="60,100", help="font sizes in pixels, comma-separated")
    p.add_argument("--seed", type=int, default=0, help="the photos' light, noise and placement")
    p.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                   help="a runtime constant to set first (repeatable), as read_conditions.py")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
