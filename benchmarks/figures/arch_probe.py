"""Issue 13: cost of candidate architectures before training them: MACs, parameters, int8 size, batch-1 latency.

Each architecture (registered, or a candidate of ``explore_frontier.py``) is built with the "not a digit" head the
default recipe trains, with random (seeded) weights, converted to full-integer int8 TFLite with the export's
converter settings (post-training calibration on 200 random images: weights are random, so accuracy means nothing
here), opened through the runtime's one interpreter layer (``edgedigits_runtime.backends.open_model``, the
ai-edge-litert backend, XNNPACK, one thread) and timed batch-1 with the bench's timing loop
(``edgedigits.bench.measure.time_calls``) in interleaved rounds, the architectures in turn, so a shared machine
slows them alike. What is timed is the interpreter session's ``run`` on one already-quantized image (set the input,
invoke, read the 11 outputs), not the classifier's preprocessing: the architectures' own cost. The int8 size
excludes the export's embedded integrity record: compare a candidate with the ``edge`` row of the same run (the
registered ``edge``'s real export is a few KB larger).

Usage (from the repository root)::

    python benchmarks/figures/arch_probe.py edge e-d7 e-d14 e-v7 [--rounds 15 --calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import explore_frontier  # noqa: F401  (registers the exploration candidates)

from edgedigits.bench.measure import time_calls
from edgedigits.export.convert_tflite import full_integer
from edgedigits.train.architectures import count_macs, create_model
from edgedigits_runtime.backends import open_model


def _session(data: bytes):
    """The int8 model opened as the runtime opens it, with the ``predict`` that ``time_calls`` calls."""
    return SimpleNamespace(predict=open_model("tflite", data, num_threads=1, name="litert").run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archs", nargs="+")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from edgedigits._tf import tf_and_keras
    from edgedigits.train.trainer import with_not_a_digit_class

    tf, keras = tf_and_keras()
    rng = np.random.default_rng(args.seed)
    rows, interps = [], []
    for name in args.archs:
        keras.utils.set_random_seed(args.seed)
        model = with_not_a_digit_class(keras, create_model(name, keras))
        data = full_integer(tf, model, rng.random((200, 28, 28, 1), dtype=np.float32))
        rows.append({"arch": name, "macs": count_macs(model), "params": model.count_params(), "int8_bytes": len(data),
                     "layers": sum(type(layer).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense") for layer in model.layers)})
        interps.append(_session(data))
    images = rng.integers(-128, 128, (1, 1, 28, 28, 1), dtype=np.int8)  # one quantized image, batch 1
    times: list[list[float]] = [[] for _ in interps]
    for interp in interps:  # warm-up
        time_calls(interp, images, 100)
    round_p50: list[list[float]] = [[] for _ in interps]
    for _ in range(args.rounds):
        for i, interp in enumerate(interps):
            t = list(time_calls(interp, images, args.calls) * 1e9)
            times[i] += t
            round_p50[i].append(statistics.median(t))
    print(f"random weights, int8, batch 1, 1 thread, ai-edge-litert through open_model; {args.rounds} interleaved "
          f"rounds x {args.calls} calls")
    print("| arch | weighted layers | MACs | params | int8 bytes (no record) | p50 µs | p50 spread over rounds µs |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for row, t, r in zip(rows, times, round_p50):
        print(f"| {row['arch']} | {row['layers']} | {row['macs']:,} | {row['params']:,} | {row['int8_bytes']:,} | "
              f"{statistics.median(t) / 1e3:.1f} | {min(r) / 1e3:.1f}-{max(r) / 1e3:.1f} |")


if __name__ == "__main__":
    main()
