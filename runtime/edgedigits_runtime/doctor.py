"""`edgedigits-rt doctor`: what this device is, which interpreters work here, and what to install.

Wheel and ABI mismatches are the usual way an on-device install fails (numpy 2 under a
tflite-runtime built for numpy 1, a Python version with no wheel, "Illegal instruction" from a
wheel built for another CPU). :func:`diagnose` gathers the facts — machine, OS, Python, glibc,
numpy, each interpreter of the backend registry probed in a child process (so a crash is
reported, not suffered), the optional extras — checks that the shipped model verifies and
classifies a built-in test digit, and :func:`advise` turns the facts into the install command
for this device class. :func:`advise` is a pure function of :class:`DeviceFacts`.

Example:

>>> from edgedigits_runtime.doctor import diagnose
>>> report = diagnose()                                          # doctest: +SKIP
>>> report.advice.status, report.advice.commands                 # doctest: +SKIP
('ok', [])
>>> report.facts.arch, report.facts.python                       # doctest: +SKIP
('aarch64', '3.11.2')
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from edgedigits_runtime.errors import first_line

__all__ = [
    "DEVICE_CLASSES",
    "TEST_DIGIT_LABEL",
    "Advice",
    "DeviceClass",
    "DeviceFacts",
    "InterpreterCheck",
    "ModelCheck",
    "Report",
    "advise",
    "builtin_digit",
    "diagnose",
    "gather_facts",
    "interpret_probe",
    "probe_interpreter",
]

# The first image of the MNIST test set (a 7), 28x28 uint8, zlib + base64: the built-in test digit.
_TEST_DIGIT = ("eNpjYBguIGTn/Ok2Ktjl7v0Dgo/HoGCVCbKcc5FH0eLH/x4CVfx6+u9fD4ZmQSc+Z2dna9E3/7Jw2R3896IQDimxl/+DcWlr/PdOB4eU9c9/dri0"
               "tf7bzYpDivPsDytc2ur+bcMl5f37gyUOKeG7/5bhkGI+/e+2Mg45tX//fHFIyT/4V8yI02v/THBI2X7CLVf5799tDZxy54WIT0UAWodIFw==")
TEST_DIGIT_LABEL = 7
_PACKAGE = "edgedigits-runtime"
_PROBE_TIMEOUT = float(os.environ.get("EDGEDIGITS_DOCTOR_TIMEOUT", "600"))  # seconds; emulators are slow
_NUMPY_ABI = re.compile(r"_ARRAY_API not found|numpy\.core\.multiarray failed to import|compiled using NumPy 1\.x"
                        r"|numpy\.dtype size changed|compiled against (?:API|ABI) version|numpy\._core", re.IGNORECASE)
# Image libraries by the pip package an extra names: (module to import, Debian package on 32-bit Pi OS).
_IMAGE_LIBS = {"pillow": ("PIL", "python3-pil"), "opencv-python-headless": ("cv2", "python3-opencv"),
               "opencv-python": ("cv2", "python3-opencv")}


def builtin_digit():
    """The built-in test digit: the first MNIST test image (a 7), uint8 (28, 28)."""
    import numpy as np

    return np.frombuffer(zlib.decompress(base64.b64decode(_TEST_DIGIT)), np.uint8).reshape(28, 28)


# --------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class ModelCheck:
    """The shipped model on one backend: verified against its manifest, and its answer on the test digit.

    Attributes:
      backend: the backend that ran it.
      verified: its SHA-256 matched the manifest.
      label: the digit it gave for the built-in test digit (a 7); None if it did not run.
      confidence: that digit's probability.
      error: why it failed (one line), else None.
    """

    backend: str
    verified: bool = False
    label: int | None = None
    confidence: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.verified and self.label == TEST_DIGIT_LABEL


@dataclasses.dataclass(frozen=True)
class InterpreterCheck:
    """One backend of the registry, tried in a child process.

    Attributes:
      backend: registry name (``litert``, ``tflite-runtime``, ``tensorflow-lite``, ``onnxruntime``).
      package: the pip package that provides it.
      status: ``works``, ``not installed``, ``numpy mismatch``, ``import error``, ``crashed``, ``failed``
        or ``not probed`` (TensorFlow, which the runtime only uses as a last resort, is never imported here).
      version: the package's version when it is installed.
      detail: why it does not work (the error's first line, the signal), or what it did.
      model: the shipped model's check on this backend (TFLite backends that import), else None.
    """

    backend: str
    package: str
    status: str
    version: str | None = None
    detail: str = ""
    model: ModelCheck | None = None

    @property
    def works(self) -> bool:
        return self.status == "works"


@dataclasses.dataclass(frozen=True)
class DeviceFacts:
    """What the device is and what is installed: the input of :func:`advise`.

    Attributes:
      machine: the kernel's machine (``platform.machine()``): ``x86_64``, ``aarch64``, ``armv7l``, ...
      bits: the Python build's pointer size (32 on 32-bit Raspberry Pi OS even under a 64-bit kernel).
      python: Python version (``3.11.2``); glibc: the C library's version (None if not glibc).
      model: board name (``/proc/device-tree/model``, else ``Model`` in ``/proc/cpuinfo``), None if unknown.
      cpu: CPU description from ``/proc/cpuinfo`` (or ``platform.processor()``).
      os_name, os_id, os_codename: from ``/etc/os-release`` (PRETTY_NAME, ID, VERSION_CODENAME).
      in_venv / system_site_packages: running in a venv, and whether it sees the system's packages.
      numpy: numpy's version (None if missing); numpy_error: why it does not import.
      interpreters: each backend's :class:`InterpreterCheck`.
      extras: the runtime's extras -> ``{"installed": bool, "missing": [requirement names]}``, plus ``"outside_pip"``:
        the image libraries the extra names that import without their pip distribution (Debian's python3-opencv on
        32-bit Raspberry Pi OS, or another OpenCV wheel), counted as there.
      image_packages: the image-library pip packages the ``image`` extra names (``opencv-python-headless``, ``pillow``).
      image_modules: image library module -> version, None when it does not import.
      video: what ``edgedigits-rt watch`` can open: ``{"ffmpeg": bool, "v4l2": bool}`` (OpenCV's video backends for
        files and streams, and for cameras; None when OpenCV does not import) and ``"cameras"``: the ``/dev/video*``
        devices there are.
      executable: the Python running this (for commands that must use it).
    """

    machine: str
    bits: int
    python: str
    glibc: str | None = None
    model: str | None = None
    cpu: str | None = None
    os_name: str | None = None
    os_id: str | None = None
    os_codename: str | None = None
    in_venv: bool = False
    system_site_packages: bool = False
    numpy: str | None = None
    numpy_error: str | None = None
    interpreters: tuple = ()
    extras: dict = dataclasses.field(default_factory=dict)
    image_packages: tuple = ("opencv-python-headless", "pillow")
    image_modules: dict = dataclasses.field(default_factory=dict)
    video: dict = dataclasses.field(default_factory=dict)
    executable: str = "python3"

    @property
    def arch(self) -> str:
        """The userland's architecture, what wheels must match: a 32-bit Python on a 64-bit ARM kernel is armv7l."""
        m = self.machine.lower()
        if m in ("aarch64", "arm64", "armv8l", "armv8b") and self.bits == 32:
            return "armv7l"
        if m in ("amd64", "x64"):
            return "x86_64"
        if m == "arm64":
            return "aarch64"
        return m

    @property
    def python_minor(self) -> tuple[int, int]:
        major, minor = (int(p) for p in self.python.split(".")[:2])
        return major, minor

    def interpreter(self, backend: str) -> InterpreterCheck | None:
        return next((c for c in self.interpreters if c.backend == backend), None)


@dataclasses.dataclass(frozen=True)
class DeviceClass:
    """A device class with a proven install path (a row of :data:`DEVICE_CLASSES`).

    Attributes:
      name: what it is (shown by ``doctor``).
      arch: userland architecture (:attr:`DeviceFacts.arch`).
      pythons: (min, max) ``(major, minor)`` Python versions that have the interpreter's wheel.
      min_glibc: the oldest glibc its wheels accept (manylinux tag).
      extras: the runtime extras to pip install (interpreter first; ``image`` added when images are read
        through a pip wheel).
      apt: Debian packages needed first (numpy and the image library when PyPI has no wheel for them).
      venv_flags: flags for ``python3 -m venv`` (``--system-site-packages`` to see Debian's numpy).
      proved: where the path was proved (see benchmarks/RESULTS.md).
    """

    name: str
    arch: str
    pythons: tuple
    min_glibc: str
    extras: tuple
    apt: tuple = ()
    venv_flags: str = ""
    proved: str = ""

    def matches(self, facts: DeviceFacts) -> bool:
        return (facts.arch == self.arch and self.pythons[0] <= facts.python_minor <= self.pythons[1]
                and (facts.glibc is None or _version(facts.glibc) >= _version(self.min_glibc)))


# Wheels on PyPI (checked with `pip download --only-binary=:all: --platform ... --python-version ...`):
# ai-edge-litert 2.x: cp39-cp314 x86_64 and aarch64 (manylinux_2_27 for 2.3); tflite-runtime: aarch64 up to
# cp311, armv7l only 2.14.0 cp311 manylinux_2_34; numpy, Pillow, OpenCV: no armv7l wheels at all
# (Debian's python3-numpy, python3-opencv and python3-pil instead, added by advise() for the image extra).
DEVICE_CLASSES: tuple[DeviceClass, ...] = (
    DeviceClass("x86-64 Linux", "x86_64", ((3, 9), (3, 14)), "2.27", ("litert", "image"),
                proved="host, every test run"),
    DeviceClass("64-bit ARM Linux (64-bit Raspberry Pi OS bookworm/trixie, Pi 3/4/5/Zero 2 W)", "aarch64",
                ((3, 9), (3, 14)), "2.27", ("litert", "image"),
                proved="emulated Pi 4 bookworm (Python 3.11) and Pi 5 trixie (Python 3.13), benchmarks/pi_emulation"),
    DeviceClass("32-bit Raspberry Pi OS bookworm (armhf, Python 3.11, Pi 2/3/4/Zero 2 W)", "armv7l",
                ((3, 11), (3, 11)), "2.34", ("tflite-runtime",), apt=("python3-venv", "python3-numpy"),
                venv_flags="--system-site-packages", proved="emulated Pi 3 armhf bookworm, benchmarks/pi_emulation"),
)


@dataclasses.dataclass(frozen=True)
class Advice:
    """What to do on this device.

    Attributes:
      status: ``ok`` (the shipped model runs here), ``action`` (something to install or fix: ``commands``),
        or ``unsupported`` (no interpreter wheel exists for this device; ``problems`` says what would work).
      device_class: the matched :class:`DeviceClass` name, None when none matches.
      problems: one line per thing that is wrong.
      commands: the exact commands to run, in order.
      notes: things worth knowing that need no action.
    """

    status: str
    device_class: str | None
    problems: tuple = ()
    commands: tuple = ()
    notes: tuple = ()


@dataclasses.dataclass(frozen=True)
class Report:
    """:func:`diagnose`'s result: the facts, the model check and the advice."""

    facts: DeviceFacts
    model: ModelCheck | None
    advice: Advice
    own: dict | None = None  # doctor --model: check_own_model()'s report

    @property
    def ok(self) -> bool:
        return self.advice.status == "ok" and (self.own is None or self.own.get("error") is None)

    def to_dict(self) -> dict:
        """JSON-ready: ``{"facts": {..., "arch"}, "model": {...} | None, "advice": {...}, "ok"}`` (and ``"own_model"``
        with ``--model``)."""
        facts = dataclasses.asdict(self.facts)
        facts["arch"] = self.facts.arch
        out = {"facts": facts, "model": dataclasses.asdict(self.model) if self.model else None,
               "advice": dataclasses.asdict(self.advice), "ok": self.ok}
        if self.own is not None:
            out["own_model"] = self.own
        return out

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) rows for the table ``doctor`` prints."""
        f = self.facts
        rows = [("machine", f"{f.arch} ({f.machine} kernel, {f.bits}-bit Python)"),
                ("board", f.model or "unknown"), ("cpu", f.cpu or "unknown"),
                ("os", f.os_name or "unknown"),
                ("python", (f"{f.python} ({f.executable}{', venv' if f.in_venv else ''}"
                            f"{' with system site-packages' if f.system_site_packages else ''})")),
                ("glibc", f.glibc or "not glibc"),
                ("numpy", f.numpy or f"missing ({f.numpy_error or 'not installed'})")]
        for c in f.interpreters:
            text = c.status + (f" {c.version}" if c.version else "") + (f": {c.detail}" if c.detail else "")
            rows.append((f"  {c.backend}", text))
        for name, state in f.extras.items():
            text = "installed" if state["installed"] else "missing " + ", ".join(state["missing"])
            outside = [_IMAGE_LIBS[n][0] for n in state.get("outside_pip", ())]
            if outside:
                text += f" ({', '.join(dict.fromkeys(outside))} from outside pip, e.g. Debian's)"
            rows.append((f"  [{name}]", text))
        for module, version in f.image_modules.items():
            rows.append((f"  {module}", version or "does not import"))
        if f.video:
            rows.append(("video", _video_row(f.video)))
        m = self.model
        if m is None:
            rows.append(("shipped model", "not run (no working TFLite interpreter)"))
        else:
            state = "verified" if m.verified else "NOT verified"
            answer = f"test digit ({TEST_DIGIT_LABEL}) -> {m.label} ({m.confidence:.3f})" if m.label is not None else ""
            rows.append(("shipped model", f"{state}, {m.backend}" + (f", {answer}" if answer else "")
                         + (f", error: {m.error}" if m.error else "")))
        if self.own is not None:
            rows.append(("your model", _own_row(self.own)))
        rows.append(("device class", self.advice.device_class or "none known"))
        verdict = {"ok": "OK: the shipped model runs here", "action": "needs the commands below",
                   "unsupported": "no interpreter wheel for this device"}[self.advice.status]
        if self.own is not None and self.own.get("error"):
            verdict += "; your model does not run here (see 'your model')"
        elif self.own is not None and self.advice.status == "ok":
            verdict += ", and so does yours"
        rows.append(("verdict", verdict))
        return rows


# --------------------------------------------------------------------------- facts


def _version(text: str) -> tuple:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def _os_release(text: str | None) -> dict:
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def _cpuinfo_field(text: str | None, *names: str) -> str | None:
    for name in names:
        match = re.search(rf"^{re.escape(name)}\s*:\s*(.+)$", text or "", re.MULTILINE)
        if match:
            return match.group(1).strip()
    return None


_ARM_PARTS = {"0xb76": "ARM1176", "0xc07": "Cortex-A7", "0xd03": "Cortex-A53", "0xd08": "Cortex-A72",
              "0xd0b": "Cortex-A76"}


def _cpu(cpuinfo: str | None) -> str | None:
    name = _cpuinfo_field(cpuinfo, "model name", "Processor")
    part = _cpuinfo_field(cpuinfo, "CPU part")
    count = len(re.findall(r"^processor\s*:", cpuinfo or "", re.MULTILINE)) or os.cpu_count()
    core = _ARM_PARTS.get((part or "").lower())
    if core:
        return f"{count}x {core}" + (f" ({name})" if name else "")
    return f"{count}x {name}" if name else (platform.processor() or None)


def _extras() -> tuple[dict, tuple]:
    """The runtime's extras from its installed metadata -> (state per extra, the image extra's packages)."""
    try:
        requires = importlib.metadata.requires(_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        return {}, DeviceFacts.image_packages
    by_extra: dict[str, list[str]] = {}
    for req in requires:
        match = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        if match:
            name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower()
            by_extra.setdefault(match.group(1), []).append(name)
    state = {}
    for extra, names in by_extra.items():
        if extra in ("all", "test"):
            continue
        missing = [n for n in dict.fromkeys(names) if not _installed(n)]
        state[extra] = {"installed": not missing, "missing": missing}
    image = tuple(n for n in by_extra.get("image", ()) if n in _IMAGE_LIBS) or DeviceFacts.image_packages
    return state, image


def _image_libs_outside_pip(extras: dict, image_modules: dict) -> dict:
    """``extras`` with an image library that imports though pip has no record of it (Debian's python3-opencv, as
    32-bit Raspberry Pi OS uses; opencv-python instead of -headless) no longer missing: listed in ``outside_pip``."""
    out = {}
    for extra, state in extras.items():
        found = [n for n in state["missing"] if n in _IMAGE_LIBS and image_modules.get(_IMAGE_LIBS[n][0])]
        missing = [n for n in state["missing"] if n not in found]
        out[extra] = {**state, "installed": not missing, "missing": missing, **({"outside_pip": found} if found else {})}
    return out


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _image_modules(packages) -> dict:
    out = {}
    for module in dict.fromkeys(_IMAGE_LIBS[p][0] for p in packages if p in _IMAGE_LIBS):
        try:
            mod = importlib.import_module(module)
            out[module] = str(getattr(mod, "__version__", "?"))
        except Exception:  # noqa: BLE001 - ImportError, or a broken build's own error
            out[module] = None
    return out


def _video() -> dict:
    """OpenCV's video backends (FFmpeg: files and streams; V4L2: cameras) and the ``/dev/video*`` devices there are."""
    import glob

    cameras = sorted(glob.glob("/dev/video*"), key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p)])
    out = {"ffmpeg": None, "v4l2": None, "cameras": cameras}
    try:
        import cv2

        registry = cv2.videoio_registry
        out["ffmpeg"] = bool(registry.hasBackend(cv2.CAP_FFMPEG))
        out["v4l2"] = bool(registry.hasBackend(cv2.CAP_V4L2))
    except Exception:  # noqa: BLE001 - no OpenCV, or a build without the registry
        pass
    return out


