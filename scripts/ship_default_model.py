"""Ship a run's int8 model as the runtime's pretrained default (``load_default()``, ``predict`` without --model).

Usage (one command, from the checkout; needs only the runtime, not TensorFlow):

  python scripts/ship_default_model.py RUN [--data-dir DIR]

``RUN`` is a run folder exported with ``edgedigits export RUN --int8`` (or its ``export/`` folder).
The script:

1. reads ``RUN/export/manifest.json`` and its ``int8`` entry (``<arch>_int8.tflite``);
2. checks the file's SHA-256 against that entry (refuses a changed file);
3. with ``--require-reject``, refuses it when its entry has no calibrated "not a digit" rule (``"reject"``,
   written by ``edgedigits export`` for runs trained with ``--negatives``); without it, a model with no rule
   ships as one that never rejects (as the digits-only default pipeline gives), and the script says so;
4. makes sure the file carries its integrity record (``edgedigits_runtime.record``), so the shipped
   model verifies itself when copied alone: a file exported before records existed gets one from
   the exporter's own ``edgedigits.export.record`` (this needs the full toolkit installed; without
   it the script says to re-export);
5. scores the bytes to ship through ``edgedigits_runtime.DigitClassifier`` (strict: verified by
   their own record) on the full MNIST test set (accuracy, and the share of digits its rule keeps) and refuses them
   below 99.4% (``--min-accuracy``);
6. copies them to ``runtime/edgedigits_runtime/models/default_int8.tflite`` and writes
   ``models/manifest.json`` beside it: the export manifest with only this entry, renamed, plus
   the source run's facts and the runtime's score (``"shipped"``); the entries of other shipped
   files (the number reader, scripts/ship_reader_model.py) are kept. Both files are written atomically.

Then commit the two files. The runtime's tests check the shipped model against this manifest and
its accuracy on MNIST.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "runtime" / "edgedigits_runtime" / "models"
SHIPPED_NAME = "default_int8.tflite"
MIN_ACCURACY = 0.994


def main(argv=None) -> int:
    args = _parse(argv)
    return run_ship(ship, args, "scripts/ship_default_model.py", argv, require_reject=args.require_reject)


def run_ship(ship_fn, args, script: str, argv, **options) -> int:
    """The command-line tail every ship script shares: ship, print the facts as JSON, or one ``error:`` line and 1."""
    sys.path.insert(0, str(ROOT / "runtime"))  # the checkout's runtime, even when another is installed
    from edgedigits_runtime.errors import EdgeDigitsError

    try:
        shipped = ship_fn(Path(args.run), data_dir=args.data_dir, min_accuracy=args.min_accuracy,
                          models_dir=Path(args.models_dir), **options,
                          command=" ".join(["python", script, *map(shlex.quote, argv or sys.argv[1:])]))
    except EdgeDigitsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(shipped, indent=2))
    return 0


def export_manifest(run: Path, first: str) -> tuple[Path, dict]:
    """``RUN/export`` (or ``RUN`` itself) and its manifest; ``UsageError`` naming the command ``first`` when absent."""
    from edgedigits_runtime.errors import UsageError
    from edgedigits_runtime.manifest import MANIFEST_FILE, read_manifest

    export = run / "export" if (run / "export" / MANIFEST_FILE).is_file() else run  # edgedigits.runs.EXPORT_DIR
    if not (export / MANIFEST_FILE).is_file():
        raise UsageError(f"no export manifest in {run} (looked for {run}/export/manifest.json): run `{first}` first")
    return export, read_manifest(export / MANIFEST_FILE)


def ship(run: Path, *, data_dir=None, min_accuracy: float = MIN_ACCURACY, models_dir: Path = MODELS, command: str = "",
         require_reject: bool = False) -> dict:
    """Check, score and copy a run's int8 model into the runtime's ``models/`` folder.

    Returns:
      The ``"shipped"`` facts written into the manifest.

    Raises:
      UsageError: no export manifest or no int8 entry in it.
      ModelIntegrityError: the file does not match its manifest.
      ModelError: the model does not score ``min_accuracy`` on the MNIST test set, or has no calibrated
        "not a digit" rule in its manifest entry and ``require_reject`` is set.
    """
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.errors import ModelError, UsageError
    from edgedigits_runtime.evaluate import evaluate
    from edgedigits_runtime.fileio import atomic_write_bytes, sha256_bytes
    from edgedigits_runtime.manifest import write_manifest

    export, manifest = export_manifest(run, f"edgedigits export {run} --int8")
    names = [name for name, entry in manifest["artifacts"].items() if entry.get("format") == "int8"]
    if not names:
        raise UsageError(f"{export}/manifest.json lists no int8 artifact (it has {', '.join(manifest['artifacts'])}): "
                         f"run `edgedigits export {run} --int8`")
    source = export / names[0]
    clf = DigitClassifier(source, num_threads=1)  # checks the SHA-256 against the export manifest
    if not clf.info["verified"]:  # pragma: no cover - the entry exists, so an unverified load cannot happen
        raise ModelError(f"{source} could not be verified against {export}/manifest.json")
    if clf.reject is None:
        if require_reject:
            raise ModelError(f"{source} has no calibrated 'not a digit' rule in its manifest entry: train with "
                             "`edgedigits train --negatives 0.25` and export with --int8, or drop --require-reject")
        print(f"note: {source} has no calibrated 'not a digit' rule: the shipped model never rejects "
              "(callers may still pass a threshold)", file=sys.stderr)
    entry = dict(manifest["artifacts"][names[0]])
    data = _with_record(source, manifest, entry)
    entry.update(sha256=sha256_bytes(data), size=len(data))
    # score exactly the bytes that ship, verified by their own integrity record
    clf = DigitClassifier.from_bytes(data, name=SHIPPED_NAME, num_threads=1, strict=True)
    scored = evaluate(clf, data_dir=data_dir, batch_size=1000)  # the runtime's one scorer
    accuracy = scored.accuracy
    print(f"{source}: {accuracy:.2%} on the {scored.images} MNIST test images through the runtime "
          f"({clf.info['backend']}, {scored.seconds:.1f} s)", file=sys.stderr)
    min_share = (clf.reject or {}).get("min_share")
    if scored.threshold is not None:
        share = "" if min_share is None else f", min_share {min_share:.4f}"
        print(f"  not a digit (threshold {scored.threshold:.4f}{share}): keeps {scored.digits_accepted:.2%} of them, "
              f"{scored.accuracy_on_accepted:.2%} right", file=sys.stderr)
    if accuracy < min_accuracy:
        raise ModelError(f"{source} scores {accuracy:.2%} on the MNIST test set, below {min_accuracy:.2%}: "
                         "train longer (the default `edgedigits train`) and export again")

    shipped = {
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "from_file": names[0], "from_run": str(run),
        "runtime_accuracy": round(accuracy, 6), "test_images": scored.images, "backend": clf.info["backend"],
        "command": command,
    }
    if scored.threshold is not None:
        shipped.update({"reject_threshold": scored.threshold, "runtime_digits_accepted": round(scored.digits_accepted, 6),
                        "runtime_accuracy_on_accepted": round(scored.accuracy_on_accepted, 6)})
        if min_share is not None:
            shipped["reject_min_share"] = min_share
    shipped.update(_run_facts(run))
    out = {key: value for key, value in manifest.items() if key not in ("artifacts", "reference")}
    out["artifacts"] = {SHIPPED_NAME: entry, **_other_entries(models_dir)}  # the classifier first; the number reader's entry stays
    out["shipped"] = shipped
    atomic_write_bytes(models_dir / SHIPPED_NAME, data)
    write_manifest(models_dir, out)
    return shipped


def _other_entries(models_dir: Path) -> dict:
    """The entries of the other files shipped beside the classifier (the number reader, scripts/ship_reader_model.py)."""
    from edgedigits_runtime.manifest import MANIFEST_FILE, read_manifest

    if not (models_dir / MANIFEST_FILE).is_file():
        return {}
    return {name: entry for name, entry in read_manifest(models_dir / MANIFEST_FILE)["artifacts"].items()
            if name != SHIPPED_NAME}


def _with_record(source: Path, manifest: dict, entry: dict) -> bytes:
    """The source model's bytes with their integrity record inside (added by the exporter's code if missing)."""
    from edgedigits_runtime.errors import UsageError
    from edgedigits_runtime.record import read_record

    data = source.read_bytes()
    if read_record(data).matches:
        return data
    try:
        from edgedigits.export.record import embed_record, record_document
    except ImportError:
        raise UsageError(f"{source} carries no integrity record (exported by an older edgedigits) and the toolkit "
                         f"that adds one is not installed here: re-export it with `edgedigits export RUN --int8 --overwrite`") from None
    shared = {key: manifest.get(key) for key in ("labels", "preprocessing", "tools", "source_run")}
    print(f"{source}: adding its integrity record (exported before edgedigits embedded one)", file=sys.stderr)
    return embed_record(data, "tflite", record_document(entry, shared))


def _run_facts(run: Path) -> dict:
    """Training facts from the run folder (when it is one): arch, epochs, learning rate, seed, the non-digits it learnt
    from, the run it was warm-started from (``init``), Keras test accuracy."""
    facts = {}
    for name, keys in (("config.json", ("arch", "epochs", "epoch_basis", "batch_size", "learning_rate", "augment", "seed",
                                        "limit", "negatives", "negative_variant", "holdout_kind", "init")),
                       ("metrics.json", ("test_accuracy", "params", "macs", "epochs_run"))):
        try:
            data = json.loads((run / name).read_text())
        except (OSError, ValueError):
            continue
        found = {key: data[key] for key in keys if key in data}
        if found:
            facts[f"run_{name.split('.')[0]}"] = found
    return facts


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run folder exported with `edgedigits export RUN --int8` (or its export/ folder)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (else $EDGEDIGITS_DATA, cache, download)")
    p.add_argument("--min-accuracy", type=float, default=MIN_ACCURACY, help="refuse below this test accuracy (fraction)")
    p.add_argument("--require-reject", action="store_true", help="refuse a model without a calibrated 'not a digit' rule")
    p.add_argument("--models-dir", default=str(MODELS), help=argparse.SUPPRESS)  # tests write elsewhere
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
