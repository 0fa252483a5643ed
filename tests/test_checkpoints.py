"""Checkpoints: kill-and-resume is exact, retention keeps last + best, config round-trips."""

import json
import os

import jax
import numpy as np
import pytest

from matting.models import dcnn
from matting.training import checkpoints, optim, sharding, steps


def batch_at(seed, step):
  """The training batch of `step`: a deterministic function of (seed, step)."""
  rng = np.random.default_rng([seed, step])
  return {"inputs": rng.random((4, 27, 27, 3), dtype=np.float32),
          "target": rng.random((4, 15, 15), dtype=np.float32)}


def _optimizer():
  cfg = optim.default_train_config()
  cfg.lr = 0.05  # Momentum SGD: the optimizer state matters for an exact resume.
  return optim.make_optimizer(cfg)


# One model, optimizer and placement for all states, so that train_step compiles once.
MODEL = dcnn.DCNN(num_remap_layers=1, remap_widths=(8,), first_width=8)
OPTIMIZER = _optimizer()


def fresh_state(init_seed):
  state = steps.create_train_state(jax.random.key(init_seed), MODEL, 3, OPTIMIZER)
  return sharding.replicate(state, sharding.make_mesh())


def train(state, until, seed=0):
  while int(state.step) < until:
    state, _ = steps.train_step(state, batch_at(seed, int(state.step)))
  return state


def ckpt_config(**overrides):
  cfg = checkpoints.default_checkpoint_config()
  cfg.update(overrides)
  return cfg


def test_kill_and_resume_is_exact(tmp_path):
  uninterrupted = jax.device_get(train(fresh_state(0), 6))

  manager = checkpoints.make_manager(tmp_path / "checkpoints", ckpt_config(every_steps=3))
  assert checkpoints.save(manager, train(fresh_state(0), 3))
  manager.close()
  del manager  # "Kill": resume as the training loop does, from a differently initialised state.
  manager, restored = checkpoints.resume(tmp_path, ckpt_config(every_steps=3), fresh_state(1))
  manager.close()
  assert int(restored.step) == 3
  resumed = jax.device_get(train(restored, 6))

  assert int(resumed.step) == int(uninterrupted.step) == 6
  jax.tree.map(np.testing.assert_array_equal, resumed.params, uninterrupted.params)
  jax.tree.map(np.testing.assert_array_equal, resumed.opt_state, uninterrupted.opt_state)
  # The restart really did depend on the checkpoint.
  assert not np.array_equal(jax.device_get(fresh_state(1).params)["params"]["remap_1"]["kernel"],
                            resumed.params["params"]["remap_1"]["kernel"])


def test_keeps_last_and_best_by_lowest_metric(tmp_path):
  manager = checkpoints.make_manager(
      tmp_path, ckpt_config(every_steps=2, keep_last=2, keep_best=1, best_metric="sad"))
  sad_at = {2: 5.0, 4: 1.0, 6: 3.0, 8: 4.0, 10: 6.0}
  state = fresh_state(0)
  saved = []
  for step in range(1, 12):
    state = train(state, step)
    metrics = {"sad": sad_at[step], "mse": 0.1} if step in sad_at else None
    if checkpoints.save(manager, state, metrics=metrics, force=step == 11):
      saved.append(step)
  assert saved == [1, 2, 4, 6, 8, 10, 11]  # Orbax also saves the first step it sees.
  assert manager.all_steps() == [4, 10, 11]  # The best (SAD 1.0) and the last two.
  assert manager.best_step() == 4 and manager.latest_step() == 11
  best = checkpoints.restore(manager, fresh_state(1), manager.best_step())
  expected = jax.device_get(train(fresh_state(0), 4))
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(best.params), expected.params)


def test_restore_without_checkpoint_raises(tmp_path):
  manager = checkpoints.make_manager(tmp_path / "empty", ckpt_config())
  with pytest.raises(FileNotFoundError, match="no checkpoint"):
    checkpoints.restore(manager, fresh_state(0))


def test_config_round_trips_beside_checkpoints(tmp_path):
  cfg = optim.default_train_config()
  cfg.lr = 0.25
  checkpoints.write_config(tmp_path, cfg)
  manager = checkpoints.make_manager(tmp_path, ckpt_config(every_steps=1))
  checkpoints.save(manager, train(fresh_state(0), 1))
  assert sorted(os.listdir(tmp_path)) == ["1", checkpoints.CONFIG_NAME]  # No temp files.
  back = checkpoints.read_config(tmp_path)
  assert back.to_dict() == json.loads(cfg.to_json())  # Tuples come back as lists.
  assert manager.all_steps() == [1]


def test_model_config_round_trips_to_the_same_model(tmp_path):
  cfg = dcnn.default_model_config()
  cfg.num_remap_layers, cfg.remap_widths = 2, (32, 16)
  checkpoints.write_config(tmp_path, cfg)
  assert dcnn.make_model(checkpoints.read_config(tmp_path)) == dcnn.make_model(cfg)
