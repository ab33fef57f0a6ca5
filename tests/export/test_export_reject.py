""""Not a digit" at export: each artifact's own threshold from validation digits, in the manifest, applied by the runtime."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
from export_helpers import QUICK, TINY_GATES, write_run

from edgedigits.errors import GateError
from edgedigits.export.verify import RejectCalibration, check_reject_gate


def _gate_config(**kw):
    return types.SimpleNamespace(**{"min_digits_accepted": 0.98, "max_reject_drop": 5.0, **kw})


def _verification(kept, rejected):
    score = types.SimpleNamespace(digits_accepted=kept, nondigits_rejected=rejected)
    return types.SimpleNamespace(score=score, reject={"threshold": 0.5})


def test_rule_adds_min_share_from_the_kept_validation_digits():
    rng = np.random.default_rng(0)
    mass = np.round(rng.beta(8, 1, 5000) * 256) / 256  # int8-like scores, many ties
    shares = np.round(rng.beta(20, 1, 5000) * 256) / 256
    calibration = RejectCalibration(val_x=None, val_y=None, nondigits=None, holdout_kind="noise", accept=0.99, keras={},
                                    method="digit_mass", split=0.002)
    rule = calibration.rule(mass, val_shares=shares)
    kept = mass >= np.float32(rule["threshold"])
    assert kept.mean() >= 0.99 and rule["min_share"] in shares[kept]
    both = kept & (shares >= np.float32(rule["min_share"]))
    assert both.sum() >= (1 - 0.002) * kept.sum() and rule["validation_digits_accepted"] == pytest.approx(both.mean())
    higher = shares[kept][shares[kept] > rule["min_share"]]
    assert (shares[kept] >= higher.min()).mean() < 1 - 0.002  # the highest such share
    # no split, or a max_prob rule: no second condition, the threshold as before
    for options in ({"split": 0.0}, {"method": "max_prob"}):
        plain = RejectCalibration(**{**calibration.__dict__, **options}).rule(mass, val_shares=shares)
        assert "min_share" not in plain and plain["threshold"] == rule["threshold"]
        assert plain["validation_digits_accepted"] == pytest.approx(kept.mean())


def test_reject_gate():
    calibration = RejectCalibration(val_x=None, val_y=None, nondigits=None, holdout_kind="shapes", accept=0.99,
                                    keras={"holdout_rejected": 0.90})
    check_reject_gate(_verification(0.99, 0.86), calibration, _gate_config(), "int8")  # within 5 points
    with pytest.raises(GateError, match="held-out non-digit kind 'shapes'.*--max-reject-drop"):
        check_reject_gate(_verification(0.99, 0.80), calibration, _gate_config(), "int8")
    with pytest.raises(GateError, match="keeps only 95.00% of the test digits.*--min-digits-accepted"):
        check_reject_gate(_verification(0.95, 0.95), calibration, _gate_config(), "int8")
    check_reject_gate(_verification(0.5, 0.0), None, _gate_config(), "int8")  # no rule: nothing to gate


@pytest.mark.slow
def test_export_calibrates_each_artifact(tiny_model, mnist_dir, tmp_path):
    from edgedigits.export import ExportConfig, export
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.mnist import load_mnist

    run = write_run(tmp_path / "run", tiny_model)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "negatives": 0.05, "negative_weight": 0.5,
                                                 "holdout_kind": "noise", "seed": 0}))
    result = export(ExportConfig(run=str(run), formats=["int8", "float32"], data_dir=str(mnist_dir), **TINY_GATES, **QUICK,
                                 min_digits_accepted=0.0, max_reject_drop=100.0))
    result.raise_for_errors()
    manifest = json.loads(result.manifest_path.read_text())
    x, y = load_mnist("test", mnist_dir)
    for row in result.rows:
        entry = manifest["artifacts"][row.path.split("/")[-1]]
        rule = entry["reject"]
        assert rule["method"] == "max_prob" and rule["holdout_kind"] == "noise" and "validation" in rule["chosen_on"]
        assert rule["threshold"] == row.reject_threshold and 0 < rule["threshold"] <= 1
        assert row.digits_accepted == rule["test_digits_accepted"] and row.holdout_rejected == rule["holdout_rejected"]
        clf = DigitClassifier(row.path)
        assert clf.reject == rule
        alone = tmp_path / "alone" / row.path.split("/")[-1]  # no manifest: the rule comes from the record, sans prose
        alone.parent.mkdir(exist_ok=True)
        alone.write_bytes(Path(row.path).read_bytes())
        assert DigitClassifier(alone, strict=True).reject == {k: v for k, v in rule.items() if k != "chosen_on"}
        c = clf.classify(x)
        assert c.not_a_digit.mean() == pytest.approx(1 - rule["test_digits_accepted"])
        np.testing.assert_array_equal(c.labels[~c.not_a_digit], clf.predict(x)[~c.not_a_digit])
    assert result.keras_reject["holdout_kind"] == "noise"
    assert "held-out non-digit kind 'noise'" in result.to_table()


@pytest.mark.slow
def test_class_head_exports_exact_int8_probabilities_and_calibrates_on_photo_digits(mnist_dir, tmp_path):
    """The 11th-class head keeps the softmax's int8 output (1/256 steps in [0, 1)), the threshold keeps >= 99% of the
    photo-path validation digits too, and the manifest says so."""
    from edgedigits._tf import tf_and_keras
    from edgedigits.export import ExportConfig, export
    from edgedigits.train.architectures import create_model
    from edgedigits.train.trainer import with_not_a_digit_class
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.mnist import load_mnist

    _, keras = tf_and_keras()
    keras.utils.set_random_seed(0)
    x, y = load_mnist("train", mnist_dir)
    model = with_not_a_digit_class(keras, create_model("edge", keras))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x[:600].astype(np.float32)[..., None] / 255.0, y[:600], batch_size=32, epochs=2, verbose=0)
    run = write_run(tmp_path / "run", model)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "negatives": 0.01, "photo_digits": 0.005, "negative_weight": 0.5,
                                                 "negative_target": "class", "holdout_kind": "noise", "seed": 0}))
    result = export(ExportConfig(run=str(run), formats=["int8"], data_dir=str(mnist_dir), **TINY_GATES, **QUICK,
                                 min_digits_accepted=0.0, max_reject_drop=100.0))
    result.raise_for_errors()
    (row,) = result.rows
    rule = json.loads(result.manifest_path.read_text())["artifacts"][row.path.split("/")[-1]]["reject"]
    assert rule["method"] == "digit_mass" and "photo path" in rule["chosen_on"] and "min_share" in rule["chosen_on"]
    # the mass threshold keeps >= 99% of each validation set; min_share then keeps >= 99.9% of the raw ones it kept
    assert rule["validation_digits_accepted"] >= 0.99 * (1 - ExportConfig().reject_split) - 1e-9
    assert rule["validation_photo_digits_accepted"] >= 0.98 and 0 < rule["min_share"] <= 1
    clf = DigitClassifier(row.path)
    assert clf.reject["min_share"] == rule["min_share"]
    assert clf.output_spec.scale == pytest.approx(1 / 256) and clf.output_spec.zero_point == -128
    p = clf.predict_proba(load_mnist("test", mnist_dir)[0][:200])
    assert p.min() >= 0 and p.sum(axis=1).max() <= 1
    # converted as the softmax sliced (no run-time shape ops for Keras' Reshape), its strings stripped
    from tensorflow.lite.tools import flatbuffer_utils

    from edgedigits.export.micro import model_operators

    data = Path(row.path).read_bytes()
    ops = model_operators(data)
    assert ops[-2:] == ["SOFTMAX", "STRIDED_SLICE"] and not {"SHAPE", "PACK"} & set(ops)
    flat = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    assert not any(t.name for g in flat.subgraphs for t in g.tensors) and not flat.signatureDefs
    assert [m.name for m in flat.metadata][-1] == b"edgedigits_record"
