"""pymatting's mattes as outside reference rows for reports and benchmarks (dev extra only).

Never used by the network's inputs; `matting.classic` lists them apart from its own methods so
that reports can cache and score them like the classic mattes.
"""

import numpy as np

from matting.errors import MattingInputError


def _pymatting():
  try:
    import pymatting
  except ImportError as e:
    raise MattingInputError("the pymatting reference rows need pymatting "
                            "(pip install -e '.[dev]')") from e
  return pymatting


def _float64(image, trimap):
  return np.asarray(image, np.float64), np.asarray(trimap, np.float64)


def pymatting_cf_alpha(image, trimap):
  """pymatting's `estimate_alpha_cf` (closed-form, hard constraint, ICCG)."""
  return _pymatting().estimate_alpha_cf(*_float64(image, trimap)).astype(np.float32)


def pymatting_knn_alpha(image, trimap):
  """pymatting's `estimate_alpha_knn` (its KNN variant: RGB features, neighbours (20, 10))."""
  return _pymatting().estimate_alpha_knn(*_float64(image, trimap)).astype(np.float32)


def pymatting_sm_alpha(image, trimap):
  """pymatting's `estimate_alpha_sm` (shared matting, Gastal and Oliveira 2010)."""
  return np.clip(_pymatting().estimate_alpha_sm(*_float64(image, trimap)), 0, 1).astype(np.float32)
