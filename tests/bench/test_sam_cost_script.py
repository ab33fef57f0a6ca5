"""benchmarks/figures/sam_cost.py: plain and SAM steps timed alike, one summary line with their ratio."""

import json
import sys

import pytest
from bench_helpers import figure_script

pytestmark = [pytest.mark.needs_tf]


def test_one_line_per_round_and_way_then_the_ratio(monkeypatch, capsys):
    pytest.importorskip("tensorflow")
    script = figure_script("sam_cost")
    monkeypatch.setattr(sys, "argv", ["sam_cost.py", "--arch", "tiny", "--steps", "2", "--rounds", "2", "--batch-size", "8"])
    script.main()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["round"], d["way"]) for d in lines[:-1]] == [(0, "plain"), (0, "sam"), (1, "plain"), (1, "sam")]
    summary = lines[-1]
    assert summary["arch"] == "tiny" and summary["rho"] == 0.05
    assert summary["cpu_ratio"] == pytest.approx(summary["sam_cpu_ms_per_step"] / summary["plain_cpu_ms_per_step"], rel=0.02)
