"""The sequence reader: a small fully-convolutional CTC model that reads a whole number's line image.

Trained on synthetic numbers from MNIST *training* digits (:mod:`edgedigits.train.numbers`, which
passes every rendering through the runtime's own :func:`edgedigits_runtime.line.normalise_line`),
with CTC (``tf.nn.ctc_loss``), then converted to a full-integer int8 TFLite file (post-training
quantization on training lines) and checked after conversion: the int8 file, run through the
runtime's own interpreter layer and greedy CTC decoder, must read the validation numbers about as
well as the Keras model (``max_drop``).

The model (input ``(LINE_HEIGHT, LINE_WIDTH, 1)``, ink 1 on 0): conv-BN-ReLU blocks 16-24-48-64
with max-pooling that halves the height to 1 and the width to one frame per
:data:`FRAME` pixels, then two 1-D convolutions over the frames, and per frame a softmax over
the ten digits, a non-digit mark (:data:`MARK`: letters, symbols, scribbles, stains) and the CTC blank
(last). No recurrent layers: every op is a plain int8 TFLite
builtin.

Example:

>>> from edgedigits.train.reader import ReaderConfig, train_reader
>>> result = train_reader(ReaderConfig(samples=100_000, epochs=8, out="runs/reader"))   # doctest: +SKIP
>>> result["int8"]["accuracy"]                                                            # doctest: +SKIP
0.97
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from pathlib import Path

import numpy as np

from edgedigits.train.numbers import HOLDOUT_KIND
from edgedigits_runtime.line import FRAME  # line pixels per output frame
from edgedigits_runtime.reader import MARK  # a non-digit mark: the output before the blank

__all__ = ["BLANK", "FRAME", "MARK", "NUM_CLASSES", "ReaderConfig", "build_model", "train_reader"]

NUM_CLASSES = 12  # ten digits, the non-digit mark, and the CTC blank (last)
BLANK = NUM_CLASSES - 1
READER_FILE = "reader_int8.tflite"


@dataclasses.dataclass
class ReaderConfig:
    """How to train the sequence reader (``edgedigits train-reader``).

    Attributes:
      samples: synthetic training numbers (generated once, before training).
      val_samples: validation numbers (another seed; choose and check on these).
      epochs: passes over the training numbers.
      batch_size: numbers per step.
      learning_rate: peak Adam learning rate (cosine decay after one warm-up epoch).
      width: channels multiplier of the conv blocks (1.0: 16-24-48-64, 96 per frame).
      seed: the training data's seed (validation uses ``seed + 1``); also the weights' seed.
      calibration: training lines used to calibrate int8.
      max_drop: refuse an int8 file that reads this much less of validation than the Keras model.
      limit: use only the first N MNIST training digits (quick runs).
      init: a finished reader run folder whose weights (``model.keras``) training starts from (None: random);
        a second stage on fresh numbers (another ``seed``) continues a run. A digits-only reader (11 outputs)
        is widened: its digit and blank outputs kept, the mark output started near zero.
      marks: share of the training and validation lines with non-digit marks (letters, symbols, scribbles...
        from train/negatives/, :func:`edgedigits.train.numbers.mark_pool`), read as :data:`MARK`.
      mark_pool: non-digit images generated for those lines (each drawn with its own jitter every time).
      fine_pen: share of the training and validation numbers written with a fine pen (strokes a working pixel or two
        wide: :func:`edgedigits.train.numbers.render_number`); 0 makes the lines of earlier versions.
      rules: share of the training and validation numbers drawn with an underline they touch or on ruled or squared
        paper (the runtime's line path erases what it can; 0: the lines of earlier versions).
      marks_apart: in lines of digits and marks, keep each mark a digit's width or more from the digits (False: the
        lines of earlier versions).
      freeze_bn: keep the batch-normalisation layers as ``init`` left them (statistics and scale; a later stage
        on other lines then shifts what the earlier stages learnt less).
      holdout: the non-digit kind never drawn ("" for none). The int8 file's manifest entry calls it held out (the
        benchmark's unseen kind) only when every ``init`` stage before this one held it out too.
      data_dir: MNIST folder (else $EDGEDIGITS_DATA, cache, download).
      out: the run folder.
      overwrite: replace an existing run folder.
    """

    samples: int = 50_000
    val_samples: int = 2_000
    epochs: int = 7
    batch_size: int = 64
    learning_rate: float = 2e-3
    width: float = 1.0
    seed: int = 0
    calibration: int = 500
    max_drop: float = 0.01
    limit: int | None = None
    init: str | None = None
    marks: float = 0.3
    mark_pool: int = 8000
    fine_pen: float = 0.0
    rules: float = 0.0
    marks_apart: bool = False
    freeze_bn: bool = False
    holdout: str = HOLDOUT_KIND
    data_dir: str | None = None
    out: str = "runs/reader"
    overwrite: bool = False

    def validate(self) -> ReaderConfig:
        from edgedigits.errors import UsageError

        checks = [(self.samples >= self.batch_size, "samples must be at least one batch"),
                  (self.val_samples >= 10, "val_samples must be at least 10"),
                  (self.epochs >= 1, "epochs must be at least 1"), (self.batch_size >= 1, "batch_size must be >= 1"),
                  (self.learning_rate > 0, "learning_rate must be > 0"), (self.width > 0, "width must be > 0"),
                  (self.calibration >= 10, "calibration must be at least 10"),
                  (0 <= self.max_drop < 1, "max_drop must be in [0, 1)"),
                  (self.limit is None or self.limit >= 100, "limit must be at least 100"),
                  (0 <= self.marks <= 1, "marks must be in [0, 1]"), (self.mark_pool >= 10, "mark_pool must be at least 10"),
                  (0 <= self.fine_pen <= 1, "fine_pen must be in [0, 1]"), (0 <= self.rules <= 1, "rules must be in [0, 1]")]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        if self.holdout:
            from edgedigits.train.negatives import check_kinds

            check_kinds([self.holdout])
        return self


def build_model(keras, width: float = 1.0, classes: int = NUM_CLASSES):
    """The reader: (LINE_HEIGHT, LINE_WIDTH, 1) -> (LINE_WIDTH / FRAME, classes) per-frame probabilities."""
    from edgedigits_runtime.line import LINE_HEIGHT, LINE_WIDTH

    layers = keras.layers

    def block(x, filters, kernel=3, padding="same"):
        x = layers.Conv2D(max(4, int(round(filters * width))), kernel, padding=padding, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inp = layers.Input((LINE_HEIGHT, LINE_WIDTH, 1))
    x = block(inp, 16)                      # 32 x 192
    x = layers.MaxPooling2D(2)(x)           # 16 x 96
    x = block(x, 24)
    x = layers.MaxPooling2D(2)(x)           # 8 x 48: one column per frame
    x = block(x, 48)
    x = layers.MaxPooling2D((2, 1))(x)      # 4 x 48
    x = block(x, 64)
    x = layers.MaxPooling2D((2, 1))(x)      # 2 x 48
    x = block(x, 96, kernel=(2, 3), padding="valid")  # 1 x 46
    x = layers.ZeroPadding2D(((0, 0), (1, 1)))(x)     # 1 x 48
    x = block(x, 96, kernel=(1, 3))
    x = layers.Dropout(0.1)(x)
    x = layers.Conv2D(classes, 1)(x)        # 1 x 48 x 12
    x = layers.Reshape((LINE_WIDTH // FRAME, classes))(x)
    out = layers.Softmax()(x)
    return keras.Model(inp, out, name="reader")


def _ctc_loss(tf, labels, lengths, probs):
    """Mean CTC loss of per-frame probabilities against padded labels (-1 padding)."""
    logits = tf.math.log(tf.clip_by_value(probs, 1e-7, 1.0))
    frames = tf.fill([tf.shape(probs)[0]], tf.shape(probs)[1])
    dense = tf.where(labels < 0, tf.zeros_like(labels), labels)
    loss = tf.nn.ctc_loss(labels=dense, logits=logits, label_length=lengths, logit_length=frames,
                          logits_time_major=False, blank_index=BLANK)
    return tf.reduce_mean(loss)


def train_reader(config: ReaderConfig, progress=print) -> dict:
    """Generate numbers, train the reader, convert it to int8 TFLite and check it. Returns the metrics.

    Writes into ``config.out``: ``model.keras`` (weights), ``config.json``, ``history.json``,
    ``metrics.json`` and ``export/reader_int8.tflite`` with ``export/manifest.json`` (its entry and
    integrity record inside the file).

    Raises:
      UsageError: a bad config or an existing run folder without ``overwrite``.
      ExportError: the int8 file reads validation much worse than the Keras model (``max_drop``).
    """
    from edgedigits._tf import tf_and_keras
    from edgedigits.errors import ExportError, UsageError
    from edgedigits.train.numbers import make_lines, mark_pool
    from edgedigits_runtime.mnist import load_mnist

    config.validate()
    out = Path(config.out)
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise UsageError(f"{out} exists and is not empty: choose another --out or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    images, labels = load_mnist("train", config.data_dir)  # the TRAINING split only
    if config.limit:
        images, labels = images[: config.limit], labels[: config.limit]
    t0 = time.time()
    pool = None
    if config.marks > 0:
        holdout = [config.holdout] if config.holdout else []
        pool = mark_pool(config.mark_pool, seed=config.seed, digits=images, holdout=holdout)
        unseen = _lineage_holdout(config)
        progress(f"generated {len(pool)} non-digit marks ({time.time() - t0:.0f} s; held out: {config.holdout or 'none'}, "
                 f"by every stage: {unseen or 'none'})")
    x, y, n = make_lines(images, labels, config.samples, seed=config.seed, marks=pool, mark_share=config.marks,
                         fine_pen=config.fine_pen, rules=config.rules, marks_apart=config.marks_apart,
                         progress=lambda d, c: progress(f"  generated {d}/{c} numbers ({time.time() - t0:.0f} s)"))
    vpool = None if pool is None else mark_pool(max(config.mark_pool // 8, 10), seed=config.seed + 1, digits=images,
                                                holdout=holdout)
    xv, yv, nv = make_lines(images, labels, config.val_samples, seed=config.seed + 1, marks=vpool, mark_share=config.marks,
                            fine_pen=config.fine_pen, rules=config.rules, marks_apart=config.marks_apart)
    progress(f"generated {len(x)} training and {len(xv)} validation numbers in {time.time() - t0:.0f} s")

    tf, keras = tf_and_keras()
    keras.utils.set_random_seed(config.seed)
    model = build_model(keras, config.width)
    if config.init:
        start_from = Path(config.init) / "model.keras"
        if not start_from.is_file():
            raise UsageError(f"--init {config.init}: no model.keras there (a finished `edgedigits train-reader` run)")
        model.set_weights(_widened(keras.models.load_model(start_from, compile=False).get_weights(), model))
        progress(f"starting from the weights of {start_from}")
    if config.freeze_bn:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # inference mode: its moving statistics used and kept
    steps = len(x) // config.batch_size
    total = steps * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(0.0, max(total - steps, 1), alpha=0.02,
                                                      warmup_target=config.learning_rate, warmup_steps=steps)
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function(reduce_retracing=True)
    def step(xb, yb, nb):
        with tf.GradientTape() as tape:
            probs = model(xb, training=True)
            loss = _ctc_loss(tf, yb, nb, probs)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    history = {"loss": [], "val_accuracy": [], "seconds": []}
    rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        start = time.time()
        order = rng.permutation(len(x))
        losses = []
        for k in range(steps):
            idx = order[k * config.batch_size : (k + 1) * config.batch_size]
            xb = (x[idx].astype(np.float32) / 255.0)[..., None]
            losses.append(float(step(xb, y[idx], n[idx])))
        val = _accuracy(_keras_probs(model, xv), yv, nv)
        history["loss"].append(float(np.mean(losses)))
        history["val_accuracy"].append(val)
        history["seconds"].append(round(time.time() - start, 1))
        progress(f"epoch {epoch + 1}/{config.epochs}: loss {np.mean(losses):.4f}, validation numbers read {val:.2%} "
                 f"({time.time() - start:.0f} s)")
        (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    model.save(out / "model.keras")

    keras_acc = _accuracy(_keras_probs(model, xv), yv, nv)
    from edgedigits.export.convert_tflite import full_integer

    data = full_integer(tf, model, (x[: config.calibration].astype(np.float32) / 255.0)[..., None])
    export = out / "export"
    export.mkdir(exist_ok=True)
    entry, data = _with_entry(data, config, keras_acc, xv, yv, nv)
    int8_acc = entry["accuracy"]
    progress(f"int8: validation numbers read {int8_acc:.2%} (Keras {keras_acc:.2%}), {len(data)} bytes")
    if int8_acc < keras_acc - config.max_drop:
        raise ExportError(f"the int8 reader reads {int8_acc:.2%} of validation numbers, the Keras model {keras_acc:.2%}: "
                          f"more than {config.max_drop:.1%} lost in conversion")
    from edgedigits_runtime.fileio import atomic_write_bytes
    from edgedigits_runtime.manifest import new_manifest, write_manifest

    atomic_write_bytes(export / READER_FILE, data)
    write_manifest(export, new_manifest(artifacts={READER_FILE: entry}, source_run={"path": str(out), "arch": "reader"},
                                        tools=_tools()))
    metrics = {"keras_accuracy": keras_acc, "int8": {"accuracy": int8_acc, "size": len(data)},
               "params": int(model.count_params()), "train_seconds": round(sum(history["seconds"]), 1)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _lineage_holdout(config: ReaderConfig) -> str:
    """The non-digit kind no stage of this reader ever drew: ``config.holdout`` when every ``--init`` run before it
    (their ``config.json``) held out the same kind or drew no marks at all, else "" (none: a kind one stage held out
    may have been drawn by an earlier one, so the benchmark must not call it unseen)."""
    kind = config.holdout
    init = config.init
    while kind and init:
        path = Path(init) / "config.json"
        if not path.is_file():
            return ""  # an unknown lineage: claim nothing
        before = json.loads(path.read_text())
        if before.get("marks", 0) and before.get("holdout") != kind:
            return ""
        init = before.get("init")
    return kind


def _widened(weights: list, model) -> list:
    """A run's weights for ``model``; a digits-only reader's last layer (11 outputs: digits, blank) widened to
    digits, mark, blank: the mark's weights zero and its bias below every other's (it starts rarely chosen)."""
    target = model.get_weights()
    if len(weights) != len(target):
        raise ValueError("--init: that run's reader has another architecture (width?)")
    kernel, bias = weights[-2], weights[-1]
    if kernel.shape != target[-2].shape and kernel.shape[-1] == NUM_CLASSES - 1:
        new_kernel = np.zeros(target[-2].shape, kernel.dtype)
        new_kernel[..., :MARK] = kernel[..., :MARK]
        new_kernel[..., BLANK] = kernel[..., MARK]
        new_bias = np.zeros(target[-1].shape, bias.dtype)
        new_bias[:MARK], new_bias[BLANK] = bias[:MARK], bias[MARK]
        new_bias[MARK] = float(bias.min()) - 1.0
        weights = weights[:-2] + [new_kernel, new_bias]
    return weights


def _keras_probs(model, lines: np.ndarray) -> np.ndarray:
    return model.predict((lines.astype(np.float32) / 255.0)[..., None], batch_size=256, verbose=0)


def _accuracy(probs: np.ndarray, labels: np.ndarray, lengths: np.ndarray) -> float:
    """Share of numbers whose greedy CTC reading is exactly right (the runtime's own decoder)."""
    from edgedigits_runtime.reader import ctc_greedy

    hits = 0
    for p, lab, n in zip(probs, labels, lengths):
        hits += [d for d, _ in ctc_greedy(p)] == list(lab[:n])
    return hits / max(len(probs), 1)


def _with_entry(data: bytes, config: ReaderConfig, keras_acc: float, xv, yv, nv) -> tuple[dict, bytes]:
    """The int8 file's manifest entry (scored through the runtime) and its bytes with the integrity record inside."""
    from edgedigits.export.record import embed_record, record_document
    from edgedigits_runtime.fileio import sha256_bytes
    from edgedigits_runtime.manifest import ManifestWarning, artifact_entry
    from edgedigits_runtime.reader import NumberReader

    with warnings.catch_warnings():  # the bytes carry no record yet: scored here, then sealed below
        warnings.simplefilter("ignore", ManifestWarning)
        reader = NumberReader.from_bytes(data, name=READER_FILE, num_threads=1)
    accuracy = _accuracy(reader.frame_probs(xv), yv, nv)
    entry = artifact_entry(format="int8", runtime="tflite", sha256="", size=0, input=reader.session.input.as_dict(),
                           output=reader.session.output.as_dict(), kind="number_reader", accuracy=round(accuracy, 6),
                           keras_accuracy=round(keras_acc, 6), validation_numbers=len(xv),
                           validation="synthetic numbers of 1-8 MNIST training digits (edgedigits.train.numbers, "
                                      f"seed {config.seed + 1}; {config.marks:.0%} with non-digit marks), exact match (digits and marks), "
                                      "greedy CTC",
                           frame=FRAME, classes="digits 0-9, non-digit mark (10), CTC blank last",
                           marks=config.marks, holdout=_lineage_holdout(config) or None)
    shared = {"tools": _tools(), "source_run": {"path": config.out, "arch": "reader"}}
    data = embed_record(data, "tflite", record_document(entry, shared))
    entry.update(sha256=sha256_bytes(data), size=len(data))
    return entry, data


def _tools() -> dict:
    from importlib import metadata

    found = {}
    for name in ("edgedigits", "tensorflow", "tf_keras", "ai_edge_litert", "numpy", "opencv-python-headless"):
        try:
            found[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found
