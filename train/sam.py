"""Sharpness-aware minimisation (SAM, Foret et al. 2021) in the last epochs of a run (``edgedigits train --sam RHO``).

A SAM step takes the loss's gradient ``g`` at the weights, moves them uphill by ``rho * g / ||g||`` (the whole
model's gradient norm), takes the gradient there, moves the weights back, and lets the optimizer apply that second
gradient: it prefers minima whose neighbourhood is flat. Each SAM step costs two forward and backward passes; Zhou et
al. ("SAM efficiently selects flatter minima late in training") found most of the gain when SAM runs only at the end,
so ``--sam-epochs N`` limits it to the last N epochs (plain steps before, counted on the optimizer's step, so a
resumed run switches at the same step).

The model stays a plain Keras model: :func:`use_sam` gives the model *instance* its own ``train_step`` (nothing of
it is saved), so ``model.keras`` and the checkpoints load in export, bench and ``--resume`` as any other run's; a
resumed run sets it again. Packed targets (non-digits, label smoothing, distillation) work unchanged: the second
pass uses the compiled loss function on the same targets.

BatchNorm: both passes run in training mode, so each normalises with the statistics of the same batch (the second
at the perturbed weights), as in the SAM paper. The moving mean and variance are updated by the first pass only: the
second is traced with each layer's momentum at 1, whose update leaves them exactly as they were. Dropout draws a
fresh mask in the second pass. The loss and accuracy in the history are the first pass's (at the unperturbed weights).

Example:

>>> from edgedigits.train import TrainConfig, train
>>> train(TrainConfig(sam=0.05, sam_epochs=5, out="runs/edge-sam"))   # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["plain_epochs", "sam_start_step", "sam_gradients", "use_sam"]

_NORM_FLOOR = 1e-12  # a zero gradient moves nothing (instead of dividing by zero)


def plain_epochs(epochs: int, sam_epochs: int) -> int:
    """How many epochs train plainly before SAM takes over for the last ``sam_epochs`` (0: SAM from the start)."""
    return max(0, epochs - sam_epochs)


def sam_start_step(epochs: int, sam_epochs: int, steps_per_epoch: int) -> int:
    """The optimizer step at which SAM starts: the first step of the last ``sam_epochs`` epochs (0 when
    ``sam_epochs >= epochs``: SAM from the start)."""
    return steps_per_epoch * plain_epochs(epochs, sam_epochs)


def sam_gradients(tf, keras, model, loss_fn, x, y, grads, *, rho: float, sample_weight=None) -> list:
    """The SAM gradient of one batch, given the plain gradient ``grads`` at the current weights.

    The trainable weights are moved by ``rho * grads / ||grads||``, the loss and its gradient are computed there
    (BatchNorm in training mode, its moving statistics left unchanged), and the weights are moved back exactly.

    Args:
      tf: the ``tensorflow`` module.
      keras: the ``tf_keras`` module.
      model: the Keras model (its ``trainable_variables`` match ``grads``).
      loss_fn: per-image loss ``loss_fn(y_true, y_pred) -> (N,)`` (the compiled loss function).
      x: the batch's images.
      y: the batch's targets (labels or packed rows).
      grads: the plain gradient, one tensor per trainable variable.
      rho: radius of the perturbation (> 0).
      sample_weight: optional per-image weights (as Keras' mean over the batch).

    Returns:
      One gradient tensor per trainable variable.
    """
    variables = model.trainable_variables
    scale = float(rho) / (tf.linalg.global_norm(grads) + _NORM_FLOOR)
    moves = [g * scale for g in grads]
    for var, move in zip(variables, moves):
        var.assign_add(move)
    layers = [m for m in model.submodules if isinstance(m, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    try:
        for layer in layers:  # read when the pass is traced: the second pass's update keeps the moving statistics
            layer.momentum = 1.0
        with tf.GradientTape() as tape:
            per_image = loss_fn(y, model(x, training=True))
            if sample_weight is not None:
                per_image = per_image * tf.cast(tf.reshape(sample_weight, tf.shape(per_image)), per_image.dtype)
            loss = tf.reduce_mean(per_image)
            if model.losses:
                loss = loss + tf.add_n(model.losses)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    sharp = tape.gradient(loss, variables)
    for var, move in zip(variables, moves):
        var.assign_sub(move)
    return sharp


def use_sam(tf, keras, model, *, rho: float, start_step: int = 0) -> None:
    """Make ``model.fit`` take SAM steps from the optimizer's step ``start_step`` on (plain steps before).

    Sets ``train_step`` on this model instance only (the model's class, config and saved files are unchanged); call
    it after ``compile`` (it needs the optimizer and the loss) and again after loading a checkpoint.

    Args:
      tf: the ``tensorflow`` module.
      keras: the ``tf_keras`` module.
      model: a compiled model.
      rho: radius of the perturbation (> 0).
      start_step: first optimizer step (0-based) that uses SAM.

    Raises:
      ValueError: the model is not compiled with a loss.
    """
    if not getattr(model, "optimizer", None) or not getattr(model, "loss", None):
        raise ValueError("use_sam needs a model compiled with an optimizer and a loss")
    loss_fn = keras.losses.get(model.loss)
    start = int(start_step)

    def train_step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x, y, y_pred, sample_weight)  # also the history's loss (unperturbed weights)
        grads = tape.gradient(loss, variables)
        grads = tf.cond(model.optimizer.iterations >= start,
                        lambda: sam_gradients(tf, keras, model, loss_fn, x, y, grads, rho=rho, sample_weight=sample_weight),
                        lambda: grads)
        model.optimizer.apply_gradients(zip(grads, variables))
        return model.compute_metrics(x, y, y_pred, sample_weight)

    model.train_step = train_step
    model.train_function = None  # built again with this step by the next fit