def _video_row(video: dict) -> str:
    """``doctor``'s line for :attr:`DeviceFacts.video`."""
    def yes(value):
        return "?" if value is None else ("yes" if value else "no")

    cameras = ", ".join(video.get("cameras") or ()) or "none found (plug one in; `edgedigits-rt watch` also reads files and streams)"
    if video.get("ffmpeg") is None and video.get("v4l2") is None:
        return f"OpenCV not available (the image extra); cameras: {cameras}"
    return f"FFmpeg (files, streams) {yes(video.get('ffmpeg'))}, V4L2 (cameras) {yes(video.get('v4l2'))}; cameras: {cameras}"


def _venv_state() -> tuple[bool, bool]:
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    if not in_venv:
        return False, True
    cfg = _os_release(_read(os.path.join(sys.prefix, "pyvenv.cfg")))
    return True, cfg.get("include-system-site-packages", "false").lower() == "true"


def gather_facts(probe: bool = True) -> DeviceFacts:
    """Collect this device's facts.

    Example:

    >>> gather_facts().arch        # doctest: +SKIP
    'armv7l'

    Args:
      probe: try each interpreter (in child processes); False reports none (fast).

    Returns:
      :class:`DeviceFacts`.
    """
    cpuinfo = _read("/proc/cpuinfo")
    model = (_read("/proc/device-tree/model") or "").strip("\x00\n ") or _cpuinfo_field(cpuinfo, "Model")
    release = _os_release(_read("/etc/os-release") or _read("/usr/lib/os-release"))
    libc, libc_version = platform.libc_ver()
    try:
        import numpy

        numpy_version, numpy_error = numpy.__version__, None
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken build
        numpy_version, numpy_error = None, _first_line(exc)
    in_venv, system_site = _venv_state()
    extras, image_packages = _extras()
    image_modules = _image_modules(image_packages)
    return DeviceFacts(
        machine=platform.machine(), bits=8 * struct.calcsize("P"), python=platform.python_version(),
        glibc=libc_version if libc == "glibc" and libc_version else None, model=model or None, cpu=_cpu(cpuinfo),
        os_name=release.get("PRETTY_NAME"), os_id=release.get("ID"), os_codename=release.get("VERSION_CODENAME"),
        in_venv=in_venv, system_site_packages=system_site, numpy=numpy_version, numpy_error=numpy_error,
        interpreters=tuple(probe_interpreter(name) for name in _backend_names()) if probe else (),
        extras=_image_libs_outside_pip(extras, image_modules), image_packages=image_packages,
        image_modules=image_modules, video=_video(),
        executable=sys.executable)


