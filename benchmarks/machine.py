"""Describe the machine a benchmark ran on, for RESULTS.md (shared by the benchmark scripts)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(*packages: str) -> dict:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def describe() -> str:
    """One line: CPU, cores, OS, Python."""
    return (f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()} "
            f"({platform.machine()}), Python {sys.version.split()[0]}")
