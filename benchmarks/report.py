"""The one results type of `edgedigits bench`: a row per artifact, rendered as a table, JSON and Markdown.

A row whose artifact could not be loaded or run has ``status="error"`` and the
runtime's message (which names the package to install when a backend is missing);
the other rows are complete. Latencies are in milliseconds, sizes in bytes,
memory in MB (2**20 bytes).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from edgedigits.errors import GateError
from edgedigits.train.negatives import HOLDOUT_IMAGES
from edgedigits_runtime.backends import BACKENDS
from edgedigits_runtime.fileio import atomic_write_text

__all__ = ["BenchRow", "BenchReport", "machine_info", "package_versions", "cpu_model"]

# The toolkit, the runtime, numpy and every backend's package (from the runtime's backends table).
_PACKAGES = ("edgedigits", "edgedigits-runtime", "numpy", *dict.fromkeys(b.package for b in BACKENDS.values()))


@dataclasses.dataclass
class BenchRow:
    """What was measured for one artifact.

    Attributes:
      name: file name.
      path: file path as given.
      format: export format (``int8``, ``float32``, ``onnx``, ...) or the file suffix.
      runtime: ``tflite`` or ``onnx``.
      status: ``"ok"`` or ``"error"``.
      error: one line saying what went wrong (``status="error"``), else None.
      backend: the backend the runtime chose (from ``DigitClassifier.info``).
      size_bytes: file size.
      accuracy: top-1 accuracy on ``test_images`` MNIST test images.
      test_images: how many test images were scored (10,000 unless a subset was asked for).
      agreement: share of those images where its top-1 equals the Keras model's (None without a reference).
      agreement_note: why there is no agreement figure, when there is a reference but it is unusable.
      load_ms: constructing the classifier in this process (manifest and SHA-256 check included).
      cold_ms: its first ``predict`` call (one image).
      latency_ms: per thread count (string key), the batch-1 ``predict`` latency summary in ms:
        ``n, mean, p50, p90, p99, min, max, iqr_ratio, round_spread, rounds``.
      throughput: per batch size (string key), images per second at the most threads (median call).
      peak_rss_mb: peak resident memory of a fresh process that loads the model and runs it.
      start_to_first_ms: in that fresh process, from start (imports included) to the first prediction.
      memory_note: why there is no memory figure, when it failed.
      gate: ``"pass"`` / ``"fail"`` against ``min_accuracy``; None for error rows.
      reject_threshold: the artifact's calibrated "not a digit" threshold (its manifest), None without one.
      digits_accepted: share of the test digits it accepts (not rejected as "not a digit").
      accuracy_on_accepted: top-1 accuracy on those.
      holdout_kind: the generated non-digit kind its run never trained on.
      holdout_rejected: share of images of that kind it rejects.
    """

    name: str
    path: str
    format: str
    runtime: str
    status: str = "ok"
    error: str | None = None
    backend: str | None = None
    size_bytes: int | None = None
    accuracy: float | None = None
    test_images: int | None = None
    agreement: float | None = None
    agreement_note: str | None = None
    load_ms: float | None = None
    cold_ms: float | None = None
    latency_ms: dict = dataclasses.field(default_factory=dict)
    throughput: dict = dataclasses.field(default_factory=dict)
    peak_rss_mb: float | None = None
    start_to_first_ms: float | None = None
    memory_note: str | None = None
    gate: str | None = None
    reject_threshold: float | None = None
    digits_accepted: float | None = None
    accuracy_on_accepted: float | None = None
    holdout_kind: str | None = None
    holdout_rejected: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def p50(self, threads: int) -> float | None:
        """Batch-1 p50 latency (ms) at ``threads``, or None."""
        return (self.latency_ms.get(str(threads)) or {}).get("p50")

    def fail(self, message: str) -> "BenchRow":
        """Mark the row as failed with ``message``; measurements so far are dropped."""
        keep = {f: getattr(self, f) for f in ("name", "path", "format", "runtime", "size_bytes")}
        fresh = BenchRow(**keep, status="error", error=message)
        self.__dict__.update(fresh.__dict__)
        return self


@dataclasses.dataclass
class BenchReport:
    """All rows of one benchmark, the machine it ran on and the options used.

    Attributes:
      rows: one :class:`BenchRow` per artifact, in target order.
      machine: :func:`machine_info` at the start.
      config: the resolved :class:`~edgedigits.bench.config.BenchConfig` as a dict.
      baseline_rss_mb: idle process peak RSS: ``{"runtime": MB, "runtime+tflite": MB, ...}``.
      created: UTC time of the start.
      seconds: how long the benchmark took.
      load_average: 1-minute load average at the start and the end (a busy machine shows here).
      out_files: files the report was written to.
    """

    rows: list[BenchRow]
    machine: dict
    config: dict
    baseline_rss_mb: dict = dataclasses.field(default_factory=dict)
    created: str = dataclasses.field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    seconds: float | None = None
    load_average: list = dataclasses.field(default_factory=list)
    out_files: list = dataclasses.field(default_factory=list)

    # ---- conclusions -------------------------------------------------------------------------
    @property
    def min_accuracy(self) -> float:
        return float(self.config.get("min_accuracy", 0.99))

    @property
    def subset(self) -> bool:
        """True when accuracy was scored on fewer than the 10,000 test images."""
        return self.config.get("test_limit") is not None

    def gate_failures(self) -> list[str]:
        """One line per gated artifact that did not pass: below the threshold, or not measurable."""
        lines = []
        for row in self.rows:
            if not row.ok:
                lines.append(f"{row.name} ({row.format}) could not be benchmarked: {row.error}")
            elif row.gate == "fail":
                lines.append(f"{row.name} ({row.format}) scored {row.accuracy:.2%} on {row.test_images:,} test images, "
                             f"below --min-accuracy {self.min_accuracy:.2%}")
        return lines

    def raise_for_gate(self) -> None:
        """Raise :class:`GateError` naming every artifact that failed the gate (or could not be run)."""
        failures = self.gate_failures()
        if failures:
            low = sum(1 for row in self.rows if row.ok and row.gate == "fail")
            what = ("failed the gate" if low == len(failures) else "could not be benchmarked" if not low
                    else f"failed ({low} below the gate, {len(failures) - low} could not be benchmarked)")
            raise GateError(f"{len(failures)} of {len(self.rows)} {_artifacts(len(self.rows))} {what}: " + "; ".join(failures))

    def recommended(self) -> BenchRow | None:
        """The fastest artifact (batch-1 p50 at one thread, else the fewest threads measured) that passed the gate."""
        passing = [r for r in self.rows if r.ok and r.gate == "pass" and r.latency_ms]
        if not passing:
            return None
        threads = min(int(t) for r in passing for t in r.latency_ms)
        timed = [r for r in passing if r.p50(threads) is not None]
        return min(timed, key=lambda r: r.p50(threads)) if timed else None

    def recommendation(self) -> str:
        """The one-line recommendation printed under the table."""
        best = self.recommended()
        if best is None:
            return f"recommendation: none: no artifact passed the gate (accuracy >= {self.min_accuracy:.2%})"
        threads = min(int(t) for t in best.latency_ms)
        where = "a subset of " if self.subset else ""
        return (f"recommendation: {best.name} ({best.format}): fastest artifact that passes the gate on this machine "
                f"(p50 {_ms(best.p50(threads))} ms at batch 1, {threads} thread{'s' if threads > 1 else ''}; "
                f"accuracy {best.accuracy:.2%} on {where}{best.test_images:,} test images; {_size(best.size_bytes)})")

    def noisy_rows(self) -> list[str]:
        """Names of artifacts whose timing rounds disagreed by more than 10% (a noisy machine)."""
        from edgedigits.bench.stats import NOISY_SPREAD

        return [r.name for r in self.rows for s in r.latency_ms.values() if s.get("round_spread", 0) > NOISY_SPREAD]

    # ---- renderings --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["recommendation"] = self.recommendation()
        data["gate_failures"] = self.gate_failures()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "BenchReport":
        """Rebuild a report from :meth:`to_dict` output (e.g. a saved ``bench.json``)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        kwargs["rows"] = [BenchRow(**row) for row in data.get("rows", [])]
        return cls(**kwargs)

    def _columns(self) -> tuple[list[str], list[list[str]]]:
        threads = sorted({int(t) for r in self.rows for t in r.latency_ms}) or list(self.config.get("threads") or [1])
        batches = sorted({int(b) for r in self.rows for b in r.throughput})
        acc = "accuracy" + (" (subset)" if self.subset else "")
        reject = any(r.reject_threshold is not None for r in self.rows)
        head = ["file", "format", "status", "size", acc, "agreement"]
        if reject:
            head += ["digits kept", "acc. on kept", "held-out rejected"]
        for t in threads:
            head += [f"p50 ms {t}t", f"p99 ms {t}t"]
        head += [f"img/s b{b}" for b in batches] + ["load ms", "first ms", "memory MB", "gate"]
        body = []
        for r in self.rows:
            cells = [r.name, r.format, r.status, _size(r.size_bytes), _pct(r.accuracy), _pct(r.agreement)]
            if reject:
                cells += [_pct(r.digits_accepted), _pct(r.accuracy_on_accepted),
                          "–" if r.holdout_rejected is None else f"{r.holdout_rejected:.1%} ({r.holdout_kind})"]
            for t in threads:
                s = r.latency_ms.get(str(t)) or {}
                cells += [_ms(s.get("p50")), _ms(s.get("p99"))]
            cells += [_num(r.throughput.get(str(b))) for b in batches]
            cells += [_num(r.load_ms, 1), _num(r.cold_ms, 2), _num(r.peak_rss_mb, 1), r.gate or "–"]
            body.append(cells)
        return head, body

    def to_table(self) -> str:
        """A plain-text table, errors and notes under it."""
        head, body = self._columns()
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)]

        def line(cells) -> str:
            return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        text = [line(head), "  ".join("-" * w for w in widths)] + [line(row) for row in body]
        return "\n".join(text + [""] + self._notes())

    def to_markdown(self) -> str:
        """The report as a Markdown section: machine, options, table, notes."""
        head, body = self._columns()
        m = self.machine
        cfg = self.config
        lines = [
            f"Machine: {m.get('cpu')}, {m.get('cores')} cores ({m.get('usable_cores')} usable), {m.get('os')}, "
            f"Python {m.get('python')}; " + ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items() if v) + ".",
            f"Measured {self.created}: batch-1 latency over {cfg.get('rounds')} interleaved rounds x {cfg.get('runs')} calls "
            f"after {cfg.get('warmup')} warm-up calls, per thread count {cfg.get('threads')}; throughput at batch "
            f"{cfg.get('batch_sizes')} with {max(cfg.get('threads') or [1])} threads; load average "
            f"{' -> '.join(f'{x:.2f}' for x in self.load_average if x is not None) or 'n/a'}.",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|",
        ]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines + [""] + [f"- {n}" for n in self._notes()]) + "\n"

    def _notes(self) -> list[str]:
        notes = []
        for r in self.rows:
            if not r.ok:
                notes.append(f"{r.name}: error: {r.error}")
            if r.agreement_note:
                notes.append(f"{r.name}: no agreement figure: {r.agreement_note}")
            if r.memory_note:
                notes.append(f"{r.name}: no memory figure: {r.memory_note}")
        if any(r.reject_threshold is not None for r in self.rows):
            notes.append("not a digit: each artifact's own calibrated threshold (from its manifest, chosen on validation "
                         "digits); digits kept = share of the MNIST test digits accepted; held-out rejected = share of "
                         f"{HOLDOUT_IMAGES:,} generated images of the non-digit kind its run never trained on")
        if self.subset:
            notes.append(f"accuracy on a SUBSET: the first {self.config.get('test_limit'):,} of the 10,000 test images "
                         "(quick mode or --test-limit); run without them for the real figure")
        noisy = self.noisy_rows()
        if noisy:
            notes.append(f"noisy machine: timing rounds disagreed by more than 10% for {', '.join(sorted(set(noisy)))}; "
                         "small latency differences mean nothing here")
        if self.baseline_rss_mb:
            notes.append("memory is the peak RSS of a fresh process that loads and runs the model; idle baselines: "
                         + ", ".join(f"{k} {v:.1f} MB" for k, v in self.baseline_rss_mb.items()))
        notes.append(self.recommendation())
        return notes

    def write(self, json_path=None, markdown_path=None, plot_path=None) -> list[Path]:
        """Write the report where asked, each file atomically.

        Returns:
          The paths written (also listed in ``out_files``, which the JSON includes).
        """
        paths = [Path(p) for p in (json_path, markdown_path, plot_path) if p is not None]
        self.out_files += [str(p) for p in paths if str(p) not in self.out_files]
        if plot_path is not None:
            from edgedigits.bench.plot import plot_report

            plot_report(self, plot_path)
        if markdown_path is not None:
            atomic_write_text(markdown_path, self.to_markdown())
        if json_path is not None:
            atomic_write_text(json_path, self.to_json() + "\n")
        return paths


def machine_info() -> dict:
    """CPU model, cores, OS, Python and the versions of the packages that run the models."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable,
            "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
            "python": sys.version.split()[0], "packages": package_versions(*_PACKAGES)}


def package_versions(*names: str) -> dict:
    """``{distribution name: installed version or None}``."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on x86 and Raspberry Pi kernels, else lscpu, else the platform)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("model name", "hardware", "cpu model"):  # x86, and Raspberry Pi kernels
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if shutil.which("lscpu"):
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
            for line in out.splitlines():
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def _size(n) -> str:
    if n is None:
        return "–"
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 2**20:.2f} MB"


def _pct(x) -> str:
    return "–" if x is None else f"{x:.2%}"


def _ms(x) -> str:
    if x is None:
        return "–"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _num(x, digits: int = 0) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _artifacts(n: int) -> str:
    return "artifact" if n == 1 else "artifacts"
