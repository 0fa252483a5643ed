"""Train-state checkpoints with orbax, the run's config beside them, and reading them back.

A checkpoint is saved every `every_steps` steps and when forced (at the end of training);
the last `keep_last` are kept, plus the `keep_best` with the lowest validation metric
(`best_metric`, SAD by default) among checkpoints saved with metrics. Orbax's own
`max_to_keep` + `best_fn` would keep only the best ones, hence the explicit policies.
Saves are synchronous: the model is tiny, and the train step donates the state's buffers.
"""

import contextlib
import json
import os

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

from matting.data.io import atomic_path
from matting.errors import MattingInputError
from matting.models import weights

CONFIG_NAME = "config.json"


def default_checkpoint_config():
  return ml_collections.ConfigDict({
      "every_steps": 1000,
      "keep_last": 3,
      "keep_best": 1,
      "best_metric": "sad",
  })


def make_manager(directory, ckpt_cfg):
  """An orbax CheckpointManager over `directory` with the policies of `ckpt_cfg`."""
  metric = ckpt_cfg.best_metric

  def best_fn(metrics):
    return metrics[metric]

  policy = checkpoint_managers.AnyPreservationPolicy([
      checkpoint_managers.LatestN(n=ckpt_cfg.keep_last),
      # reverse=True sorts descending, so the last (kept) n are the lowest.
      checkpoint_managers.BestN(get_metric_fn=best_fn, reverse=True, n=ckpt_cfg.keep_best,
                                keep_checkpoints_without_metrics=False),
  ])
  options = ocp.CheckpointManagerOptions(
      save_interval_steps=ckpt_cfg.every_steps, best_fn=best_fn, best_mode="min",
      preservation_policy=policy, enable_async_checkpointing=False, create=True)
  return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def _items(state):
  return {"step": state.step, "params": state.params, "opt_state": state.opt_state}


def save(manager, state, metrics=None, force=False):
  """Saves `state` at its step if due (or `force`); `metrics`: {name: scalar}. Returns saved?"""
  step = int(jax.device_get(state.step))
  if metrics is not None:
    metrics = {name: float(value) for name, value in metrics.items()}
  saved = manager.save(step, args=ocp.args.StandardSave(_items(state)), metrics=metrics,
                       force=force)
  manager.wait_until_finished()
  return saved


def restore(manager, state, step=None):
  """`state` with step, params and opt_state from checkpoint `step` (default: the latest).

  `state` supplies the structure, dtypes and shardings; use `manager.best_step()` for the
  best checkpoint by the validation metric.
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"{manager.directory}: no checkpoint to restore")
  items = manager.restore(step, args=ocp.args.StandardRestore(_items(state)))
  return state.replace(**items)


def write_config(directory, cfg):
  """Writes the experiment config as JSON beside the checkpoints, atomically."""
  with atomic_path(os.path.join(directory, CONFIG_NAME)) as tmp:
    with open(tmp, "w") as f:
      f.write(cfg.to_json_best_effort(indent=2, sort_keys=True) + "\n")


def read_config(directory):
  """The ConfigDict written by `write_config` (tuples come back as lists)."""
  with open(os.path.join(directory, CONFIG_NAME)) as f:
    return ml_collections.ConfigDict(json.load(f))


def run_dir_of(path):
  """The training work directory for `path`, which may name it or its checkpoints/ folder."""
  path = os.path.abspath(path)
  return os.path.dirname(path) if os.path.basename(path) == "checkpoints" else path


@contextlib.contextmanager
def open_run(run_dir):
  """(config, CheckpointManager) of a training work directory; the manager is closed after."""
  run_dir = run_dir_of(run_dir)
  if not os.path.exists(os.path.join(run_dir, CONFIG_NAME)):
    raise MattingInputError(f"{run_dir}: no {CONFIG_NAME}; expected a training work directory",
                            field="checkpoint")
  cfg = read_config(run_dir)
  manager = make_manager(os.path.join(run_dir, "checkpoints"), cfg.checkpoint)
  try:
    yield cfg, manager
  finally:
    manager.close()


def resolve_step(manager, which="best", run_dir=""):
  """The step of checkpoint `which`: 'best' (lowest validation metric, else the latest),
  'latest', or a step number that must have been saved."""
  steps = manager.all_steps()
  step = {"best": manager.best_step(), "latest": manager.latest_step()}.get(which, which)
  step = manager.latest_step() if step is None else int(step)
  if step not in steps:
    raise MattingInputError(f"{run_dir}: no checkpoint at step {which}; saved: {sorted(steps)}",
                            field="step")
  return step


def restore_params(run_dir, which="best"):
  """(params, config, step) of checkpoint `which` (see `resolve_step`) of a training run.

  Only the saved tree is read (no optimizer or model is built): the parameters come back as
  host arrays.
  """
  with open_run(run_dir) as (cfg, manager):
    step = resolve_step(manager, which, run_dir)
    items = manager.restore(step, args=ocp.args.StandardRestore())
  params = jax.tree.map(np.asarray, items["params"])
  return params, cfg, step


def export_weights(run_dir, out_path, which="best", command=""):
  """Writes checkpoint `which` of a training run as one weights file (models/weights.py).

  command: how the run was trained or exported, kept as provenance. Returns the step.
  """
  run_dir = run_dir_of(run_dir)
  params, cfg, step = restore_params(run_dir, which)
  provenance = {"run_dir": run_dir, "step": step, "which": str(which), "command": command}
  weights.save_weights(out_path, params, cfg, provenance)
  return step
