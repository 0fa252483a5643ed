"""Scoring trained DCNN runs and the classic baselines on validation sets, with figures.

Classic mattes come from the offline cache (the training runs already computed them for the
validation images), so evaluating many checkpoints costs one forward pass per image each.
"""

import json
import os
import time

import numpy as np

from matting import cache, checkpoints, train_data
from matting.inputs import extra_channels
from matting.metrics import compute_metrics
from matting.model import predict_alpha
from matting.predict import load_model

BASELINES = ("cf", "knn")


def find_runs(paths):
  """Training work directories (config.json + checkpoints/) at or under each path, and each
  path that is itself a weights file (from `matting export`), in the order given."""
  runs = []
  for path in paths:
    if os.path.isfile(path):
      runs.append(os.path.normpath(path))
      continue
    for root, dirs, files in os.walk(path):
      dirs.sort()
      if checkpoints.CONFIG_NAME in files and "checkpoints" in dirs:
        runs.append(os.path.normpath(root))
        dirs.remove("checkpoints")
  return runs


def _rows(set_name, method, examples, alphas, seconds):
  return [{"set": set_name, "image": e.name, "method": method, "seconds": s,
           **compute_metrics(a, e.alpha, e.trimap)}
          for e, a, s in zip(examples, alphas, seconds)]


def score_baselines(val_sets, cache_dir, methods=BASELINES):
  """Rows for the cached classic mattes, and {(set, image): {method: alpha}} for figures."""
  rows, alphas = [], {}
  for set_name, examples in val_sets.items():
    mattes = cache.cached_mattes(os.path.join(cache_dir, "mattes"), examples, methods)
    for method in methods:
      # Solve time is not cached; benchmarks/classic.py measures it.
      rows += _rows(set_name, method, examples, [m[method] for m in mattes],
                    [float("nan")] * len(examples))
    for example, per_method in zip(examples, mattes):
      alphas[(set_name, example.name)] = dict(per_method)
  return rows, alphas


def _run_steps(run_dir, all_steps):
  if os.path.isfile(run_dir):
    return [None]  # A weights file holds one set of parameters.
  if not all_steps:
    return ["best"]
  cfg = checkpoints.read_config(run_dir)
  manager = checkpoints.make_manager(os.path.join(run_dir, "checkpoints"), cfg.checkpoint)
  steps = list(manager.all_steps())
  manager.close()
  return steps


def score_run(run_dir, val_sets, cache_dir, all_steps=False):
  """Rows (method 'dcnn:RUN[@STEP]') for a run's best checkpoint or every checkpoint, or for a
  weights file ('dcnn:NAME' without '.npz')."""
  rows, alphas = [], {}
  name = os.path.splitext(os.path.basename(os.path.normpath(run_dir)))[0]
  for step in _run_steps(run_dir, all_steps):
    params, cfg = load_model(run_dir, step)
    method = f"dcnn:{name}" + ("" if step in ("best", None) else f"@{step}")
    for set_name, examples in val_sets.items():
      stacks = train_data.input_stacks(examples, cfg.inputs.combination, cache_dir)
      predict_alpha(params, cfg.model, stacks[0][0])  # Compile outside the timing.
      predictions, seconds = [], []
      for stack, _, _ in stacks:
        start = time.perf_counter()
        predictions.append(predict_alpha(params, cfg.model, stack))
        seconds.append(time.perf_counter() - start)
      rows += _rows(set_name, method, examples, predictions, seconds)
      for example, alpha in zip(examples, predictions):
        alphas.setdefault((set_name, example.name), {})[method] = alpha
  return rows, alphas


def write_figures(workdir, val_sets, alphas, run_dirs, cache_dir):
  """Qualitative grids per validation image, loss curves, and response maps (Fig. 5-8)."""
  from matting import figures
  figure_dir = os.path.join(workdir, "figures")
  for set_name, examples in val_sets.items():
    for example in examples:
      panels = alphas.get((set_name, example.name), {})
      figures.qualitative_grid(os.path.join(figure_dir, f"{set_name}_{example.name}.png"),
                               example.image, example.trimap, example.alpha, panels,
                               title=f"{set_name} {example.name}")
  histories = {}
  for run_dir in run_dirs:
    path = os.path.join(run_dir, "history.json")
    if os.path.exists(path):
      with open(path) as f:
        histories[os.path.basename(os.path.normpath(run_dir))] = json.load(f)
  if histories:
    figures.loss_curves(os.path.join(figure_dir, "loss_curves.png"), histories)
  if run_dirs:
    params, cfg = load_model(run_dirs[0])
    set_name, examples = next(iter(val_sets.items()))
    stack = train_data.input_stacks(examples[:1], cfg.inputs.combination, cache_dir)[0]
    figures.response_maps(os.path.join(figure_dir, "response_maps.png"), params, cfg.model,
                          _two_patches(*stack),
                          input_names=extra_channels(cfg.inputs.combination))


def _two_patches(stack, alpha, trimap):
  """Two 27x27 input patches at unknown pixels: the most and least transparent-looking."""
  from matting.patches import PATCH_IN, patch_centers
  centers = patch_centers(trimap, np.random.default_rng(0), max_per_image=512)
  values = alpha[centers[:, 0], centers[:, 1]]
  half = PATCH_IN // 2
  chosen = [centers[np.argmin(np.abs(values - 0.5))], centers[np.argmax(values)]]
  return [stack[r - half:r + half + 1, c - half:c + half + 1] for r, c in chosen]
