"""bench reads the held-out kind's images from the run folder (train saved them) when they are the images it would
generate itself: the same figures, without generating 3,000 images again."""

from __future__ import annotations

import dataclasses
import json
import types

import numpy as np
import pytest

from edgedigits.bench import api
from edgedigits.data import load_splits
from edgedigits.train import extras, negatives
from edgedigits.train.config import TrainConfig


@pytest.fixture()
def run(tmp_path, mnist_dir, monkeypatch):
    """A run folder as train leaves it (config and report images; 12 images of each part instead of 3,000)."""
    for module in (negatives, api):
        monkeypatch.setattr(module, "HOLDOUT_IMAGES", 12)
    monkeypatch.setattr(api, "_HOLDOUT_CACHE", {})
    config = TrainConfig(holdout_kind="noise", data_dir=str(mnist_dir))
    run_dir = tmp_path / "run"
    (run_dir / "export").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
    splits = load_splits(mnist_dir)
    made = extras.make_report_images(splits, config, parts=("holdout",))
    (run_dir / "report_images.npz").write_bytes(extras.npz_bytes(made, extras.report_key(splits, config)))
    return run_dir, made["holdout_x"]


def test_the_saved_images_are_the_ones_bench_generates(run, mnist_dir, monkeypatch):
    run_dir, saved = run
    bench_config = types.SimpleNamespace(data_dir=str(mnist_dir))
    assert np.array_equal(api._saved_holdout("noise", bench_config, run_dir), saved)
    fresh = api._holdout_images("noise", bench_config)  # no run folder: generated as before
    assert np.array_equal(fresh, saved)
    monkeypatch.setattr(api, "_HOLDOUT_CACHE", {})
    monkeypatch.setattr(negatives, "generate", lambda *a, **k: pytest.fail("generated although the run saved them"))
    assert np.array_equal(api._holdout_images("noise", bench_config, run_dir), saved)


def test_other_kinds_runs_and_files_are_not_used(run, mnist_dir):
    run_dir, _ = run
    bench_config = types.SimpleNamespace(data_dir=str(mnist_dir))
    assert api._saved_holdout("shapes", bench_config, run_dir) is None  # another kind than the run held out
    assert api._saved_holdout("noise", bench_config, None) is None
    assert api._saved_holdout("noise", bench_config, run_dir / "missing") is None
    # a --limit run holding out a kind drawn from digits drew them from other validation digits than bench's
    limited = TrainConfig(holdout_kind="digit_parts", limit=600, data_dir=str(mnist_dir))
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(limited)))
    assert api._saved_holdout("digit_parts", bench_config, run_dir) is None
    artifact = types.SimpleNamespace(manifest=run_dir / "export" / "manifest.json")
    assert api._run_of(artifact) == run_dir and api._run_of(types.SimpleNamespace(manifest=None)) is None
