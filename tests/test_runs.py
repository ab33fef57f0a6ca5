"""`edgedigits.runs`: a run folder's file that cannot be written says what happened and what to do next."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgedigits.errors import RunError, TrainError
from edgedigits.runs import CHECKPOINT_DIR, choose_run_dir, write_run_file

pytestmark = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (the kernel's full disk) here")


def _to_full_disk(path: Path) -> None:
    with open("/dev/full", "wb") as full:  # every write fails with ENOSPC, as on a full disk
        full.write(b"x" * 100_000)
        full.flush()


def test_a_full_disk_before_the_first_checkpoint_says_start_again(tmp_path):
    # The generated images are saved before any epoch: there is nothing to resume yet (the old message said resume).
    with pytest.raises(TrainError) as caught:
        write_run_file(_to_full_disk, tmp_path / "training_extras.npz", direct=True)
    message = str(caught.value)
    assert "No space left on device (disk full); free some space, then start the run again" in message
    assert "--resume" not in message


def test_a_full_disk_while_checkpointing_names_the_run_folder_to_resume(tmp_path):
    (tmp_path / CHECKPOINT_DIR).mkdir()
    (tmp_path / CHECKPOINT_DIR / "state.json").write_text('{"epoch": 3}')
    with pytest.raises(TrainError) as caught:
        write_run_file(_to_full_disk, tmp_path / CHECKPOINT_DIR / "last.keras", direct=True)
    assert f"then resume with `edgedigits train --resume --out {tmp_path}`" in str(caught.value)  # not .../checkpoint


def test_a_run_folder_that_cannot_be_made(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="cannot create the run folder .*notes.txt/run: Not a directory; choose another --out"):
        choose_run_dir(str(tmp_path / "notes.txt" / "run"), "edge", resume=False, overwrite=False)
