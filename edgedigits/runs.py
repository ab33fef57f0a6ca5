"""Run folders: where a training run writes, and how later stages find it.

A run folder is never overwritten silently: the default name ``runs/<arch>``
moves on to ``runs/<arch>-2``, ``-3``, ... when taken, and an explicit folder that
already exists is refused unless the user asks to resume or overwrite.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

from edgedigits.errors import ModelError, RunError, TrainError
from edgedigits_runtime.errors import first_line
from edgedigits_runtime.fileio import atomic_path

__all__ = ["RUNS_ROOT", "MODEL_FILE", "CONFIG_FILE", "HISTORY_FILE", "METRICS_FILE", "CURVES_FILE", "CONFUSION_FILE",
           "CHECKPOINT_DIR", "EXTRAS_FILE", "REPORT_FILE", "EXPORT_DIR", "BENCH_DIR", "export_dir", "bench_dir", "choose_run_dir",
           "check_run_dir",
           "resolve_run", "latest_run", "write_run_file", "write_problem", "load_run_model", "check_run_model",
           "folder_lock"]

# The run folder's layout (docs/DESIGN.md "Run folder"): every stage names these from here.
RUNS_ROOT = Path("runs")
MODEL_FILE = "model.keras"          # written last by `edgedigits train`: its presence marks a finished run
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion.png"
CHECKPOINT_DIR = "checkpoint"
EXTRAS_FILE = "training_extras.npz"  # generated non-digits and photo-path digits (train writes, export reuses)
REPORT_FILE = "report_images.npz"    # the images "not a digit" is calibrated and measured on (train writes, export reuses)
EXPORT_DIR = "export"               # `edgedigits export RUN` writes here by default
BENCH_DIR = "bench"                 # `edgedigits bench RUN` writes here by default


def export_dir(run: str | Path) -> Path:
    """Where ``edgedigits export`` writes a run's artifacts by default (and ``bench RUN`` looks)."""
    return Path(run) / EXPORT_DIR


def bench_dir(run: str | Path) -> Path:
    """Where ``edgedigits bench RUN`` writes its report by default."""
    return Path(run) / BENCH_DIR


def choose_run_dir(out: str | None, arch: str, *, resume: bool, overwrite: bool) -> Path:
    """Pick (and create) the folder a training run writes to.

    Args:
      out: explicit folder, or None for ``runs/<arch>`` (next free ``-N`` suffix).
      arch: architecture name, for the default folder name.
      resume: continue the run in ``out``; it must hold a checkpoint.
      overwrite: replace ``out`` if it exists.

    Raises:
      RunError: ``out`` exists (without resume/overwrite), or resume finds no checkpoint.
    """
    if out is None:
        base = RUNS_ROOT / arch
        run_dir, n = base, 1
        while True:
            while run_dir.exists():
                n += 1
                run_dir = base.with_name(f"{arch}-{n}")
            try:
                run_dir.mkdir(parents=True)
                return run_dir
            except FileExistsError:  # another run took this name meanwhile: the next one
                continue
            except OSError as exc:
                raise RunError(f"cannot create the run folder {run_dir}: {write_problem(exc)}; run from a folder you can "
                               "write to, or choose one with --out") from None
    run_dir = check_run_dir(out, resume=resume, overwrite=overwrite)
    if resume:
        return run_dir
    for old in list(run_dir.iterdir()) if run_dir.is_dir() else []:  # overwrite, checked above: the folder itself
        if old.is_dir() and not old.is_symlink():                       # stays (a run's lock is held on it)
            shutil.rmtree(old)
        else:
            old.unlink()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the run folder {run_dir}: {write_problem(exc)}; choose another --out") from None
    return run_dir


def check_run_dir(out: str | Path, *, resume: bool, overwrite: bool) -> Path:
    """What :func:`choose_run_dir` would refuse about an explicit ``out``, checked without writing anything (before
    TensorFlow is imported and the data loaded).

    Raises:
      RunError: ``out`` is a file, exists (without resume/overwrite), or resume finds no checkpoint.
    """
    run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"--out {run_dir} is a file, not a folder; choose another --out")
    if resume:
        if not (run_dir / CHECKPOINT_DIR / "state.json").is_file():
            raise RunError(f"nothing to resume in {run_dir}: it has no {CHECKPOINT_DIR}/state.json; start a new run instead")
    elif run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        raise RunError(f"run folder {run_dir} already exists; pass --overwrite to replace it, "
                       "--resume to continue it, or choose another --out")
    return run_dir


