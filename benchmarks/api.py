"""`bench(config) -> BenchReport`: every artifact side by side, measured as the device runs it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits.bench import memory
from edgedigits.bench.config import BenchConfig
from edgedigits.bench.measure import Step, import_backend, load_classifier_class, open_classifier, schedule, time_batches, time_calls
from edgedigits.bench.report import BenchReport, BenchRow, machine_info
from edgedigits.bench.stats import summarize
from edgedigits.bench.targets import Artifact, load_reference, resolve_targets
from edgedigits.errors import RunError
from edgedigits.runs import CONFIG_FILE, EXPORT_DIR, REPORT_FILE, bench_dir
from edgedigits.train.negatives import HOLDOUT_IMAGES
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

    subjects = [_Subject(a, config) for a in artifacts]
    for subject, name in zip(subjects, _distinct_names([a.path for a in artifacts])):
        subject.row.name = name  # two runs' edge_int8.tflite side by side: C/export/edge_int8.tflite, S/export/...
    steps = list(schedule(len(subjects), config.rounds, config.threads,
                          config.batch_sizes if config.throughput_calls else []))
    backends = sorted({a.runtime for a in artifacts if a.runtime in memory.BACKEND_MODULES})
    tick = _Ticker(progress, len(subjects) + len(steps) + ((len(subjects) + 1 + len(backends)) if config.memory else 0))

    # 1. Load and score each artifact, one classifier per thread count, warmed up.
    for subject in subjects:
        subject.prepare(config, images, labels, timing_images)
        tick(f"loaded and scored {subject.row.name}")

    # 2. Time them, interleaved: each round, batch-1 latency per thread count for every
    #    artifact in turn, then throughput per batch size for every artifact in turn.
    for step in steps:
        subject = subjects[step.artifact]
        if step.kind == "latency":
            subject.time_latency(step, timing_images, config)
        else:
            subject.time_throughput(step, images, config)
        tick(f"round {step.round + 1}/{config.rounds}: {subject.row.name}, {step.label}")
    for subject in subjects:
        subject.finish(config, len(images))

    # 3. Peak memory, each artifact in a fresh process.
    rows = [s.row for s in subjects]
    baselines = _measure_memory(artifacts, rows, config, tick) if config.memory else {}
    report = BenchReport(rows=rows, machine=machine, config=config.to_dict(), baseline_rss_mb=baselines,
                         seconds=round(time.perf_counter() - started, 1), load_average=[load_before, _load_average()])
    _write(report, config, run_dir)
    return report


def _distinct_names(paths) -> list[str]:
    """Each file's name, or for files whose names are alike, the shortest end of their paths that tells them apart
    (``runs/a/export/edge_int8.tflite`` and ``runs/b/export/edge_int8.tflite``: ``a/export/edge_int8.tflite``, ...)."""
    parts = [Path(p).resolve().parts for p in paths]
    names = []
    for i, mine in enumerate(parts):
        depth = 1
        while depth < len(mine) and any(j != i and other[-depth:] == mine[-depth:] for j, other in enumerate(parts)):
            depth += 1
        names.append("/".join(mine[-depth:]).lstrip("/") or str(paths[i]))
    return names


class _Subject:
    """One artifact under test: its row, its classifiers (one per thread count) and its timings."""

    def __init__(self, artifact: Artifact, config: BenchConfig):
        self.artifact = artifact
        self.row = BenchRow(name=artifact.name, path=str(artifact.path), format=artifact.format,
                            runtime=artifact.runtime,
                            size_bytes=artifact.path.stat().st_size if artifact.path.is_file() else None)
        self.classifiers: dict[int, object] = {}                       # threads -> classifier
        self.latency: dict[int, list] = {t: [] for t in config.threads}  # threads -> per-round call seconds
        self.batch_seconds: dict[int, list] = {b: [] for b in config.batch_sizes}  # batch size -> call seconds

    def prepare(self, config: BenchConfig, images, labels, timing_images) -> None:
        """Load once per thread count, time the load and the first call, score it, warm it up."""
        artifact, row = self.artifact, self.row
        if artifact.problem:
            row.fail(artifact.problem)
            return
        most = max(config.threads)
        import_backend(artifact.runtime)  # the library's import is not the model's load time
        try:
            clf, load_s = open_classifier(artifact.path, most, normalize=config.normalize)
            t0 = time.perf_counter_ns()
            clf.predict(timing_images[0])
            row.cold_ms = (time.perf_counter_ns() - t0) / 1e6
            row.load_ms = load_s * 1e3
            info = getattr(clf, "info", None) or {}
            row.backend = info.get("backend")
            if row.format in ("tflite", "onnx") and info.get("format"):
                row.format = str(info["format"])
            reference, row.agreement_note = load_reference(artifact, len(labels))
            rule = getattr(clf, "reject", None)
            holdout = _holdout_images(rule.get("holdout_kind"), config, _run_of(artifact)) if rule else None
            scored = score(clf, images, labels, reference, nondigits=holdout)  # the runtime's one scorer
            row.accuracy, row.agreement, row.test_images = scored.accuracy, scored.agreement, scored.images
            if rule:
                row.reject_threshold, row.digits_accepted = scored.threshold, scored.digits_accepted
                row.accuracy_on_accepted, row.holdout_rejected = scored.accuracy_on_accepted, scored.nondigits_rejected
                row.holdout_kind = rule.get("holdout_kind")
            for t in config.threads:
                self.classifiers[t] = clf if t == most else open_classifier(artifact.path, t, normalize=config.normalize)[0]
                time_calls(self.classifiers[t], timing_images, config.warmup)
            for b in config.batch_sizes:
                clf.predict(images[:b])  # untimed: the first call at a new batch size resizes
        except Exception as exc:  # noqa: BLE001 (every failure of one artifact is its row's error)
            self.fail(first_line(exc))

    def time_latency(self, step: Step, timing_images, config: BenchConfig) -> None:
        """One round of ``config.runs`` batch-1 calls at ``step.threads`` threads."""
        if self.row.ok:
            try:
                clf = self.classifiers[step.threads]
                self.latency[step.threads].append(time_calls(clf, timing_images, config.runs, start=step.round * config.runs))
            except Exception as exc:  # noqa: BLE001 (a runtime failing mid-way: that artifact's error)
                self.fail(f"failed while timing: {first_line(exc)}")

    def time_throughput(self, step: Step, images, config: BenchConfig) -> None:
        """One round of ``config.throughput_calls`` calls on a batch of ``step.batch`` images, at the most threads."""
        if self.row.ok:
            try:
                clf = self.classifiers[max(config.threads)]
                self.batch_seconds[step.batch] += list(time_batches(clf, images[: step.batch], config.throughput_calls))
            except Exception as exc:  # noqa: BLE001
                self.fail(f"failed at batch {step.batch}: {first_line(exc)}")

    def fail(self, message: str) -> None:
        self.classifiers.clear()
        self.row.fail(message)

    def finish(self, config: BenchConfig, n_images: int) -> None:
        """Put the summaries into the row and release the classifiers."""
        self.classifiers.clear()
        row = self.row
        if not row.ok:
            return
        for t, rounds in self.latency.items():
            row.latency_ms[str(t)] = vars(summarize(np.concatenate(rounds), rounds).scaled(1e3))
        for b, seconds in self.batch_seconds.items():
            if seconds:
                row.throughput[str(b)] = min(b, n_images) / float(np.median(seconds))
        row.gate = "pass" if row.accuracy >= config.min_accuracy else "fail"


_HOLDOUT_CACHE: dict = {}


def _holdout_images(kind: str | None, config, run_dir: Path | None = None):
    """Generated images of a run's held-out non-digit kind (the same seed as export's report), cached per kind; read
    from ``run_dir``'s saved report images when they are these images (:func:`_saved_holdout`)."""
    if not kind:
        return None
    if kind not in _HOLDOUT_CACHE:
        from edgedigits.data import load_splits
        from edgedigits.train.negatives import DIGIT_KINDS, REPORT_SEED, generate

        saved = _saved_holdout(kind, config, run_dir)
        if saved is not None:
            _HOLDOUT_CACHE[kind] = saved
        else:
            digits = load_splits(config.data_dir).x_val if kind in DIGIT_KINDS else None
            _HOLDOUT_CACHE[kind] = generate(HOLDOUT_IMAGES, seed=REPORT_SEED, kinds=[kind], digits=digits)[0]
    return _HOLDOUT_CACHE[kind]


