"""`edgedigits train-reader`: config checks, and a tiny run that writes a verified int8 reader the runtime opens."""

from __future__ import annotations

import json

import pytest

from edgedigits.errors import UsageError
from edgedigits.train.reader import READER_FILE, ReaderConfig


@pytest.mark.parametrize("bad", [{"samples": 10, "batch_size": 64}, {"epochs": 0}, {"learning_rate": 0}, {"width": 0},
                                 {"max_drop": 1.0}, {"limit": 5}, {"val_samples": 3},
                                 {"marks": 1.5}, {"mark_pool": 2}, {"holdout": "unicorns"},
                                 {"fine_pen": 1.5}, {"rules": -0.1}])
def test_config_refuses_bad_values(bad):
    with pytest.raises(UsageError):
        ReaderConfig(**bad).validate()


@pytest.mark.slow
def test_tiny_run_writes_a_verified_reader(tmp_path, mnist_dir):
    from edgedigits.train.reader import train_reader
    from edgedigits_runtime.reader import NumberReader

    out = tmp_path / "reader"
    config = ReaderConfig(samples=128, val_samples=20, epochs=1, batch_size=32, calibration=16, max_drop=0.99, limit=2000,
                          mark_pool=40,
                          data_dir=str(mnist_dir), out=str(out))
    metrics = train_reader(config, progress=lambda message: None)
    assert set(metrics) >= {"keras_accuracy", "int8", "params"}
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    entry = manifest["artifacts"][READER_FILE]
    assert entry["kind"] == "number_reader" and entry["format"] == "int8"
    reader = NumberReader(out / "export" / READER_FILE)
    assert reader.info["verified"] and reader.info["record"] == "ok" and reader.info["reads_marks"]
    with pytest.raises(UsageError, match="exists"):
        train_reader(config, progress=lambda message: None)


@pytest.mark.slow
def test_a_stage_with_frozen_batch_norm_keeps_its_statistics(tmp_path, mnist_dir):
    """--freeze-bn: a stage from --init leaves every batch-norm layer's weights and moving statistics as they were."""
    import numpy as np

    from edgedigits._tf import tf_and_keras
    from edgedigits.train.reader import train_reader

    _, keras = tf_and_keras()
    common = dict(samples=64, val_samples=10, epochs=1, batch_size=32, calibration=10, max_drop=0.99, limit=1000,
                  mark_pool=20, data_dir=str(mnist_dir))
    train_reader(ReaderConfig(out=str(tmp_path / "a"), **common), progress=lambda message: None)
    train_reader(ReaderConfig(out=str(tmp_path / "b"), init=str(tmp_path / "a"), seed=1, freeze_bn=True, **common),
                 progress=lambda message: None)

    def layers(run):
        model = keras.models.load_model(tmp_path / run / "model.keras", compile=False)
        return [(type(layer).__name__, layer.get_weights()) for layer in model.layers if layer.get_weights()]

    before, after = layers("a"), layers("b")
    bn = [(x, y) for (kind, x), (_, y) in zip(before, after) if kind == "BatchNormalization"]
    assert len(bn) == 6 and all(np.array_equal(a, b) for x, y in bn for a, b in zip(x, y))
    assert any(not np.array_equal(x[0], y[0]) for (kind, x), (_, y) in zip(before, after) if kind == "Conv2D")


def test_a_digits_only_reader_is_widened_with_a_mark_output():
    """--init from a digits-only reader (11 outputs): digits and blank kept, the mark output zero and least likely."""
    import numpy as np

    from edgedigits.train.reader import BLANK, MARK, _widened

    class Model:
        def get_weights(self):
            return [np.zeros((3, 3)), np.zeros((1, 1, 4, 12)), np.zeros(12)]

    rng = np.random.default_rng(0)
    old = [rng.normal(size=(3, 3)), rng.normal(size=(1, 1, 4, 11)), rng.normal(size=11)]
    new = _widened(old, Model())
    assert new[0] is old[0] and new[1].shape == (1, 1, 4, 12) and new[2].shape == (12,)
    assert np.array_equal(new[1][..., :MARK], old[1][..., :10]) and np.array_equal(new[1][..., BLANK], old[1][..., 10])
    assert not new[1][..., MARK].any() and new[2][MARK] < min(old[2])
    assert new[2][BLANK] == old[2][10]
    same = [w.copy() for w in Model().get_weights()]
    assert _widened(same, Model()) == same  # a reader that already has the mark output: unchanged


def test_the_held_out_kind_is_the_one_no_stage_drew(tmp_path):
    """The manifest's "holdout" (the benchmark's unseen kind) is only claimed when every --init stage held it out too
    (or drew no marks at all); a stage holding out a kind an earlier stage drew claims none."""
    from edgedigits.train.reader import _lineage_holdout

    def run(name, **config):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
        return str(tmp_path / name)

    digits_only = run("r0", init=None)  # a reader from before marks: no "marks" in its config
    first = run("m1", init=digits_only, marks=0.35, holdout="shapes")
    assert _lineage_holdout(ReaderConfig(init=first, holdout="shapes")) == "shapes"
    assert _lineage_holdout(ReaderConfig(init=first, holdout="textures")) == ""  # m1 drew textures
    assert _lineage_holdout(ReaderConfig(init=digits_only, holdout="textures")) == "textures"
    assert _lineage_holdout(ReaderConfig(init=None, holdout="")) == ""
    assert _lineage_holdout(ReaderConfig(init=str(tmp_path / "gone"), holdout="shapes")) == ""  # unknown: claim nothing
