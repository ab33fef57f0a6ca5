"""benchmarks/figures/arch_probe.py: a candidate's cost row, its int8 model opened through the runtime's open_model."""

import sys

from bench_helpers import figure_script


def _module(monkeypatch):
    from edgedigits.train import architectures

    # the script imports explore_frontier, which registers its candidates: keep them out of the shared registry
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))
    return figure_script("arch_probe", monkeypatch)


def test_probe_row_has_the_registry_costs_and_a_litert_session(monkeypatch, capsys):
    from edgedigits._tf import tf_and_keras
    from edgedigits.train.architectures import count_macs, create_model, list_architectures
    from edgedigits.train.trainer import with_not_a_digit_class

    before = list_architectures()
    probe = _module(monkeypatch)
    opened = []
    session = probe._session
    monkeypatch.setattr(probe, "_session", lambda data: opened.append(session(data)) or opened[-1])
    monkeypatch.setattr(sys, "argv", ["arch_probe.py", "tiny", "--rounds", "1", "--calls", "2"])
    probe.main()
    out = capsys.readouterr().out

    _, keras = tf_and_keras()
    model = with_not_a_digit_class(keras, create_model("tiny", keras))
    row = next(line for line in out.splitlines() if line.startswith("| tiny |"))
    assert f"| {count_macs(model):,} | {model.count_params():,} |" in row
    assert "through open_model" in out
    assert len(opened) == 1 and opened[0].predict.__self__.backend == "litert"
    monkeypatch.undo()
    sys.modules.pop("explore_frontier", None)
    assert list_architectures() == before  # the candidates did not leak into the other tests' registry
