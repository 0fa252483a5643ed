"""Whole-image prediction from a trained checkpoint: classic mattes → input stack → DCNN."""

import os

import jax

from matting import checkpoints, classic, inputs, train_step
from matting.errors import MattingInputError
from matting.model import make_model, predict_alpha


def resolve_step(checkpoint_dir, which="best"):
  """(work dir, config, step) of checkpoint `which` in a training run.

  `checkpoint_dir`: the run's work directory or its checkpoints/ sub-directory. which: 'best'
  (lowest validation SAD, falling back to the latest), 'latest', or a step number.
  """
  workdir = os.path.abspath(checkpoint_dir)
  if os.path.basename(workdir) == "checkpoints":
    workdir = os.path.dirname(workdir)
  if not os.path.exists(os.path.join(workdir, checkpoints.CONFIG_NAME)):
    raise MattingInputError(f"--checkpoint {checkpoint_dir}: no {checkpoints.CONFIG_NAME}; "
                            "expected a training work directory")
  cfg = checkpoints.read_config(workdir)
  manager = checkpoints.make_manager(os.path.join(workdir, "checkpoints"), cfg.checkpoint)
  steps = manager.all_steps()
  step = {"best": manager.best_step(), "latest": manager.latest_step()}.get(which, which)
  step = manager.latest_step() if step is None else int(step)
  manager.close()
  if step not in steps:
    raise MattingInputError(f"--checkpoint {checkpoint_dir}: no checkpoint at step {which}; "
                            f"saved: {sorted(steps)}")
  return workdir, cfg, step


def load_trained(checkpoint_dir, which="best"):
  """(params, config) of checkpoint `which` (see `resolve_step`) of a training run."""
  workdir, cfg, step = resolve_step(checkpoint_dir, which)
  manager = checkpoints.make_manager(os.path.join(workdir, "checkpoints"), cfg.checkpoint)
  state = train_step.create_train_state(
      jax.random.key(0), make_model(cfg.model), inputs.num_channels(cfg.inputs.combination),
      train_step.make_optimizer(cfg.train), cfg.train.loss)
  state = checkpoints.restore(manager, state, step)
  manager.close()
  return jax.device_get(state.params), cfg


def load_model(path, which=None):
  """(params, config) from a training work directory (checkpoint `which`, default 'best') or
  a weights file written by `matting export`."""
  from matting import pretrained
  if os.path.isdir(path):
    return load_trained(path, "best" if which is None else which)
  if which is not None:
    raise MattingInputError(f"--step: applies to a training work directory, not to {path}")
  if not os.path.exists(path):
    raise MattingInputError(f"--checkpoint {path}: no such file or directory")
  return pretrained.load_params(path)


def predict_image(params, cfg, image, trimap, keep_known=True):
  """Alpha (H, W) for one image: computes the classic mattes the model's inputs need."""
  combination = cfg.inputs.combination
  mattes = classic.classic_alphas(inputs.classic_methods(combination), image, trimap)
  stack = inputs.input_stack(image, trimap, mattes, combination)
  return predict_alpha(params, cfg.model, stack, keep_known=trimap if keep_known else None)
