"""`BenchConfig`: every option of `edgedigits bench`, typed and checked up front."""

from __future__ import annotations

import dataclasses
import json
import os

from edgedigits.errors import UsageError
from edgedigits.runs import BENCH_DIR
from edgedigits_runtime.backends import MAX_THREADS

__all__ = ["BenchConfig", "FULL", "QUICK", "BENCH_DIR"]


# How much to measure when the user does not say: a full run, and a smoke check.
FULL = {"warmup": 100, "rounds": 10, "runs": 200, "throughput_calls": 3, "test_limit": None}
QUICK = {"warmup": 5, "rounds": 3, "runs": 20, "throughput_calls": 1, "test_limit": 1000}


@dataclasses.dataclass
class BenchConfig:
    """Resolved options of one benchmark (saved in the report beside the rows).

    Attributes:
      targets: run folders (their ``export/manifest.json`` lists the artifacts), export
        folders (holding ``manifest.json``), or model files (``.tflite`` / ``.onnx``).
      threads: interpreter thread counts for batch-1 latency; default ``[1, all cores]``.
      batch_sizes: batch sizes for throughput (images/s), measured at the most threads.
      warmup: untimed calls per artifact and thread count before timing.
      rounds: timing rounds; each round times every artifact in turn (A B C A B C ...),
        so that a noisy machine slows them all alike.
      runs: timed batch-1 calls per artifact, thread count and round.
      throughput_calls: timed calls per artifact, batch size and round.
      test_limit: score accuracy on only the first N test images (reported as a subset);
        None for all 10,000.
      min_accuracy: the gate: an artifact below this test accuracy fails the benchmark.
      quick: a smoke check: few runs, 1,000 test images (explicit values still win).
      memory: measure peak resident memory in a fresh child process per artifact.
      out: folder for ``bench.json``, ``bench.md`` and ``bench.png``; default ``<run>/bench``
        when benchmarking one run, else nothing unless ``json``/``markdown``/``plot`` name files.
      save: write the default outputs at all.
      json, markdown, plot: extra files to write the report to.
      data_dir: folder with the MNIST files (else ``$EDGEDIGITS_DATA``, cache, download).
      normalize: how model files of your own want their input scaled (``DigitClassifier``'s ``normalize``: ``mnist``,
        ``raw``, ..., ``MEAN,STD``); None: each file's manifest, else x / 255.
    """

    targets: list[str] = dataclasses.field(default_factory=list)
    threads: list[int] | None = None
    batch_sizes: list[int] = dataclasses.field(default_factory=lambda: [32, 256])
    warmup: int | None = None
    rounds: int | None = None
    runs: int | None = None
    throughput_calls: int | None = None
    test_limit: int | None = None
    min_accuracy: float = 0.99
    quick: bool = False
    memory: bool = True
    out: str | None = None
    save: bool = True
    json: str | None = None
    markdown: str | None = None
    plot: str | None = None
    data_dir: str | None = None
    normalize: str | None = None

    def validate(self) -> "BenchConfig":
        """Check every option, fill unset ones from :data:`FULL` or :data:`QUICK`; return self.

        Raises:
          UsageError: naming the option and the value received.
        """
        if not self.targets:
            raise UsageError("nothing to benchmark: name a run folder, an export folder or model files")
        self.targets = [str(t) for t in self.targets]
        preset = QUICK if self.quick else FULL
        for name in ("warmup", "rounds", "runs", "throughput_calls"):
            if getattr(self, name) is None:
                setattr(self, name, preset[name])
        if self.test_limit is None and self.quick:
            self.test_limit = preset["test_limit"]
        cores = min(os.cpu_count() or 1, MAX_THREADS)  # the runtime's cap on interpreter threads
        if self.threads is None:
            self.threads = sorted({1, cores})
        if not self.threads or any(not _is_int(t) or not 1 <= t <= MAX_THREADS for t in self.threads):
            raise UsageError(f"--threads must be whole numbers from 1 to {MAX_THREADS} (e.g. 1,{cores}), got {self.threads!r}")
        self.threads = sorted(set(self.threads))
        if any(not _is_int(b) or not 1 <= b <= 10000 for b in self.batch_sizes):
            raise UsageError(f"--batch-sizes must be whole numbers in [1, 10000] (e.g. 32,256), got {self.batch_sizes!r}")
        self.batch_sizes = sorted(set(self.batch_sizes))
        for name, low in (("warmup", 0), ("rounds", 1), ("runs", 1), ("throughput_calls", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise UsageError(f"--{name.replace('_', '-')} must be a whole number >= {low}, got {value!r}")
        if self.test_limit is not None and (not _is_int(self.test_limit) or not 1 <= self.test_limit <= 10000):
            raise UsageError(f"--test-limit must be a whole number in [1, 10000], got {self.test_limit!r}")
        if not isinstance(self.min_accuracy, (int, float)) or not 0.0 <= self.min_accuracy <= 1.0:
            raise UsageError(f"--min-accuracy is a fraction in [0, 1] (e.g. 0.99), got {self.min_accuracy!r}")
        if self.normalize is not None:
            from edgedigits_runtime.scaling import parse_scaling

            parse_scaling(self.normalize, "--normalize")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
