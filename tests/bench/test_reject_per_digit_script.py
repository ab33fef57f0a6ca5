"""benchmarks/figures/reject_per_digit.py: ten thresholds chosen greedily within the digits' budget."""

import numpy as np
from bench_helpers import figure_script


def _set(scores_by_digit: dict) -> tuple[np.ndarray, np.ndarray]:
    mass = np.array([s for d in sorted(scores_by_digit) for s in scores_by_digit[d]], np.float32)
    top = np.array([d for d in sorted(scores_by_digit) for _ in scores_by_digit[d]])
    return mass, top


def test_choose_thresholds_spends_the_digit_budget_where_it_rejects_most_non_digits(monkeypatch):
    module = figure_script("reject_per_digit", monkeypatch)
    digits = _set({0: [0.3, 0.9, 0.95], 1: [0.4, 0.9, 0.95]})
    nondigits = _set({0: [0.2, 0.25], 1: [0.35, 0.35, 0.35, 0.1]})
    chosen = module.choose_thresholds([digits], [1], nondigits)
    # free first: 0's non-digits below its lowest digit (0.2, 0.25) and 1's below 0.4 (all four); nothing left to gain
    assert chosen[0] == np.float32(0.3) and chosen[1] == np.float32(0.4) and (chosen[2:] == 0).all()
    nondigits = _set({0: [0.5], 1: [0.5, 0.6, 0.7]})
    chosen = module.choose_thresholds([digits], [1], nondigits)
    # one digit may go: losing 1's 0.4 rejects three non-digits, 0's 0.3 only one
    assert chosen[0] == 0 and chosen[1] == np.float32(0.9)
    kept = module.kept_per_digit(np.eye(10, dtype=np.float32)[[0, 1]] * np.float32([[0.45], [0.45]]), chosen)
    assert kept.tolist() == [True, False]


def test_choose_thresholds_keeps_every_set_within_its_budget(monkeypatch):
    module = figure_script("reject_per_digit", monkeypatch)
    raw, photo = _set({3: [0.5, 0.8]}), _set({3: [0.9]})
    chosen = module.choose_thresholds([raw, photo], [1, 0], _set({3: [0.6, 0.85]}))
    assert chosen[3] == np.float32(0.8)  # 0.85 would cost the photo set's only digit, which has no budget
    assert module.choose_thresholds([raw, photo], [0, 0], _set({3: [0.6, 0.2]}))[3] == np.float32(0.5)  # free only


def test_kept_per_digit_applies_min_share_on_top(monkeypatch):
    module = figure_script("reject_per_digit", monkeypatch)
    probs = np.zeros((2, 10), np.float32)
    probs[0, 4] = 0.9
    probs[1, 4], probs[1, 7] = 0.5, 0.45
    assert module.kept_per_digit(probs, np.full(10, 0.5), min_share=0.6).tolist() == [True, False]
    assert module.kept_per_digit(probs, np.full(10, 0.5)).tolist() == [True, True]
