"""`edgedigits train-reader`: config checks, and a tiny run that writes a verified int8 reader the runtime opens."""

from __future__ import annotations

import json

import pytest

from edgedigits.errors import UsageError
from edgedigits.train.reader import READER_FILE, ReaderConfig


@pytest.mark.parametrize("bad", [{"samples": 10, "batch_size": 64}, {"epochs": 0}, {"learning_rate": 0}, {"width": 0},
                                 {"max_drop": 1.0}, {"limit": 5}, {"val_samples": 3}])
def test_config_refuses_bad_values(bad):
    with pytest.raises(UsageError):
        ReaderConfig(**bad).validate()


@pytest.mark.slow
def test_tiny_run_writes_a_verified_reader(tmp_path, mnist_dir):
    from edgedigits.train.reader import train_reader
    from edgedigits_runtime.reader import NumberReader

    out = tmp_path / "reader"
    config = ReaderConfig(samples=128, val_samples=20, epochs=1, batch_size=32, calibration=16, max_drop=0.99, limit=2000,
                          data_dir=str(mnist_dir), out=str(out))
    metrics = train_reader(config, progress=lambda message: None)
    assert set(metrics) >= {"keras_accuracy", "int8", "params"}
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    entry = manifest["artifacts"][READER_FILE]
    assert entry["kind"] == "number_reader" and entry["format"] == "int8"
    reader = NumberReader(out / "export" / READER_FILE)
    assert reader.info["verified"] and reader.info["record"] == "ok"
    with pytest.raises(UsageError, match="exists"):
        train_reader(config, progress=lambda message: None)
