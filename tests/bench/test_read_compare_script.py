"""benchmarks/figures/read_compare.py: runtime settings of `read` compared photo by photo."""

import pytest
from bench_helpers import figure_script


def test_a_variant_names_runtime_constants(monkeypatch):
    script = figure_script("read_compare", monkeypatch)
    assert script.parse_variant("v=read.GATE_MAX_DIGITS=2;line._MARGIN=0.1") == (
        "v", ["read.GATE_MAX_DIGITS=2", "line._MARGIN=0.1"])
    for bad in ("v", "v=", "v=MARK_SHARE=1", "v=read.MARK_SHARE"):
        with pytest.raises(SystemExit):
            script.parse_variant(bad)


def test_settings_hold_only_while_open(monkeypatch):
    import edgedigits_runtime.read as read_module

    script = figure_script("read_compare", monkeypatch)
    before = read_module.GATE_MAX_DIGITS, read_module.MARK_SHARE
    with script.settings(["read.GATE_MAX_DIGITS=3", "read.MARK_SHARE=0.5"]):
        assert read_module.GATE_MAX_DIGITS == 3 and read_module.MARK_SHARE == 0.5
    assert (read_module.GATE_MAX_DIGITS, read_module.MARK_SHARE) == before


def test_answers_are_tallied_against_the_base_photo_by_photo(monkeypatch):
    tally = figure_script("read_compare", monkeypatch).tally
    want = ["12", "34", "", "56"]
    base = ["12", "84", "", "55"]
    new = ["12", "34", "7", "56"]
    assert tally(base, new, want) == (3, 2, 1)  # right, made right, made wrong
