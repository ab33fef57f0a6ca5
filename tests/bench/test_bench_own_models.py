"""`bench` on model files of your own (ONNX graphs built in code: tests/runtime/own_models.py): `--normalize` is
passed to every load (the fresh memory-measuring process's too), and a file that is no digit classifier, or whose
scaling was not given, is an error row while the others are measured."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edgedigits.bench import BenchConfig, bench
from edgedigits.errors import UsageError
from edgedigits_runtime.manifest import ManifestWarning

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from own_models import graph_onnx, knn_onnx

QUICKER = {"quick": True, "rounds": 1, "runs": 3, "warmup": 1, "test_limit": 300, "batch_sizes": [8], "min_accuracy": 0.0,
           "save": False, "threads": [1]}


@pytest.fixture(scope="module")
def files(mnist_dir, tmp_path_factory):
    from onnx import helper

    from edgedigits_runtime.mnist import load_mnist

    folder = tmp_path_factory.mktemp("own")
    (folder / "mnist_cnn.onnx").write_bytes(knn_onnx(load_mnist("train", mnist_dir), "mnist"))
    w = np.zeros((10, 3, 3, 3), np.float32)
    from own_models import _const

    colour = graph_onnx([helper.make_node("Conv", ["input", "w"], ["c"]), helper.make_node("GlobalAveragePool", ["c"], ["g"]),
                         helper.make_node("Flatten", ["g"], ["scores"])],
                        [("input", ["N", 3, 28, 28])], [("scores", ["N", 10])], [_const(w, "w")])
    (folder / "colour.onnx").write_bytes(colour)
    return folder


def test_own_files_with_their_scaling_and_error_rows_for_the_rest(files, mnist_dir):
    with pytest.warns(ManifestWarning, match="no manifest.json beside .*: running it unverified"):  # said, not hidden
        report = bench(BenchConfig(targets=[str(files / "mnist_cnn.onnx"), str(files / "colour.onnx")],
                                   data_dir=str(mnist_dir), normalize="mnist", memory=True, **QUICKER))
    rows = {r.name: r for r in report.rows}
    assert rows["mnist_cnn.onnx"].ok and rows["mnist_cnn.onnx"].accuracy > 0.75, rows["mnist_cnn.onnx"]
    assert rows["mnist_cnn.onnx"].peak_rss_mb, rows["mnist_cnn.onnx"]  # the memory child loaded it with --normalize too
    assert "colour images" in rows["colour.onnx"].error and "\n" not in rows["colour.onnx"].error


def test_without_the_scaling_the_row_says_which(files, mnist_dir):
    with pytest.warns(ManifestWarning, match="running it unverified"):
        report = bench(BenchConfig(targets=[str(files / "mnist_cnn.onnx")], data_dir=str(mnist_dir), memory=False, **QUICKER))
    assert "--normalize mnist" in report.rows[0].error, report.rows[0]


def test_a_bad_scaling_is_refused_up_front():
    with pytest.raises(UsageError, match="--normalize 'mnsit' is not a scaling: did you mean 'mnist'"):
        BenchConfig(targets=["m.onnx"], normalize="mnsit").validate()


def test_on_the_command_line_the_unverified_file_is_one_warning_line(files, mnist_dir):
    import os
    import subprocess

    done = subprocess.run([sys.executable, "-m", "edgedigits", "bench", str(files / "mnist_cnn.onnx"), "--normalize", "mnist",
                           "--quick", "--rounds", "1", "--runs", "3", "--warmup", "1", "--test-limit", "300", "--batch-sizes", "8",
                           "--threads", "1", "--no-memory", "--no-save", "--min-accuracy", "0", "--data-dir", str(mnist_dir)],
                          capture_output=True, text=True, timeout=300, cwd=files, env=dict(os.environ, COLUMNS="200"))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert [line for line in lines if "no manifest.json beside" in line] == [
        next(line for line in lines if line.startswith("warning: no manifest.json beside"))], done.stderr
    assert "ManifestWarning" not in done.stderr and ".py:" not in done.stderr, done.stderr  # not Python's source lines
