"""The headline of benchmarks/RESULTS.md: the project's default int8 model against the hand-made baseline.

Usage:
  python benchmarks/figures/headline.py [--seed-run RUN] [--edge-run RUN] [--data-dir DIR] [--results FILE]
  python benchmarks/figures/headline.py --smoke          # a minute-long check of the script itself; writes nothing

In ONE run on one machine it builds (or reuses) both sides and benchmarks them interleaved:

(a) the baseline a user would make by hand from the tutorials: the ``seed`` architecture trained
    with the keras.io "simple MNIST convnet" recipe (:data:`TUTORIAL_RECIPE`: Adam at its default
    learning rate, batch 128, 15 epochs, no augmentation), converted with the plain
    ``tf.lite.TFLiteConverter.from_keras_model`` to float32 and nothing else;
(b) the project's default pipeline: ``train`` (arch ``edge``, defaults) -> ``export --int8`` -> the
    int8 model.

Both go through ``edgedigits.bench`` (the runtime package, as the device runs them), and the ratios
(batch-1 single-thread p50 latency, accuracy, size) with the targets (int8 >= 99.5%, p50 <= 0.5x the
baseline, <= 50 KB) replace the "Bench" section of RESULTS.md, with the machine and the command.
``--seed-run`` / ``--edge-run`` reuse finished run folders instead of training.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from results_md import replace_section

from edgedigits.runs import METRICS_FILE, export_dir
from edgedigits_runtime.manifest import MANIFEST_FILE

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Bench"
TARGETS = {"accuracy": 0.995, "latency_ratio": 0.5, "size_bytes": 50 * 1024}
# keras.io "Simple MNIST convnet": model.fit(batch_size=128, epochs=15, validation_split=0.1), Adam defaults, on the
# MNIST digits alone (no generated "not a digit" images: the trainer's default since the second session).
TUTORIAL_RECIPE = {"epochs": 15, "batch_size": 128, "learning_rate": 1e-3, "lr_schedule": "constant", "augment": False,
                   "negatives": 0.0}
BASELINE_DIR = "baseline"  # inside the seed run: the hand-made float32 TFLite and its manifest
HEADLINE_EXPORT_DIR = "export-headline"  # inside the edge run, when its export/ holds no int8 model


def main(argv=None) -> int:
    args = _parse(argv)
    from edgedigits.bench import BenchConfig, bench

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    times = {}
    train_kw = {"limit": 2000, "epochs": 1} if args.smoke else {}
    root = Path(args.runs)

    seed_kw = {**TUTORIAL_RECIPE, **train_kw}
    seed_run = Path(args.seed_run) if args.seed_run else _train("seed", root / "seed", args, seed_kw, times, log)
    baseline = _hand_made_float32(seed_run, args, times, log)
    edge_run = Path(args.edge_run) if args.edge_run else _train("edge", root / "edge", args, train_kw, times, log)
    int8 = _default_int8(edge_run, args, times, log)

    log(f"benchmarking {baseline} and {int8}, interleaved")
    for run in (seed_run, edge_run):
        _recorded_times(run, times)
    config = BenchConfig(targets=[str(baseline), str(int8)], quick=args.smoke,
                         data_dir=args.data_dir, save=False)
    start = time.perf_counter()
    report = bench(config)
    times["bench (both models)"] = time.perf_counter() - start
    print(report.to_table())
    section = _section(report, times, seed_run, edge_run, argv)
    print("\n" + section)
    if args.results and not args.smoke:
        replace_section(Path(args.results), section)
        log(f"wrote the {SECTION!r} section of {args.results}")
    return 0 if all(r.ok for r in report.rows) else 1


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed-run", help="finished `seed` run folder to reuse (else train one with the tutorial recipe)")
    p.add_argument("--edge-run", help="finished `edge` run folder to reuse (else train one with defaults)")
    p.add_argument("--runs", default="runs/headline", help="where new runs go (default runs/headline)")
    p.add_argument("--data-dir", help="folder with the MNIST files (else $EDGEDIGITS_DATA, cache, download)")
    p.add_argument("--results", default=str(RESULTS), help="RESULTS.md whose Bench section to replace ('' for none)")
    p.add_argument("--smoke", action="store_true", help="1 epoch on 2,000 images, quick bench, RESULTS.md untouched")
    return p.parse_args(argv)


def _train(arch: str, out: Path, args, train_kw: dict, times: dict, log) -> Path:
    from edgedigits.train import TrainConfig, train

    log(f"training `{arch}` ({train_kw or 'defaults'}) into {out}")
    start = time.perf_counter()
    result = train(TrainConfig(arch=arch, out=str(out), overwrite=True, data_dir=args.data_dir, **train_kw), log=log)
    times[f"train {arch}"] = time.perf_counter() - start
    return result.run_dir


def _recorded_times(run: Path, times: dict) -> None:
    """Training and int8 export times a reused run recorded (metrics.json, the export manifest)."""
    try:
        metrics = json.loads((run / METRICS_FILE).read_text())
        key = f"train {metrics.get('arch', run.name)}"
        if key not in times and metrics.get("train_seconds") is not None:
            times[key + " (recorded)"] = float(metrics["train_seconds"])
    except (OSError, ValueError):
        pass
    int8 = _int8_in(export_dir(run))
    if int8 is not None and "export edge --int8" not in times:
        entry = json.loads((int8.parent / MANIFEST_FILE).read_text())["artifacts"][int8.name]
        if entry.get("export_seconds") is not None:
            times["export --int8 (recorded)"] = float(entry["export_seconds"])


def _hand_made_float32(seed_run: Path, args, times: dict, log) -> Path:
    """seed model.keras -> plain TFLiteConverter float32; a manifest beside it so the runtime checks its hash."""
    from edgedigits._tf import tf_and_keras
    from edgedigits_runtime.manifest import REFERENCE_FILE
    from edgedigits_runtime.mnist import load_mnist

    tf, keras = tf_and_keras()
    start = time.perf_counter()
    model = keras.models.load_model(seed_run / "model.keras")
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()  # the tutorial's conversion, nothing else
    times["convert seed to float32 TFLite"] = time.perf_counter() - start
    folder = seed_run / BASELINE_DIR
    folder.mkdir(exist_ok=True)
    path = folder / "seed_float32.tflite"
    path.write_bytes(data)
    x_test, _ = load_mnist("test", args.data_dir)
    reference = model.predict(x_test.astype(np.float32)[..., None] / 255.0, batch_size=1000, verbose=0).argmax(1)
    np.save(folder / REFERENCE_FILE, reference.astype(np.uint8))
    _write_manifest(folder, path, seed_run)
    log(f"hand-made baseline: {path} ({len(data) / 1024:.1f} KB)")
    return path


def _write_manifest(folder: Path, path: Path, seed_run: Path) -> None:
    """The baseline's manifest, built by the runtime's manifest module from the runtime's own description."""
    from edgedigits_runtime import DigitClassifier
    from edgedigits_runtime.fileio import sha256_file
    from edgedigits_runtime.manifest import REFERENCE_FILE, artifact_entry, new_manifest, write_manifest

    data, sha = path.read_bytes(), sha256_file(path)
    clf = DigitClassifier.from_bytes(data, {"sha256": sha, "runtime": "tflite", "output_kind": "probabilities"},
                                     name=path.name)
    entry = artifact_entry(format="float32", runtime="tflite", sha256=sha, size=len(data),
                           input=clf.input_spec.as_dict(), output=clf.output_spec.as_dict(),
                           note="plain TFLiteConverter.from_keras_model, hand-made baseline")
    reference = {"file": REFERENCE_FILE, "sha256": sha256_file(folder / REFERENCE_FILE),
                 "what": "the seed Keras model's top-1 on the MNIST test set, in file order"}
    write_manifest(folder, new_manifest(artifacts={path.name: entry}, source_run={"path": str(seed_run), "arch": "seed"},
                                        reference=reference))


