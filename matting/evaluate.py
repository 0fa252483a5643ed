"""Scoring mattes on a validation set with one metric code path.

`score_classic` runs the classic methods (and pymatting's closed-form as an external
reference when installed) on every example and returns one row per (example, method).
"""

import time

from matting import classic
from matting.metrics import compute_metrics
from matting.report import Progress

PYMATTING_CF = "pymatting_cf"


def _pymatting_cf(image, trimap):
  import pymatting  # Optional dev dependency, used only as an outside reference.
  return pymatting.estimate_alpha_cf(image.astype("float64"), trimap.astype("float64"))


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


def run_method(method, image, trimap, params=None):
  """Returns (alpha, seconds) of one method on one image."""
  start = time.perf_counter()
  if method == PYMATTING_CF:
    alpha = _pymatting_cf(image, trimap)
  else:
    alpha = classic.classic_alpha(method, image, trimap, **(params or {}).get(method, {}))
  return alpha, time.perf_counter() - start


def score_classic(examples, methods, params=None, progress=True):
  """Scores each method on each example with GT; returns rows of name/method/metrics/seconds."""
  rows = []
  meter = Progress(len(examples) * len(methods), "classic") if progress else None
  for example in examples:
    for method in methods:
      alpha, seconds = run_method(method, example.image, example.trimap, params)
      scores = compute_metrics(alpha, example.alpha, example.trimap)
      rows.append({"image": example.name, "method": method, "seconds": seconds, **scores})
      if meter:
        meter.update(len(rows), f"{example.name} {method} sad={scores['sad']:.3f}")
  return rows
