"""`edgedigits-rt doctor`: run for real on this machine, and its advice over a table of device classes."""

from __future__ import annotations

import dataclasses
import json
import platform
import signal
import struct

import pytest
from typer.testing import CliRunner

from edgedigits_runtime.backends import BACKENDS
from edgedigits_runtime.cli import app
from edgedigits_runtime.doctor import (
    DEVICE_CLASSES,
    TEST_DIGIT_LABEL,
    DeviceFacts,
    InterpreterCheck,
    ModelCheck,
    advise,
    builtin_digit,
    check_own_model,
    diagnose,
    interpret_probe,
    probe_interpreter,
)

runner = CliRunner()


# --------------------------------------------------------------------------- for real


@pytest.fixture(scope="module")
def report():
    return diagnose()


def test_doctor_reports_this_machine(report):
    f = report.facts
    assert f.machine == platform.machine()
    assert f.bits == 8 * struct.calcsize("P")
    assert f.python == platform.python_version()
    assert [c.backend for c in f.interpreters] == list(BACKENDS)  # the registry, in its order
    import numpy

    assert f.numpy == numpy.__version__


def test_doctor_runs_the_shipped_model_on_the_builtin_digit(report):
    working = [c for c in report.facts.interpreters if c.works and c.model is not None]
    assert working, [dataclasses.asdict(c) for c in report.facts.interpreters]
    assert report.model is not None and report.model.verified
    assert report.model.label == TEST_DIGIT_LABEL and report.model.confidence > 0.9
    assert report.ok and report.advice.status == "ok" and not report.advice.commands


def test_builtin_digit_is_an_mnist_digit():
    digit = builtin_digit()
    assert digit.shape == (28, 28) and digit.dtype.name == "uint8"
    assert 50 < (digit > 128).sum() < 300  # ink on black, as MNIST


def test_a_missing_backend_is_reported_without_a_child():
    name = next((n for n, b in BACKENDS.items() if b.module.startswith("tflite_runtime")), None)
    check = probe_interpreter(name)
    try:
        import tflite_runtime  # noqa: F401
    except ImportError:
        assert check.status == "not installed"
    else:
        assert check.status in ("works", "numpy mismatch")


def test_doctor_command_json_and_table():
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["model"]["label"] == TEST_DIGIT_LABEL
    assert data["facts"]["arch"] and data["advice"]["status"] == "ok"
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "shipped model" in result.stdout and "verified" in result.stdout and "OK" in result.stdout


