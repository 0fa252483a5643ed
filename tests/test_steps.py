"""Train/eval steps: losses, the Caffe lr equivalence, optimizers, data parallelism, learning."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from matting.errors import MattingInputError
from matting.models import dcnn
from matting.training import optim, sharding, steps

REPO = pathlib.Path(__file__).resolve().parents[1]


def tiny_model():
  return dcnn.DCNN(num_remap_layers=1, remap_widths=(16,), first_width=16)


def random_batch(seed, size=8, channels=3):
  rng = np.random.default_rng(seed)
  return {"inputs": rng.random((size, 27, 27, channels), dtype=np.float32),
          "target": rng.random((size, 15, 15), dtype=np.float32)}


def make_state(loss="l2", **train_overrides):
  cfg = optim.default_train_config()
  cfg.update(train_overrides)
  return steps.create_train_state(jax.random.key(0), tiny_model(), 3, optim.make_optimizer(cfg),
                               loss=loss)


def copy_tree(tree):
  return jax.tree.map(lambda a: np.array(a, copy=True), tree)


def test_default_config_is_the_papers():
  cfg = optim.default_train_config()
  assert (cfg.optimizer, cfg.momentum, cfg.batch_size, cfg.loss) == ("sgd", 0.9, 128, "l2")
  assert cfg.lr == pytest.approx(1e-5 * 15 * 15 / 2)


def test_l2_gradient_is_caffe_euclidean_over_lr_factor():
  """Caffe's sum/(2B) loss has 112.5 times our per-pixel mean's gradient (module docstring)."""
  state = make_state()
  batch = random_batch(0)

  def caffe_euclidean(params):
    prediction = state.apply_fn(params, jnp.asarray(batch["inputs"]))[..., 0]
    return jnp.sum((prediction - batch["target"]) ** 2) / (2 * len(batch["target"]))

  ours = jax.grad(lambda p: steps.eval_step(state.replace(params=p), batch)["loss"])(state.params)
  caffe = jax.jit(jax.grad(caffe_euclidean))(state.params)
  jax.tree.map(lambda c, o: np.testing.assert_allclose(
      c, optim.CAFFE_EUCLIDEAN_LR_FACTOR * o, rtol=1e-4, atol=1e-6 * np.abs(c).max()), caffe, ours)


@pytest.mark.parametrize("loss,pixel_loss", [
    ("l2", lambda r: r ** 2), ("l1", np.abs),
    ("charbonnier", lambda r: np.sqrt(r ** 2 + 1e-6))])
def test_losses_and_metrics(loss, pixel_loss):
  state = make_state(loss)
  batch = random_batch(1)
  prediction = np.asarray(state.apply_fn(state.params, jnp.asarray(batch["inputs"])))[..., 0]
  residual = prediction.astype(np.float64) - batch["target"]
  metrics = steps.eval_step(state, batch)
  np.testing.assert_allclose(metrics["loss"], pixel_loss(residual).mean(), rtol=1e-5)
  np.testing.assert_allclose(metrics["mse"], (residual ** 2).mean(), rtol=1e-5)
  np.testing.assert_allclose(metrics["mae"], np.abs(residual).mean(), rtol=1e-5)


def test_target_with_channel_axis_and_weights():
  state = make_state()
  batch = random_batch(2)
  metrics = steps.eval_step(state, batch)
  with_axis = steps.eval_step(state, dict(batch, target=batch["target"][..., None]))
  np.testing.assert_allclose(with_axis["loss"], metrics["loss"], rtol=1e-6)
  first_half = {k: v[:4] for k, v in batch.items()}
  per_example = np.repeat([1.0, 0.0], 4).astype(np.float32)
  per_pixel = np.broadcast_to(per_example[:, None, None], (8, 15, 15))
  expected = steps.eval_step(state, first_half)["loss"]
  for weight in (per_example, per_pixel):
    weighted = steps.eval_step(state, dict(batch, weight=weight))["loss"]
    np.testing.assert_allclose(weighted, expected, rtol=1e-5)
    assert abs(weighted - metrics["loss"]) > 1e-4


def _numpy_gradient_loss(residual, weight):
  """The gradient term written out: per-pair weights are the product of the two pixels'."""
  total = 0.0
  for axis in (1, 2):
    diff = np.abs(np.diff(residual, axis=axis))
    n = residual.shape[axis] - 1
    pair = np.take(weight, range(n), axis=axis) * np.take(weight, range(1, n + 1), axis=axis)
    total += (pair * diff).sum() / pair.sum()
  return total / 2


