"""The jitted train and eval steps and the train state.

`train_step(state, batch) -> (state, metrics)` is pure; the state is donated. A batch is a
dict with `inputs` (B, 27, 27, C), `target` (B, 15, 15[, 1]) and optionally `weight`
(B,) or (B, 15, 15[, 1]). Losses and optimizers: training/optim.py; sharding over devices and
hosts: training/sharding.py.
"""

import functools

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from matting.training import optim


class TrainState(train_state.TrainState):
  """flax's TrainState (step, params, opt_state, apply_fn, tx) plus the loss's name and
  gradient-term weight (train.loss, train.grad_weight)."""
  loss: str = flax.struct.field(pytree_node=False, default="l2")
  grad_weight: float = flax.struct.field(pytree_node=False, default=0.0)


def create_train_state(rng, model, input_channels, optimizer, loss="l2", grad_weight=0.0):
  """Initialises `model` for `input_channels`-channel inputs; step 0."""
  optim.check_choice("loss", loss, optim.LOSSES)
  size = 2 * model.margin + 1  # The smallest input with a 1x1 output.
  params = model.init(rng, jnp.zeros((1, size, size, input_channels), jnp.float32))
  state = TrainState.create(apply_fn=model.apply, params=params, tx=optimizer, loss=loss,
                            grad_weight=float(grad_weight))
  # A strongly typed step, as a restored checkpoint has, so resuming does not recompile.
  return state.replace(step=jnp.zeros((), jnp.int32))


def _loss_and_metrics(params, state, batch, train):
  inputs = jnp.asarray(batch["inputs"], jnp.float32)
  target = jnp.asarray(batch["target"], jnp.float32)
  prediction = state.apply_fn(params, inputs, train=train)[..., 0]
  residual = prediction - target.reshape(prediction.shape)
  weight = batch.get("weight")
  loss = optim.weighted_mean(optim.pixel_loss(state.loss, residual), weight)
  if state.grad_weight:
    loss = loss + state.grad_weight * optim.gradient_loss(residual, weight)
  metrics = {"loss": loss, "mse": optim.weighted_mean(residual ** 2, weight),
             "mae": optim.weighted_mean(jnp.abs(residual), weight)}
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
