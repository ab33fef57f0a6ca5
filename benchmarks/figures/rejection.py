"""What the per-item rejection scripts share (``reject_marks.py``, ``reject_scripts.py``): the int8 models with their
own calibrated rules, their short names, and one Markdown cell per model: the share rejected and the digits the
accepted images were read as."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_models(paths: list[Path]) -> tuple[list, list[str]]:
    """A runtime classifier per model file (its manifest beside it) and a short name for each: the run folder's name
    for ``RUN/export/FILE``, else the file name."""
    from edgedigits_runtime import DigitClassifier

    names = [p.parent.parent.name if p.parent.name == "export" else p.name for p in paths]
    return [DigitClassifier(p) for p in paths], names


def header(first: str, names: list[str]) -> str:
    return (f"| {first} | " + " | ".join(f"{n}: rejected (read as)" for n in names) + " |\n"
            + "|---|" + "---|" * len(names))


def rejected(classifier, images: np.ndarray) -> tuple[float, str]:
    """The share of ``images`` the classifier's rule rejects, and the cell ``"92.0% (3: 5, 8: 19)"``."""
    c = classifier.classify(images)
    kept = c.labels[~c.not_a_digit]
    read = ", ".join(f"{d}: {int(k)}" for d, k in enumerate(np.bincount(kept, minlength=10)) if k)
    share = float(c.not_a_digit.mean())
    return share, f"{100 * share:.1f}%" + (f" ({read})" if read else "")