def test_doctor_loads_a_model_of_your_own(bare_copy):
    result = runner.invoke(app, ["doctor", "--model", str(bare_copy)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("your model"))
    assert ", unverified, NHWC, batch any, probabilities, input scaled unit, 30 of 30 reference digits right" in row, row
    assert "and so does yours" in result.stdout and "warning: " in result.output  # the unverified file's warning


def test_doctor_says_when_your_model_does_not_run(report, tmp_path):
    png = tmp_path / "digit.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    own = check_own_model(png)
    assert own["error"].startswith(f"{png} is not a model: it is a PNG image"), own
    told = dataclasses.replace(report, own=own)
    assert told.ok is False and told.to_dict()["own_model"] == own
    rows = dict(told.rows())
    assert rows["your model"].startswith("does not run here: ") and "your model does not run here" in rows["verdict"]


def test_doctor_tells_the_scaling_of_your_model(mnist_dir, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from own_models import knn_onnx

    from edgedigits_runtime.mnist import load_mnist

    path = tmp_path / "mnist_cnn.onnx"
    path.write_bytes(knn_onnx(load_mnist("train", mnist_dir), "mnist"))
    assert "--normalize mnist" in check_own_model(path)["error"]
    own = check_own_model(path, "mnist")
    assert own["error"] is None and own["normalize"]["name"] == "mnist" and own["input_layout"] == "NCHW", own


# --------------------------------------------------------------------------- the probe's verdicts


@pytest.mark.parametrize("returncode, stdout, stderr, status, words", [
    (-signal.SIGILL, "stage: importing\n", "", "crashed", ["Illegal instruction", "while importing"]),
    (-signal.SIGSEGV, "stage: importing\nstage: running the shipped model\n", "", "crashed",
     ["segmentation fault", "running the shipped model"]),
    (1, '{"error": "ImportError: numpy.core.multiarray failed to import", "numpy": "2.1.0"}', "", "numpy mismatch",
     ["2.1.0"]),
    (1, "", "AttributeError: _ARRAY_API not found\nSystemError: initialization of _pywrap failed", "numpy mismatch", []),
    (0, '{"error": "ImportError: libatomic.so.1: cannot open shared object file"}', "", "import error", ["libatomic"]),
    (0, '{"model": {"backend": "litert", "verified": true, "label": 7, "confidence": 0.99, "error": null}}', "",
     "works", ["-> 7"]),
    (0, ('{"model": {"backend": "litert", "verified": false, "label": null, "confidence": null, '
         '"error": "ModelIntegrityError: sha256 differs"}}'), "", "works", ["sha256"]),
    (1, "", "Traceback ...\nRuntimeError: something else", "failed", ["something else"]),
])
def test_interpret_probe(returncode, stdout, stderr, status, words):
    check = interpret_probe("litert", "ai-edge-litert", "2.3.0", returncode, stdout, stderr)
    assert check.status == status, check
    for word in words:
        assert word in check.detail, check


# --------------------------------------------------------------------------- advice over device classes


def _works(backend, label=TEST_DIGIT_LABEL, verified=True):
    return InterpreterCheck(backend, BACKENDS[backend].package, "works", "1.0", "",
                            ModelCheck(backend, verified, label, 0.99, None))


def _state(backend, status, detail=""):
    return InterpreterCheck(backend, BACKENDS[backend].package, status, None, detail)


NOTHING = (_state("litert", "not installed"), _state("tflite-runtime", "not installed"),
           _state("onnxruntime", "not installed"))
PIL_OK = {"cv2": "4.12.0", "PIL": "11.0.0"}

# (case, facts, status, words every command line joined must contain, words it must not contain)
CASES = [
    ("x86-64 laptop, nothing installed",
     DeviceFacts("x86_64", 64, "3.12.3", "2.39", interpreters=NOTHING),
     "action", ['"edgedigits-runtime[litert,image]"', "python3 -m venv"], ["tflite-runtime", "apt"]),
    ("Pi 4, 64-bit bookworm, nothing installed, in a venv",
     DeviceFacts("aarch64", 64, "3.11.2", "2.36", in_venv=True, executable="/home/pi/v/bin/python", interpreters=NOTHING),
     "action", ['/home/pi/v/bin/python -m pip install "edgedigits-runtime[litert,image]"'], ["python3 -m venv"]),
    ("Pi 5, 64-bit trixie (Python 3.13): litert, never tflite-runtime",
     DeviceFacts("aarch64", 64, "3.13.5", "2.41", os_codename="trixie", interpreters=NOTHING),
     "action", ["[litert,image]"], ["tflite-runtime", "numpy<2"]),
    ("Pi 3, 32-bit bookworm (armv7l, Python 3.11)",
     DeviceFacts("armv7l", 32, "3.11.2", "2.36", interpreters=NOTHING),
     "action", ["sudo apt install -y python3-venv python3-numpy python3-opencv python3-pil",
                "python3 -m venv --system-site-packages ~/edgedigits",
                '~/edgedigits/bin/pip install "edgedigits-runtime[tflite-runtime]"'], ["litert", "[image]"]),
    ("Pi 4, 32-bit bookworm userland on the 64-bit kernel",
     DeviceFacts("aarch64", 32, "3.11.2", "2.36", interpreters=NOTHING),
     "action", ["--system-site-packages", "[tflite-runtime]"], ["litert"]),
    ("32-bit Pi, venv made without --system-site-packages",
     DeviceFacts("armv7l", 32, "3.11.2", "2.36", in_venv=True, system_site_packages=False, numpy=None,
                 interpreters=NOTHING, image_modules=PIL_OK),
     "action", ["python3 -m venv --system-site-packages", "python3-numpy"], ["python3-pil", "python3-opencv"]),
    ("32-bit Pi, pip's numpy 2 under tflite-runtime",
     DeviceFacts("armv7l", 32, "3.11.2", "2.36", in_venv=True, system_site_packages=True, numpy="2.2.0",
                 executable="/home/pi/e/bin/python", image_modules=PIL_OK,
                 interpreters=(_state("litert", "not installed"),
                               _state("tflite-runtime", "numpy mismatch", "built for numpy 1"))),
     "action", ["/home/pi/e/bin/python -m pip uninstall -y numpy", "[tflite-runtime]"], ["litert"]),
    ("64-bit Pi, tflite-runtime under numpy 2: install litert",
     DeviceFacts("aarch64", 64, "3.11.2", "2.36", in_venv=True, numpy="2.2.0", executable="python", image_modules=PIL_OK,
                 interpreters=(_state("litert", "not installed"), _state("tflite-runtime", "numpy mismatch", "x"))),
     "action", ["[litert,image]"], ["uninstall"]),
    ("64-bit Pi, litert crashes with Illegal instruction, tflite-runtime works",
     DeviceFacts("aarch64", 64, "3.11.2", "2.36", image_modules=PIL_OK,
                 interpreters=(_state("litert", "crashed", "Illegal instruction"), _works("tflite-runtime"))),
     "ok", [], ["pip"]),
    ("64-bit Pi, works but cannot read image files",
     DeviceFacts("aarch64", 64, "3.11.2", "2.36", in_venv=True, executable="py",
                 interpreters=(_works("litert"),), image_modules={"cv2": None, "PIL": "11.0.0"}),
     "action", ['py -m pip install "edgedigits-runtime[image]"'], ["litert"]),
    ("32-bit Pi, works but cannot read image files: from Debian",
     DeviceFacts("armv7l", 32, "3.11.2", "2.36", in_venv=True, system_site_packages=True,
                 interpreters=(_works("tflite-runtime"),), image_modules={"cv2": None, "PIL": None}),
     "action", ["sudo apt install -y python3-opencv python3-pil"], ["pip"]),
    ("32-bit Pi, an image extra of Pillow alone (the Debian packages follow the extra)",
     DeviceFacts("armv7l", 32, "3.11.2", "2.36", interpreters=NOTHING, image_packages=("pillow",)),
     "action", ["python3-pil"], ["python3-opencv"]),
    ("everything works",
     DeviceFacts("aarch64", 64, "3.11.2", "2.36", interpreters=(_works("litert"),), image_modules=PIL_OK),
     "ok", [], ["pip", "apt"]),
    ("the shipped model is damaged",
     DeviceFacts("x86_64", 64, "3.11.7", "2.36", in_venv=True, executable="python", image_modules=PIL_OK,
                 interpreters=(_works("litert", verified=False),)),
     "action", ["python -m pip install --force-reinstall --no-deps edgedigits-runtime"], ["[litert"]),
    ("32-bit trixie (Python 3.13 armhf): no wheel",
     DeviceFacts("armv7l", 32, "3.13.5", "2.41", interpreters=NOTHING), "unsupported", [], ["pip"]),
    ("32-bit bullseye (Python 3.9, glibc 2.31): no wheel",
     DeviceFacts("armv7l", 32, "3.9.2", "2.31", interpreters=NOTHING), "unsupported", [], ["pip"]),
    ("Pi Zero W (ARMv6)",
     DeviceFacts("armv6l", 32, "3.11.2", "2.36", interpreters=NOTHING), "unsupported", [], ["pip"]),
    ("RISC-V board",
     DeviceFacts("riscv64", 64, "3.12.1", "2.39", interpreters=NOTHING), "unsupported", [], []),
]


@pytest.mark.parametrize("case, facts, status, present, absent", CASES, ids=[c[0] for c in CASES])
def test_advice_for_device_classes(case, facts, status, present, absent):
    advice = advise(facts)
    assert advice.status == status, advice
    text = "\n".join(advice.commands)
    for word in present:
        assert word in text, (case, advice.commands)
    for word in absent:
        assert word not in text, (case, advice.commands)
    if status == "unsupported":
        assert advice.problems and not advice.commands and advice.device_class is None
        assert any("64-bit Raspberry Pi OS" in n for n in advice.notes) or facts.arch == "riscv64"
    if status == "action":
        assert advice.device_class is not None


def test_advice_explains_problems():
    facts = DeviceFacts("armv7l", 32, "3.11.2", "2.36", in_venv=True, system_site_packages=False, numpy=None,
                        numpy_error="ModuleNotFoundError: No module named 'numpy'", interpreters=NOTHING)
    problems = "\n".join(advise(facts).problems)
    assert "numpy does not import" in problems and "--system-site-packages" in problems
    facts = DeviceFacts("aarch64", 64, "3.11.2", "2.36", interpreters=(_works("litert", label=3),))
    assert "gave 3 for the test digit 7" in "\n".join(advise(facts).problems)


def test_device_classes_name_real_extras():
    import importlib.metadata

    try:
        extras = set(importlib.metadata.metadata("edgedigits-runtime").get_all("Provides-Extra") or ())
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("edgedigits-runtime is not installed as a distribution here")
    for cls in DEVICE_CLASSES:
        assert set(cls.extras) <= extras, (cls.name, cls.extras, extras)


def test_doctor_says_what_watch_can_open(report):
    """OpenCV's video backends and the cameras there are: a fact row (`edgedigits-rt watch`), never a verdict."""
    from edgedigits_runtime.doctor import _video_row

    video = report.facts.video
    assert set(video) == {"ffmpeg", "v4l2", "cameras"} and all(c.startswith("/dev/video") for c in video["cameras"])
    assert ("video", _video_row(video)) in report.rows()
    assert _video_row({"ffmpeg": True, "v4l2": True, "cameras": ["/dev/video0", "/dev/video2"]}) == (
        "FFmpeg (files, streams) yes, V4L2 (cameras) yes; cameras: /dev/video0, /dev/video2")
    assert _video_row({"ffmpeg": None, "v4l2": None, "cameras": []}).startswith("OpenCV not available")
    assert "none found" in _video_row({"ffmpeg": True, "v4l2": False, "cameras": []})


def test_an_image_library_from_debian_is_not_reported_missing():
    """32-bit Raspberry Pi OS reads images with Debian's python3-opencv: cv2 imports, but pip has no record of
    opencv-python-headless. Seen there (emulated, twentieth session): "[image] missing opencv-python-headless" beside
    "cv2 4.6.0", which invites the pip install the README warns against (it builds OpenCV from source)."""
    from edgedigits_runtime.doctor import Report, _image_libs_outside_pip

    as_read = {"image": {"installed": False, "missing": ["opencv-python-headless"]},
               "serve": {"installed": False, "missing": ["starlette", "uvicorn", "opencv-python-headless"]}}
    debian = {"cv2": "4.6.0", "PIL": "9.4.0"}
    extras = _image_libs_outside_pip(as_read, debian)
    assert extras["image"] == {"installed": True, "missing": [], "outside_pip": ["opencv-python-headless"]}
    assert extras["serve"]["missing"] == ["starlette", "uvicorn"] and not extras["serve"]["installed"]
    facts = DeviceFacts("armv7l", 32, "3.11.2", "2.36", in_venv=True, system_site_packages=True, numpy="1.24.2",
                        interpreters=(_works("tflite-runtime"),), extras=extras, image_modules=debian)
    rows = dict(Report(facts, None, advise(facts)).rows())
    assert rows["  [image]"] == "installed (cv2 from outside pip, e.g. Debian's)"
    assert rows["  [serve]"] == "missing starlette, uvicorn (cv2 from outside pip, e.g. Debian's)"
    # OpenCV that does not import is still missing
    assert _image_libs_outside_pip(as_read, {"cv2": None, "PIL": "9.4.0"})["image"]["missing"] == ["opencv-python-headless"]
