"""Issue 13's exploration: train candidate architectures/recipes, report VALIDATION accuracy (and int8).

Every row of the exploration log in ``benchmarks/RESULTS.md`` ("Accuracy-per-MAC frontier") was
produced by this script; decisions were taken on validation accuracy and means over seeds, never on
the test set (test figures are recorded, not used to choose).

Usage (from the repository root)::

    python benchmarks/figures/explore_frontier.py --out /tmp/explore --candidates t-c6 t-dws24 \\
        --set epochs=12 --seeds 0 1 [--int8] [--export-set qat_epochs=2 ...]

    # only the int8 export, with other QAT options, of runs trained before (same JSON lines):
    python benchmarks/figures/explore_frontier.py --out /tmp/explore --runs RUN... \\
        --export-set qat_augment=true qat_batchnorm=frozen --tag qat-aug-frozen

Each candidate is a registered architecture or one defined below (names ``t-...``/``x-...``) plus
``TrainConfig`` overrides. Results are appended as JSON lines to ``<out>/results.jsonl`` and the
summary table (mean over seeds) is printed. With ``--int8`` (or ``--runs``) each run's int8 model is
also scored on the 5,000 validation images (``int8_val_accuracy``), through the runtime as export does:
export options are chosen on that, like the training recipe.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edgedigits.train.architectures import INPUT_SHAPE, NUM_CLASSES, list_architectures, register


def _cbr(layers, filters, kernel=3, strides=1, padding="same"):
    return [layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False),
            layers.BatchNormalization(), layers.ReLU()]


def _dws(layers, filters):
    return [layers.DepthwiseConv2D(3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(),
            layers.Conv2D(filters, 1, use_bias=False), layers.BatchNormalization(), layers.ReLU()]


def _candidate(name, body, dropout=0.1):
    if name in list_architectures():
        return

    @register(name, "exploration candidate (benchmarks/figures/explore_frontier.py)")
    def _build(keras):
        layers = keras.layers
        return keras.Sequential([layers.Input(INPUT_SHAPE), *body(layers), layers.Flatten(),
                                 layers.Dropout(dropout), layers.Dense(NUM_CLASSES, activation="softmax")])


# --- tiny candidates (<= 0.3M MACs): channel plans at 28 -> 14 -> 7 -> 3
_candidate("t-c6", lambda L: [*_cbr(L, 6), L.MaxPooling2D(2), *_cbr(L, 12), L.MaxPooling2D(2),
                              *_cbr(L, 24), L.MaxPooling2D(2)])
_candidate("t-dws24", lambda L: [*_cbr(L, 8), L.MaxPooling2D(2), *_dws(L, 24), L.MaxPooling2D(2),
                                 *_dws(L, 48), L.MaxPooling2D(2)])
_candidate("t-dws32", lambda L: [*_cbr(L, 8), L.MaxPooling2D(2), *_dws(L, 32), L.MaxPooling2D(2),
                                 *_dws(L, 64), L.MaxPooling2D(2)])
# t-valid: the registered `tiny` until the twelfth session (8|16v|32v, 297,472 MACs with the 11-way head).
_candidate("t-valid", lambda L: [*_cbr(L, 8), L.MaxPooling2D(2), *_cbr(L, 16, padding="valid"), L.MaxPooling2D(2),
                                 *_cbr(L, 32, padding="valid"), L.MaxPooling2D(2)])
# t-w40 (twelfth session): t-valid with a wider last conv (8|14v|40v, 284,000 MACs with the 11-way head, 8,139
# parameters): capacity where the decision is made, paid for by a narrower 12x12 conv; for "not a digit" on `tiny`.
# It passed issue 13's int8-validation rule and is the registered `tiny` since then (same layers; kept here by name).
_candidate("t-w40", lambda L: [*_cbr(L, 8), L.MaxPooling2D(2), *_cbr(L, 14, padding="valid"), L.MaxPooling2D(2),
                               *_cbr(L, 40, padding="valid"), L.MaxPooling2D(2)])
# t-w46n (thirteenth session): the registered `tiny` with width moved from the 12x12 conv to the last one (8|12v|46v,
# 262,376 MACs with the 11-way head, about 60 parameters more than `tiny`): W showed that the last conv's width pays.
# It failed issue 13's int8-validation rule (RESULTS, thirteenth session).
_candidate("t-w46n", lambda L: [*_cbr(L, 8), L.MaxPooling2D(2), *_cbr(L, 12, padding="valid"), L.MaxPooling2D(2),
                                *_cbr(L, 46, padding="valid"), L.MaxPooling2D(2)])
# t-w40d0 (fifteenth session): the registered `tiny` (8|14v|40v) without the head's dropout (same MACs, parameters
# and size): a model this small may underfit rather than overfit.
_candidate("t-w40d0", lambda L: [*_cbr(L, 8), L.MaxPooling2D(2), *_cbr(L, 14, padding="valid"), L.MaxPooling2D(2),
                                 *_cbr(L, 40, padding="valid"), L.MaxPooling2D(2)], dropout=0.0)
# --- teacher candidates (issue 13: a clearly better teacher than an ensemble of edge runs). `x-vgg` was the
# registered `vgg` before it was registered (same layers); `x-wide`, edge at 2x channels, was no better than edge.
_candidate("x-wide", lambda L: [*_cbr(L, 32), L.MaxPooling2D(2), *_cbr(L, 64), L.MaxPooling2D(2),
                                *_cbr(L, 128), L.MaxPooling2D(2)], dropout=0.25)
_candidate("t-c8s", lambda L: [*_cbr(L, 8, strides=2), *_cbr(L, 16), L.MaxPooling2D(2),
                               *_cbr(L, 32), L.MaxPooling2D(2)])
# --- seventh session (kd4): other `edge` layouts within today's budget (<= 1,925,568 MACs with the "not a digit"
# head, <= 50 KB int8, i.e. about <= 37k parameters; benchmarks/figures/arch_probe.py measures each).
# e-d7: depth where the teacher `vgg` had it: two convs at 7x7, paid for by a narrower 14x14 conv (16|24|32-56).
_candidate("e-d7", lambda L: [*_cbr(L, 16), L.MaxPooling2D(2), *_cbr(L, 24), L.MaxPooling2D(2),
                              *_cbr(L, 32), *_cbr(L, 56), L.MaxPooling2D(2)], dropout=0.25)
# e-d14: two convs at 14x14 (parameters are cheap there), one at 7x7 (16|16-24|48).
_candidate("e-d14", lambda L: [*_cbr(L, 16), L.MaxPooling2D(2), *_cbr(L, 16), *_cbr(L, 24), L.MaxPooling2D(2),
                               *_cbr(L, 48), L.MaxPooling2D(2)], dropout=0.25)
# e-v7: `tiny`'s trick at 7x7: two unpadded convs 7 -> 5 -> 3 replace the last conv and pool (16|32|40-40).
_candidate("e-v7", lambda L: [*_cbr(L, 16), L.MaxPooling2D(2), *_cbr(L, 32), L.MaxPooling2D(2),
                              *_cbr(L, 40, padding="valid"), *_cbr(L, 40, padding="valid")], dropout=0.25)
# e-c64: `edge`'s layout before the seventh session (three padded blocks 16-32-64, each followed by max-pooling).
_candidate("e-c64", lambda L: [*_cbr(L, 16), L.MaxPooling2D(2), *_cbr(L, 32), L.MaxPooling2D(2),
                               *_cbr(L, 64), L.MaxPooling2D(2)], dropout=0.25)
# e-v7b: e-v7 with a wider 14x14 conv (16|40|40v-40v).
_candidate("e-v7b", lambda L: [*_cbr(L, 16), L.MaxPooling2D(2), *_cbr(L, 40), L.MaxPooling2D(2),
                               *_cbr(L, 40, padding="valid"), *_cbr(L, 40, padding="valid")], dropout=0.25)
# e-t20: `tiny` scaled up (padded 28x28 conv, then unpadded 14 -> 12 and 6 -> 4, pools to 2x2): 20|40v|64v.
_candidate("e-t20", lambda L: [*_cbr(L, 20), L.MaxPooling2D(2), *_cbr(L, 40, padding="valid"), L.MaxPooling2D(2),
                               *_cbr(L, 64, padding="valid"), L.MaxPooling2D(2)], dropout=0.25)
# e-d7b: two convs at 7x7 with channel counts XNNPACK handles well (16|16|32-64).
_candidate("e-d7b", lambda L: [*_cbr(L, 16), L.MaxPooling2D(2), *_cbr(L, 16), L.MaxPooling2D(2),
                               *_cbr(L, 32), *_cbr(L, 64), L.MaxPooling2D(2)], dropout=0.25)
# e-v7c: e-v7 with 48 then 32 channels after the 14x14 conv (16|32|48v-32v).
_candidate("e-v7c", lambda L: [*_cbr(L, 16), L.MaxPooling2D(2), *_cbr(L, 32), L.MaxPooling2D(2),
                               *_cbr(L, 48, padding="valid"), *_cbr(L, 32, padding="valid")], dropout=0.25)


def _parse_override(text: str):
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _short(value) -> str:
    """An option's value in a folder name: run folders (e.g. ``teacher=[...]``) by their last part, no slashes."""
    values = value if isinstance(value, list) else [value]
    return "+".join(Path(str(v)).name if "/" in str(v) else str(v) for v in values)


