"""What a SAM step costs against a plain step (issue 13, `edgedigits train --sam`): CPU and wall seconds per step.

Both models are the architecture as a default run trains it ("not a digit" head, packed targets, Adam), fed the same
batches through ``fit`` (the trainer's path); rounds alternate plain and SAM so that a shared machine's load falls on
both alike. The images are MNIST-sized noise: a step's cost does not depend on what the pixels show.

Usage (from the repository root)::

    TF_NUM_INTRAOP_THREADS=1 python benchmarks/figures/sam_cost.py [--arch edge] [--steps 40] [--rounds 5]

Prints one JSON line per round and way, then a summary line: median seconds per step of each way and their ratio
(CPU seconds of this process: the figure that does not depend on what else runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

import numpy as np


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _model(tf, keras, arch: str, rho: float):
    from edgedigits.train.architectures import create_model
    from edgedigits.train.sam import use_sam
    from edgedigits.train.targets import accuracy, packed_loss
    from edgedigits.train.trainer import with_not_a_digit_class

    keras.utils.set_random_seed(0)
    model = with_not_a_digit_class(keras, create_model(arch, keras))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=[accuracy],
                  loss=packed_loss(tf, distill_weight=0.0, temperature=1.0, not_a_digit_class=True))
    if rho:
        use_sam(tf, keras, model, rho=rho)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="edge")
    parser.add_argument("--steps", type=int, default=40, help="steps per round and way")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rho", type=float, default=0.05)
    args = parser.parse_args()

    from edgedigits._tf import tf_and_keras
    from edgedigits.train.targets import packed_targets

    tf, keras = tf_and_keras()
    rng = np.random.default_rng(0)
    n = args.batch_size * args.steps
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = packed_targets(rng.integers(0, 11, n), negative_target="class", not_a_digit_class=True)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).repeat()
    ways = {"plain": _model(tf, keras, args.arch, 0.0), "sam": _model(tf, keras, args.arch, args.rho)}
    for model in ways.values():  # trace and warm up outside the timing
        model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    per_step = {way: {"cpu": [], "wall": []} for way in ways}
    for r in range(args.rounds):
        for way, model in ways.items():
            t0, c0 = time.perf_counter(), _cpu()
            model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
            wall, cpu = (time.perf_counter() - t0) / args.steps, (_cpu() - c0) / args.steps
            per_step[way]["cpu"].append(cpu)
            per_step[way]["wall"].append(wall)
            print(json.dumps({"round": r, "way": way, "cpu_ms_per_step": round(1000 * cpu, 2),
                              "wall_ms_per_step": round(1000 * wall, 2), "load_average": os.getloadavg()}), flush=True)
    med = {way: {k: statistics.median(v) for k, v in d.items()} for way, d in per_step.items()}
    print(json.dumps({"arch": args.arch, "batch_size": args.batch_size, "rho": args.rho,
                      "threads": os.environ.get("TF_NUM_INTRAOP_THREADS", "default"),
                      "plain_cpu_ms_per_step": round(1000 * med["plain"]["cpu"], 2),
                      "sam_cpu_ms_per_step": round(1000 * med["sam"]["cpu"], 2),
                      "cpu_ratio": round(med["sam"]["cpu"] / med["plain"]["cpu"], 3),
                      "wall_ratio": round(med["sam"]["wall"] / med["plain"]["wall"], 3)}), flush=True)


if __name__ == "__main__":
    main()
