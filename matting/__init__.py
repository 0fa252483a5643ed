"""Deep CNN natural image matting (Cho, Tai, Kweon, ECCV 2016) with its classic inputs.

The public API, loaded on first use so that `import matting` imports neither JAX nor SciPy:

  closed_form_alpha(image, trimap)   closed-form matting (Levin et al. 2008)
  knn_alpha(image, trimap)           KNN matting (Chen et al. 2013)
  comprehensive_alpha(image, trimap) comprehensive sampling (Shahrian et al. 2013)
  predict_alpha(image, trimap, weights=None)  the DCNN (shipped weights by default)
  cutout(image, trimap, weights=None, background=None)  RGBA cut-out (or composite)
  estimate_foreground(image, alpha)  foreground/background colours from alpha
  compute_metrics(pred, gt, trimap)  SAD, MSE, Grad, Conn on the unknown pixels
  read_image(path), read_trimap(path), read_alpha(path), write_alpha(path, alpha),
  write_rgb(path, image)

Example:
  >>> import matting
  >>> image = matting.read_image("GT04.png")
  >>> trimap = matting.read_trimap("GT04_trimap.png")
  >>> alpha = matting.predict_alpha(image, trimap)
  >>> matting.write_alpha("GT04_alpha.png", alpha)
"""

import importlib

from matting.errors import MattingInputError

_API = {
    "closed_form_alpha": "matting.classic.closed_form",
    "knn_alpha": "matting.classic.knn",
    "comprehensive_alpha": "matting.classic.comprehensive",
    "predict_alpha": "matting.predict",
    "cutout": "matting.predict",
    "load_model": "matting.predict",
    "estimate_foreground": "matting.compose.foreground",
    "compute_metrics": "matting.evaluators.metrics",
    "read_image": "matting.data.io",
    "read_trimap": "matting.data.io",
    "read_alpha": "matting.data.io",
    "write_alpha": "matting.data.io",
    "write_rgb": "matting.data.io",
}

__all__ = ["MattingInputError", *_API]
__version__ = "0.1.0"


def __getattr__(name):
  if name in _API:
    return getattr(importlib.import_module(_API[name]), name)
  raise AttributeError(f"module 'matting' has no attribute {name!r}")


def __dir__():
  return sorted(__all__ + ["__version__"])
