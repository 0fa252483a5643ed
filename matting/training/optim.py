"""Losses, learning-rate schedules and optimizers of the train step (paper §3.1, §4.1).

Loss normalisation (§3.1 "Euclidean loss"): Caffe's EuclideanLoss is sum((y - t)^2) / (2B)
over a batch of B 15x15 targets; our 'l2' is the mean over all B*225 pixels. Caffe's loss
is therefore 225/2 = 112.5 times ours, and so is its gradient: plain or momentum SGD at
rate lr on Caffe's loss equals SGD at 112.5 * lr on ours. The paper's lr 1e-5 (§4.1) is
1.125e-3 here, the default.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import optax

from matting.errors import MattingInputError

CAFFE_EUCLIDEAN_LR_FACTOR = 15 * 15 / 2
CHARBONNIER_EPS = 1e-3
LOSSES = ("l2", "l1", "charbonnier")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine", "warmup_cosine")


def default_train_config():
  """The paper's training (§4.1): SGD, momentum 0.9, batch 128, 1e6 iterations."""
  return ml_collections.ConfigDict({
      "loss": "l2",
      # Weight of the gradient term added to the pixel loss: the mean |difference| of
      # neighbouring residuals in x and y (the prediction's gradient minus the target's),
      # aimed at the Grad metric; 0 = the paper's loss alone.
      "grad_weight": 0.0,
      "optimizer": "sgd",
      "lr": 1e-5 * CAFFE_EUCLIDEAN_LR_FACTOR,
      "momentum": 0.9,
      "schedule": "constant",
      "warmup_steps": 0,
      "steps": 1_000_000,
      "batch_size": 128,
      "seed": 0,
      # Fine-tuning: start from these parameters (a weights file or a training work
      # directory's best checkpoint) instead of the random initialisation; '' = random.
      "init_from": "",
      # Train only these layers (e.g. ("gate",) over a trained network); () = all of them.
      "trainable": (),
  })


def check_choice(name, value, choices):
  """Raises naming the config field train.NAME unless `value` is one of `choices`."""
  if value not in choices:
    raise MattingInputError(f"must be one of {choices}, got {value!r}", field=f"train.{name}")


def make_schedule(train_cfg):
  """Learning rate per step: constant, cosine decay to 0, or linear warm-up then cosine."""
  check_choice("schedule", train_cfg.schedule, SCHEDULES)
  if train_cfg.schedule == "constant":
    return optax.constant_schedule(train_cfg.lr)
  if train_cfg.schedule == "cosine":
    return optax.cosine_decay_schedule(train_cfg.lr, decay_steps=train_cfg.steps)
  return optax.warmup_cosine_decay_schedule(0.0, train_cfg.lr, train_cfg.warmup_steps,
                                            decay_steps=train_cfg.steps)


def make_optimizer(train_cfg):
  """optax SGD with momentum (the paper's) or Adam, on `make_schedule(train_cfg)`; with
  `train.trainable`, only those layers are updated (the others' updates are zero)."""
  check_choice("optimizer", train_cfg.optimizer, OPTIMIZERS)
  schedule = make_schedule(train_cfg)
  if train_cfg.optimizer == "sgd":
    optimizer = optax.sgd(schedule, momentum=train_cfg.momentum or None)
  else:
    optimizer = optax.adam(schedule)
  trainable = tuple(train_cfg.get("trainable", ()))
  if not trainable:
    return optimizer
  return optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()},
                               functools.partial(_layer_labels, trainable))


def _layer_labels(trainable, params):
  """{'params': {layer: 'trained' | 'frozen' per leaf}}; an unknown layer name is an error
  naming train.trainable (raised when the optimizer is initialised, before any step)."""
  layers = params["params"]
  unknown = [name for name in trainable if name not in layers]
  if unknown:
    raise MattingInputError(f"no layer {', '.join(map(repr, unknown))} in this network (its "
                            f"layers: {', '.join(sorted(layers))})", field="train.trainable")
  return {"params": {name: jax.tree.map(lambda _, n=name: "trained" if n in trainable
                                        else "frozen", layer)
                     for name, layer in layers.items()}}


def pixel_loss(loss, residual):
  """Per-pixel loss of `residual` = prediction - target: l2, l1 or Charbonnier."""
  if loss == "l2":
    return residual ** 2
  if loss == "l1":
    return jnp.abs(residual)
  return jnp.sqrt(residual ** 2 + CHARBONNIER_EPS ** 2)


def gradient_loss(residual, weight):
  """Weighted mean |x and y difference| of the (B, H, W) residual; a pair of pixels weighs
  the product of its two per-pixel weights, so a pair that leaves the weighted region is out."""
  terms, weights = [], []
  for axis in (1, 2):
    terms.append(jnp.abs(jnp.diff(residual, axis=axis)))
    if weight is not None and weight.ndim > 1:
      w = weight.reshape(residual.shape)
      size = residual.shape[axis] - 1
      weights.append(jax.lax.slice_in_dim(w, 0, size, axis=axis)
                     * jax.lax.slice_in_dim(w, 1, size + 1, axis=axis))
    else:
      weights.append(weight)
  return sum(weighted_mean(t, w) for t, w in zip(terms, weights)) / 2


def weighted_mean(values, weight):
  """Mean of `values`, weighted per example or per pixel when `weight` is given."""
  if weight is None:
    return jnp.mean(values)
  weight = jnp.broadcast_to(weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim)),
                            values.shape)
  return jnp.sum(weight * values) / jnp.maximum(jnp.sum(weight), 1e-12)