def _run_of(artifact: Artifact) -> Path | None:
    """The run folder an artifact was exported from (its manifest in ``<run>/export/``), or None."""
    manifest = artifact.manifest
    return manifest.parent.parent if manifest is not None and manifest.parent.name == EXPORT_DIR else None


def _saved_holdout(kind: str, config, run_dir: Path | None):
    """The held-out kind's images from the run folder's ``report_images.npz`` (``edgedigits train`` made them with the
    same seed and count), or None: no such run or file, another kind, or a kind drawn from digits that the run drew
    from other validation digits than the full training set's (a ``--limit`` run)."""
    if run_dir is None or not (run_dir / REPORT_FILE).is_file():
        return None
    from edgedigits.data import load_splits
    from edgedigits.train.config import TrainConfig
    from edgedigits.train.extras import report_images
    from edgedigits.train.negatives import DIGIT_KINDS

    try:
        run_config = TrainConfig.from_file(run_dir / CONFIG_FILE)
    except (RunError, TypeError):  # no readable options: the held-out kind is generated anew
        return None
    if run_config.holdout_kind != kind:
        return None
    if kind in DIGIT_KINDS and (run_config.limit is not None or run_config.val_fraction != TrainConfig.val_fraction):
        return None
    splits = load_splits(config.data_dir, val_fraction=run_config.val_fraction, limit=run_config.limit)
    return report_images(splits, run_config, parts=(), cache=run_dir / REPORT_FILE).get("holdout_x")


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
            got = memory.measure_model(artifact.path, max(config.threads), max(config.batch_sizes), normalize=config.normalize)
            if "error" in got:
                row.memory_note = got["error"]
            else:
                row.peak_rss_mb = got["peak_rss_mb"]
                row.start_to_first_ms = got["start_to_first_s"] * 1e3
        tick(f"memory of {artifact.name}")
    return baselines


def _write(report: BenchReport, config: BenchConfig, run_dir: Path | None) -> None:
    out = Path(config.out) if config.out else (bench_dir(run_dir) if run_dir is not None else None)
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
