"""benchmarks/figures/serve_load.py --continuous: a camera client's use of a real server, answers checked against
the CLI, RSS sampled (a short run; its figures are not judged here)."""

import pytest
from bench_helpers import figure_script


def test_continuous_use_checks_every_answer_against_the_cli(monkeypatch, mnist_dir):
    for module in ("cv2", "h11", "starlette", "uvicorn", "python_multipart"):
        pytest.importorskip(module)
    script = figure_script("serve_load", monkeypatch)
    args = script._parse(["--continuous", "1", "--photos", "3", "--continuous-clients", "2", "--data-dir", str(mnist_dir)])
    report = script.continuous(args)
    assert report["photos"] == 3 and [run["clients"] for run in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert run["requests"] >= run["clients"] and run["errors"] == 0 and run["warmup_errors"] == 0, run
        assert run["alive_at_end"] and run["exit_code_on_sigterm"] == 0
        assert run["rss_mb"]["start"] > 0 and run["rss_mb"]["end"] > 0 and run["rss_samples"]
    text = script._render_continuous(report, args)
    assert "| clients | server |" in text and "**0**" in text