def test_gradient_term_adds_weighted_neighbour_differences():
  batch = random_batch(4)
  plain = make_state()
  with_grad = plain.replace(grad_weight=0.5)
  prediction = np.asarray(plain.apply_fn(plain.params, jnp.asarray(batch["inputs"])))[..., 0]
  residual = prediction.astype(np.float64) - batch["target"]
  weight = np.random.default_rng(5).random((8, 15, 15)).astype(np.float32)
  weight[:, :, :7] = 0.0  # Pairs across the weighted region's edge count for nothing.
  for w in (None, weight):
    kwargs = {} if w is None else {"weight": w}
    w64 = np.ones_like(residual) if w is None else w.astype(np.float64)
    base = steps.eval_step(plain, dict(batch, **kwargs))["loss"]
    total = steps.eval_step(with_grad, dict(batch, **kwargs))["loss"]
    np.testing.assert_allclose(total - base, 0.5 * _numpy_gradient_loss(residual, w64),
                               rtol=1e-4)
  # A residual constant over each patch has no gradient term.
  flat = dict(batch, target=prediction - np.float32(0.1))
  np.testing.assert_allclose(steps.eval_step(with_grad, flat)["loss"],
                             steps.eval_step(plain, flat)["loss"], rtol=1e-5)


def test_train_step_is_one_sgd_momentum_step():
  state = make_state(lr=0.01)
  batch = random_batch(3)
  params = copy_tree(state.params)
  grads = jax.grad(lambda p: steps.eval_step(state.replace(params=p), batch)["loss"])(
      state.params)
  grads = copy_tree(grads)
  new_state, metrics = steps.train_step(state, batch)
  assert int(new_state.step) == 1
  # First momentum step: the trace is the gradient itself.
  jax.tree.map(lambda new, old, g: np.testing.assert_allclose(new, old - 0.01 * g, rtol=1e-5,
                                                              atol=1e-7),
               new_state.params, params, grads)
  assert set(metrics) == {"loss", "mse", "mae", "grad_norm"}
  np.testing.assert_allclose(
      metrics["grad_norm"], np.sqrt(sum(np.sum(g ** 2) for g in jax.tree.leaves(grads))),
      rtol=1e-4)


def test_schedules():
  def lr_at(schedule, step):
    cfg = optim.default_train_config()
    cfg.update(lr=0.1, schedule=schedule, warmup_steps=10, steps=100)
    return float(optim.make_schedule(cfg)(step))

  assert lr_at("constant", 0) == lr_at("constant", 100) == pytest.approx(0.1)
  assert lr_at("cosine", 0) == pytest.approx(0.1)
  assert lr_at("cosine", 50) == pytest.approx(0.05)
  assert lr_at("cosine", 100) == pytest.approx(0.0, abs=1e-9)
  assert lr_at("warmup_cosine", 0) == pytest.approx(0.0)
  assert lr_at("warmup_cosine", 5) == pytest.approx(0.05)
  assert lr_at("warmup_cosine", 10) == pytest.approx(0.1)
  assert lr_at("warmup_cosine", 100) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("field,value", [
    ("schedule", "step"), ("optimizer", "lamb")])
def test_bad_choices_raise(field, value):
  cfg = optim.default_train_config()
  cfg[field] = value
  with pytest.raises(MattingInputError, match=repr(value)) as error:
    optim.make_optimizer(cfg)
  assert error.value.field == f"train.{field}"


def test_bad_loss_raises():
  with pytest.raises(MattingInputError, match="huber") as error:
    make_state(loss="huber")
  assert error.value.field == "train.loss"


def test_adam_trains_too():
  state = make_state(optimizer="adam", lr=1e-3)
  batch = random_batch(4)
  params = copy_tree(state.params)
  state, _ = steps.train_step(state, batch)
  changes = jax.tree.map(lambda new, old: np.abs(new - old).max(), state.params, params)
  # Adam's first step moves every weight with a non-zero gradient by about lr.
  assert 0.5e-3 < changes["params"]["structure"]["kernel"] <= 1.01e-3


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_trainable_layers_alone_are_updated(optimizer):
  """train.trainable=('gate',) over a gated network: the gate moves, every other layer stays
  bit-identical; an unknown layer name is an error naming the field before any step."""
  cfg = optim.default_train_config()
  cfg.update(optimizer=optimizer, lr=1e-2, trainable=("gate",))
  model = dcnn.DCNN(num_remap_layers=1, remap_widths=(16,), first_width=16, gated=True)
  state = steps.create_train_state(jax.random.key(0), model, 5, optim.make_optimizer(cfg))
  params = copy_tree(state.params)
  for seed in range(2):
    state, _ = steps.train_step(state, random_batch(seed, channels=5))
  for name, layer in params["params"].items():
    moved = max(float(np.abs(state.params["params"][name][leaf] - layer[leaf]).max())
                for leaf in layer)
    assert (moved > 0) == (name == "gate"), name
  cfg.trainable = ("gate", "remap_9")
  with pytest.raises(MattingInputError, match="remap_9") as error:
    steps.create_train_state(jax.random.key(0), model, 5, optim.make_optimizer(cfg))
  assert error.value.field == "train.trainable"


