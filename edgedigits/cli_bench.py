"""`edgedigits bench`: every exported artifact side by side, with an accuracy gate and a recommendation."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import List, Optional

import typer

from edgedigits.cli_common import friendly_errors
from edgedigits.errors import UsageError

EPILOG = (
    "Every figure is measured through the runtime package (edgedigits_runtime.DigitClassifier), as the device "
    "runs the model: accuracy on the 10,000 MNIST test images and agreement with the Keras model, batch-1 latency "
    "p50/p99 per thread count over interleaved rounds (A B C A B C ...), throughput at larger batches, load and "
    "first-call time, size, and peak memory of a fresh process. Results go to RUN/bench/ (bench.json, bench.md, "
    "bench.png) unless --no-save. Exit code 1 when an artifact is below --min-accuracy or could not be run."
)


@friendly_errors
def bench(
    targets: Optional[List[Path]] = typer.Argument(
        None, help="A run folder (benchmarks every artifact its export wrote), an export folder, or model files "
                   "(.tflite/.onnx). Default: the latest run under runs/."),
    threads: Optional[str] = typer.Option(None, "--threads", help="Comma-separated thread counts for batch-1 latency (default: 1 and all cores)."),
    batch_sizes: str = typer.Option("32,256", "--batch-sizes", help="Comma-separated batch sizes for throughput (images/s)."),
    rounds: Optional[int] = typer.Option(None, "--rounds", help="Interleaved timing rounds (default 10; --quick 3)."),
    runs: Optional[int] = typer.Option(None, "--runs", help="Timed batch-1 calls per artifact, thread count and round (default 200; --quick 20)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="Untimed calls per artifact and thread count first (default 100; --quick 5)."),
    test_limit: Optional[int] = typer.Option(None, "--test-limit", help="Score accuracy on only the first N test images (reported as a subset)."),
    min_accuracy: float = typer.Option(0.99, "--min-accuracy", help="Gate: every artifact must reach this test accuracy (a fraction)."),
    quick: bool = typer.Option(False, "--quick", help="Smoke check: few runs, accuracy on the first 1,000 test images (labelled as a subset)."),
    memory: bool = typer.Option(True, "--memory/--no-memory", help="Measure peak memory in a fresh process per artifact."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for bench.json/bench.md/bench.png (default RUN/bench)."),
    save: bool = typer.Option(True, "--save/--no-save", help="Write bench.json/bench.md/bench.png into --out or RUN/bench."),
    json_file: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON to this file."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Also write the report as Markdown to this file."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write the accuracy-vs-latency plot (PNG) to this file."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder with the MNIST files (else $EDGEDIGITS_DATA, cache, download)."),
    normalize: Optional[str] = typer.Option(None, "--normalize", help="How model files of your own want their input scaled: unit (x / 255), raw (0-255), mnist (PyTorch's MNIST example), symmetric ([-1, 1]) or MEAN,STD (runtime/README.md, 'Your own model'). Default: each file's manifest, else unit."),
) -> None:
    """Benchmark every artifact of a run (or the given model files) side by side, as the device runs them."""
    from edgedigits.bench import BenchConfig
    from edgedigits.bench import bench as run_bench
    from edgedigits.runs import latest_run

    if not targets:
        targets = [latest_run()]
    config = BenchConfig(
        targets=[str(t) for t in targets], threads=_ints(threads, "--threads"), batch_sizes=_ints(batch_sizes, "--batch-sizes"),
        rounds=rounds, runs=runs, warmup=warmup, test_limit=test_limit, min_accuracy=min_accuracy, quick=quick,
        memory=memory, out=_str(out), save=save, json=_str(json_file), markdown=_str(markdown), plot=_str(plot),
        data_dir=_str(data_dir), normalize=normalize,
    ).validate()
    with _progress_bar() as progress:
        report = run_bench(config, progress=progress)
    typer.echo(report.to_table())
    if report.out_files:
        typer.echo("written: " + ", ".join(report.out_files))
    best = report.recommended()
    if best is not None:
        typer.echo(f"\nnext:\n  edgedigits predict IMAGE.png --model {best.path}    # classify a digit photo with it\n"
                   f"  copy {best.path} and the manifest.json beside it to the device; there: "
                   f"edgedigits-rt predict IMAGE.png --model {Path(best.path).name}")
    report.raise_for_gate()


def _ints(text: Optional[str], option: str) -> Optional[list]:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated whole numbers (e.g. 1,2), got {text!r}") from None


def _str(path: Optional[Path]) -> Optional[str]:
    return None if path is None else str(path)


@contextlib.contextmanager
def _progress_bar():
    """A rich progress bar on stderr when it is a terminal (yields its update function), else None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("bench"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def update(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        yield update