def _backend_names() -> list[str]:
    from edgedigits_runtime.backends import BACKENDS

    return list(BACKENDS)


def _first_line(exc: BaseException) -> str:
    return first_line(exc, with_type=True)  # the type tells a missing module from a broken one


# --------------------------------------------------------------------------- interpreter probes

_CHILD = "from edgedigits_runtime.doctor import _probe_child; _probe_child()"
_OWN_CHILD = "from edgedigits_runtime.doctor import _own_model_child; _own_model_child()"


def check_own_model(path, normalize: str | None = None) -> dict:
    """Load a model of your own as ``predict --model`` does, in a child process (a crash is a status, not the end).

    Returns:
      ``{"path", "backend", "input_layout", "batch", "output_kind", "normalize", "reference_digits", "verified",
      "warnings", "error"}``: ``error`` None when it loads (the one-line error, or the crash, otherwise).
    """
    args = [sys.executable, "-c", _OWN_CHILD, str(path), normalize or ""]
    try:
        done = subprocess.run(args, capture_output=True, check=False, timeout=_PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"path": str(path), "error": f"no answer in {_PROBE_TIMEOUT:.0f} s"}
    for line in reversed(done.stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    if done.returncode < 0:
        return {"path": str(path), "error": f"it crashed the interpreter ({signal.Signals(-done.returncode).name})"}
    lines = [ln for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return {"path": str(path), "error": lines[-1] if lines else f"exit status {done.returncode}"}


def _own_model_child() -> None:
    import warnings

    path, normalize = sys.argv[1], sys.argv[2] or None
    report = {"path": path, "error": None, "warnings": []}
    try:
        from edgedigits_runtime.classifier import DigitClassifier

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf = DigitClassifier(path, normalize=normalize)
        report["warnings"] = [str(w.message) for w in caught]
        report.update({key: clf.info[key] for key in ("backend", "input_layout", "batch", "output_kind", "normalize",
                                                      "reference_digits", "verified")})
    except Exception as exc:  # noqa: BLE001 - every failure is the report
        report["error"] = first_line(exc, limit=1000)
    print(json.dumps(report), flush=True)


def _own_row(own: dict) -> str:
    if own.get("error"):
        return f"does not run here: {own['error']}"
    reference = own.get("reference_digits")
    checked = (f", {reference['right'][own['normalize']['name']]} of {reference['of']} reference digits right"
               if reference else "")
    return (f"runs: {own['backend']}, {'verified' if own['verified'] else 'unverified'}, {own['input_layout']}, "
            f"batch {own['batch'] or 'any'}, {own['output_kind']}, input scaled {own['normalize']['name']}{checked}")


def probe_interpreter(backend: str) -> InterpreterCheck:
    """Import one backend, and run the shipped model on the test digit with it, in a child process.

    A child process turns a crash ("Illegal instruction", a segfault in a wheel built for another
    CPU or numpy) into a status instead of killing ``doctor``. TensorFlow is never imported (``not
    probed``): the runtime uses it only when no light interpreter is there.

    Args:
      backend: a registry name (see :data:`edgedigits_runtime.backends.BACKENDS`).

    Returns:
      :class:`InterpreterCheck`.

    Raises:
      UsageError: ``backend`` is not in the registry.
    """
    from edgedigits_runtime.backends import BACKENDS
    from edgedigits_runtime.errors import UsageError

    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    spec = BACKENDS[backend]
    top = spec.module.split(".")[0]
    version = _dist_version(spec.package)
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return InterpreterCheck(backend, spec.package, "not installed", version, "")
    if backend == "tensorflow-lite":
        return InterpreterCheck(backend, spec.package, "not probed", version,
                                "installed; used only when no light interpreter works (never imported by doctor)")
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, backend], capture_output=True, check=False,
                              timeout=_PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return InterpreterCheck(backend, spec.package, "failed", version, f"no answer in {_PROBE_TIMEOUT:.0f} s")
    except OSError as exc:  # no child processes here: check in this process (a crash cannot be caught then)
        return _probe_in_process(backend, spec.package, version, f"checked in this process ({exc.strerror})")
    return interpret_probe(backend, spec.package, version, done.returncode, done.stdout.decode("utf-8", "replace"),
                           done.stderr.decode("utf-8", "replace"))


def _dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def interpret_probe(backend: str, package: str, version: str | None, returncode: int, stdout: str,
                    stderr: str) -> InterpreterCheck:
    """Turn a probe child's exit into an :class:`InterpreterCheck` (pure; tested on simulated exits).

    Args:
      backend, package, version: what was probed.
      returncode: the child's exit status (negative: killed by that signal).
      stdout: the child's output; its last JSON line is its report (``stage``, ``error``, ``model``).
      stderr: the child's error output (its last line names a Python error the report missed).

    Returns:
      :class:`InterpreterCheck` with status ``works``, ``not installed``, ``numpy mismatch``,
      ``import error``, ``crashed`` or ``failed``.
    """
    report, stage = {}, "starting"
    for line in stdout.splitlines():
        if line.startswith("stage:"):
            stage = line.split(":", 1)[1].strip()
        elif line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                pass
    if returncode < 0 or returncode in (128 + signal.SIGILL, 128 + signal.SIGSEGV, 128 + signal.SIGBUS):
        number = -returncode if returncode < 0 else returncode - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        why = {"SIGILL": "Illegal instruction: the wheel uses CPU instructions this CPU does not have",
               "SIGSEGV": "segmentation fault", "SIGBUS": "bus error"}.get(name, name)
        return InterpreterCheck(backend, package, "crashed", version, f"{why} ({name} while {stage})")
    error = report.get("error")
    if error is None and returncode != 0:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        error = lines[-1] if lines else f"exit status {returncode}"
    model = None
    if isinstance(report.get("model"), dict):
        model = ModelCheck(**{k: report["model"].get(k) for k in ("backend", "verified", "label", "confidence", "error")})
    if error is None:
        detail = ""
        if model is not None:
            detail = (f"test digit -> {model.label} ({model.confidence:.3f})" if model.error is None
                      else f"model: {model.error}")
        return InterpreterCheck(backend, package, "works", version, detail, model)
    if _NUMPY_ABI.search(error) or _NUMPY_ABI.search(stderr):
        import_numpy = report.get("numpy") or "?"
        return InterpreterCheck(backend, package, "numpy mismatch", version,
                                f"built for another numpy than the installed {import_numpy} ({error})")
    if error.startswith(("ModuleNotFoundError", "BackendUnavailableError")) and "not installed" in error:
        return InterpreterCheck(backend, package, "not installed", version, error.split(": ", 1)[-1])
    if error.startswith(("ImportError", "ModuleNotFoundError", "OSError", "AttributeError", "SystemError")):
        return InterpreterCheck(backend, package, "import error", version, error)
    return InterpreterCheck(backend, package, "failed", version, error, model)


def _probe_child() -> None:
    """Body of the probe child: import, then (TFLite) run the shipped model on the test digit; print JSON."""
    backend = sys.argv[1]
    report: dict = {"backend": backend}
    try:
        import numpy

        report["numpy"] = numpy.__version__
        from edgedigits_runtime.backends import BACKENDS

        spec = BACKENDS[backend]
        print("stage: importing", flush=True)
        spec.load()
        print("stage: running the shipped model", flush=True)
        if spec.family == "tflite":
            report["model"] = _model_check(backend)
    except BaseException as exc:  # noqa: BLE001 - every failure is the report
        report["error"] = _first_line(exc)
        cause = exc.__cause__ or exc.__context__
        if cause is not None and _NUMPY_ABI.search(str(cause)):
            report["error"] += f" ({_first_line(cause)})"
    print(json.dumps(report), flush=True)


def _model_check(backend: str) -> dict:
    import warnings

    from edgedigits_runtime.classifier import DEFAULT_MODEL, DigitClassifier

    out = {"backend": backend, "verified": False, "label": None, "confidence": None, "error": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = DigitClassifier(DEFAULT_MODEL, backend=backend)
        out["verified"] = bool(clf.info.get("verified"))
        probs = clf.predict_proba(builtin_digit())[0]
        out["label"], out["confidence"] = int(probs.argmax()), float(probs.max())
    except Exception as exc:  # noqa: BLE001 - ModelIntegrityError, ModelError, backend errors
        out["error"] = _first_line(exc)
    return out


def _probe_in_process(backend: str, package: str, version: str | None, note: str) -> InterpreterCheck:
    from edgedigits_runtime.backends import BACKENDS

    try:
        BACKENDS[backend].load()
    except Exception as exc:  # noqa: BLE001
        return interpret_probe(backend, package, version, 1, json.dumps({"error": _first_line(exc)}), "")
    model = ModelCheck(**_model_check(backend)) if BACKENDS[backend].family == "tflite" else None
    detail = note + (f"; test digit -> {model.label}" if model and model.label is not None else "")
    return InterpreterCheck(backend, package, "works", version, detail, model)


# --------------------------------------------------------------------------- advice


def _pip(facts: DeviceFacts, extras) -> str:
    spec = f'"{_PACKAGE}[{",".join(extras)}]"' if extras else _PACKAGE
    return f"{facts.executable} -m pip install {spec}" if facts.in_venv else f"~/edgedigits/bin/pip install {spec}"


def advise(facts: DeviceFacts) -> Advice:
    """What this device needs, from its facts alone (pure: tested over a table of device classes).

    Example:

    >>> facts = DeviceFacts(machine="armv7l", bits=32, python="3.11.2", glibc="2.36")
    >>> advise(facts).commands[0]
    'sudo apt install -y python3-venv python3-numpy python3-opencv python3-pil'

    Args:
      facts: :class:`DeviceFacts` (from :func:`gather_facts`, or made up to ask "what if").

    Returns:
      :class:`Advice`: ``ok`` when a TFLite interpreter works and the shipped model gave the test
      digit's label; else the commands for the matching :data:`DEVICE_CLASSES` row, or
      ``unsupported`` with what would work instead.
    """
    cls = next((c for c in DEVICE_CLASSES if c.matches(facts)), None)
    problems, commands, notes = [], [], []
    tflite = [c for c in facts.interpreters if c.backend in ("litert", "tflite-runtime")]
    working = [c for c in tflite if c.works and (c.model is None or c.model.ok)]
    image_libs = [_IMAGE_LIBS[p] for p in facts.image_packages if p in _IMAGE_LIBS]
    missing_debs = list(dict.fromkeys(deb for module, deb in image_libs if facts.image_modules.get(module) is None))

    for c in facts.interpreters:
        if c.status in ("crashed", "numpy mismatch", "import error", "failed"):
            problems.append(f"{c.package}: {c.status}: {c.detail}")
        elif c.works and c.model is not None and not c.model.ok:
            problems.append(f"{c.package}: the shipped model " + (
                f"failed: {c.model.error}" if c.model.error else
                "is not verified against its manifest" if not c.model.verified else
                f"gave {c.model.label} for the test digit {TEST_DIGIT_LABEL}"))
    if facts.numpy is None:
        problems.append(f"numpy does not import ({facts.numpy_error or 'not installed'})")

    if cls is None:
        status = "unsupported" if not working else "ok"
        if facts.arch == "armv7l":
            why = (f"PyPI's only 32-bit ARM (armv7l) interpreter wheel is tflite-runtime 2.14.0 for Python 3.11 "
                   f"and glibc >= 2.34 (32-bit Raspberry Pi OS bookworm); this is Python {facts.python}"
                   + (f", glibc {facts.glibc}" if facts.glibc else ""))
        elif facts.arch.startswith("armv6"):
            why = "no interpreter publishes wheels for ARMv6 (Pi 1, Pi Zero / Zero W)"
        else:
            why = f"no known interpreter wheel set for {facts.arch} with Python {facts.python}"
        if not working:
            problems.append(why)
            notes.append("64-bit Raspberry Pi OS (any Pi 3, 4, 5 or Zero 2 W) is supported: "
                         'python3 -m venv ~/edgedigits && ~/edgedigits/bin/pip install "edgedigits-runtime[litert,image]"')
        else:
            notes.append(why + "; but an interpreter works here already")
        return Advice(status, None, tuple(problems), (), tuple(notes))

    uses_debian = bool(cls.apt)  # numpy (and the image library) come from Debian: the venv must see them
    image_ready = not missing_debs
    damaged = [c for c in tflite if c.works and c.model is not None and not c.model.ok]
    if not working and damaged:  # the interpreter is fine, the installed model is not: reinstall the runtime
        pip = f"{facts.executable} -m pip" if facts.in_venv else "~/edgedigits/bin/pip"
        commands.append(f"{pip} install --force-reinstall --no-deps {_PACKAGE}   # the shipped model is damaged")
    elif not working:
        if uses_debian:
            apt = list(cls.apt) + missing_debs
            commands.append(f"sudo apt install -y {' '.join(apt)}")
            if facts.in_venv and not facts.system_site_packages:
                problems.append("this venv does not see Debian's numpy: it was made without --system-site-packages")
            if not facts.in_venv or not facts.system_site_packages:
                commands.append(f"python3 -m venv {cls.venv_flags} ~/edgedigits".replace("  ", " "))
                commands.append(f'~/edgedigits/bin/pip install "{_PACKAGE}[{",".join(cls.extras)}]"')
            else:
                commands.append(_pip(facts, cls.extras))
            if any(c.status == "numpy mismatch" for c in tflite) or (facts.numpy and _version(facts.numpy) >= (2,)):
                commands.insert(0, f"{facts.executable} -m pip uninstall -y numpy   # a pip numpy 2 hides Debian's 1.x")
        else:
            if not facts.in_venv:
                commands.append("python3 -m venv ~/edgedigits")
            commands.append(_pip(facts, cls.extras))
        broken = [c for c in tflite if c.status in ("crashed", "numpy mismatch")]
        if any(c.status == "numpy mismatch" and c.backend == "tflite-runtime" for c in broken) and not uses_debian:
            notes.append('tflite-runtime needs numpy<2; litert (the extra above) works with numpy 2: '
                         'or keep tflite-runtime with: pip install "numpy<2"')
        if any(c.status == "crashed" for c in broken):
            notes.append("a crashed interpreter was built for another CPU: the command installs the one "
                         "proven on this device class")
    elif not image_ready:
        if uses_debian:
            commands.append(f"sudo apt install -y {' '.join(missing_debs)}   # to read image files (PyPI has no "
                            f"{facts.arch} wheel)")
        else:
            commands.append(_pip(facts, ("image",)) + "   # to read image files")
        notes.append("the classifier works on arrays; image files need the image library")
    if facts.arch == "armv7l" and facts.machine.lower() in ("aarch64", "arm64"):
        notes.append("64-bit kernel under a 32-bit (armhf) Raspberry Pi OS: wheels must be armv7l")
    if any(f'"{_PACKAGE}[' in c and "~/edgedigits" in c for c in commands):
        notes.append(f"{_PACKAGE} in a new venv: the wheel (pip wheel --no-deps ./runtime) or ./runtime, unless "
                     "your package index has it")
    status = "ok" if working and not commands else ("action" if commands else "ok")
    if working and status == "ok" and problems:
        notes.append("a working interpreter is used; the problems above concern the others")
    return Advice(status, cls.name, tuple(problems), tuple(commands), tuple(notes))


def diagnose(probe: bool = True, model=None, normalize: str | None = None) -> Report:
    """Gather the facts, check the shipped model, advise: what ``edgedigits-rt doctor`` prints.

    Example:

    >>> report = diagnose()                     # doctest: +SKIP
    >>> report.ok, report.model.label           # doctest: +SKIP
    (True, 7)

    Args:
      probe: probe the interpreters in child processes (False: facts only, no model check).
      model: also load this model of your own (``doctor --model``), in a child process: :func:`check_own_model`.
      normalize: its input scaling (``--normalize``).

    Returns:
      :class:`Report`.
    """
    facts = gather_facts(probe=probe)
    order = ("litert", "tflite-runtime")  # the runtime's own order for TFLite models
    model_check = next((c.model for name in order for c in facts.interpreters
                        if c.backend == name and c.works and c.model is not None), None)
    own = None if model is None else check_own_model(model, normalize)
    return Report(facts, model_check, advise(facts), own)
