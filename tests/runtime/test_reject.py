""""Not a digit": Classification, reject rules from the manifest, hand-set thresholds, the CLI's table and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits_runtime import NOT_A_DIGIT, Classification, DigitClassifier
from edgedigits_runtime.errors import ModelError, UsageError
from edgedigits_runtime.reject import check_rule, classification_from_probs


def _manifest_with(model_copy, rule):
    path = model_copy.parent / "manifest.json"
    manifest = json.loads(path.read_text())
    entry = manifest["artifacts"][model_copy.name]
    if rule is None:
        entry.pop("reject", None)
    else:
        entry["reject"] = rule
    path.write_text(json.dumps(manifest))
    return manifest


def test_classification_from_probs_rejects_below_the_threshold():
    probs = np.array([[0.97] + [0.0033] * 9, [0.1] * 10, [0.0] * 3 + [0.5, 0.5] + [0.0] * 5], np.float32)
    c = classification_from_probs(probs, threshold=0.5)
    assert isinstance(c, Classification) and len(c) == 3
    assert c.labels.dtype == np.int64 and c.labels.tolist() == [0, NOT_A_DIGIT, 3]  # a tie at the threshold is kept
    assert c.not_a_digit.tolist() == [False, True, False]
    assert c.score.dtype == np.float32 and c.confidence.dtype == np.float32 and c.probs.shape == (3, 10)
    np.testing.assert_allclose(c.score, [0.97, 0.1, 0.5])
    assert c.threshold == 0.5 and c.method == "max_prob"
    row = c.to_dict(1, k=2)
    assert row["label"] is None and row["not_a_digit"] is True and row["threshold"] == 0.5
    assert row["top_k"][0][0] == 0 and len(row["top_k"]) == 2 and row["score"] == pytest.approx(0.1)
    json.dumps(c.to_rows(k=3))  # JSON-ready
    assert [r["label"] for r in c.to_rows()] == [0, None, 3]


def test_an_index_past_the_batch_is_a_usage_error_naming_the_batch():
    c = classification_from_probs(np.array([[0.97] + [0.0033] * 9, [0.1] * 10], np.float32), threshold=0.5)
    assert c.to_dict(-1) == c.to_dict(1) and c.top_k(-2, 1) == c.top_k(0, 1)  # from the end, as a list's
    for bad in (2, -3, 10**9, 1.0, True, "0", None):
        with pytest.raises(UsageError, match=r"from 0 to 1 \(this batch holds 2 images\)"):
            c.to_dict(bad)
        with pytest.raises(UsageError, match="image index"):
            c.top_k(bad)
    with pytest.raises(UsageError, match="this batch is empty"):
        classification_from_probs(np.zeros((0, 10), np.float32)).to_dict(0)


def test_no_threshold_rejects_nothing():
    c = classification_from_probs(np.full((4, 10), 0.1, np.float32))
    assert not c.not_a_digit.any() and (c.labels >= 0).all() and c.threshold is None and c.method is None
    empty = classification_from_probs(np.zeros((0, 10), np.float32), threshold=0.5)
    assert len(empty) == 0 and empty.labels.shape == (0,) and empty.to_rows() == []


@pytest.mark.parametrize("rule, message", [
    ([0.5], "not an object"),
    ({"method": "telepathy", "threshold": 0.5}, "unknown to this runtime"),
    ({"method": "max_prob"}, "bad reject threshold"),
    ({"method": "max_prob", "threshold": 1.5}, "bad reject threshold"),
    ({"method": "digit_mass", "threshold": 0.5, "min_share": 2}, "bad reject threshold"),
    ({"method": "max_prob", "threshold": 0.5, "min_share": 0.6}, "needs the digit_mass method"),
])
def test_bad_rules_are_model_errors(rule, message):
    with pytest.raises(ModelError, match=message):
        check_rule(rule, "manifest entry")
    assert check_rule(None, "x") is None


def test_model_without_rule_behaves_as_before(model_copy, digits):
    _manifest_with(model_copy, None)
    clf = DigitClassifier(model_copy, num_threads=1)
    images = digits[0][:50]
    assert clf.reject is None and clf.info["reject"] is None
    c = clf.classify(images)
    assert not c.not_a_digit.any() and c.threshold is None
    np.testing.assert_array_equal(c.labels, clf.predict(images))
    np.testing.assert_array_equal(c.probs, clf.predict_proba(images))
    # By hand: a threshold above every probability rejects everything, 0 rejects nothing.
    assert clf.classify(images, threshold=1.0).not_a_digit.sum() == int((c.confidence < 1.0).sum())
    assert not clf.classify(images, threshold=0.0).not_a_digit.any()
    for bad in (-0.1, 1.1, float("nan"), "0.5", True):
        with pytest.raises(UsageError, match="threshold must be"):
            clf.classify(images, threshold=bad)


def test_rule_from_the_manifest_is_applied(model_copy, digits):
    rule = {"method": "max_prob", "threshold": 0.999, "chosen_on": "a test"}
    _manifest_with(model_copy, rule)
    clf = DigitClassifier(model_copy, num_threads=1)
    assert clf.reject == rule and clf.info["reject"] == rule
    images = digits[0][:100]
    c = clf.classify(images)
    assert c.threshold == 0.999
    np.testing.assert_array_equal(c.not_a_digit, clf.predict_proba(images).max(axis=1) < np.float32(0.999))
    assert (c.labels[c.not_a_digit] == NOT_A_DIGIT).all()
    # predict/predict_proba keep giving digits only, for old callers.
    assert (clf.predict(images) >= 0).all()
    # A hand-set threshold overrides the rule.
    assert not clf.classify(images, threshold=0.0).not_a_digit.any()


def test_min_share_rejects_digits_split_between_two():
    probs = np.array([[0.9] + [0.01] * 9, [0.45, 0.45] + [0.0] * 8, [0.2, 0.1] + [0.0] * 8], np.float32)
    c = classification_from_probs(probs, threshold=0.5, method="digit_mass", min_share=0.6)
    assert c.labels.tolist() == [0, NOT_A_DIGIT, NOT_A_DIGIT] and c.min_share == 0.6  # row 2: mass 0.9, split in two
    row = c.to_dict(1)
    assert row["not_a_digit"] and row["share"] == pytest.approx(0.5) and row["min_share"] == 0.6 and row["score"] >= 0.5
    plain = classification_from_probs(probs, threshold=0.5, method="digit_mass")
    assert plain.labels.tolist() == [0, 0, NOT_A_DIGIT] and plain.min_share is None and "share" not in plain.to_dict(1)
    nothing = classification_from_probs(probs, threshold=None, method="digit_mass", min_share=0.6)
    assert not nothing.not_a_digit.any() and nothing.min_share is None  # no rule: nothing rejected


def test_min_share_from_the_manifest_is_applied_and_a_hand_threshold_replaces_it(model_copy, digits):
    from edgedigits_runtime.reject import top_share

    rule = {"method": "digit_mass", "threshold": 0.0, "min_share": 0.999, "chosen_on": "a test"}
    _manifest_with(model_copy, rule)
    clf = DigitClassifier(model_copy, num_threads=1)
    images = digits[0][:100]
    c = clf.classify(images)
    np.testing.assert_array_equal(c.not_a_digit, top_share(clf.predict_proba(images)) < np.float32(0.999))
    assert c.not_a_digit.any() and c.min_share == 0.999
    assert not clf.classify(images, threshold=0.0).not_a_digit.any()


def test_a_bad_rule_in_the_manifest_refuses_the_model(model_copy):
    _manifest_with(model_copy, {"method": "max_prob", "threshold": "high"})
    with pytest.raises(ModelError, match="reject"):
        DigitClassifier(model_copy)


def test_shipped_model_rejects_uniform_noise_and_blank(clf):
    """Pure noise and empty frames handed straight to the model (no preprocessing) are not digits."""
    if clf.reject is None:  # the shipped model predates the rule
        pytest.skip("the shipped model has no calibrated 'not a digit' rule")
    rng = np.random.default_rng(0)
    noise = (rng.random((64, 28, 28)) * 255).astype(np.uint8)
    sparse = ((rng.random((64, 28, 28)) < 0.1) * 255).astype(np.uint8)
    c = clf.classify(np.concatenate([noise, sparse]))
    assert c.not_a_digit.mean() >= 0.95


def test_calibrate_threshold_accepts_at_least_the_share_asked():
    from edgedigits_runtime.reject import calibrate_threshold, reject_figures

    rng = np.random.default_rng(0)
    scores = np.round(rng.beta(8, 1, 5000) * 256) / 256  # int8-like: many ties
    for accept in (0.9, 0.99, 0.995, 1.0):
        t = calibrate_threshold(scores, accept)
        assert (scores >= t).mean() >= accept
        assert t in scores
        higher = scores[scores > t]
        if len(higher):  # the next observed score up would accept too few
            assert (scores >= higher.min()).mean() < accept
    figures = reject_figures(scores, np.full(10, 0.1), 0.5, correct=np.ones(5000, bool))
    assert figures["nondigits_rejected"] == 1.0 and figures["accuracy_on_accepted"] == 1.0
    with pytest.raises(UsageError):
        calibrate_threshold([], 0.99)
    with pytest.raises(UsageError):
        calibrate_threshold([0.5], 0.0)


def test_digit_mass_scores_the_digits_total_probability():
    probs = np.array([[0.9] + [0.01] * 9, [0.3, 0.1] + [0.0] * 8], np.float32)  # row 2: p(not a digit) = 0.6
    c = classification_from_probs(probs, threshold=0.5, method="digit_mass")
    np.testing.assert_allclose(c.score, [0.99, 0.4], rtol=1e-5)
    assert c.labels.tolist() == [0, NOT_A_DIGIT] and c.method == "digit_mass"
    assert c.confidence.tolist() == pytest.approx([0.9, 0.3])
    assert check_rule({"method": "digit_mass", "threshold": 0.7}, "x")["method"] == "digit_mass"


def test_quantized_probabilities_stay_in_zero_one(model_copy):
    """An int8 output whose calibrated range reaches past [0, 1] (older 11th-class exports: zero came out as -0.03,
    certainty as 1.02) still gives probabilities in [0, 1], and so a digit_mass score in [0, 1]."""
    clf = DigitClassifier(model_copy, num_threads=1)
    images = np.zeros((2, 28, 28), np.uint8)
    images[1, 6:22, 12:16] = 255
    clf._out_zero = clf._out_zero + np.float32(9)  # as if the output's zero point sat 9 steps higher
    clf._out_scale = clf._out_scale * np.float32(1.2)
    p = clf.predict_proba(images)
    assert p.min() >= 0.0 and p.max() <= 1.0
    raw = clf._dequantize(clf._raw(images))
    assert raw.min() < 0.0  # the unclipped values did leave the range
    c = clf.classify(images, threshold=0.5)
    assert (c.score >= 0).all() and (c.score <= 1).all()
