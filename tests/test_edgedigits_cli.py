"""The command line: help, and one-line errors with a non-zero exit for bad input."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgedigits.cli import COMMANDS, app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, list(args))


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("train", "archs", "export", "bench", "predict"):
        assert command in COMMANDS and command in result.output


def _entry_points():
    script = Path(sys.executable).with_name("edgedigits")
    yield pytest.param([str(script)], id="console-script",
                       marks=pytest.mark.skipif(not script.is_file(), reason=f"no console script at {script}"))
    yield pytest.param([sys.executable, "-m", "edgedigits"], id="python-m-edgedigits")
    yield pytest.param([sys.executable, "-m", "edgedigits.cli"], id="python-m-edgedigits.cli")


@pytest.mark.parametrize("command", list(_entry_points()))
def test_every_entry_point_lists_every_command_and_runs_one(command, tmp_path):
    env = dict(os.environ, COLUMNS="200", TERM="dumb")
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = {line.strip(" │|").split()[0] for line in done.stdout.splitlines() if line.strip(" │|")}
    assert set(COMMANDS) <= listed, done.stdout
    archs = subprocess.run([*command, "archs"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert archs.returncode == 0, archs.stderr
    assert "edge" in archs.stdout


def test_version():
    result = _run("--version")
    assert result.exit_code == 0 and result.output.startswith("edgedigits ")


def test_train_help_shows_typed_options():
    result = _run("train", "--help")
    assert result.exit_code == 0
    for option in ("--epochs", "--batch-size", "--lr-schedule", "--augment", "--seed", "--resume", "--out", "--early-stopping"):
        assert option in result.output


def _one_error_line(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be a whole number >= 1, got 0"),
        (["--epochs", "-2"], "got -2"),
        (["--batch-size", "0"], "--batch-size"),
        (["--arch", "edg"], "did you mean 'edge'"),
        (["--lr-schedule", "warp"], "--lr-schedule must be one of"),
        (["--negative-variant", "close"], "unknown non-digit variant 'close'"),
        (["--resume"], "--resume needs --out"),
    ],
)
def test_bad_options_exit_non_zero_with_one_line(args, message):
    result = _run("train", *args)
    assert result.exit_code == 1
    assert message in _one_error_line(result)


def test_missing_data_folder(tmp_path):
    result = _run("train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert result.exit_code == 1
    assert "not a folder" in _one_error_line(result)
    assert not (tmp_path / "run").exists()


def test_existing_run_folder_is_refused(tmp_path, mnist_dir):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"precious")
    result = _run("train", "--data-dir", str(mnist_dir), "--out", str(run), "--limit", "100", "--batch-size", "16")
    assert result.exit_code == 1
    assert "already exists; pass --overwrite" in _one_error_line(result)
    assert (run / "model.keras").read_bytes() == b"precious"


def test_archs_lists_registry():
    from edgedigits.train.architectures import get_architecture, list_architectures

    result = _run("archs")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    assert listed == list_architectures()
    for name in listed:
        assert get_architecture(name).summary in result.output


def test_resume_refuses_options_that_would_change_the_run(tmp_path):
    # checked before any file is read or TensorFlow imported
    result = _run("train", "--resume", "--out", str(tmp_path / "run"), "--epochs", "40")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "--epochs cannot change on resume" in line
    assert "edgedigits train --epochs 40 --out NEW_FOLDER" in line


def test_resume_of_a_finished_run_says_so_in_one_line(tmp_path, mnist_dir):
    pytest.importorskip("tensorflow")
    run = tmp_path / "run"
    assert _run("train", "--arch", "seed", "--data-dir", str(mnist_dir), "--out", str(run), "--limit", "600",
                "--epochs", "1", "--batch-size", "16", "--lr", "5e-3", "--no-augment").exit_code == 0
    result = _run("train", "--resume", "--out", str(run), "--data-dir", str(mnist_dir))
    assert result.exit_code == 1
    assert "has already finished (1 epochs): nothing to resume" in _one_error_line(result)


@pytest.mark.slow  # two small training runs
def test_a_warm_start_takes_its_runs_architecture_and_checks_it(tmp_path, mnist_dir):
    pytest.importorskip("tensorflow")
    small = ("--data-dir", str(mnist_dir), "--limit", "600", "--epochs", "1", "--batch-size", "16", "--no-augment")
    assert _run("train", "--arch", "seed", "--out", str(tmp_path / "run"), "--lr", "5e-3", *small).exit_code == 0
    result = _run("train", "--init", str(tmp_path / "run"), "--out", str(tmp_path / "warm"), "--lr", "1e-4", *small)
    assert result.exit_code == 0, result.output
    assert "training seed on" in result.output and "next: edgedigits export" in result.output
    result = _run("train", "--init", str(tmp_path / "run"), "--arch", "edge", "--out", str(tmp_path / "x"), *small)
    assert result.exit_code == 1
    assert "was trained as --arch seed, this run is --arch edge" in _one_error_line(result)


def test_a_run_ending_near_chance_fails_loudly(tmp_path, mnist_dir):
    pytest.importorskip("tensorflow")
    # Adam at learning rate 1 on 100 images wrecks the weights: the run ends near chance.
    result = _run("train", "--arch", "seed", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "run"),
                  "--limit", "100", "--epochs", "1", "--batch-size", "16", "--lr", "1", "--no-augment")
    assert result.exit_code == 1
    assert "the run ended near chance" in _one_error_line(result)
    assert "next: edgedigits export" not in result.output
    assert (tmp_path / "run" / "model.keras").is_file()  # everything is still written, for inspection


def test_export_qat_options_default_to_the_config():
    from edgedigits.cli_export import export
    from edgedigits.export import ExportConfig

    defaults = {p.name: p.default.default for p in inspect.signature(export).parameters.values()
                if p.name.startswith("qat_") and p.name != "qat_limit"}
    config = ExportConfig()
    assert defaults == {"qat_epochs": config.qat_epochs, "qat_lr": config.qat_learning_rate,
                        "qat_augment": config.qat_augment, "qat_batchnorm": config.qat_batchnorm,
                        "qat_schedule": config.qat_schedule}
    assert (config.qat_epochs, config.qat_learning_rate, config.qat_schedule) == (None, None, None)  # the architecture's
    assert ExportConfig(run="r").resolved().qat_epochs == 3.0
    params = inspect.signature(export).parameters
    assert (params["distill_weight"].default.default, params["temperature"].default.default) == (
        config.distill_weight, config.temperature)


# --------------------------------------------------------------------------- run folders a user gets wrong
# Each is refused in one line before TensorFlow is imported or any folder is written.


def _interrupted_run(folder: Path) -> Path:
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "checkpoint" / "state.json").write_text('{"epoch": 1}')
    return folder


@pytest.mark.parametrize("make, says, not_says", [
    (lambda p: (p.write_text("hello"), p)[1], "is a file, not a run folder", "does not exist"),
    (lambda p: (p.mkdir(), p)[1], "is not a run folder: it holds no model.keras and no checkpoint/", "--resume"),
    (_interrupted_run, "the run did not finish (resume it with `edgedigits train --resume --out", "not a run folder"),
])
def test_export_of_something_that_is_no_finished_run(tmp_path, make, says, not_says):
    target = make(tmp_path / "target")
    result = _run("export", str(target), "--int8")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert says in line and not_says not in line


def test_train_out_naming_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = _run("train", "--out", str(tmp_path / "notes.txt"), "--limit", "100")
    assert result.exit_code == 1
    assert "--out " + str(tmp_path / "notes.txt") + " is a file, not a folder" in _one_error_line(result)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _run_with_config(folder: Path, config_text: str | None) -> Path:
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"a model from elsewhere")
    if config_text is not None:
        (folder / "config.json").write_text(config_text)
    return folder


_DAMAGED = [("{not json", "config.json cannot be read as a run's options"),
            ("[1, 2]", "holds a JSON list, not a run's options")]


@pytest.mark.parametrize("option, config_text, says", [
    ("--init", None, "has no config.json: it is not a run folder written by `edgedigits train`"),  # a teacher needs only its model
    *[("--init", text, says) for text, says in _DAMAGED],
    *[("--teacher", text, says) for text, says in _DAMAGED],
])
def test_train_from_a_run_whose_options_are_missing_or_damaged(tmp_path, option, config_text, says):
    run = _run_with_config(tmp_path / "other", config_text)
    result = _run("train", option, str(run), "--out", str(tmp_path / "new"), "--limit", "100")
    assert result.exit_code == 1
    assert says in _one_error_line(result)
    assert not (tmp_path / "new").exists()


def test_resume_of_a_run_whose_options_are_damaged(tmp_path):
    run = _interrupted_run(tmp_path / "run")
    (run / "config.json").write_text('{"arch": "edge", ')  # cut short by hand
    result = _run("train", "--resume", "--out", str(run))
    assert result.exit_code == 1
    assert "cannot be read as a run's options" in _one_error_line(result)


def test_export_of_a_run_whose_options_are_damaged_is_refused_not_exported_without_them(tmp_path):
    # Without them the export would drop the run's "not a digit" rule and calibrate on other validation images.
    run = _run_with_config(tmp_path / "run", '{"negatives": 0.5, ')
    result = _run("export", str(run), "--int8")
    assert result.exit_code == 1
    assert "config.json cannot be read as a run's options" in _one_error_line(result)
    assert not (run / "export").exists()


@pytest.mark.needs_tf
def test_a_model_keras_that_cannot_be_loaded_is_one_line_before_any_work(tmp_path, mnist_dir):
    pytest.importorskip("tensorflow")
    keras3 = pytest.importorskip("keras")
    if not keras3.__version__.startswith("3."):
        pytest.skip(f"keras {keras3.__version__} is not Keras 3")
    from edgedigits.train.config import TrainConfig

    options = TrainConfig(arch="seed").to_json()
    junk = _run_with_config(tmp_path / "junk", options)
    (junk / "model.keras").write_bytes((junk / "model.keras").read_bytes()[:10])  # not even a zip archive
    made = _run_with_config(tmp_path / "keras3", options)
    model = keras3.Sequential([keras3.layers.Input((28, 28, 1)), keras3.layers.Flatten(),
                               keras3.layers.Dense(10, activation="softmax")])
    model.save(made / "model.keras")  # what `import keras` saves today: Keras 3, which tf_keras cannot read
    for run, says in ((junk, "it is not a .keras model archive"), (made, "it was saved by Keras 3.")):
        result = _run("train", "--init", str(run), "--arch", "seed", "--out", str(tmp_path / "new"), "--limit", "100",
                      "--batch-size", "16", "--data-dir", str(mnist_dir))
        assert result.exit_code == 1
        line = _one_error_line(result)
        assert f"cannot load {run / 'model.keras'} as a Keras model: {says}" in line
        assert "generated" not in result.output  # refused before minutes of generated images
        assert not (tmp_path / "new").exists()
        result = _run("export", str(run), "--float32", "--data-dir", str(mnist_dir))
        assert result.exit_code == 1 and says in _one_error_line(result)
        assert not (run / "export").exists()


def test_a_second_export_into_a_folder_being_written_is_refused(tmp_path):
    # Two exports into one folder at once would mix their files: the last one's manifest lists only its own formats.
    fcntl = pytest.importorskip("fcntl")
    run = _run_with_config(tmp_path / "run", None)
    out = tmp_path / "out"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)  # what a running export holds
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = subprocess.run([sys.executable, "-m", "edgedigits", "export", str(run), "--float32", "--out", str(out)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    finally:
        os.close(held)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: another `edgedigits export` is writing to {out} right now; "
                                   "wait for it to finish, or choose another --out")
    assert list(out.iterdir()) == []


_SWALLOWING_COMMAND = """
import gc, signal, sys, weakref
from edgedigits.cli_common import friendly_errors, progress_echo

