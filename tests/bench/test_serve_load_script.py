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


def test_the_load_figures_have_their_own_section_so_rewriting_them_keeps_the_sessions(monkeypatch, tmp_path):
    """The default mode rewrites its section of RESULTS.md (replace_section: heading to the next "## "): its own, after
    "Serving over HTTP", never the hand-written sessions under that heading."""
    script = figure_script("serve_load", monkeypatch)
    from results_md import replace_section

    text = script.RESULTS.read_text(encoding="utf-8")
    assert script.SECTION.startswith("## ") and text.count(f"\n{script.SECTION}\n") == 1
    copy = tmp_path / "RESULTS.md"
    copy.write_text(text, encoding="utf-8")
    replace_section(copy, f"{script.SECTION}\n\nnew figures\n")
    after = copy.read_text(encoding="utf-8")
    sessions = [line for line in text.splitlines() if line.startswith("### ")]
    assert "new figures" in after and [line for line in after.splitlines() if line.startswith("### ")] == sessions
    assert after.index("## Serving over HTTP\n") < after.index(script.SECTION)
