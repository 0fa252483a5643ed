"""One entry point to the classic (non-learned) mattes the DCNN takes as inputs.

'cf' is closed-form matting (Levin et al. 2008, local), 'knn' is KNN matting (Chen et al.
2013, nonlocal), 'comp' is comprehensive sampling (Shahrian et al. 2013). Each solver module
is imported on first use so that asking for one method does not pay for the others.
"""

import importlib

METHODS = {
    "cf": ("matting.classic.closed_form", "closed_form_alpha"),
    "knn": ("matting.classic.knn", "knn_alpha"),
    "comp": ("matting.classic.comprehensive", "comprehensive_alpha"),
}


def classic_solver(method):
  """Returns the function (image, trimap, **params) -> alpha for a method name."""
  if method not in METHODS:
    raise ValueError(f"unknown classic method {method!r}; choose from {sorted(METHODS)}")
  module, name = METHODS[method]
  return getattr(importlib.import_module(module), name)


def classic_alpha(method, image, trimap, **params):
  """Computes the classic matte `method` ('cf', 'knn', 'comp') as float32 (H, W) in [0,1]."""
  return classic_solver(method)(image, trimap, **params)


def classic_alphas(methods, image, trimap):
  """{method: alpha} for several methods, solved concurrently in threads.

  The solvers spend most of their time in LAPACK, the KD-tree and sparse kernels, which release
  the GIL: on 2 cores `matting predict` on an 800x604 image went from 3.85 s to 3.3-3.7 s
  (benchmarks/predict.py, see BUILD_NOTES.md), with bit-identical results (tests/test_classic.py).
  """
  from concurrent.futures import ThreadPoolExecutor
  methods = list(methods)
  for method in methods:
    classic_solver(method)  # Imports (and name errors) in this thread, before the pool.
  if len(methods) < 2:
    return {m: classic_alpha(m, image, trimap) for m in methods}
  with ThreadPoolExecutor(len(methods)) as pool:
    futures = {m: pool.submit(classic_alpha, m, image, trimap) for m in methods}
    return {m: f.result() for m, f in futures.items()}
