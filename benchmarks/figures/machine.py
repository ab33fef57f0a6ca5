"""Describe the machine a benchmark ran on, for RESULTS.md (shared by the benchmark scripts).

The facts come from :mod:`edgedigits.bench.report`, the same ones `edgedigits bench` records.
"""

from __future__ import annotations

import os
import platform
import sys

from edgedigits.bench.report import cpu_model
from edgedigits.bench.report import package_versions as versions

__all__ = ["cpu_model", "versions", "describe"]


def describe() -> str:
    """One line: CPU, cores, OS, Python."""
    return (f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()} "
            f"({platform.machine()}), Python {sys.version.split()[0]}")
