"""Issue 13's exploration: train candidate architectures/recipes, report VALIDATION accuracy (and int8).

Every row of the exploration log in ``benchmarks/RESULTS.md`` ("Accuracy-per-MAC frontier") was
produced by this script; decisions were taken on validation accuracy and means over seeds, never on
the test set (test figures are recorded, not used to choose).

Usage (from the repository root)::

    python benchmarks/figures/explore_frontier.py --out /tmp/explore --candidates t-c6 t-dws24 \\
        --epochs 12 --seeds 0 1 [--int8] [--limit 20000]

Each candidate is a registered architecture or one defined below (names ``t-...``/``x-...``) plus
``TrainConfig`` overrides. Results are appended as JSON lines to ``<out>/results.jsonl`` and the
summary table (mean over seeds) is printed.
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
_candidate("t-valid", lambda L: [*_cbr(L, 8), L.MaxPooling2D(2), *_cbr(L, 16, padding="valid"), L.MaxPooling2D(2),
                                 *_cbr(L, 32, padding="valid"), L.MaxPooling2D(2)])
_candidate("t-c8s", lambda L: [*_cbr(L, 8, strides=2), *_cbr(L, 16), L.MaxPooling2D(2),
                               *_cbr(L, 32), L.MaxPooling2D(2)])


def _parse_override(text: str):
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--candidates", nargs="+", required=True, help="architecture names")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="TrainConfig overrides for every candidate, e.g. epochs=12 ema=true")
    parser.add_argument("--tag", default="", help="label for this recipe in the table")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--int8", action="store_true", help="also export --int8 (QAT) and record size and accuracy")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    from edgedigits.train import TrainConfig, train

    overrides = dict(_parse_override(s) for s in args.set)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for arch in args.candidates:
        for seed in args.seeds:
            tag = args.tag or ",".join(args.set) or "defaults"
            run_dir = out / f"{arch}-{tag.replace('=', '').replace(',', '_')}-s{seed}"
            config = TrainConfig(arch=arch, seed=seed, data_dir=args.data_dir, out=str(run_dir), overwrite=True,
                                 **overrides)
            t0 = time.perf_counter()
            result = train(config, log=lambda line, arch=arch, seed=seed: print(f"[{arch} s{seed}] {line}", flush=True))
            m = result.metrics
            row = {"arch": arch, "recipe": tag, "seed": seed, "val_accuracy": m.get("val_accuracy"),
                   "best_val_accuracy": m["best_val_accuracy"], "test_accuracy": m["test_accuracy"],
                   "params": m["params"], "macs": m["macs"], "epochs": m["epochs_run"],
                   "train_seconds": m["train_seconds"], "wall_seconds": round(time.perf_counter() - t0, 1)}
            if args.int8:
                from edgedigits.export import ExportConfig, export

                res = export(ExportConfig(run=str(run_dir), formats=["int8"], overwrite=True, min_accuracy=0.5,
                                          max_drop=100.0, data_dir=args.data_dir))
                r = res.rows[0]
                row.update(int8_accuracy=r.accuracy, int8_size=r.size, int8_status=r.status)
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
