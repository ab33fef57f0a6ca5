"""Train each registered architecture on the full data with defaults; print a Markdown table.

Usage (from the repository root; about 10 minutes for both on 2 cores):

    python benchmarks/figures/train_archs.py --data-dir ../shared/data/mnist --out runs/bench

Writes ``runs/bench/<arch>/`` run folders and prints the rows recorded in
``benchmarks/RESULTS.md`` (accuracy, time, parameters, MACs), with the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe, versions

from edgedigits.train import TrainConfig, list_architectures, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--arch", nargs="*", default=list_architectures())
    args = parser.parse_args()
    rows = []
    for arch in args.arch:
        result = train(TrainConfig(arch=arch, data_dir=args.data_dir, out=str(Path(args.out) / arch), overwrite=True))
        m = result.metrics
        rows.append(f"| `{arch}` | {m['test_accuracy']:.2%} | {m['epochs_run']} | {m['train_seconds']:.0f} s "
                    f"| {m['params']:,} | {m['macs']:,} |")
    print(f"\nMachine: {describe()}; {versions('tensorflow', 'tf-keras')}")
    print(f"Command: python benchmarks/figures/train_archs.py --data-dir {args.data_dir} --out {args.out}\n")
    print("| arch | test accuracy | epochs | train time | parameters | MACs/image |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
