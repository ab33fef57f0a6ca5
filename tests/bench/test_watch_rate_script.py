"""benchmarks/figures/watch_rate.py: the video it makes, and a short run of each of its parts (no figure checked)."""

import pytest
from bench_helpers import figure_script


def test_watch_rate_runs_its_parts_on_a_short_small_video(monkeypatch, mnist_dir, tmp_path, capsys):
    pytest.importorskip("cv2")
    script = figure_script("watch_rate", monkeypatch)
    out = script.main(["--seconds", "6", "--live-seconds", "1", "--fps", "10", "--size", "320x240",
                       "--data-dir", str(mnist_dir), "--keep", str(tmp_path)])
    assert out["file"]["read"] == 60 and 0 <= out["file"]["right"] <= 60  # every frame of a file is read
    for every in ("0", "0.25", "5"):
        live = out[f"live_every_{every}"]
        assert live["reason"] == "seconds" and live["skipped"] == live["frames"] - live["read"] >= 0
    printed = capsys.readouterr().out
    assert printed.startswith("machine: ") and "frames/s" in printed and (tmp_path / "watch_320x240.avi").is_file()
