"""Shared by the export tests: lowered gates, quick options, a fake run folder writer."""

from __future__ import annotations

import json
from pathlib import Path

# Gates lowered for a model trained on 1,000 images; test_export_failures.py trips the real ones.
TINY_GATES = {"min_accuracy": 0.0, "max_drop": 100.0, "min_agreement": 0.99}
QUICK = {"qat_epochs": 0.5, "qat_limit": 512, "calibration_samples": 64}


def write_run(run_dir: Path, model, arch: str = "edge") -> Path:
    """A run folder as `edgedigits train` writes it (only the files export reads)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "model.keras")
    (run_dir / "config.json").write_text(json.dumps({"arch": arch, "epochs": 4, "limit": 1000}))
    (run_dir / "metrics.json").write_text(json.dumps({"arch": arch, "test_accuracy": None}))
    return run_dir
