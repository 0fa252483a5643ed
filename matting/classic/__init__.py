"""One entry point to the classic (non-learned) mattes the DCNN takes as inputs.

'cf' is closed-form matting (Levin et al. 2008, local), 'knn' is KNN matting (Chen et al.
2013, nonlocal), 'comp' is comprehensive sampling (Shahrian et al. 2013), 'comp_sampled' its
sampled alpha before the Laplacian smoothing (not a matte from a paper) and 'comp_confidence'
how far to trust it (not a matte), 'nearest' the nearest-sample matte (one sample pair per
pixel, from the nearest known pixels; not from the paper). Each solver module is imported on
first use so that asking for one method does not pay for the others.
"""

import importlib

import numpy as np

from matting import memory

METHODS = {
    "cf": ("matting.classic.closed_form", "closed_form_alpha"),
    "knn": ("matting.classic.knn", "knn_alpha"),
    "comp": ("matting.classic.comprehensive", "comprehensive_alpha"),
    "comp_sampled": ("matting.classic.comprehensive", "comprehensive_sampled_alpha"),
    "comp_confidence": ("matting.classic.comprehensive", "comprehensive_confidence"),
    "knn_rgb": ("matting.classic.knn", "knn_rgb_alpha"),
    "nearest": ("matting.classic.nearest_sample", "nearest_sample_alpha"),
}
NOT_MATTES = ("comp_confidence",)  # Per-pixel maps in [0, 1] that are not an alpha estimate.
KNN_METHODS = ("knn", "knn_rgb")  # Same solver and parameters (max_pixels, ...), two features.
# pymatting's mattes, as reference rows in reports only (classic/references.py).
REFERENCES = {
    "pymatting_cf": ("matting.classic.references", "pymatting_cf_alpha"),
    "pymatting_knn": ("matting.classic.references", "pymatting_knn_alpha"),
    "pymatting_sm": ("matting.classic.references", "pymatting_sm_alpha"),
}


def classic_solver(method):
  """Returns the function (image, trimap, **params) -> alpha for a method name."""
  if method not in METHODS and method not in REFERENCES:
    raise ValueError(f"unknown classic method {method!r}; choose from {sorted(METHODS)} "
                     f"or the references {sorted(REFERENCES)}")
  module, name = METHODS.get(method) or REFERENCES[method]
  return getattr(importlib.import_module(module), name)


def classic_alpha(method, image, trimap, **params):
  """Computes the classic matte `method` ('cf', 'knn', 'comp') as float32 (H, W) in [0,1]."""
  return classic_solver(method)(image, trimap, **params)


def classic_alphas(methods, image, trimap, params=None):
  """{method: alpha} for several methods, solved concurrently in threads; `params`:
  {method: keyword arguments} for some of them.

  The solvers spend most of their time in LAPACK, the KD-tree and sparse kernels, which release
  the GIL: on 2 cores `matting predict` on an 800x604 image went from 3.85 s to 3.3-3.7 s
  (benchmarks/predict.py, see BUILD_NOTES.md), with bit-identical results (tests/test_classic.py).
  """
  from concurrent.futures import ThreadPoolExecutor
  methods = list(methods)
  for method in methods:
    classic_solver(method)  # Imports (and name errors) in this thread, before the pool.
  params = {m: dict((params or {}).get(m, {})) for m in methods}
  knn_bytes = _knn_bytes_beside_cf(methods, trimap, params)
  if len(methods) < 2 or not _fit_side_by_side(knn_bytes, trimap, params):  # One by one.
    return {m: classic_alpha(m, image, trimap, **params[m]) for m in methods}
  with ThreadPoolExecutor(len(methods)) as pool, memory.reserve(knn_bytes):
    futures = {m: pool.submit(classic_alpha, m, image, trimap, **params[m]) for m in methods}
    return {m: f.result() for m, f in futures.items()}


def _knn_bytes_beside_cf(methods, trimap, params):
  """The KNN solves' estimated peak when they run beside a closed-form solve, else 0."""
  from matting.classic import knn
  if "cf" not in methods:
    return 0
  return sum(knn.knn_bytes(trimap, max_pixels=params[m].get("max_pixels"))
             for m in methods if m in KNN_METHODS)


def _fit_side_by_side(knn_bytes, trimap, params):
  """Whether the closed-form and KNN solves' estimated peaks fit together in the memory
  available now. Only the order of the solves depends on it, never a matte: each solve's
  tiles follow its own budget (closed_form.solve_plan); the KNN bytes are reserved
  (`memory.reserve`) so that the closed-form tile workers leave them free."""
  from matting.classic import closed_form
  if not knn_bytes:
    return True
  available = memory.available_bytes()
  need = closed_form.peak_bytes(np.shape(trimap), **params["cf"]) + knn_bytes
  return available is None or need <= available
