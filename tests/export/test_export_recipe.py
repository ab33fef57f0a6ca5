"""An architecture's export recipe (registry row ``export_recipe``): QAT options left unset take it; given ones win."""

import pytest

from edgedigits.errors import UsageError
from edgedigits.export.config import QAT_DEFAULTS, ExportConfig, architecture_qat
from edgedigits.train.architectures import get_architecture, list_architectures


@pytest.mark.parametrize("arch", list_architectures())
def test_every_architecture_resolves_to_its_row_then_the_defaults(arch):
    config = ExportConfig(run="runs/x").resolved(arch)
    row = get_architecture(arch).export_recipe
    assert set(row) <= set(QAT_DEFAULTS)  # a row sets only the options the export takes from it
    for key, default in QAT_DEFAULTS.items():
        assert getattr(config, key) == row.get(key, default)


def test_tiny_is_exported_with_its_longer_fine_tune_and_edge_with_the_defaults():
    assert ExportConfig(run="r").resolved("tiny").qat_epochs > QAT_DEFAULTS["qat_epochs"]
    assert architecture_qat("edge") == {}
    assert {k: getattr(ExportConfig(run="r").resolved("edge"), k) for k in QAT_DEFAULTS} == QAT_DEFAULTS


def test_tiny_has_its_own_int8_gate_below_the_default_and_a_given_gate_wins():
    """``tiny`` reaches about 99.3% int8: the default 99.4% gate would fail the export its ``train`` suggests next."""
    assert ExportConfig(run="r").resolved("tiny").min_accuracy == 0.99
    assert ExportConfig(run="r").resolved("edge").min_accuracy == QAT_DEFAULTS["min_accuracy"] == 0.994
    assert ExportConfig(run="r", min_accuracy=0.995).resolved("tiny").min_accuracy == 0.995
    with pytest.raises(UsageError, match="--min-accuracy is a fraction"):
        ExportConfig(run="r", min_accuracy=99.0).resolved("tiny")


def test_an_option_given_wins_over_the_architecture_and_the_rest_still_come_from_it():
    config = ExportConfig(run="r", qat_epochs=2.0).resolved("tiny")
    assert config.qat_epochs == 2.0
    assert (config.qat_learning_rate, config.qat_schedule) == (
        architecture_qat("tiny")["qat_learning_rate"], architecture_qat("tiny")["qat_schedule"])


@pytest.mark.parametrize("arch", [None, "not-registered", "t-w46n"])
def test_unregistered_or_unknown_architectures_take_the_defaults(arch):
    config = ExportConfig(run="r").resolved(arch)
    assert {k: getattr(config, k) for k in QAT_DEFAULTS} == QAT_DEFAULTS


def test_resolved_leaves_the_config_unchanged_and_checks_what_it_fills():
    config = ExportConfig(run="r")
    config.resolved("tiny")
    assert config.qat_epochs is None
    with pytest.raises(UsageError, match="--qat-lr"):
        ExportConfig(run="r", qat_learning_rate=2.0).resolved("tiny")