def _int8(run_dir, export_overrides: dict, data_dir, out: Path | None = None) -> dict:
    """Export ``run_dir`` --int8 (QAT) and score it on the test set (export) and the validation set (here).

    With ``out``, the export goes to ``out/<run name>-<options>/`` so re-exports with other options do not
    replace the run's own export.
    """
    from edgedigits.data import load_splits
    from edgedigits.export import ExportConfig, export
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.evaluate import score

    dest = None
    if out is not None:
        name = "_".join(f"{k}{_short(v)}" for k, v in export_overrides.items()) or "default"
        dest = str(out / f"{Path(run_dir).name}-{name}")
    res = export(ExportConfig(run=str(run_dir), out=dest, formats=["int8"], overwrite=True, min_accuracy=0.5,
                              max_drop=100.0, data_dir=data_dir, **export_overrides))
    r = res.rows[0]
    splits = load_splits(data_dir)
    val = score(DigitClassifier(r.path, num_threads=1), splits.x_val, splits.y_val).accuracy
    row = {"int8_accuracy": r.accuracy, "int8_val_accuracy": val, "int8_size": r.size, "int8_status": r.status}
    if r.holdout_rejected is not None:  # a "not a digit" run: its rule's figures through the runtime
        row.update(int8_digits_accepted=r.digits_accepted, int8_holdout_rejected=r.holdout_rejected,
                   int8_threshold=r.reject_threshold)
    entry = next(iter(json.loads((Path(r.path).parent / "manifest.json").read_text())["artifacts"].values()), {})
    row.update(qat_images=entry.get("qat_images"), qat_seconds=entry.get("qat_seconds"), export_seconds=entry.get("export_seconds"))
    return row


