"""The jitted, data-parallel train and eval steps, their optimizer and train state.

`train_step(state, batch) -> (state, metrics)` is pure; the state is donated. A batch is a
dict with `inputs` (B, 27, 27, C), `target` (B, 15, 15[, 1]) and optionally `weight`
(B,) or (B, 15, 15[, 1]). Data parallelism: a 1-D Mesh over all devices with axis 'data';
`shard_batch` splits a batch on its leading dimension, `replicate` copies the state, and
XLA inserts the gradient all-reduce, so the same code runs on one CPU or several GPUs.

Loss normalisation (§3.1 "Euclidean loss"): Caffe's EuclideanLoss is sum((y - t)^2) / (2B)
over a batch of B 15x15 targets; our 'l2' is the mean over all B*225 pixels. Caffe's loss
is therefore 225/2 = 112.5 times ours, and so is its gradient: plain or momentum SGD at
rate lr on Caffe's loss equals SGD at 112.5 * lr on ours. The paper's lr 1e-5 (§4.1) is
1.125e-3 here, the default.
"""

import functools

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state
from jax.sharding import Mesh, NamedSharding, PartitionSpec

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
      "optimizer": "sgd",
      "lr": 1e-5 * CAFFE_EUCLIDEAN_LR_FACTOR,
      "momentum": 0.9,
      "schedule": "constant",
      "warmup_steps": 0,
      "steps": 1_000_000,
      "batch_size": 128,
      "seed": 0,
  })


class TrainState(train_state.TrainState):
  """flax's TrainState (step, params, opt_state, apply_fn, tx) plus the loss name."""
  loss: str = flax.struct.field(pytree_node=False, default="l2")


def _check_choice(name, value, choices):
  if value not in choices:
    raise MattingInputError(f"--config.train.{name} must be one of {choices}, got {value!r}")


def make_schedule(train_cfg):
  """Learning rate per step: constant, cosine decay to 0, or linear warm-up then cosine."""
  _check_choice("schedule", train_cfg.schedule, SCHEDULES)
  if train_cfg.schedule == "constant":
    return optax.constant_schedule(train_cfg.lr)
  if train_cfg.schedule == "cosine":
    return optax.cosine_decay_schedule(train_cfg.lr, decay_steps=train_cfg.steps)
  return optax.warmup_cosine_decay_schedule(0.0, train_cfg.lr, train_cfg.warmup_steps,
                                            decay_steps=train_cfg.steps)


def make_optimizer(train_cfg):
  """optax SGD with momentum (the paper's) or Adam, on `make_schedule(train_cfg)`."""
  _check_choice("optimizer", train_cfg.optimizer, OPTIMIZERS)
  schedule = make_schedule(train_cfg)
  if train_cfg.optimizer == "sgd":
    return optax.sgd(schedule, momentum=train_cfg.momentum or None)
  return optax.adam(schedule)


def create_train_state(rng, model, input_channels, optimizer, loss="l2"):
  """Initialises `model` for `input_channels`-channel inputs; step 0."""
  _check_choice("loss", loss, LOSSES)
  size = 2 * model.margin + 1  # The smallest input with a 1x1 output.
  params = model.init(rng, jnp.zeros((1, size, size, input_channels), jnp.float32))
  state = TrainState.create(apply_fn=model.apply, params=params, tx=optimizer, loss=loss)
  # A strongly typed step, as a restored checkpoint has, so resuming does not recompile.
  return state.replace(step=jnp.zeros((), jnp.int32))


def _pixel_loss(loss, residual):
  if loss == "l2":
    return residual ** 2
  if loss == "l1":
    return jnp.abs(residual)
  return jnp.sqrt(residual ** 2 + CHARBONNIER_EPS ** 2)


def _weighted_mean(values, weight):
  if weight is None:
    return jnp.mean(values)
  weight = jnp.broadcast_to(weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim)),
                            values.shape)
  return jnp.sum(weight * values) / jnp.maximum(jnp.sum(weight), 1e-12)


def _loss_and_metrics(params, state, batch, train):
  inputs = jnp.asarray(batch["inputs"], jnp.float32)
  target = jnp.asarray(batch["target"], jnp.float32)
  prediction = state.apply_fn(params, inputs, train=train)[..., 0]
  residual = prediction - target.reshape(prediction.shape)
  weight = batch.get("weight")
  loss = _weighted_mean(_pixel_loss(state.loss, residual), weight)
  metrics = {"loss": loss, "mse": _weighted_mean(residual ** 2, weight),
             "mae": _weighted_mean(jnp.abs(residual), weight)}
  return loss, metrics


@functools.partial(jax.jit, donate_argnums=0)
def train_step(state, batch):
  """One optimizer step on `batch`; returns the new state and {loss, mse, mae, grad_norm}."""
  grads, metrics = jax.grad(_loss_and_metrics, has_aux=True)(state.params, state, batch, True)
  metrics["grad_norm"] = optax.tree.norm(grads)
  return state.apply_gradients(grads=grads), metrics


@jax.jit
def eval_step(state, batch):
  """{loss, mse, mae} of `state.params` on `batch` (inference formulation, no update)."""
  return _loss_and_metrics(state.params, state, batch, False)[1]


def make_mesh(devices=None):
  """A 1-D device mesh with axis 'data' over `devices` (default: all devices)."""
  return Mesh(np.asarray(devices if devices is not None else jax.devices()), ("data",))


def replicate(tree, mesh):
  """Places every array of `tree` in full on every device of `mesh`."""
  return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(batch, mesh):
  """Splits this process's batch over the mesh's 'data' axis (global batch across processes)."""
  sharding = NamedSharding(mesh, PartitionSpec("data"))
  num_shards = mesh.shape["data"] // jax.process_count()

  def put(array):
    array = np.asarray(array)
    if array.shape[0] % num_shards:
      raise ValueError(f"batch size {array.shape[0]} is not divisible by the "
                       f"{num_shards} local devices")
    return jax.make_array_from_process_local_data(sharding, array)

  return jax.tree.map(put, batch)


def maybe_initialize_distributed(coordinator_address=None, num_processes=None,
                                 process_id=None):
  """Calls jax.distributed.initialize for multi-process runs; returns whether it did."""
  if coordinator_address is None and num_processes in (None, 1):
    return False
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes, process_id=process_id)
  return True
