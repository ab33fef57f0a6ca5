"""The runtime's wheel, as a Pi installs it: it carries the shipped models and the server's page, and setuptools
builds it without a deprecation or "package would be ignored" warning (each is a future build failure)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"


@pytest.mark.slow
def test_runtime_wheel_carries_its_data_and_builds_without_warnings(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path), str(RUNTIME)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = tmp_path.glob("edgedigits_runtime-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(RUNTIME).as_posix() for folder in ("models", "serve/static")
               for p in (RUNTIME / "edgedigits_runtime" / folder).iterdir() if p.suffix in {".tflite", ".json", ".html", ".js", ".css"}}
    assert {"edgedigits_runtime/models/default_int8.tflite", "edgedigits_runtime/serve/static/index.html"} <= shipped
    assert shipped <= names, sorted(shipped - names)
    warnings = [line.strip() for line in (built.stdout + built.stderr).splitlines() if "Warning" in line]
    assert not warnings, warnings