def smooth_task_batch(seed, size):
  """Inputs are random mattes; the target is a fixed clipped blend of two channels."""
  inputs = np.random.default_rng(seed).random((size, 27, 27, 3), dtype=np.float32)
  target = np.clip(0.8 * inputs[..., 1] + 0.5 * inputs[..., 2] - 0.15, 0.0, 1.0)
  return {"inputs": inputs, "target": target[:, 6:21, 6:21]}


def test_tiny_model_learns_a_smooth_regression():
  cfg = optim.default_train_config()
  cfg.update(optimizer="adam", lr=1e-2, schedule="warmup_cosine", warmup_steps=10, steps=120)
  state = steps.create_train_state(jax.random.key(0), tiny_model(), 3, optim.make_optimizer(cfg))
  validation = smooth_task_batch(10_000, 64)
  initial = float(steps.eval_step(state, validation)["mse"])
  for step in range(cfg.steps):
    state, _ = steps.train_step(state, smooth_task_batch(step, 32))
  final = float(steps.eval_step(state, validation)["mse"])
  assert final < 0.15 * initial, (initial, final)  # Measured: 0.057.


def test_single_device_sharding_helpers():
  mesh = sharding.make_mesh()
  assert mesh.axis_names == ("data",) and mesh.size == jax.device_count()
  batch = sharding.shard_batch(random_batch(5), mesh)
  assert batch["inputs"].sharding.spec == jax.sharding.PartitionSpec("data")
  state = sharding.replicate(make_state(), mesh)
  assert state.params["params"]["structure"]["kernel"].sharding.is_fully_replicated
  state, metrics = steps.train_step(state, batch)
  assert np.isfinite(float(metrics["loss"]))


def test_distributed_is_not_initialised_unless_asked():
  assert sharding.maybe_initialize_distributed() is False
  assert sharding.maybe_initialize_distributed(num_processes=1) is False


@pytest.mark.parametrize("before, after", [
    ("", "--xla_gpu_deterministic_ops=true"),
    ("--xla_dump_to=/tmp/x", "--xla_dump_to=/tmp/x --xla_gpu_deterministic_ops=true"),
    ("--xla_gpu_deterministic_ops=false", "--xla_gpu_deterministic_ops=false"),
])
def test_deterministic_gpu_adds_its_flag_unless_the_user_set_it(monkeypatch, before, after):
  from jax._src import xla_bridge
  monkeypatch.setenv("XLA_FLAGS", before)
  monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: False)
  sharding.deterministic_gpu()
  sharding.deterministic_gpu()  # Idempotent.
  assert os.environ["XLA_FLAGS"] == after


def test_xla_flags_after_the_backend_started_are_an_error(monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "")
  jax.devices()  # The backend is running in this process.
  with pytest.raises(RuntimeError, match="xla_gpu_deterministic_ops"):
    sharding.deterministic_gpu()
  assert os.environ["XLA_FLAGS"] == ""


TWO_DEVICE_SCRIPT = """
import json
import jax
import numpy as np

from matting.models import dcnn
from matting.training import optim, sharding, steps

cfg = optim.default_train_config()
cfg.lr = 0.05
model = dcnn.DCNN(num_remap_layers=1, remap_widths=(8,), first_width=8)
rng = np.random.default_rng(0)
batches = [{"inputs": rng.random((8, 27, 27, 3), dtype=np.float32),
            "target": rng.random((8, 15, 15), dtype=np.float32)} for _ in range(3)]
params, losses, shards = [], [], []
for devices in (jax.devices()[:1], jax.devices()):
  mesh = sharding.make_mesh(devices)
  state = steps.create_train_state(jax.random.key(0), model, 3, optim.make_optimizer(cfg))
  state = sharding.replicate(state, mesh)
  for batch in batches:
    batch = sharding.shard_batch(batch, mesh)
    state, metrics = steps.train_step(state, batch)
  shards.append(len(batch["inputs"].addressable_shards))
  params.append(jax.tree.leaves(jax.device_get(state.params)))
  losses.append(float(metrics["loss"]))
try:
  sharding.shard_batch({"inputs": np.zeros((3, 27, 27, 3), np.float32)}, mesh)
  indivisible_raises = False
except ValueError:
  indivisible_raises = True
print(json.dumps({
    "devices": jax.device_count(), "shards": shards, "losses": losses,
    "indivisible_raises": indivisible_raises,
    "max_param_diff": max(float(np.abs(a - b).max()) for a, b in zip(*params)),
    "max_param": max(float(np.abs(a).max()) for a in params[0])}))
"""


@pytest.mark.slow
def test_two_devices_match_one_device():
  """Data parallelism over 2 (forced host) devices gives the 1-device result."""
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
  result = subprocess.run([sys.executable, "-c", TWO_DEVICE_SCRIPT], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out["devices"] == 2 and out["shards"] == [1, 2]
  assert out["indivisible_raises"]
  assert out["max_param_diff"] <= 1e-5 * out["max_param"]
  np.testing.assert_allclose(out["losses"][1], out["losses"][0], rtol=1e-5)
