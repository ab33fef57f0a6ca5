"""Damaged copies of a model file, made the way users damage them (bit flips, truncated copies)."""

from __future__ import annotations

import numpy as np


def without_record(data: bytes) -> bytes:
    """A model's bytes with any embedded edgedigits integrity record blanked out.

    What is left runs exactly as before (the record is metadata) but carries no record:
    a stand-in for a third-party model.
    """
    return data.replace(b"edgedigits-record", b"x" * len(b"edgedigits-record"))


def corrupted_copies(data: bytes, flips: int = 200, cuts: int = 60, seed: int = 0) -> list[tuple[str, bytes]]:
    """``(what, bytes)`` pairs: single bit flips spread over the whole file and truncations.

    Flips: ``flips`` offsets, evenly spaced from the first to the last byte, each with a seeded
    random bit; truncations: ``cuts`` lengths evenly spaced from 1 byte to one byte short.
    """
    rng = np.random.default_rng(seed)
    copies = []
    for offset in np.linspace(0, len(data) - 1, flips).astype(int):
        bit = int(rng.integers(0, 8))
        damaged = bytearray(data)
        damaged[offset] ^= 1 << bit
        copies.append((f"bit {bit} of byte {offset} flipped", bytes(damaged)))
    for length in np.linspace(1, len(data) - 1, cuts).astype(int):
        copies.append((f"truncated to {length} bytes", data[:length]))
    return copies
