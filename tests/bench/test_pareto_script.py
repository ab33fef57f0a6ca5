"""benchmarks/figures/pareto.py: which architectures it takes by default, and its table from the bench's rows."""

import statistics

import pytest
from bench_helpers import figure_script


def _pareto(monkeypatch):
    return figure_script("pareto", monkeypatch)


def test_default_architectures_are_the_device_ones_teachers_left_out(monkeypatch):
    from edgedigits.train.architectures import get_architecture, list_architectures

    chosen = _pareto(monkeypatch)._device_architectures()
    teachers = [name for name in list_architectures() if not get_architecture(name).device]
    assert "vgg" in teachers  # registered as a teacher "not for devices"
    assert chosen and not set(chosen) & set(teachers)
    assert set(chosen) | set(teachers) == set(list_architectures())


def _row(arch, seed, accuracy, size, kept=None, on_kept=None, rejected=None):
    return {"arch": arch, "seed": seed, "recipe": {}, "int8_accuracy": accuracy, "val_accuracy": 0.99,
            "macs": 1000, "params": 100, "size_bytes": size, "p50_ms": 0.015, "train_seconds": 60.0 + seed,
            "digits_accepted": kept, "accuracy_on_accepted": on_kept, "holdout_kind": "shapes" if rejected else None,
            "holdout_rejected": rejected}


def test_table_means_over_seeds_with_the_not_a_digit_columns(monkeypatch):
    pareto = _pareto(monkeypatch)
    rows = [_row("tiny", 0, 0.9931, 15001, 0.98, 0.995, 0.70), _row("tiny", 1, 0.9935, 14990, 0.97, 0.996, 0.80),
            _row("tiny", 2, 0.9940, 15020, 0.99, 0.997, 0.75), _row("seed", 0, 0.9925, 42000)]
    table = {t["arch"]: t for t in pareto._summarise(rows)}
    tiny = table["tiny"]
    assert tiny["seeds"] == [0, 1, 2]
    assert tiny["int8_mean"] == pytest.approx(statistics.mean([0.9931, 0.9935, 0.9940]))
    assert (tiny["int8_min"], tiny["int8_max"]) == (0.9931, 0.9940)
    assert tiny["size_bytes"] == 15001 and tiny["size_max_bytes"] == 15020  # median, and the largest file
    assert tiny["digits_kept"] == pytest.approx(0.98)
    assert tiny["holdout_rejected"] == pytest.approx(0.75) and tiny["holdout_kind"] == "shapes"
    assert table["seed"]["holdout_rejected"] is None and table["seed"]["int8_sd"] is None

    md = pareto._markdown(list(table.values()), None).splitlines()
    assert md[0].count("|") == md[1].count("|") == md[2].count("|") == md[3].count("|")
    assert "15,001 B" in md[2] and "15,020 B" in md[2] and "75.0% (shapes)" in md[2]
    assert 'no "not a digit"' in md[3]
    assert "export:" not in md[2]  # no export recipe in the rows: the default fine-tune, nothing said
    rows[0]["export_recipe"] = {"qat_epochs": 6.0}
    table = {t["arch"]: t for t in pareto._summarise(rows)}
    assert "defaults; export: qat_epochs=6.0" in pareto._markdown(list(table.values()), None).splitlines()[2]
    assert "REDUCED" in pareto._markdown(list(table.values()), "epochs=10")


def test_load_is_three_averages():
    load = figure_script("pareto")._load().split("/")
    assert len(load) == 3 and all(float(x) >= 0 for x in load)
