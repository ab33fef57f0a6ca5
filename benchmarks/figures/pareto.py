"""The accuracy-per-MAC frontier: every registered architecture, trained with its recipe, int8, benchmarked.

For each architecture and seed: ``train`` with the architecture's registered recipe (plus any
``--set`` overrides, which then label the table as reduced), ``export --int8`` (QAT), then one
``bench`` over all the int8 files together (interleaved rounds, so their latencies compare
fairly). Prints a Markdown table (int8 test accuracy mean and spread over seeds, MACs,
parameters, size, batch-1 single-thread p50 latency) and writes it with a JSON file and a plot
(accuracy against latency and against MACs).

Full run (from the repository root; hours on 2 shared cores)::

    python benchmarks/figures/pareto.py --runs runs/pareto --seeds 0 1 2

Reduced run, clearly labelled in its output (what fitted on the shared machine)::

    python benchmarks/figures/pareto.py --runs runs/pareto --seeds 0 --set epochs=10

``--reuse`` keeps finished runs and exports found under ``--runs`` (same layout:
``<runs>/<arch>-s<seed>/``), so an interrupted full run continues where it stopped.

By default every registered architecture meant for devices is included; a teacher-only one (``vgg``,
registered with ``device=False``) only when named with ``--arch``. For models that learned "not a digit",
the table also gives the share of test digits kept by the calibrated rule, the accuracy on those and the
share of the held-out generated kind rejected (through the runtime, as ``bench`` measures them); the load
average before and after the bench is recorded with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe, versions

from edgedigits.train.architectures import get_architecture, list_architectures

GATE = 0.98  # export/bench gate for the frontier: tiny models are meant to sit below export's default 99.4%


def _device_architectures() -> list[str]:
    """The registered architectures meant for devices (the default ``--arch``): teachers only are left out."""
    return [name for name in list_architectures() if get_architecture(name).device]


def _load() -> str:
    """The 1/5/15-minute load average, as text for the header (the bench's latencies depend on it)."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _mean_or_none(values: list):
    return statistics.mean(values) if values and all(v is not None for v in values) else None


def _override(text: str):
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _train_and_export(arch: str, seed: int, run_dir: Path, overrides: dict, data_dir, reuse: bool, gate: float,
                      log) -> dict:
    from edgedigits.export import ExportConfig, export
    from edgedigits.train import TrainConfig, train

    recipe = {**get_architecture(arch).recipe, **overrides}
    metrics_file, int8 = run_dir / "metrics.json", run_dir / "export" / f"{arch}_int8.tflite"
    if not (reuse and (run_dir / "model.keras").is_file()):
        t0 = time.perf_counter()
        train(TrainConfig(arch=arch, seed=seed, data_dir=data_dir, out=str(run_dir), overwrite=True, **recipe),
              log=lambda line: log(f"[{arch} s{seed}] {line}"))
        log(f"[{arch} s{seed}] trained in {time.perf_counter() - t0:.0f}s wall")
    if not (reuse and int8.is_file()):
        result = export(ExportConfig(run=str(run_dir), formats=["int8"], overwrite=True, min_accuracy=gate,
                                     max_drop=1.0, data_dir=data_dir, seed=seed))
        row = result.rows[0]
        if row.status != "ok":
            raise SystemExit(f"{arch} seed {seed}: int8 export failed: {row.error}")
    metrics = json.loads(metrics_file.read_text())
    return {"arch": arch, "seed": seed, "recipe": recipe, "export_recipe": dict(get_architecture(arch).export_recipe),
            "run": str(run_dir), "int8": str(int8),
            "macs": metrics["macs"], "params": metrics["params"], "keras_test_accuracy": metrics["test_accuracy"],
            "val_accuracy": metrics.get("val_accuracy"), "train_seconds": metrics["train_seconds"]}


def _summarise(rows: list[dict]) -> list[dict]:
    table = []
    for arch in dict.fromkeys(r["arch"] for r in rows):
        mine = [r for r in rows if r["arch"] == arch]
        accs = [r["int8_accuracy"] for r in mine]
        table.append({
            "arch": arch, "seeds": [r["seed"] for r in mine], "recipe": mine[0]["recipe"],
            "export_recipe": mine[0].get("export_recipe") or {},
            "int8_mean": statistics.mean(accs), "int8_min": min(accs), "int8_max": max(accs),
            "int8_sd": statistics.stdev(accs) if len(accs) > 1 else None,
            "val_mean": statistics.mean(r["val_accuracy"] for r in mine) if all(r["val_accuracy"] for r in mine) else None,
            "macs": mine[0]["macs"], "params": mine[0]["params"],
            "size_bytes": statistics.median(r["size_bytes"] for r in mine),
            "size_max_bytes": max(r["size_bytes"] for r in mine),
            "digits_kept": _mean_or_none([r.get("digits_accepted") for r in mine]),
            "accuracy_on_kept": _mean_or_none([r.get("accuracy_on_accepted") for r in mine]),
            "holdout_rejected": _mean_or_none([r.get("holdout_rejected") for r in mine]),
            "holdout_kind": mine[0].get("holdout_kind"),
            "p50_us": statistics.median(r["p50_ms"] * 1000 for r in mine),
            "train_seconds": statistics.mean(r["train_seconds"] for r in mine),
        })
    return table


def _pct(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def _markdown(table: list[dict], reduced: str | None) -> str:
    lines = ["| arch | recipe | seeds | int8 test accuracy, mean (min-max) | digits kept (mean) | accuracy on kept | "
             "held-out kind rejected | MACs/image | parameters | int8 size (median; largest) | batch-1 p50, 1 thread | "
             "train time (mean) |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t in table:
        recipe = ", ".join(f"{k}={v}" for k, v in t["recipe"].items()) or "defaults"
        if t.get("export_recipe"):  # the int8 fine-tune it is exported with (its registry row), when not the default
            recipe += "; export: " + ", ".join(f"{k}={v}" for k, v in t["export_recipe"].items())
        held = "– (no \"not a digit\")" if t.get("holdout_rejected") is None else \
            f"{t['holdout_rejected']:.1%} ({t['holdout_kind']})"
        lines.append(
            f"| `{t['arch']}` | {recipe} | {','.join(map(str, t['seeds']))} | {t['int8_mean']:.2%} "
            f"({t['int8_min']:.2%}-{t['int8_max']:.2%}) | {_pct(t.get('digits_kept'))} | {_pct(t.get('accuracy_on_kept'))} | "
            f"{held} | {t['macs']:,} | {t['params']:,} | {t['size_bytes']:,.0f} B ({t['size_bytes'] / 1024:.1f} KiB); "
            f"{t['size_max_bytes']:,} B | {t['p50_us']:.1f} µs | {t['train_seconds']:.0f} s |")
    if reduced:
        lines.append(f"\nREDUCED run ({reduced}): not the recipes' full figures.")
    return "\n".join(lines)


def _plot(table: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "p50_us", "batch-1 p50 latency, 1 thread (µs)"), (axes[1], "macs", "MACs per image")):
        for t in table:
            y = t["int8_mean"] * 100
            err = [[y - t["int8_min"] * 100], [t["int8_max"] * 100 - y]]
            ax.errorbar(t[key], y, yerr=err, fmt="o", capsize=4)
            ax.annotate(t["arch"], (t[key], y), textcoords="offset points", xytext=(6, 4))
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("int8 test accuracy (%), mean and range over seeds")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/pareto", help="folder for the run folders <arch>-s<seed>/")
    parser.add_argument("--arch", nargs="+", default=_device_architectures(),
                        help="architectures (default: every registered one meant for devices; teachers only by name)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="TrainConfig overrides for every run (a REDUCED run, labelled so), e.g. epochs=10")
    parser.add_argument("--reuse", action="store_true", help="keep finished runs/exports found under --runs")
    parser.add_argument("--only-existing", action="store_true",
                        help="with --reuse: table only the runs already exported under --runs (train nothing)")
    parser.add_argument("--gate", type=float, default=GATE, help="lowest int8 test accuracy accepted")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    from edgedigits.bench import BenchConfig, bench

    runs = Path(args.runs)
    overrides = dict(_override(s) for s in args.set)
    todo = [(arch, seed) for arch in args.arch for seed in args.seeds]
    if args.only_existing:
        found = [(a, s) for a, s in todo if (runs / f"{a}-s{s}" / "export" / f"{a}_int8.tflite").is_file()]
        print(f"--only-existing: {len(found)} of {len(todo)} runs found; missing: "
              f"{', '.join(f'{a}-s{s}' for a, s in todo if (a, s) not in found) or 'none'}")
        todo = found
    rows = [_train_and_export(arch, seed, runs / f"{arch}-s{seed}", overrides, args.data_dir,
                              args.reuse or args.only_existing, args.gate, print) for arch, seed in todo]
    load_before = _load()
    report = bench(BenchConfig(targets=[r["int8"] for r in rows], threads=[1], batch_sizes=[32], memory=False,
                               save=False, min_accuracy=args.gate, data_dir=args.data_dir))
    by_path = {str(Path(b.path)): b for b in report.rows}
    for r in rows:
        b = by_path[str(Path(r["int8"]))]
        if b.status != "ok":
            raise SystemExit(f"bench failed for {r['int8']}: {b.error}")
        r.update(int8_accuracy=b.accuracy, size_bytes=b.size_bytes, p50_ms=b.latency_ms["1"]["p50"],
                 digits_accepted=b.digits_accepted, accuracy_on_accepted=b.accuracy_on_accepted,
                 holdout_kind=b.holdout_kind, holdout_rejected=b.holdout_rejected)
    table = _summarise(rows)
    reduced = ", ".join(args.set) or None
    command = "python benchmarks/figures/pareto.py " + " ".join(sys.argv[1:])
    tools = ", ".join(f"{k} {v}" for k, v in versions("tensorflow", "tf-keras", "ai-edge-litert").items())
    load = f"load average (1/5/15 min) {load_before} before the bench, {_load()} after"
    header = (f"Machine: {describe()}; {load}; {tools}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
              f"Command: {command}")
    md = _markdown(table, reduced)
    print(f"\n{header}\n\n{md}")
    (runs / "pareto.md").write_text(f"{header}\n\n{md}\n")
    (runs / "pareto.json").write_text(json.dumps({"machine": describe(), "load": load, "command": command, "reduced": reduced,
                                                  "runs": rows, "table": table}, indent=1))
    _plot(table, runs / "pareto.png", f"{'REDUCED: ' + reduced + '; ' if reduced else ''}{describe()}")
    print(f"\nwrote {runs / 'pareto.md'}, {runs / 'pareto.json'}, {runs / 'pareto.png'}")


if __name__ == "__main__":
    main()