def _default_int8(edge_run: Path, args, times: dict, log) -> Path:
    """The int8 model `edgedigits export --int8` wrote for the run (exported now when there is none)."""
    for folder in (export_dir(edge_run), edge_run / HEADLINE_EXPORT_DIR):
        found = _int8_in(folder)
        if found is not None:
            log(f"reusing {found}")
            return found
    from edgedigits.export import ExportConfig, export

    out = export_dir(edge_run) if not export_dir(edge_run).exists() else edge_run / HEADLINE_EXPORT_DIR
    kw = {"qat_limit": 2000, "calibration_samples": 100, "min_accuracy": 0.0, "max_drop": 100.0} if args.smoke else {}
    log(f"exporting {edge_run} --int8 into {out}")
    start = time.perf_counter()
    result = export(ExportConfig(run=str(edge_run), formats=["int8"], out=str(out), overwrite=True,
                                 data_dir=args.data_dir, **kw), progress=log)
    times["export edge --int8"] = time.perf_counter() - start
    result.raise_for_errors()
    return _int8_in(out)


def _int8_in(folder: Path) -> Path | None:
    try:
        artifacts = json.loads((folder / MANIFEST_FILE).read_text())["artifacts"]
    except (OSError, ValueError, KeyError):
        return None
    names = [name for name, entry in artifacts.items() if entry.get("format") == "int8"]
    return folder / names[0] if names else None