# Ctrl-C as in a terminal: a process started in the background by a non-interactive shell (a CI job's `cmd &`) inherits
# SIGINT ignored, and Python then leaves it ignored, so the signal below would do nothing.
signal.signal(signal.SIGINT, signal.default_int_handler)

class Tensor:
    pass

@friendly_errors
def command():
    log = progress_echo()
    log("stage 1")
    # What TensorFlow's training loop does now and then: a weak reference's callback runs while Ctrl-C arrives,
    # and the KeyboardInterrupt, raised inside the callback, is one Python can only print and drop.
    kept = weakref.ref(Tensor(), lambda ref: signal.raise_signal(signal.SIGINT))
    gc.collect()
    log("stage 2")
    print("finished", flush=True)

try:
    command()
except SystemExit as exit:
    sys.exit(exit.code)
except BaseException as exc:  # typer.Exit outside an app
    sys.exit(getattr(exc, "exit_code", 99))
"""


def test_a_ctrl_c_swallowed_in_a_callback_stops_the_command_at_its_next_progress_line(tmp_path):
    done = subprocess.run([sys.executable, "-c", _SWALLOWING_COMMAND], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.stdout.splitlines() == ["stage 1"], done.stdout + done.stderr  # never "stage 2", never "finished"
    assert done.returncode == 130 and done.stderr.strip() == "interrupted", done.stderr


def test_a_second_training_into_a_run_folder_being_written_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "run"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)  # what a running `edgedigits train --out run` holds
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = subprocess.run([sys.executable, "-m", "edgedigits", "train", "--out", str(out), "--limit", "100"],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    finally:
        os.close(held)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: another `edgedigits train` is writing to {out} right now; "
                                   "wait for it to finish, or choose another --out")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("option", ["--init", "--teacher"])
def test_a_run_whose_model_is_no_keras_file_is_refused_before_tensorflow(tmp_path, option):
    # A teacher's was found only after TensorFlow, MNIST and the generated images (minutes at full size).
    from edgedigits.train.config import TrainConfig

    run = _run_with_config(tmp_path / "other", TrainConfig().to_json())  # model.keras: 22 bytes of text
    result = _run("train", option, str(run), "--out", str(tmp_path / "new"), "--limit", "100")
    assert result.exit_code == 1
    assert f"cannot load {run / 'model.keras'} as a Keras model: it is not a .keras model archive" in _one_error_line(result)
    assert not (tmp_path / "new").exists() and "generated" not in result.output