def latest_run(root: str | Path = RUNS_ROOT) -> Path:
    """The most recently finished run under ``root`` (by its model's modification time).

    Raises:
      RunError: no finished run there.
    """
    root = Path(root)
    models = sorted(root.glob(f"*/{MODEL_FILE}"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise RunError(f"no finished run under {root}/; train one first with `edgedigits train`, or name the RUN folder")
    return models[-1].parent


def resolve_run(run: str | Path | None) -> Path:
    """The run folder a command should use: ``run`` itself, or the latest run when None.

    Raises:
      RunError: the folder does not exist or holds no trained model (an interrupted run, whose
        ``checkpoint/`` is there, is told to resume; a folder that is no run at all, to train one).
    """
    if run is None:
        return latest_run()
    run_dir = Path(run)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a run folder; name the folder `edgedigits train` wrote (e.g. runs/edge)")
    if not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} does not exist; train one with `edgedigits train --out {run_dir}`")
    if not (run_dir / MODEL_FILE).is_file():
        if (run_dir / CHECKPOINT_DIR / "state.json").is_file():
            raise RunError(f"{run_dir} holds no {MODEL_FILE}: the run did not finish "
                           f"(resume it with `edgedigits train --resume --out {run_dir}`)")
        raise RunError(f"{run_dir} is not a run folder: it holds no {MODEL_FILE} and no {CHECKPOINT_DIR}/ to resume; "
                       "name the folder `edgedigits train` wrote (e.g. runs/edge), or train one")
    return run_dir


def load_run_model(keras, path: Path):
    """Load a run's ``model.keras`` (or another tf_keras model file) without its training loss.

    Args:
      keras: the tf_keras module (:func:`edgedigits._tf.tf_and_keras`).
      path: the model file.

    Raises:
      ModelError: the file cannot be loaded; the message says why when it can tell (not a ``.keras`` archive,
        saved by Keras 3) and what to do.
    """
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 (Keras raises anything on a bad file)
        raise ModelError(f"cannot load {path} as a Keras model: {_why_unloadable(path, exc)}") from None


def check_run_model(path: Path) -> None:
    """What can be told about a model file without TensorFlow (before any work starts): it is a tf_keras ``.keras``
    archive or an HDF5 file, and not one saved by Keras 3.

    Raises:
      ModelError: as :func:`load_run_model` would, for those cases.
    """
    with open(path, "rb") as fh:
        head = fh.read(len(_HDF5))
    if head == _HDF5:
        return
    problem = _archive_problem(path, "not a model")
    if problem:
        raise ModelError(f"cannot load {path} as a Keras model: {problem}")


_HDF5 = b"\x89HDF\r\n\x1a\n"  # the older Keras format, which tf_keras also reads
_NOT_AN_ARCHIVE = "it is not a .keras model archive (truncated, or {}); train it again with `edgedigits train`"
_KERAS3 = ("it was saved by Keras {} (Keras 3), and edgedigits reads tf_keras (Keras 2) models; train it with "
           "`edgedigits train`, or build and save it with `import tf_keras` instead of `import keras`")


def _saved_by(path: Path) -> str:
    """The ``keras_version`` a ``.keras`` archive records ("" when it records none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, AttributeError):
        return ""


def _archive_problem(path: Path, detail: str) -> str | None:
    """What is wrong with ``path`` as a tf_keras ``.keras`` archive (not one: ``detail`` says what else it may be;
    saved by Keras 3), or None when nothing can be told from the file itself."""
    if not zipfile.is_zipfile(path):
        return _NOT_AN_ARCHIVE.format(detail)
    saved_by = _saved_by(path)
    return _KERAS3.format(saved_by) if saved_by.startswith("3.") else None


def _why_unloadable(path: Path, exc: Exception) -> str:
    """Why ``path`` did not load, in words a user can act on."""
    return (_archive_problem(path, f"not a model: {first_line(exc, with_type=True)}")
            or f"{first_line(exc, with_type=True)}; train it again with `edgedigits train`")


def write_run_file(write: Callable[[Path], object], dest: Path, *, direct: bool = False) -> None:
    """Write a run folder's file ``dest`` atomically (or let ``write`` do so when ``direct``).

    Raises:
      TrainError: it could not be written (a full disk, a folder made read-only): what happened, and whether the run
        can be resumed (it has a checkpoint) or must start again.
    """
    try:
        if direct:
            write(dest)
            return
        with atomic_path(dest) as tmp:
            write(tmp)
    except OSError as exc:
        run_dir = dest.parent.parent if dest.parent.name == CHECKPOINT_DIR else dest.parent
        then = (f"resume with `edgedigits train --resume --out {run_dir}`" if (run_dir / CHECKPOINT_DIR / "state.json").is_file()
                else "start the run again (it has no checkpoint to resume yet)")
        fix = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "fix that"
        raise TrainError(f"could not write {dest}: {write_problem(exc)}; {fix}, then {then}") from None


def write_problem(exc: OSError) -> str:
    """What went wrong writing a file, in words (``No space left on device (disk full)``), for one-line errors."""
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{why} (disk full)"
    if exc.errno == errno.EROFS:
        return f"{why} (the folder cannot be written to)"
    return why


@contextlib.contextmanager
def folder_lock(folder: Path, command: str):
    """Hold an exclusive lock on ``folder`` (created if missing) while ``edgedigits <command>`` writes into it: the same
    command started again into the same folder meanwhile is refused instead of mixing two results' files. The lock is
    the kernel's (``flock``), so a killed process never leaves it behind. A folder created here and still empty when
    the block fails is removed again.

    Raises:
      RunError: another process holds the lock, or the folder cannot be created.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot write to {folder}: {write_problem(exc)}; choose another --out") from None
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"another `edgedigits {command}` is writing to {folder} right now; wait for it to finish, "
                           "or choose another --out") from None
        try:
            yield
        except BaseException:
            if created:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when still empty
            raise
    finally:
        os.close(fd)