def _section(report, times: dict, seed_run: Path, edge_run: Path, argv) -> str:
    base, int8 = report.rows
    lines = [SECTION, ""]
    command = "python benchmarks/figures/headline.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    if not (base.ok and int8.ok):
        errors = "; ".join(f"{r.name}: {r.error}" for r in report.rows if not r.ok)
        return "\n".join(lines + [f"Headline not measured: {errors}", "", f"Command: `{command.strip()}`", ""])
    b1, i1 = base.p50(1), int8.p50(1)
    ratio = i1 / b1
    verdict = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731
    subset = " (SUBSET: quick mode)" if report.subset else ""
    lines += [
        "### Headline: the default int8 model against the hand-made float32 baseline",
        "",
        f"Measured in one run on one machine, {report.created}: {_machine(report.machine)}.",
        f"Command: `{command.strip()}` (runs: `{seed_run}`, `{edge_run}`).",
        "Baseline = the `seed` architecture trained with the keras.io tutorial recipe "
        f"({', '.join(f'{k} {v}' for k, v in TUTORIAL_RECIPE.items())}), converted with the plain "
        "`tf.lite.TFLiteConverter.from_keras_model` to float32 and nothing else. Project = `edgedigits train` "
        "(arch `edge`, defaults) -> `edgedigits export --int8`. Both measured through `edgedigits_runtime."
        "DigitClassifier` by `edgedigits.bench`, interleaved round by round.",
        "",
        "| | hand-made baseline (seed, float32) | edgedigits default (edge, int8) | ratio | target | |",
        "|---|---:|---:|---:|---|---|",
        f"| accuracy, {int8.test_images:,} test images{subset} | {base.accuracy:.2%} | {int8.accuracy:.2%} | "
        f"{int8.accuracy - base.accuracy:+.2%} | int8 >= {TARGETS['accuracy']:.1%} | {verdict(int8.accuracy >= TARGETS['accuracy'])} |",
        f"| p50 latency, batch 1, 1 thread | {b1 * 1e3:.1f} µs | {i1 * 1e3:.1f} µs | **{ratio:.2f}x** | "
        f"<= {TARGETS['latency_ratio']}x | {verdict(ratio <= TARGETS['latency_ratio'])} |",
        f"| p99 latency, batch 1, 1 thread | {base.latency_ms['1']['p99'] * 1e3:.1f} µs | "
        f"{int8.latency_ms['1']['p99'] * 1e3:.1f} µs | {int8.latency_ms['1']['p99'] / base.latency_ms['1']['p99']:.2f}x | | |",
        f"| size on disk | {base.size_bytes / 1024:.1f} KB | {int8.size_bytes / 1024:.1f} KB | "
        f"{int8.size_bytes / base.size_bytes:.2f}x | <= 50 KB | {verdict(int8.size_bytes <= TARGETS['size_bytes'])} |",
    ]
    most = str(max(int(b) for b in int8.throughput)) if int8.throughput else None
    if most and most in base.throughput:
        lines.append(f"| throughput, batch {most}, {max(report.config['threads'])} threads | {base.throughput[most]:,.0f} img/s | "
                     f"{int8.throughput[most]:,.0f} img/s | {int8.throughput[most] / base.throughput[most]:.2f}x | | |")
    if base.peak_rss_mb and int8.peak_rss_mb:
        lines.append(f"| peak memory, fresh process | {base.peak_rss_mb:.1f} MB | {int8.peak_rss_mb:.1f} MB | | | |")
    lines += ["", "Time taken: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()) + ".", "",
              "Full bench rows (both models, same run):", "", report.to_markdown()]
    return "\n".join(lines)


def _machine(m: dict) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items() if v)
    return f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('os')}, Python {m.get('python')}; {packages}"


if __name__ == "__main__":
    sys.exit(main())
