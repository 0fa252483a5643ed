"""The training loop: patches → jitted train steps → validation → orbax checkpoints.

`train_and_evaluate(cfg, workdir)` resumes from the latest checkpoint in `workdir`, draws
batch `t` from a generator seeded by (seed, t) so a resumed run sees exactly the batches an
uninterrupted one would, and at every checkpoint scores whole validation images with the
same metric code as the classic baselines (the best checkpoint is kept by mean SAD).
"""

import json
import os
import time

import jax
import numpy as np
from absl import logging

from matting.console import Progress
from matting.data import io, splits
from matting.evaluators import scoring
from matting.inputs import training_set
from matting.inputs.stacks import num_channels
from matting.models.dcnn import make_model
from matting.training import checkpoints, config_checks, optim, sharding, steps

HISTORY = "history.json"
RESULT = "result.json"
# Where processes other than 0 send their progress bar.
_NULL_STREAM = open(os.devnull, "w")  # pylint: disable=consider-using-with


def batch_index(seed, step, num_patches, batch_size):
  """Patch indices of global training batch `step`: a deterministic function of (seed, step)."""
  rng = np.random.default_rng([seed, step])
  return np.sort(rng.integers(0, num_patches, batch_size))


def batch_at(patch_set, seed, step, batch_size, rows=slice(None)):
  """Training batch `step` (its `rows` of the global batch of `batch_size`), the same draw
  on every process and for any number of processes."""
  index = batch_index(seed, step, len(patch_set["targets"]), batch_size)[rows]
  return {"inputs": patch_set["inputs"][index].astype(np.float32),
          "target": patch_set["targets"][index]}


def process_batch(patch_set, seed, step, batch_size, mesh):
  """Global batch `step` as one array over the mesh, each process feeding only its rows
  (sharding.process_rows), so P processes train exactly as one would on the whole batch."""
  rows = sharding.process_rows(mesh, batch_size)
  return sharding.shard_batch(batch_at(patch_set, seed, step, batch_size, rows), mesh)


def patch_loss(state, patch_set, batch_size, mesh):
  """Mean eval metrics over a patch set (full batches; the remainder is dropped)."""
  n = len(patch_set["target"]) // batch_size * batch_size
  rows = sharding.process_rows(mesh, batch_size)
  totals = []
  for start in range(0, n, batch_size):
    batch = {k: np.asarray(v[start:start + batch_size][rows], np.float32)
             for k, v in patch_set.items()}
    totals.append(sharding.local_copy(steps.eval_step(state, sharding.shard_batch(batch, mesh))))
  return {k: float(np.mean([t[k] for t in totals])) for k in totals[0]} if totals else {}


def validate(state, cfg, val_data, mesh):
  """{set: {val_loss, sad, mse, grad, conn, seconds}} plus the mean SAD over sets as 'sad'.

  Every process computes the patch loss (a sharded computation); only process 0 scores the
  whole images, and broadcasts the mean SAD so every process saves the same checkpoint
  metrics (the others return {'sad': ...} alone).
  """
  params = sharding.local_copy(state.params)
  main = sharding.is_main_process()
  out = {}
  for name, val in val_data.items():
    loss = patch_loss(state, val["patches"], cfg.train.batch_size, mesh)
    if main:
      alphas, seconds = scoring.predict_stacks(params, cfg.model, val["stacks"],
                                               warm_up=False)
      rows = scoring.score_alphas(name, "dcnn", val["examples"], alphas, seconds)
      means = scoring.summarize(rows)[0]
      out[name] = {"val_loss": loss.get("loss", float("nan")),
                   **{k: means[k] for k in scoring.VALUE_KEYS}}
  sad = float(np.mean([v["sad"] for v in out.values()])) if main else 0.0
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    sad = float(multihost_utils.broadcast_one_to_all(np.float64(sad)))
  out["sad"] = sad
  return out


def _load_history(workdir, step):
  path = os.path.join(workdir, HISTORY)
  if not os.path.exists(path):
    return {"train": [], "val": []}
  with open(path) as f:
    history = json.load(f)
  return {k: [h for h in v if h["step"] <= step] for k, v in history.items()}


def train_and_evaluate(cfg, workdir, cache_dir):
  """Trains (or resumes) one configuration; returns the final validation results."""
  # Bad data paths and config values raise here, before anything is written.
  config_checks.check_config(cfg)
  train_examples, val_sets = splits.split_examples(cfg.data)
  mesh = sharding.make_mesh()
  model = make_model(cfg.model)
  state = steps.create_train_state(
      jax.random.key(cfg.seed), model, num_channels(cfg.inputs.combination),
      optim.make_optimizer(cfg.train), cfg.train.loss, cfg.train.get("grad_weight", 0.0))
  if cfg.train.get("init_from"):  # Fine-tuning; a resumed run's checkpoint overrides it.
    state = state.replace(params=checkpoints.initial_params(
        cfg.train.init_from, state.params, cfg.inputs.combination))
  main = sharding.is_main_process()  # Writes the config, history, result and progress.
  os.makedirs(workdir, exist_ok=True)
  if main:
    checkpoints.write_config(workdir, cfg)
  patch_set = training_set.train_patches(cfg, train_examples, cache_dir)
  val_data = training_set.validation_data(cfg, val_sets, cache_dir)

  # Resumes from the newest intact checkpoint; damaged newer ones are moved aside.
  manager, state = checkpoints.resume(workdir, cfg.checkpoint, state)
  if manager.latest_step() is not None:
    logging.info("resumed from step %d", int(state.step))
  state = sharding.replicate(state, mesh)
  start_step = int(sharding.local_copy(state.step))
  history = _load_history(workdir, start_step)

  num_steps, every = cfg.train.steps, cfg.checkpoint.every_steps
  meter = Progress(num_steps, f"train {os.path.basename(os.path.normpath(workdir))}",
                   stream=None if main else _NULL_STREAM)
  tic, window = time.perf_counter(), []
  for step in range(start_step, num_steps):
    batch = process_batch(patch_set, cfg.seed, step, cfg.train.batch_size, mesh)
    state, metrics = steps.train_step(state, batch)
    window.append(metrics)
    done = step + 1
    if done % cfg.train.log_every == 0 or done == num_steps:
      means = {k: float(np.mean([sharding.local_copy(m[k]) for m in window]))
               for k in window[0]}
      history["train"].append({"step": done, **means})
      rate = len(window) / (time.perf_counter() - tic)
      meter.update(done, f"loss {means['loss']:.5f}  {rate:.1f} steps/s")
      tic, window = time.perf_counter(), []
    if done % every == 0 or done == num_steps:
      val = validate(state, cfg, val_data, mesh)
      history["val"].append({"step": done, **val})
      checkpoints.save(manager, state, {"sad": val["sad"]}, force=done == num_steps)
      if main:
        io.write_json(os.path.join(workdir, HISTORY), history)
      logging.info("step %d validation: %s", done, "; ".join(
          f"{name} SAD {v['sad']:.4g} MSE {v['mse']:.4g} loss {v['val_loss']:.4g}"
          for name, v in val.items() if name != "sad"))
      tic = time.perf_counter()

  best_step = manager.best_step()
  final = history["val"][-1] if history["val"] else {}
  result = {"final_step": num_steps, "best_step": best_step, "final": final,
            "best": next((h for h in history["val"] if h["step"] == best_step), final),
            "train_patches": int(len(patch_set["targets"])),
            "cluster_counts": patch_set["counts"].tolist()}
  if main:
    io.write_json(os.path.join(workdir, RESULT), result)
  meter.close()
  manager.close()
  return result
