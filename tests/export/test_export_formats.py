"""The formats registry and ExportConfig: names, files, suggestions, option checks (no TensorFlow)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgedigits.cli_export import flag_name
from edgedigits.errors import UsageError
from edgedigits.export import DEFAULT_FORMATS, FORMATS, ExportConfig, get_format, parse_formats
from edgedigits.export.formats import GATES, formats_table


def test_registry_rows_are_consistent():
    from edgedigits_runtime.backends import FAMILIES

    files = [row.filename("edge") for row in FORMATS.values()]
    assert len(set(files)) == len(files)
    for row in FORMATS.values():
        assert row.runtime in FAMILIES or row.verify is not None  # the runtime verifies it, or the row says how
        if row.write is None:  # a single model file: named for the backend family that runs it
            assert row.filename("edge").endswith("." + row.runtime)
        assert row.filename("edge").endswith(row.suffix) and row.filename("edge").startswith("edge")
        assert row.gate in GATES
        assert callable(row.convert) and row.summary
    assert set(DEFAULT_FORMATS) <= set(FORMATS)


def test_design_table_lists_every_format_and_its_file():
    """docs/DESIGN.md's formats table is the registry, row for row (a new format adds its line there)."""
    design = (Path(__file__).resolve().parents[2] / "docs" / "DESIGN.md").read_text()
    section = design.split("## Export formats registry", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section, flags=re.M))
    assert documented == {name: row.filename("<arch>") for name, row in FORMATS.items()}


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_has_a_cli_flag_and_a_help_line(name):
    from typer.testing import CliRunner

    from edgedigits.cli import app

    help_text = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "200"}).output
    assert f"--{name} " in help_text and FORMATS[name].filename("<arch>") in help_text
    assert flag_name(name).isidentifier()
    table = formats_table()
    assert f"\n{name} " in table
    assert max(len(line) for line in table.splitlines()) <= 76


@pytest.mark.parametrize("typo, suggestion", [("in8", "int8"), ("onnx_int8", "onnx-int8"), ("float", "float32")])
def test_unknown_format_suggests_the_closest(typo, suggestion):
    with pytest.raises(UsageError, match=f"unknown export format '{typo}'; did you mean '{suggestion}'"):
        get_format(typo)


def test_parse_formats_orders_and_deduplicates():
    assert [f.name for f in parse_formats("onnx, int8,int8")] == ["int8", "onnx"]
    with pytest.raises(UsageError, match="no export format"):
        parse_formats(" , ")


def test_config_defaults_and_out_dir(tmp_path):
    config = ExportConfig(run=str(tmp_path)).resolved()  # gates not set by an architecture's row: the defaults
    assert config.formats == list(DEFAULT_FORMATS)
    assert config.out_dir == tmp_path / "export"
    assert (config.min_accuracy, config.max_drop, config.min_agreement) == (0.994, 0.15, 0.999)
    assert ExportConfig(run="r", out=str(tmp_path / "x")).out_dir == tmp_path / "x"


@pytest.mark.parametrize("option, value, message", [
    ("min_accuracy", 99.4, "--min-accuracy is a fraction"),
    ("min_agreement", -0.1, "--min-agreement is a fraction"),
    ("max_drop", -1.0, "--max-drop"),
    ("qat_epochs", 0, "--qat-epochs"),
    ("qat_limit", 3, "--qat-limit"),
    ("qat_batchnorm", "fixed", "--qat-batchnorm must be one of train, frozen"),
    ("qat_schedule", "step", "--qat-schedule must be one of constant, cosine"),
    ("calibration_samples", 2, "--calibration-samples"),
    ("run", "", "no run folder"),
])
def test_config_rejects_bad_options(option, value, message):
    config = ExportConfig(run="runs/edge")
    setattr(config, option, value)
    with pytest.raises(UsageError, match=message):
        config.validate()
