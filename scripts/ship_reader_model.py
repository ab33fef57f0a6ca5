"""Ship a trained sequence reader as the runtime's number reader (``read_number``, ``edgedigits-rt read``).

Usage (one command, from the checkout; needs only the runtime, not TensorFlow):

  python scripts/ship_reader_model.py RUN [--data-dir DIR] [--min-accuracy 0.9]

``RUN`` is a run folder written by ``edgedigits train-reader`` (or its ``export/`` folder). The script,
with the machinery of scripts/ship_default_model.py:

1. reads ``RUN/export/manifest.json`` and its ``reader_int8.tflite`` entry (``kind: number_reader``);
2. checks the file's SHA-256 against that entry (refuses a changed file) and that it carries its
   integrity record (the trainer embeds one; a file without it is refused), so the shipped reader
   verifies itself when copied alone;
3. reads, through the runtime (:func:`edgedigits_runtime.read_number` with the bytes to ship,
   strict: verified by their own record), photos of numbers made from MNIST *test* digits
   (tests/runtime/photos.py ``number_photos``, the tuning seed 11, not the benchmark's seed), and
   refuses the bytes below ``--min-accuracy`` whole numbers right;
4. copies them to ``runtime/edgedigits_runtime/models/reader_int8.tflite`` and adds their entry
   (with the source run, the score and this command under ``"shipped"``) to ``models/manifest.json``,
   keeping the classifier's entry. Both files are written atomically.

Then commit the two files. The runtime's tests check the shipped reader against this manifest and
read generated photos with it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # ship_default_model: the shared machinery

from ship_default_model import MODELS, _run_facts, export_manifest, run_ship  # noqa: E402

SHIPPED_NAME = "reader_int8.tflite"
MIN_ACCURACY = 0.9
PHOTOS, SEED = 200, 11


def main(argv=None) -> int:
    args = _parse(argv)
    return run_ship(ship, args, "scripts/ship_reader_model.py", argv, photos=args.photos)


def ship(run: Path, *, data_dir=None, min_accuracy: float = MIN_ACCURACY, models_dir: Path = MODELS, command: str = "",
         photos: int = PHOTOS) -> dict:
    """Check, score and copy a run's reader into the runtime's ``models/`` folder; returns the ``"shipped"`` facts.

    Raises:
      UsageError: no export manifest or no reader entry in it.
      ModelIntegrityError: the file does not match its manifest entry, or carries no integrity record.
      ModelError: not a number reader, or it reads fewer than ``min_accuracy`` of the photos right.
    """
    from edgedigits_runtime.errors import EdgeDigitsError, ModelError, ModelIntegrityError, UsageError
    from edgedigits_runtime.fileio import atomic_write_bytes
    from edgedigits_runtime.manifest import MANIFEST_FILE, read_manifest, write_manifest
    from edgedigits_runtime.mnist import load_mnist
    from edgedigits_runtime.read import read_number
    from edgedigits_runtime.reader import NumberReader
    from edgedigits_runtime.record import read_record

    export, manifest = export_manifest(run, "edgedigits train-reader --out RUN")
    entry = manifest["artifacts"].get(SHIPPED_NAME)
    if entry is None or entry.get("kind") != "number_reader":
        raise UsageError(f"{export}/manifest.json has no number reader entry {SHIPPED_NAME!r} (it lists "
                         f"{', '.join(manifest['artifacts']) or 'nothing'}): run `edgedigits train-reader` first")
    source = export / SHIPPED_NAME
    reader = NumberReader(source, num_threads=1)  # checks the SHA-256 against the export manifest
    data = source.read_bytes()
    if not read_record(data).matches:
        raise ModelIntegrityError(f"{source} carries no integrity record: retrain it with `edgedigits train-reader` "
                                  "(which embeds one)")
    reader = NumberReader.from_bytes(data, name=SHIPPED_NAME, num_threads=1, strict=True)  # the bytes that ship, alone

    sys.path.insert(0, str(ROOT / "tests" / "runtime"))
    from photos import number_photos

    images, labels = load_mnist("test", data_dir)
    right = 0
    for photo, number, _ in number_photos(images, labels, photos, seed=SEED):
        try:
            right += read_number(photo, reader).number == number
        except EdgeDigitsError:
            pass
    accuracy = right / photos
    print(f"{source}: read {accuracy:.1%} of {photos} photos of 3-6 digit numbers right (MNIST test digits, seed {SEED}, "
          f"{reader.info['backend']})", file=sys.stderr)
    if accuracy < min_accuracy:
        raise ModelError(f"{source} reads {accuracy:.1%} of the photos right, below {min_accuracy:.1%}: train longer "
                         "(the default `edgedigits train-reader`) and ship again")

    shipped = {"created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "from_run": str(run),
               "photo_accuracy": round(accuracy, 4), "photos": f"{photos} number_photos, MNIST test digits, seed {SEED}",
               "backend": reader.info["backend"], "command": command, **_run_facts(run)}
    target = models_dir / MANIFEST_FILE
    if target.is_file():  # keep the classifier's entry and facts
        out = read_manifest(target)
    else:
        out = {key: value for key, value in manifest.items() if key not in ("artifacts", "reference")}
        out["artifacts"] = {}
    out["artifacts"][SHIPPED_NAME] = {**entry, "shipped": shipped}
    atomic_write_bytes(models_dir / SHIPPED_NAME, data)
    write_manifest(models_dir, out)
    return shipped


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run folder written by `edgedigits train-reader` (or its export/ folder)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    p.add_argument("--min-accuracy", type=float, default=MIN_ACCURACY, help="refuse below this share of numbers read right")
    p.add_argument("--photos", type=int, default=PHOTOS, help="photos to read (tuning seed 11)")
    p.add_argument("--models-dir", default=str(MODELS), help=argparse.SUPPRESS)  # tests write elsewhere
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