def _reuse_extras(extras_from: str | None) -> None:
    """Make every run start with the generated training extras of ``extras_from/s<seed>.npz`` (or of a run folder
    ``extras_from`` for any seed) when their key matches: the trainer's own cache, so recipes that change only steps
    or epochs are compared on the same images and skip generating them again."""
    if not extras_from:
        return
    import shutil

    from edgedigits.runs import EXTRAS_FILE
    from edgedigits.train import trainer

    choose = trainer.choose_run_dir

    def choose_and_seed(out, arch, *, resume, overwrite):
        run_dir = choose(out, arch, resume=resume, overwrite=overwrite)
        src = Path(extras_from)
        for c in (src / f"s{_SEED[0]}.npz", src / EXTRAS_FILE):
            if c.is_file() and not (run_dir / EXTRAS_FILE).exists():
                shutil.copyfile(c, run_dir / EXTRAS_FILE)
                print(f"(extras copied from {c})", flush=True)
                break
        return run_dir

    trainer.choose_run_dir = choose_and_seed


_SEED = [0]  # the seed of the run being started (read by the extras hook)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--candidates", nargs="+", default=[], help="architecture names")
    parser.add_argument("--runs", nargs="+", default=[], help="finished run folders: only export them --int8 (no training)")
    parser.add_argument("--export-set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="ExportConfig overrides of the int8 export, e.g. qat_epochs=3 qat_augment=true")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="TrainConfig overrides for every candidate, e.g. epochs=12 ema=true")
    parser.add_argument("--tag", default="", help="label for this recipe in the table")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--int8", action="store_true", help="also export --int8 (QAT) and record size and accuracy")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--extras-from", default=None, help="folder with s<SEED>.npz copies of training_extras.npz "
                        "(or a run folder): reuse those generated images (same key) instead of generating them")
    args = parser.parse_args()

    from edgedigits.train import TrainConfig, train

    _reuse_extras(args.extras_from)
    overrides = dict(_parse_override(s) for s in args.set)
    export_overrides = dict(_parse_override(s) for s in args.export_set)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    if not args.candidates and not args.runs:
        parser.error("give --candidates (train) or --runs (re-export)")
    for run_dir in args.runs:
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
        train_config = json.loads((Path(run_dir) / "config.json").read_text())
        row = {"arch": metrics["arch"], "recipe": args.tag or "reexport", "run": str(run_dir),
               "seed": train_config["seed"], "val_accuracy": metrics.get("val_accuracy"),
               "test_accuracy": metrics["test_accuracy"], "export": export_overrides,
               **_int8(run_dir, export_overrides, args.data_dir, out)}
        print(json.dumps(row), flush=True)
        with open(out / "results.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
    for arch in args.candidates:
        for seed in args.seeds:
            tag = args.tag or ",".join(args.set) or "defaults"
            run_dir = out / f"{arch}-{tag.replace('=', '').replace(',', '_')}-s{seed}"
            config = TrainConfig(arch=arch, seed=seed, data_dir=args.data_dir, out=str(run_dir), overwrite=True,
                                 **overrides)
            t0 = time.perf_counter()
            _SEED[0] = seed
            result = train(config, log=lambda line, arch=arch, seed=seed: print(f"[{arch} s{seed}] {line}", flush=True))
            m = result.metrics
            row = {"arch": arch, "recipe": tag, "seed": seed, "val_accuracy": m.get("val_accuracy"),
                   "best_val_accuracy": m["best_val_accuracy"], "test_accuracy": m["test_accuracy"],
                   "params": m["params"], "macs": m["macs"], "epochs": m["epochs_run"],
                   "train_seconds": m["train_seconds"], "wall_seconds": round(time.perf_counter() - t0, 1)}
            nad = m.get("not_a_digit") or {}
            if nad.get("holdout"):
                row.update(keras_holdout_rejected=nad["holdout"]["nondigits_rejected"],
                           keras_test_digits_accepted=nad["test"]["digits_accepted"])
            if args.int8:
                row.update(export=export_overrides, **_int8(run_dir, export_overrides, args.data_dir))
            print(json.dumps(row), flush=True)
            with open(out / "results.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
            rows.append(row)

    print("\n| arch | recipe | seeds | val acc (mean) | test acc (mean) | int8 test (mean) | int8 KB | MACs | params |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for arch in args.candidates:
        mine = [r for r in rows if r["arch"] == arch]
        val = statistics.mean(r["val_accuracy"] or r["best_val_accuracy"] for r in mine)
        test = statistics.mean(r["test_accuracy"] for r in mine)
        int8 = [r["int8_accuracy"] for r in mine if r.get("int8_accuracy") is not None]
        size = [r["int8_size"] for r in mine if r.get("int8_size")]
        print(f"| {arch} | {mine[0]['recipe']} | {len(mine)} | {val:.2%} | {test:.2%} | "
              f"{statistics.mean(int8):.2%} | {statistics.mean(size) / 1024:.1f} | " if int8 else
              f"| {arch} | {mine[0]['recipe']} | {len(mine)} | {val:.2%} | {test:.2%} | - | - | ", end="")
        print(f"{mine[0]['macs']:,} | {mine[0]['params']:,} |")


if __name__ == "__main__":
    main()
