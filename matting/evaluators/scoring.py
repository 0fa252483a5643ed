"""The one scoring path: mattes of named methods on validation sets → metric rows → means.

Every table of the project goes through `score_alphas` (training validation, `evaluate`,
sweep reports, the classic experiment), so the metric code and the row format are the same
everywhere. A row is {set, image, method, seconds, sad, mse, grad, conn}; `seconds` is the
method's time for that image (a classic solve, or a network forward pass), NaN if unknown.
"""

import math
import time

import numpy as np

from matting import classic
from matting.console import Progress
from matting.evaluators.metrics import METRIC_KEYS, compute_metrics
from matting.models.inference import run_network

PYMATTING_CF = "pymatting_cf"
VALUE_KEYS = METRIC_KEYS + ("seconds",)


def score_alphas(set_name, method, examples, alphas, seconds=None):
  """Rows for one method's mattes of `examples` (objects with .name, .alpha, .trimap)."""
  seconds = [math.nan] * len(examples) if seconds is None else seconds
  return [{"set": set_name, "image": e.name, "method": method, "seconds": float(s),
           **compute_metrics(a, e.alpha, e.trimap)}
          for e, a, s in zip(examples, alphas, seconds)]


def predict_stacks(params, model_cfg, input_stacks, warm_up=True, symmetries=1):
  """(alphas, seconds) of the network on each (H, W, C) stack, averaged over `symmetries`
  mirrored / transposed copies (`inference.run_network`). With `warm_up` the first image
  is run once more before timing, so that compilation is not counted; training validation
  skips it (one compile over a whole run is not worth a forward pass every round)."""
  if warm_up and input_stacks:
    run_network(params, model_cfg, input_stacks[0], symmetries=symmetries)
  alphas, seconds = [], []
  for stack in input_stacks:
    start = time.perf_counter()
    alphas.append(run_network(params, model_cfg, stack, symmetries=symmetries))
    seconds.append(time.perf_counter() - start)
  return alphas, seconds


def summarize(rows):
  """Mean metrics and seconds per (set, method) with the image count, in first-seen order.

  A NaN second (unknown time) is left out of its mean; all unknown gives NaN.
  """
  groups = {}
  for row in rows:
    groups.setdefault((row["set"], row["method"]), []).append(row)
  out = []
  for (set_name, method), members in groups.items():
    means = {}
    for key in VALUE_KEYS:
      values = [m[key] for m in members if not math.isnan(m[key])]
      means[key] = float(np.mean(values)) if values else math.nan
    out.append({"set": set_name, "method": method, "images": len(members), **means})
  return out


def mean_over_sets(summary, key="sad"):
  """The mean of `key` over a summary's rows (one per set for a single method)."""
  return float(np.mean([row[key] for row in summary]))


def available_methods(methods, include_pymatting):
  """Method names to run: the requested classic ones plus pymatting's CF if importable."""
  methods = list(methods)
  if include_pymatting:
    try:
      import pymatting  # noqa: F401
      methods.append(PYMATTING_CF)
    except ImportError:
      pass
  return methods


def solve_timed(method, image, trimap, params=None):
  """(alpha, seconds) of one classic method (or a pymatting reference) on one image, now."""
  start = time.perf_counter()
  alpha = classic.classic_alpha(method, image, trimap, **(params or {}).get(method, {}))
  return alpha, time.perf_counter() - start


def score_classic(set_name, examples, methods, params=None, progress=True):
  """Solves and scores each classic method on each example (uncached, timed)."""
  rows = []
  meter = Progress(len(examples) * len(methods), f"classic {set_name}") if progress else None
  for example in examples:
    for method in methods:
      alpha, seconds = solve_timed(method, example.image, example.trimap, params)
      rows += score_alphas(set_name, method, [example], [alpha], [seconds])
      if meter:
        meter.update(len(rows), f"{example.name} {method} sad={rows[-1]['sad']:.3f}")
  return rows
