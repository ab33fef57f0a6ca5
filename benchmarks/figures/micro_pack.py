"""The microcontroller pack's figures: TFLM vs LiteRT on the MNIST test set, arena, flash, time.

Usage (toolkit installed; no TensorFlow needed, only tflite-micro and the runtime):

  python benchmarks/figures/micro_pack.py [MODEL] [--limit N] [--out DIR] [--data-dir DIR]

MODEL defaults to the committed exported int8 model ``tests/runtime/fixtures/edge_int8_record.tflite``.
It runs exactly what ``edgedigits export --micro`` runs after conversion (``build_micro_pack``):
the arena bisection in TFLM, every test image through TFLM and LiteRT, the sources. Prints a
summary and one JSON line; writes the pack to ``--out`` (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=str(ROOT / "tests" / "runtime" / "fixtures" / "edge_int8_record.tflite"))
    p.add_argument("--limit", type=int, default=None, help="only the first N test images")
    p.add_argument("--out", default=None)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    from edgedigits.export.micro import build_micro_pack, write_micro_pack
    from edgedigits_runtime.mnist import load_mnist

    images, labels = load_mnist("test", args.data_dir)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    start = time.perf_counter()
    pack = build_micro_pack(Path(args.model).read_bytes(), images=images, example=(images[0], int(labels[0])))
    seconds = time.perf_counter() - start
    out = Path(args.out or tempfile.mkdtemp(prefix="micro_pack_"))
    write_micro_pack(pack, out)
    summary = pack.summary()
    summary.update(build_seconds=round(seconds, 1), model=str(args.model), out=str(out))
    print(f"{Path(args.model).name}: {pack.model_size:,} bytes, operators {', '.join(pack.operators)}")
    print(f"TFLM vs TFLite (LiteRT built-in kernels): same label on {pack.agreement:.2%} of {pack.images:,} test images, "
          f"bit-identical outputs on {pack.identical_builtin:.2%}")
    print(f"TFLM vs LiteRT/XNNPACK (the Pi's path): same label on {pack.agreement_xnnpack:.2%} (differs on {pack.differ_xnnpack}), "
          f"int8 outputs within one step on {pack.within_one_step:.2%} of values, at most {pack.max_step_diff} apart")
    print(f"TFLM {pack.tflm_seconds:.1f} s ({1000 * pack.tflm_seconds / max(pack.images, 1):.2f} ms/image)")
    print(f"arena: {pack.arena_min:,} bytes measured, {pack.arena_size:,} with margin; whole build {seconds:.1f} s")
    print(pack.board_table())
    print(pack.allocations)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
