"""`edgedigits-rt predict/info/evaluate` (and `edgedigits predict`, the same command) on real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from edgedigits_runtime.cli import app

PIL = pytest.importorskip("PIL")
runner = CliRunner()


def _out(result):
    return result.stdout if hasattr(result, "stdout") else result.output


@pytest.fixture(scope="module")
def pictures(tmp_path_factory, mnist_test):
    """A folder of 6 PNG/JPEG photos made from MNIST test digits (dark on light, enlarged), with their labels."""
    from photos import make_photo
    from PIL import Image

    images, labels = mnist_test
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(3)
    truth = {}
    for n, i in enumerate(range(6)):
        name = folder / (f"d{n}.jpg" if n % 2 else f"d{n}.png")
        if n % 2:
            name.write_bytes(make_photo(images[i], rng))
        else:
            Image.fromarray(make_photo(images[i], rng, jpeg=False)).save(name)
        truth[str(name)] = int(labels[i])
    return folder, truth


def test_predict_files_folder_and_glob(pictures):
    folder, truth = pictures
    for args in ([str(p) for p in sorted(truth)], [str(folder)], [str(folder / "d*")]):
        result = runner.invoke(app, ["predict", *args])
        assert result.exit_code == 0, result.output
        lines = _out(result).strip().splitlines()
        assert len(lines) == len(truth)
        for line in lines:
            path, rest = line.rsplit(": ", 1)
            label, confidence = rest.split(" ")
            assert int(label) == truth[path] and 0 < float(confidence.strip("()")) <= 1


def test_predict_json_and_top_k(pictures):
    folder, truth = pictures
    result = runner.invoke(app, ["predict", str(folder), "--json", "--top-k", "3", "--threads", "1"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in _out(result).strip().splitlines()]
    assert [r["path"] for r in rows] == sorted(truth)
    for r in rows:
        assert r["label"] == truth[r["path"]] and r["confidence"] == r["top_k"][0][1] and len(r["top_k"]) == 3
        assert "error" not in r


def test_predict_stdin(pictures):
    folder, truth = pictures
    first = sorted(truth)[1]
    result = runner.invoke(app, ["predict", "-", "--json"], input=open(first, "rb").read())
    assert result.exit_code == 0, result.output
    row = json.loads(_out(result))
    assert row["path"] == "-" and row["label"] == truth[first]


def test_bad_files_among_good_ones(pictures, tmp_path):
    folder, truth = pictures
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "cut.png").write_bytes((folder / "d0.png").read_bytes()[:300])
    good = sorted(truth)[0]
    args = [str(tmp_path / "notes.png"), good, str(tmp_path / "empty.jpg"), str(tmp_path / "missing.png"),
            str(tmp_path / "cut.png"), str(tmp_path / "nothing*.png")]
    result = runner.invoke(app, ["predict", *args])
    assert result.exit_code == 1
    assert _out(result).strip() == f"{good}: {truth[good]} ({_out(result).split('(')[1].split(')')[0]})"
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert "notes.png is not an image" in err and "empty.jpg is empty" in err and "missing.png: file not found" in err
    assert "cut.png is truncated or corrupted" in err and "no file matches" in err and "5 of 6 file(s) failed" in err
    as_json = runner.invoke(app, ["predict", *args, "--json"])
    rows = [json.loads(line) for line in _out(as_json).strip().splitlines()]
    assert as_json.exit_code == 1 and len(rows) == 6 and [r["label"] is None for r in rows].count(False) == 1


def test_predict_with_a_bad_model_is_one_error(pictures, tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"")
    result = runner.invoke(app, ["predict", str(pictures[0]), "--model", str(tmp_path / "m.tflite")])
    assert result.exit_code == 1 and "error: model file" in result.output and "is empty" in result.output


def test_info(shipped):
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    details = json.loads(_out(result))
    assert details["verified"] is True and details["format"] == "int8" and details["path"] == str(shipped[0])
    assert details["shipped"]["runtime_accuracy"] >= 0.99
    text = runner.invoke(app, ["info", str(shipped[0])])
    assert text.exit_code == 0 and "verified" in _out(text)


def test_info_unverified_warns(bare_copy):
    result = runner.invoke(app, ["info", str(bare_copy), "--json"])
    details = json.loads(_out(result))
    assert result.exit_code == 0 and details["verified"] is False and "unverified" in details["warnings"][0]


def test_evaluate_small(mnist_dir):
    result = runner.invoke(app, ["evaluate", "--data-dir", str(mnist_dir), "--limit", "500", "--json"])
    assert result.exit_code == 0, result.output
    scored = json.loads(_out(result))
    assert scored["images"] == 500 and scored["accuracy"] >= 0.98 and len(scored["per_class_accuracy"]) == 10


def test_edgedigits_predict_is_the_same_command(pictures):
    pytest.importorskip("edgedigits.cli")  # the full toolkit (absent in the runtime-only environment)
    from edgedigits.cli import app as main_app

    folder, truth = pictures
    result = runner.invoke(main_app, ["predict", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    assert {json.loads(line)["path"]: json.loads(line)["label"] for line in _out(result).strip().splitlines()} == truth


def test_expand_inputs_keeps_order_and_reports_what_matched_nothing(tmp_path):
    from edgedigits_runtime.predict import expand_inputs

    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a.JPG").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    got = expand_inputs([str(tmp_path / "b.png"), "-", str(tmp_path), str(tmp_path / "empty"), str(tmp_path / "*.gif")])
    assert got[:4] == [(str(tmp_path / "b.png"), None), ("-", None), (str(tmp_path / "a.JPG"), None),
                       (str(tmp_path / "b.png"), None)]
    assert "holds no image files" in got[4][1] and "no file matches" in got[5][1] and len(got) == 6


def test_a_model_without_manifest_runs_with_a_one_line_warning(pictures, bare_copy):
    bare = bare_copy
    folder, truth = pictures
    first = sorted(truth)[0]
    result = runner.invoke(app, ["predict", first, "--model", str(bare)])
    assert result.exit_code == 0
    assert f"{first}: {truth[first]} (" in _out(result)
    err = result.stderr
    assert err.startswith("warning: no manifest.json beside") and "unverified" in err
    assert "Warning:" not in err and len(err.strip().splitlines()) == 1  # not Python's two-line warning format


def test_predict_not_a_digit_table_and_json(pictures):
    """A hand-set threshold no image reaches: every file is "not a digit", in the table and in JSON."""
    folder, truth = pictures
    result = runner.invoke(app, ["predict", str(folder), "--threshold", "1.0", "-k", "2"])
    assert result.exit_code == 0, result.output
    lines = _out(result).strip().splitlines()
    assert len(lines) == len(truth)
    rejected = [line for line in lines if ": not a digit (score " in line]
    assert rejected and all("[" in line for line in rejected)  # top-k still shows what the model leaned to
    result = runner.invoke(app, ["predict", str(folder), "--json", "--threshold", "1.0"])
    rows = [json.loads(line) for line in _out(result).strip().splitlines()]
    for r in rows:
        assert set(r) >= {"path", "label", "not_a_digit", "confidence", "top_k", "score", "threshold"}
        assert r["threshold"] == 1.0
        assert (r["label"] is None) == r["not_a_digit"] == (r["score"] < 1.0)
    result = runner.invoke(app, ["predict", str(folder), "--json", "--threshold", "0"])
    rows = [json.loads(line) for line in _out(result).strip().splitlines()]
    assert all(r["not_a_digit"] is False and r["label"] == truth[r["path"]] for r in rows)
    result = runner.invoke(app, ["predict", str(folder), "--threshold", "1.5"])
    assert result.exit_code == 2


@pytest.mark.parametrize("size", [(1, 1), (3, 3), (100, 1), (1, 100), (4000, 3), (4, 4), (5, 5)])
def test_tiny_and_thin_images_are_per_file_errors_and_the_batch_goes_on(pictures, tmp_path, size):
    from PIL import Image

    folder, truth = pictures
    first = sorted(truth)[0]
    bad = tmp_path / f"tiny_{size[0]}x{size[1]}.png"
    Image.fromarray((np.random.default_rng(0).random(size[::-1]) * 255).astype(np.uint8)).save(bad)
    result = runner.invoke(app, ["predict", first, str(bad), first, "--json"])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in _out(result).strip().splitlines()]
    assert [r["path"] for r in rows] == [first, str(bad), first]
    assert rows[0]["label"] == rows[2]["label"] == truth[first]
    assert rows[1]["label"] is None and "too small or too thin" in rows[1]["error"]
    assert "Traceback" not in result.output



def test_predict_says_when_the_top_digit_share_rejected(pictures, model_copy, mnist_test, tmp_path):
    """A rule's min_share: the table names the share (not the score) when that condition refused the image."""
    from PIL import Image

    manifest = json.loads((model_copy.parent / "manifest.json").read_text())
    manifest["artifacts"][model_copy.name]["reject"] = {"method": "digit_mass", "threshold": 0.0, "min_share": 1.0}
    (model_copy.parent / "manifest.json").write_text(json.dumps(manifest))
    folder, _ = pictures
    images, _ = mnist_test
    Image.fromarray(np.maximum(images[0], images[1])).save(tmp_path / "two_digits.png")  # a 7 over a 2
    inputs = [str(folder), str(tmp_path / "two_digits.png")]
    result = runner.invoke(app, ["predict", *inputs, "--model", str(model_copy), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["path"]: r for r in map(json.loads, _out(result).strip().splitlines())}
    assert all(r["not_a_digit"] == (r["share"] < r["min_share"] == 1.0) for r in rows.values())
    assert rows[str(tmp_path / "two_digits.png")]["not_a_digit"]
    assert not all(r["not_a_digit"] for r in rows.values())
    lines = _out(runner.invoke(app, ["predict", *inputs, "--model", str(model_copy)])).strip().splitlines()
    assert len(lines) == len(rows)
    for line in lines:
        path = line.split(": ")[0]
        assert ("not a digit (share of the top digit " in line) == rows[path]["not_a_digit"]


def test_predict_goes_on_past_an_endless_file_and_refuses_too_many_threads(pictures, monkeypatch):
    """`predict /dev/zero` read until the memory was full (a traceback); `--threads 100000` crashed the interpreter."""
    import os

    import edgedigits_runtime.decode as decode

    folder, truth = pictures
    good = sorted(truth)[0]
    if os.path.exists("/dev/zero"):
        monkeypatch.setattr(decode, "MAX_FILE_BYTES", 1 << 20)
        result = runner.invoke(app, ["predict", "/dev/zero", good, "--json"])
        assert result.exit_code == 1
        rows = [json.loads(line) for line in _out(result).strip().splitlines()]
        assert "holds more than 1 MB" in rows[0]["error"] and rows[1]["label"] == truth[good]
        result = runner.invoke(app, ["predict", "-"], input=b"\0" * ((1 << 20) + 1))
        assert result.exit_code == 1 and "stdin holds more than 1 MB" in result.output
    for command in (["predict", good], ["read", good]):
        result = runner.invoke(app, [*command, "--threads", "65"])
        assert result.exit_code == 2 and "--threads" in result.output


def test_a_file_that_cannot_be_opened_is_named_once(pictures, tmp_path):
    """A symlink loop: one line naming the file once (it was "loop.png: cannot read loop.png: ...")."""
    folder, truth = pictures
    loop = tmp_path / "loop.png"
    loop.symlink_to(tmp_path / "loop.png")
    for command in ("predict", "read"):
        result = runner.invoke(app, [command, str(loop), sorted(truth)[0]])
        assert result.exit_code == 1
        (line,) = [row for row in result.output.splitlines() if row.startswith("error:")]
        assert line.startswith(f"error: {loop}: cannot read it (") and line.count(str(loop)) == 1
    from edgedigits_runtime import InputError, preprocess_image

    with pytest.raises(InputError, match="cannot read it"):  # the API too: one of the runtime's errors, not an OSError
        preprocess_image(loop)


def test_library_batch_calls_refuse_what_they_cannot_use(pictures, clf):
    """predict_files("one.png") went through the path's characters one by one; a missing classifier, image bytes
    among the paths or a str for predict_bytes were tracebacks; a numpy top_k was refused."""
    from pathlib import Path

    from edgedigits_runtime.errors import UsageError
    from edgedigits_runtime.predict import predict_bytes, predict_files
    from edgedigits_runtime.read import read_files

    folder, truth = pictures
    good = sorted(truth)[0]
    for one in (good, Path(good)):
        (result,) = predict_files(one, clf)
        assert result.label == truth[good]
    assert predict_files([good], clf, top_k=np.int64(2))[0].top_k[0][0] == truth[good]
    data = Path(good).read_bytes()
    for call, message in ((lambda: predict_files([good], None), "classifier must be a DigitClassifier"),
                          (lambda: predict_bytes(data, "model.tflite"), "classifier must be a DigitClassifier"),
                          (lambda: predict_files([data], clf), "inputs are paths.*got bytes"),
                          (lambda: read_files([good, 3], None), "inputs are paths.*got int"),
                          (lambda: predict_bytes(good, clf), "data must be an image file's bytes; got str"),
                          (lambda: predict_bytes(None, clf), "got NoneType")):
        with pytest.raises(UsageError, match=message):
            call()

