"""Warm start: continue a finished "not a digit" run's Keras model on new training data, as a new run folder.

Question (issue 9, seventh session): the near-digit generators of the repository branch ``reject5-cand`` (near-digit
symbols, 30% Latin letters, clocks and discs) reject more icons and letters than the shipped model B when a model is
trained on them from scratch, but cost about 0.1 point of digit accuracy. Does a short, low-learning-rate continuation
of B's own model on them keep B's digits and gain the non-digits?

The new run is an ordinary ``edgedigits train`` run in every respect but one: its model starts from ``--init``'s
``model.keras`` (B's weights, BatchNorm statistics and 11-way head) with a fresh Adam optimiser, instead of random
weights. Its ``config.json`` holds the options it trained with (``--epochs``, ``--lr``, the rest as ``edgedigits
train`` defaults and ``--holdout-kind``), and ``warm_start.json`` where it started from. ``edgedigits export RUN
--int8`` and every figure script take it like any run. Run it with the ``edgedigits`` whose generators are wanted
(``train/negatives.py`` of the branch being tried).

Usage (EDGEDIGITS_DATA set; 1 thread: minutes per epoch on a shared machine):

    python benchmarks/figures/reject_finetune.py --init RUN_B --out RUN --epochs 4 --lr 0.0004 --holdout-kind shapes --seed 0
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", required=True, help="a finished run folder whose model.keras is the starting point")
    parser.add_argument("--out", required=True, help="the new run folder")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=4e-4, help="peak learning rate (one warm-up epoch, then cosine decay)")
    parser.add_argument("--holdout-kind", default="shapes")
    parser.add_argument("--epoch-basis", default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="train on this many digits only (a smoke test)")
    parser.add_argument("--extras-from", default=None, help="a run folder whose generated training images to reuse "
                        "(used only when made with the same options: the trainer checks their key)")
    args = parser.parse_args()

    from edgedigits.runs import CONFIG_FILE, MODEL_FILE
    from edgedigits.train import trainer
    from edgedigits.train.config import TrainConfig

    init = Path(args.init) / MODEL_FILE
    if not init.is_file():
        raise SystemExit(f"{init} does not exist: --init must be a finished run folder")

    def warm_model_and_state(tf, keras, config, run_dir, steps_per_epoch):
        loss, metric = trainer._loss_and_metric(tf, config)
        model = keras.models.load_model(init, compile=False)
        model.compile(optimizer=keras.optimizers.Adam(trainer._schedule(keras, config, steps_per_epoch)), loss=loss,
                      metrics=[metric])
        return model, {"epoch": 0, "history": {}, "seconds": 0.0}

    trainer._model_and_state = warm_model_and_state  # the only change to an ordinary run
    if args.extras_from:
        generate = trainer.with_negatives

        def with_copied_extras(splits, config, log, cache=None):
            source = Path(args.extras_from) / trainer.EXTRAS_FILE
            if cache is not None and not Path(cache).exists() and source.is_file():
                shutil.copyfile(source, cache)
            return generate(splits, config, log, cache=cache)

        trainer.with_negatives = with_copied_extras
    config = TrainConfig(out=args.out, epochs=args.epochs, learning_rate=args.lr, holdout_kind=args.holdout_kind,
                         epoch_basis=args.epoch_basis, seed=args.seed, limit=args.limit)
    result = trainer.train(config)
    Path(args.out, "warm_start.json").write_text(json.dumps(
        {"init": str(init.resolve()), "init_config": json.loads((Path(args.init) / CONFIG_FILE).read_text()),
         "command": "python benchmarks/figures/reject_finetune.py " + " ".join(
             f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())}, indent=1))
    print(f"warm-started run: {result.run_dir}")


if __name__ == "__main__":
    main()
