"""The non-digit kinds' registry: each kind a generator, the variants, and the names and seeds they are drawn by."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from edgedigits.errors import UsageError

REPORT_SEED = 90210  # seed of the images that measure rejection (training draws from the run's own seed)
HOLDOUT_IMAGES = 3000  # images of the held-out kind that train, export and bench each score (the same images)
_HI = 112  # draw at 4x, then area-average down to 28x28 (anti-aliased strokes, like MNIST's)
_FIELD, _BOX = 28, 20

VARIANTS = {  # generator variants (registry: name -> what it changes); "standard" is the default
    "standard": "the registered kinds as they are",
    "near": "near-digit non-digits too: circled and barred symbols, more plain Latin letters, clock faces and discs",
    "wide": "near, plus kinds of its own: pictograms, patterns, fragments cut by the frame, brush strokes",
    "marks": "near, plus hand-drawn marks and operators: + x - = < > arrows, ticks, * # %",
    "scripts": "near, plus letters of 19 scripts glyphs never draws (Indic, Canadian syllabics, Tifinagh, Runic, ...)",
}
_DRAWN_AS_NEAR = ("near", "wide", "marks", "scripts")  # the variants whose kinds with a near form draw it


@dataclasses.dataclass(frozen=True)
class NegativeKind:
    """One registry row: a kind of non-digit image and its generator ``make(rng, n, digits) -> uint8 (n, 28, 28)``
    (``make(rng, n, digits, near=True)`` draws the ``near`` variant when ``has_near``). ``only``: the variant that
    alone draws the kind when no kinds are named (None: every variant); named kinds are drawn whatever the variant."""

    name: str
    summary: str
    make: Callable
    needs_digits: bool = False
    has_near: bool = False
    only: str | None = None


KINDS: dict[str, NegativeKind] = {}  # every kind: the ones every variant draws, then each variant's own (``only``)


def _register(name: str, summary: str, needs_digits: bool = False, has_near: bool = False, only: str | None = None):
    def wrap(fn):
        KINDS[name] = NegativeKind(name, summary, fn, needs_digits, has_near, only)
        return fn

    return wrap


def list_kinds() -> list[str]:
    """Names of the kinds every variant draws, sorted (:func:`variant_kinds` adds a variant's own)."""
    return sorted(k for k, row in KINDS.items() if row.only is None)


def variant_kinds(variant: str = "standard") -> list[str]:
    """Names of the kinds a variant draws: those every variant draws, then the variant's own (registered with
    ``only=variant``: the ``wide`` variant's pictograms, patterns, fragments and brush), each group sorted."""
    check_variant(variant)
    return list_kinds() + sorted(k for k, row in KINDS.items() if row.only == variant)


def _seed_index(name: str) -> int:
    """The kind's index in its random stream's seed: its place among the kinds every variant draws, or 100 + its place
    among its variant's own kinds (so adding a variant's kind changes no other kind's images)."""
    row = KINDS[name]
    group = sorted(k for k, other in KINDS.items() if other.only == row.only)
    return group.index(name) + (0 if row.only is None else 100)


def get_kind(name: str) -> NegativeKind:
    """Look up a kind.

    Raises:
      UsageError: unknown name (the message lists the kinds).
    """
    try:
        return KINDS[name]
    except KeyError:
        raise UsageError(f"unknown non-digit kind {name!r}; choose from {', '.join(list_kinds())}") from None


def check_kinds(names) -> list[str]:
    """Validate a list of kind names (order kept, duplicates dropped).

    Raises:
      UsageError: an unknown name.
    """
    out = []
    for name in names:
        get_kind(name)
        if name not in out:
            out.append(name)
    return out


def check_variant(name: str) -> str:
    """Validate a generator variant name (:data:`VARIANTS`).

    Raises:
      UsageError: an unknown name (the message lists the variants).
    """
    if name not in VARIANTS:
        raise UsageError(f"unknown non-digit variant {name!r}; choose from {', '.join(VARIANTS)}")
    return name


DIGIT_KINDS = ("digit_parts", "digit_pairs", "digit_cutoff")


def _register_wide(name: str, summary: str):
    return _register(name, summary, only="wide")
