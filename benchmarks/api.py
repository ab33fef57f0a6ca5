"""`bench(config) -> BenchReport`: every artifact side by side, measured as the device runs it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits.bench import memory
from edgedigits.bench.config import BENCH_DIR, BenchConfig
from edgedigits.bench.measure import import_backend, load_classifier_class, open_classifier, schedule, time_batches, time_calls
from edgedigits.bench.report import BenchReport, BenchRow, machine_info
from edgedigits.bench.stats import summarize
from edgedigits.bench.targets import Artifact, load_reference, resolve_targets
from edgedigits_runtime.errors import first_line
from edgedigits_runtime.evaluate import score

__all__ = ["bench", "Progress"]

# progress(done, total, what): called after each step; `what` names the step.
Progress = Callable[[int, int, str], None]
_TIMING_IMAGES = 64


def bench(config: BenchConfig, progress: Progress | None = None) -> BenchReport:
    """Benchmark every artifact of ``config.targets`` through the runtime package.

    Per artifact: file size; load time and first-call time; accuracy on the MNIST test
    set (all 10,000 images unless ``test_limit``) and agreement with the Keras model's
    predictions when the manifest names them; batch-1 latency per thread count over
    interleaved rounds; throughput at larger batches; peak memory of a fresh process.
    An artifact that cannot be loaded or run becomes an error row; the rest still runs.

    Example:

    >>> report = bench(BenchConfig(targets=["runs/edge"]))   # doctest: +SKIP
    >>> print(report.to_table()); report.raise_for_gate()   # doctest: +SKIP

    Args:
      config: what to benchmark and how much (validated here).
      progress: ``progress(done, total, what)`` after each step, for a progress bar.

    Returns:
      The :class:`BenchReport`, already written to ``config.out`` (default ``<run>/bench``
      for a single run) and to the ``json``/``markdown``/``plot`` files asked for.
      The gate is not raised here: call :meth:`BenchReport.raise_for_gate`.

    Raises:
      UsageError: an impossible option, or a target that does not exist / is not a model.
      RunError: a folder with no artifacts to benchmark.
      DataError: the MNIST test set cannot be found or read.
      BackendUnavailableError: the runtime package (``edgedigits_runtime.DigitClassifier``) is not installed.
    """
    from edgedigits_runtime.mnist import load_mnist

    config.validate()
    load_classifier_class()  # no runtime package at all: one clear error, not one per row
    started = time.perf_counter()
    load_before = _load_average()
    artifacts, run_dir = resolve_targets(config.targets)
    machine = machine_info()
    images, labels = load_mnist("test", config.data_dir)
    n = config.test_limit or len(labels)
    images, labels = images[:n], labels[:n].astype(np.int64)
    timing_images = images[:_TIMING_IMAGES]

    rows = [BenchRow(name=a.name, path=str(a.path), format=a.format, runtime=a.runtime,
                     size_bytes=a.path.stat().st_size if a.path.is_file() else None) for a in artifacts]
    runtimes = sorted({a.runtime for a in artifacts if a.runtime in memory.BACKEND_MODULES})
    total = len(artifacts) * (1 + config.rounds * (len(config.threads) + len(config.batch_sizes)))
    total += (len(artifacts) + 1 + len(runtimes)) if config.memory else 0
    tick = _Ticker(progress, total)

    clfs: dict[tuple[int, int], object] = {}
    for i, (artifact, row) in enumerate(zip(artifacts, rows)):
        _prepare(i, artifact, row, config, images, labels, timing_images, clfs)
        tick(f"loaded and scored {artifact.name}")

    latency = {(i, t): [[] for _ in range(config.rounds)] for i in range(len(rows)) for t in config.threads}
    speed = {(i, b): [] for i in range(len(rows)) for b in config.batch_sizes}
    most = max(config.threads)
    for r, t, i in schedule(len(rows), config.rounds, config.threads):
        if rows[i].ok:
            try:
                latency[(i, t)][r] = time_calls(clfs[(i, t)], timing_images, config.runs, start=r * config.runs)
            except Exception as exc:  # noqa: BLE001 (a runtime failing mid-way: that artifact's error)
                rows[i].fail(f"failed while timing: {first_line(exc)}")
        tick(f"round {r + 1}/{config.rounds}: {rows[i].name}, {t} thread{'s' if t > 1 else ''}")
        if t == most and i == len(rows) - 1:  # end of the round's latency: its throughput, interleaved too
            for b in config.batch_sizes:
                for j, row in enumerate(rows):
                    if row.ok and config.throughput_calls:
                        try:
                            speed[(j, b)] += list(time_batches(clfs[(j, most)], images[:b], config.throughput_calls))
                        except Exception as exc:  # noqa: BLE001
                            row.fail(f"failed at batch {b}: {first_line(exc)}")
                    tick(f"round {r + 1}/{config.rounds}: {row.name}, batch {b}")
    clfs.clear()

    for i, row in enumerate(rows):
        if row.ok:
            for t in config.threads:
                rounds = [x for x in latency[(i, t)] if len(x)]
                row.latency_ms[str(t)] = vars(summarize(np.concatenate(rounds), rounds).scaled(1e3))
            for b in config.batch_sizes:
                if speed[(i, b)]:
                    row.throughput[str(b)] = min(b, len(images)) / float(np.median(speed[(i, b)]))
            row.gate = "pass" if row.accuracy >= config.min_accuracy else "fail"

    baselines = {}
    if config.memory:
        baselines = _measure_memory(artifacts, rows, config, tick)

    report = BenchReport(rows=rows, machine=machine, config=config.to_dict(), baseline_rss_mb=baselines,
                         seconds=round(time.perf_counter() - started, 1), load_average=[load_before, _load_average()])
    _write(report, config, run_dir)
    return report


def _prepare(i, artifact: Artifact, row: BenchRow, config, images, labels, timing_images, clfs) -> None:
    """Load one artifact per thread count, time its load and first call, score it, warm it up."""
    if artifact.problem:
        row.fail(artifact.problem)
        return
    most = max(config.threads)
    import_backend(artifact.runtime)  # the library's import is not the model's load time
    try:
        clf, load_s = open_classifier(artifact.path, most)
        t0 = time.perf_counter_ns()
        clf.predict(timing_images[0])
        row.cold_ms = (time.perf_counter_ns() - t0) / 1e6
        row.load_ms = load_s * 1e3
        info = getattr(clf, "info", None) or {}
        row.backend = info.get("backend")
        if row.format in ("tflite", "onnx") and info.get("format"):
            row.format = str(info["format"])
        reference, row.agreement_note = load_reference(artifact, len(labels))
        scored = score(clf, images, labels, reference)
        row.accuracy, row.agreement = scored.accuracy, scored.agreement
        row.test_images = len(labels)
        for t in config.threads:
            clfs[(i, t)] = clf if t == most else open_classifier(artifact.path, t)[0]
            time_calls(clfs[(i, t)], timing_images, config.warmup)
        for b in config.batch_sizes:
            clfs[(i, most)].predict(images[:b])  # untimed: the first call at a new batch size resizes
    except Exception as exc:  # noqa: BLE001 (every failure of one artifact is its row's error)
        for t in config.threads:
            clfs.pop((i, t), None)
        row.fail(first_line(exc))


def _measure_memory(artifacts, rows, config, tick) -> dict:
    baselines = {}
    base = memory.measure_baseline(None)
    if "peak_rss_mb" in base:
        baselines["python+numpy+runtime"] = round(base["peak_rss_mb"], 1)
    tick("memory baseline")
    for runtime in sorted({a.runtime for a in artifacts if a.runtime in memory.BACKEND_MODULES}):
        found = memory.measure_baseline(runtime)
        if "peak_rss_mb" in found:
            baselines[f"+ {found['module'].split('.')[0]}"] = round(found["peak_rss_mb"], 1)
        tick(f"memory baseline with {runtime}")
    for artifact, row in zip(artifacts, rows):
        if row.ok:
            got = memory.measure_model(artifact.path, max(config.threads), max(config.batch_sizes))
            if "error" in got:
                row.memory_note = got["error"]
            else:
                row.peak_rss_mb = got["peak_rss_mb"]
                row.start_to_first_ms = got["start_to_first_s"] * 1e3
        tick(f"memory of {artifact.name}")
    return baselines


def _write(report: BenchReport, config: BenchConfig, run_dir: Path | None) -> None:
    out = Path(config.out) if config.out else (run_dir / BENCH_DIR if run_dir is not None else None)
    batches = [(config.json, config.markdown, config.plot)]
    if config.save and out is not None:
        batches.insert(0, (out / "bench.json", out / "bench.md", out / "bench.png"))
    report.out_files = [str(p) for group in batches for p in group if p is not None]  # all listed in each JSON
    for json_path, markdown_path, plot_path in batches:
        report.write(json_path, markdown_path, plot_path)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


class _Ticker:
    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, what: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, what)
