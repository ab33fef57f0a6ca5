"""Write one script's section of benchmarks/RESULTS.md (shared by the figure scripts).

A section runs from its ``## `` heading line to the next ``## `` heading (or the end). Needs only the
runtime (no TensorFlow), so scripts that run without the toolkit can use it too.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["replace_section"]


def replace_section(path: Path, section: str) -> None:
    """Replace the section of ``path`` headed by ``section``'s first line, or append it; atomically.

    Args:
      path: the Markdown file (created when missing).
      section: the new section, its ``## `` heading line first.
    """
    from edgedigits_runtime.fileio import atomic_write_text

    heading = section.splitlines()[0].strip()
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        new = text.rstrip("\n") + ("\n\n" if text.strip() else "") + section.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "\n".join(lines[:start] + section.rstrip("\n").splitlines() + ([""] + lines[end:] if end < len(lines) else [])) + "\n"
    atomic_write_text(path, new)
