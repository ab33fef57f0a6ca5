"""TFLite converters: QAT int8, post-training int8, float32, float16, dynamic range.

Every format converter takes a :class:`~edgedigits.export.context.ConvertContext` and
returns the model's bytes; nothing is written here. :func:`full_integer` is the one
int8 conversion; the sequence reader's trainer and the architecture probe use it too. The input convention is the
same for all: NHWC float32 in [0, 1] (uint8 / 255). For the full-integer models
that gives an int8 input with scale 1/255 and zero point -128, i.e. ``uint8 - 128``:
exact, no rounding.

Converter options for the int8 path (measured, see benchmarks/RESULTS.md "Export"):
int8 input and output (no QUANTIZE/DEQUANTIZE ops left in the graph), builtin int8
ops only (conversion fails rather than leaving a float op behind), per-channel
weights (same speed as per-tensor under XNNPACK here, better accuracy).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from edgedigits_runtime.native import quiet_native_stderr

__all__ = ["int8_qat", "int8_ptq", "float32", "float16", "dynamic_range", "qat_model", "full_integer", "plain_batches"]

_QAT_BATCH = 128


def float32(ctx) -> bytes:
    """Plain float32 TFLite."""
    return _convert(_converter(ctx, ctx.model))


def float16(ctx) -> bytes:
    """float16 weights (dequantized to float32 at load on CPU)."""
    conv = _converter(ctx, ctx.model)
    conv.optimizations = [ctx.tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [ctx.tf.float16]
    return _convert(conv)


def dynamic_range(ctx) -> bytes:
    """int8 weights, float activations, no calibration data."""
    conv = _converter(ctx, ctx.model)
    conv.optimizations = [ctx.tf.lite.Optimize.DEFAULT]
    return _convert(conv)


def int8_ptq(ctx) -> bytes:
    """Post-training full-integer quantization of the trained model."""
    return _full_integer(ctx, ctx.model)


def int8_qat(ctx) -> bytes:
    """Quantization-aware fine-tune of the trained model, then full-integer conversion."""
    return _full_integer(ctx, qat_model(ctx))


def qat_model(ctx):
    """The trained model wrapped by tfmot's ``quantize_model`` and fine-tuned briefly.

    The fine-tune runs ``config.qat_epochs`` passes (fractions allowed) over the
    training split (or its first ``config.qat_limit`` images; a pass counts ``ctx.pass_images``, the images of one
    of the run's training epochs, drawn from digits and generated extras alike) with Adam at
    ``config.qat_learning_rate`` (constant or cosine-decayed: ``config.qat_schedule``), on the
    plain or the augmented images (``config.qat_augment``), with BatchNorm in training mode or
    frozen (``config.qat_batchnorm``), on the labels or distilled from ``config.teacher`` (:func:`_qat_targets`).
    The result is cached in ``ctx.cache``.

    Returns:
      The fine-tuned quantization-aware ``tf_keras`` model.
    """
    if "qat_model" in ctx.cache:
        return ctx.cache["qat_model"]
    import tensorflow_model_optimization as tfmot

    cfg, keras = ctx.config, ctx.keras
    keras.utils.set_random_seed(cfg.seed)
    frozen = [layer for layer in ctx.model.layers if isinstance(layer, keras.layers.BatchNormalization)
              and cfg.qat_batchnorm == "frozen"]
    try:  # inference-mode BatchNorm: statistics, scale and offset stay as trained (set before tfmot clones the model)
        for layer in frozen:
            layer.trainable = False
        qmodel = tfmot.quantization.keras.quantize_model(ctx.model)
    finally:
        for layer in frozen:
            layer.trainable = True
    x, y = ctx.train_x, ctx.train_y
    per_pass = len(x) if ctx.pass_images is None else min(ctx.pass_images, len(x))
    if cfg.qat_limit is not None:
        x, y = x[: cfg.qat_limit], y[: cfg.qat_limit]
        per_pass = len(x)
    loss, metric, y = _qat_targets(ctx, x, y)
    n_images = max(_QAT_BATCH, int(round(cfg.qat_epochs * per_pass)))
    steps = math.ceil(n_images / _QAT_BATCH)
    learning_rate = cfg.qat_learning_rate
    if cfg.qat_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.01)
    qmodel.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=[metric])
    start = time.perf_counter()
    if cfg.qat_augment:  # the training augmentation, batch by batch (seeded like a training run)
        from edgedigits.data import make_train_dataset

        ds, _ = make_train_dataset(x, y, batch_size=_QAT_BATCH, seed=cfg.seed, epochs=math.ceil(n_images / len(x)))
        if cfg.teacher:  # the teachers answer each augmented batch, as `edgedigits train --teacher-targets online`
            from edgedigits.train import targets

            ds = ds.map(targets.online_soft_targets(ctx.tf, keras, cfg.teacher, temperature=cfg.temperature,
                                                    not_a_digit_class=ctx.negative_target == "class", log=ctx.log))
        history = qmodel.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    else:
        rng = np.random.default_rng(cfg.seed)
        order = np.concatenate([rng.permutation(len(x)) for _ in range(math.ceil(n_images / len(x)))])[:n_images]
        history = qmodel.fit(plain_batches(ctx.tf, x, y, order), epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    ctx.notes["int8"] = {"qat_images": int(n_images), "qat_learning_rate": cfg.qat_learning_rate,
                         "qat_schedule": cfg.qat_schedule, "qat_augment": cfg.qat_augment, "qat_batchnorm": cfg.qat_batchnorm,
                         "qat_train_accuracy": round(float(history.history["accuracy"][-1]), 5),
                         "qat_seconds": round(seconds, 2)}
    if cfg.teacher:
        ctx.notes["int8"].update(qat_teacher=list(cfg.teacher), qat_distill_weight=cfg.distill_weight,
                                 qat_temperature=cfg.temperature)
    ctx.log(f"  QAT fine-tune: {n_images} training images in {seconds:.1f}s "
            f"(train accuracy {history.history['accuracy'][-1]:.4f})")
    ctx.cache["qat_model"] = qmodel
    return qmodel


def plain_batches(tf, x: np.ndarray, y: np.ndarray, order: np.ndarray):
    """The fine-tune's batches of ``_QAT_BATCH`` images in ``order`` (the last one partial), as a tf.data pipeline.

    Each batch is ``(x[i] / 255 as float32 with a channel axis, y[i])``, the same values as slicing the numpy array
    ``(x[order].astype(np.float32) / 255.0)[..., None]`` (a test checks), but gathered from the uint8 images batch by
    batch while the model trains: no float copy of every image drawn (776 MB for the default three passes; measured
    peak memory of the default fine-tune 3.3 GB -> 1.2 GB, the same weights and CPU seconds). Its wall time is the
    numpy feed's within the run-to-run spread (75.6-91.2 s quiet, RESULTS "The README's main command", thirteenth
    session; the twelfth session's 86 s -> 55 s did not reproduce).
    """
    images, targets = tf.constant(np.asarray(x, np.uint8)), tf.constant(np.asarray(y))
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(order, np.int64)).batch(_QAT_BATCH)
    return ds.map(lambda i: ((tf.cast(tf.gather(images, i), tf.float32) / 255.0)[..., None], tf.gather(targets, i)),
                  num_parallel_calls=1, deterministic=True).prefetch(2)


def _qat_targets(ctx, x, y):
    """The fine-tune's loss, metric and targets: training's own (one loss for both, :mod:`edgedigits.train.targets`).

    Plain labels for a digits-only run without a teacher; otherwise packed rows: a run that learnt "not a digit" keeps
    its non-digits (label 10) and their loss, or the fine-tune would erode that; with ``config.teacher`` the rows
    carry the teachers' soft targets (on the plain images ``x``, cached in the run folder; ``qat_augment`` replaces
    them batch by batch) and the loss weighs them by ``config.distill_weight`` at ``config.temperature``.
    """
    cfg = ctx.config
    if ctx.negative_weight is None and not cfg.teacher:
        return "sparse_categorical_crossentropy", "accuracy", y
    from edgedigits.train import targets

    eleven = ctx.negative_target == "class"  # the model's "not a digit" is the 11th class (the rest of the softmax)
    teacher = None
    if cfg.teacher and not cfg.qat_augment:
        teacher = targets.teacher_log_probs(ctx.keras, cfg.teacher, x, ctx.run_dir, log=ctx.log, not_a_digit_class=eleven)
    weight = cfg.distill_weight if cfg.teacher else 0.0
    loss = targets.packed_loss(ctx.tf, distill_weight=weight, temperature=cfg.temperature, not_a_digit_class=eleven)
    packed = targets.packed_targets(y, teacher_log_probs=teacher, temperature=cfg.temperature,
                                    negative_weight=1.0 if ctx.negative_weight is None else ctx.negative_weight,
                                    negative_target=ctx.negative_target or "uniform", not_a_digit_class=eleven)
    return loss, targets.accuracy, packed


def _converter(ctx, model):
    return _from_model(ctx.tf, model)


def _from_model(tf, model):
    """The TFLite converter of a Keras model. A "not a digit" model's output is its 11-way softmax without the last
    column: converted as that softmax sliced (one STRIDED_SLICE), not as Keras' Reshape-Crop-Reshape, whose run-time
    batch shape TFLite keeps as nine shape ops and their tensors (1.3 KB of a 15 KB model; same outputs)."""
    from edgedigits.train.trainer import NOT_A_DIGIT_LABEL, eleven_way_output

    probs = eleven_way_output(model)
    if probs is None:
        return tf.lite.TFLiteConverter.from_keras_model(model)
    head = model.__class__(model.inputs, probs)
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    digits = tf.function(lambda x: head(x, training=False)[:, :NOT_A_DIGIT_LABEL], input_signature=[spec])
    return tf.lite.TFLiteConverter.from_concrete_functions([digits.get_concrete_function()], _holding(tf, head))


def _holding(tf, model):
    """A plain ``tf.Module`` that owns ``model``'s variables: what the converter needs beside a concrete function.

    The converter writes the object it is given as a SavedModel first; given the Keras model itself, Keras traces every
    layer's call functions for that SavedModel (3-5 s of an int8 conversion here, none of it used); given this, the
    same function converts to the same bytes (checked by a test) in about 1 s.
    """
    holder = tf.Module()
    holder.model_variables = list(model.variables)
    return holder


def _full_integer(ctx, model) -> bytes:
    return full_integer(ctx.tf, model, ctx.calibration, per_channel=ctx.config.per_channel)


def full_integer(tf, model, calibration: np.ndarray, *, per_channel: bool = True) -> bytes:
    """Full-integer int8 TFLite bytes of a Keras ``model``: int8 input and output, builtin int8 ops only.

    The one int8 conversion of the project: export's int8 formats, the sequence reader's trainer and the
    architecture probe all call it, so they share the converter settings this module's docstring explains.

    Example::

        data = full_integer(tf, model, x_val[:500])   # x_val: float32 NHWC in [0, 1]

    Args:
      tf: the imported ``tensorflow`` module (heavy imports stay with the caller).
      model: a built Keras model (a QAT model too).
      calibration: float32 images in the model's input layout (NHWC, [0, 1]); one per representative step.
      per_channel: per-channel weight scales (the default); ``False`` for per-tensor.

    Returns:
      The ``.tflite`` bytes.
    """
    conv = _from_model(tf, model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(calibration)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel = not per_channel
    with warnings.catch_warnings():  # "Statistics for quantized inputs were expected": not with int8 input from float
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return _convert(conv)


def _convert(conv) -> bytes:
    """``conv.convert()`` without the converter's native prints ("fully_quantize: 0, ..."); failures still raise.

    The model's nonessential strings are then stripped (TensorFlow's ``flatbuffer_utils.strip_strings``: tensor and
    subgraph names, signature defs; metadata stays): 2.5 KB of a 15 KB model, which no interpreter here uses (the
    runtime addresses tensors by index), as TFLM's own tooling does for microcontrollers.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    with quiet_native_stderr(replay_on_error=False):
        data = conv.convert()
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    flatbuffer_utils.strip_strings(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _representative(images: np.ndarray):
    def generate():
        for i in range(len(images)):
            yield [images[i : i + 1]]

    return generate
