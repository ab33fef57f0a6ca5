"""benchmarks/figures/teacher_val.py: which teachers and ensembles it scores."""

import pytest
from bench_helpers import figure_script


def test_every_combination_without_named_ensembles():
    combos = figure_script("teacher_val")._combos(["a", "b", "c"], [])
    assert combos == [("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c")]


def test_named_ensembles_only_besides_each_run_alone():
    combos = figure_script("teacher_val")._combos(["a", "b", "c"], ["a+c", "all"])
    assert combos == [("a",), ("b",), ("c",), ("a", "c"), ("a", "b", "c")]


def test_an_unknown_name_says_which_before_any_model_is_loaded():
    with pytest.raises(SystemExit, match="names d not among the runs"):
        figure_script("teacher_val")._combos(["a", "b"], ["a+d"])
