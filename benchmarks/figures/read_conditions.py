"""`read_number` on photos unlike the benchmark generator's: one row per condition (issue 10, robustness).

Usage:
  python benchmarks/figures/read_conditions.py [--seed 11] [--count 60] [--nondigits 60] [--reader PATH]
      [--only COND,...] [--cache FILE] [--answers FILE]

Photos come from tests/runtime/scenes.py, a second, independent generator (MNIST *test* digits, each resized
straight to its height in the photo; a plain 640x480 photo of a 3-6 digit number with ONE condition switched
on: photo sizes 320x240 to 1280x960 and portrait, the number small or large and off-centre, coloured pen on
coloured paper, thin and thick pens, perspective tilt, a hard shadow edge, ruled and squared paper (faint, or
ruled lines nearly as dark as the pen), an underline the digits touch, digits of unequal height, JPEG at low
quality, camera noise, motion blur; a decimal point between two digits and a minus before the number, whose
answers hold the "." and "-") and photos with no digit (objects, letters, textures). For each condition:
the share of photos read right (the whole number), answered "no digits found", refused otherwise (the first
words of the most common refusal), and read as a wrong number; for the no-digit photos the share answered "no
digits found". Seed 11 is for finding and tuning fixes; the figures recorded in RESULTS.md are measured once
on seed 2026 after choosing.

``--answers FILE`` writes every photo's answer (JSON) so two code versions can be compared photo by
photo (``--compare OLD.json`` prints how many answers changed per condition). ``--set MODULE.NAME=VALUE``
(repeatable) sets a constant of the runtime first, e.g. ``--set line._RULE_PAST=0.08`` or
``--set preprocess._STEP_SHARE=inf`` (a fix turned off), as the seed-11 tuning in RESULTS.md did.
One thread (``cv2.setNumThreads(1)``, the models ``num_threads=1``).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))


def make_sets(seed: int, count: int, nondigits: int, only=None, data_dir=None) -> dict:
    """{condition: [(photo bytes, expected number; "" = no digits), ...]}, each condition on its own stream."""
    from scenes import CONDITIONS, NO_DIGIT_KINDS, no_digit_scene, scene

    from edgedigits_runtime.mnist import load_mnist

    images, labels = load_mnist("test", data_dir)
    sets = {}
    for k, condition in enumerate(CONDITIONS):
        if only and condition not in only:
            continue
        rng = np.random.default_rng([seed, k])
        sets[condition] = [scene(images, labels, rng, condition) for _ in range(count)]
    for k, kind in enumerate(NO_DIGIT_KINDS):
        if only and kind not in only:
            continue
        rng = np.random.default_rng([seed, 100 + k])
        sets[f"no digit: {kind}"] = [(no_digit_scene(rng, kind), "") for _ in range(nondigits)]
    return sets


def answer(photo, reader) -> tuple[str, str]:
    """(kind, text): ("number", the reading), ("none", "") for "no digits found", ("refused", the message)."""
    from edgedigits_runtime import read_number
    from edgedigits_runtime.errors import EdgeDigitsError

    try:
        number = read_number(photo, reader).number
    except EdgeDigitsError as exc:
        text = str(exc)
        return ("none", "") if "no digits found" in text else ("refused", text)
    return ("number", number) if number else ("none", "")


def _reason(text: str) -> str:
    """A refusal's gist: the words after the photo's label, up to the first parenthesis or semicolon."""
    gist = text.split(": ", 1)[-1]
    for stop in ("(", ";", ","):
        gist = gist.split(stop, 1)[0]
    return " ".join(gist.split()[:6])


def main(argv=None) -> int:
    args = _parse(argv)
    import cv2
    from tune_reader import cached

    from edgedigits_runtime.reader import NumberReader, load_reader

    cv2.setNumThreads(1)
    for setting in args.set:
        _set_constant(setting)
    only = set(args.only.split(",")) if args.only else None
    t0 = time.time()
    sets = cached(args.cache, lambda: make_sets(args.seed, args.count, args.nondigits, only, args.data_dir))
    if only:  # a cache may hold more conditions
        sets = {k: v for k, v in sets.items() if k in only or k.split(": ")[-1] in only}
    made = time.time() - t0
    reader = NumberReader(args.reader, num_threads=1) if args.reader else load_reader(num_threads=1)
    old = json.loads(Path(args.compare).read_text()) if args.compare else {}
    answers = {}
    print(f"seed {args.seed}, {sum(map(len, sets.values()))} photos (made in {made:.0f} s); reader "
          f"{args.reader or 'shipped'}\n")
    print("| condition | photos | read right | no digits found | refused otherwise (most common) | wrong number |"
          + (" answers changed |" if old else ""))
    print("|---|---:|---:|---:|---|---:|" + ("---:|" if old else ""))
    for name, items in sets.items():
        got = [answer(photo, reader) for photo, _ in items]
        answers[name] = [list(g) for g in got]
        n = len(items)
        if name.startswith("no digit"):
            right = sum(kind == "none" for kind, _ in got)
            wrong = sum(kind == "number" for kind, _ in got)
        else:
            right = sum(kind == "number" and text == want for (kind, text), (_, want) in zip(got, items))
            wrong = sum(kind == "number" and text != want for (kind, text), (_, want) in zip(got, items))
        none = sum(kind == "none" for kind, _ in got)
        refusals = collections.Counter(_reason(text) for kind, text in got if kind == "refused")
        refused = sum(refusals.values())
        common = f" ({refusals.most_common(1)[0][0]})" if refused else ""
        changed = ""
        if old:
            before = old.get(name)
            changed = f" {sum(a != b for a, b in zip(before, answers[name]))} |" if before else " - |"
        right_cell = f"{right / n:.1%} ({right}/{n})"
        print(f"| {name} | {n} | {right_cell} | {none / n:.1%} | {refused / n:.1%}{common} | {wrong / n:.1%} |{changed}",
              flush=True)
    if args.answers:
        Path(args.answers).write_text(json.dumps(answers))
    print(f"\n({time.time() - t0:.0f} s in all; command: python benchmarks/figures/read_conditions.py "
          + " ".join(argv if argv is not None else sys.argv[1:]) + ")")
    return 0


def _set_constant(setting: str) -> None:
    """``MODULE.NAME=VALUE``: a constant of ``edgedigits_runtime.MODULE`` (VALUE a Python literal, or inf)."""
    import ast
    import importlib

    name, text = setting.split("=", 1)
    module, attr = name.rsplit(".", 1)
    target = importlib.import_module(f"edgedigits_runtime.{module}")
    if not hasattr(target, attr):
        raise SystemExit(f"edgedigits_runtime.{module} has no {attr}")
    setattr(target, attr, float(text) if text in ("inf", "-inf") else ast.literal_eval(text))


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=11, help="11 to find and tune fixes; 2026 to report")
    p.add_argument("--count", type=int, default=60, help="number photos per condition")
    p.add_argument("--nondigits", type=int, default=60, help="photos per no-digit kind")
    p.add_argument("--reader", default=None, help="a reader model file (default: the shipped one)")
    p.add_argument("--only", default=None, help="comma-separated conditions / no-digit kinds to run")
    p.add_argument("--cache", default=None, help="keep the generated photos in this pickle file")
    p.add_argument("--answers", default=None, help="write every photo's answer to this JSON file")
    p.add_argument("--compare", default=None, help="an --answers file: count the answers that changed")
    p.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                   help="a runtime constant to set first (repeatable), e.g. line._RULE_PAST=0.08")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
