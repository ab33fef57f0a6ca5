"""benchmarks/figures/reject_feature_gate.py: its tied-covariance Gaussians measure distance as Mahalanobis says."""

import numpy as np
from bench_helpers import figure_script


def _clusters(rng, n_per_class=200, dim=30):
    """Ten classes in ``dim`` dimensions, their means far apart along the first ten axes, a narrow spread."""
    means = np.zeros((10, dim))
    means[np.arange(10), np.arange(10)] = 10.0
    labels = np.repeat(np.arange(10), n_per_class)
    return means[labels] + rng.normal(0, 0.5, (len(labels), dim)), labels, means


def test_distances_are_small_at_the_own_class_and_large_far_away(monkeypatch):
    rng = np.random.default_rng(0)
    x, y, means = _clusters(rng)
    gauss = figure_script("reject_feature_gate", monkeypatch)._Gaussians(x, y, k=12)
    d = gauss.distances(x)
    assert d.shape == (len(x), 10)
    assert (d.argmin(axis=1) == y).mean() > 0.99  # each point nearest its own class
    # a point halfway between two classes is farther from both than the class's own points are from their mean
    between = (means[3] + means[7]) / 2
    own = np.quantile(d[np.arange(len(x)), y], 0.999)
    assert gauss.distances(between[None]).min() > own


def test_the_tied_covariance_whitens_the_within_class_spread(monkeypatch):
    """Squared distances of a class's own points to its mean average about k (chi-squared with k degrees)."""
    rng = np.random.default_rng(1)
    x, y, _ = _clusters(rng, n_per_class=500, dim=20)
    k = 14
    gauss = figure_script("reject_feature_gate", monkeypatch)._Gaussians(x, y, k=k, shrink=0.0)
    own = gauss.distances(x)[np.arange(len(x)), y]
    assert gauss.proj.shape == (20, k) and gauss.prec.shape == (k, k)
    assert abs(own.mean() - k) < 0.1 * k
