"""Alpha from an image and a trimap with a trained DCNN: load a model, then predict.

A model is a weights file (`matting export`, or the one shipped in matting/weights/) or a
checkpoint of a training work directory; either gives (params, config). `predict_image`
computes the classic mattes the model's input combination needs, stacks the inputs and runs
the network on the whole image.
"""

import functools
import os

from matting import classic
from matting.errors import MattingInputError
from matting.inputs import stacks
from matting.models import weights


def load_model(path=None, which=None):
  """(params, config) from a training work directory (checkpoint `which`, default 'best'), a
  weights file, or (path None) the weights shipped with the package."""
  if path is None:
    path = weights.default_weights()
    if path is None:
      raise MattingInputError("no weights are shipped with this install; pass a training work "
                              "directory or a weights file from `matting export`",
                              field="checkpoint")
  path = os.fspath(path)
  if os.path.isdir(path):
    from matting.training import checkpoints  # orbax: only work directories need it.
    params, cfg, _ = checkpoints.restore_params(path, "best" if which is None else which)
    return params, cfg
  if which is not None:
    raise MattingInputError(f"applies to a training work directory, not to {path}",
                            field="step")
  if not os.path.exists(path):
    raise MattingInputError(f"{path}: no such file or directory", field="checkpoint")
  return weights.load_params(path)


# Images above KNN_MAX_PIXELS get their KNN input solved at a working resolution of at most
# that many pixels (knn_alpha's max_pixels): on the 1.9 and 4.3 MP far validation sets the
# DCNN's SAD moved by < 1 % while KNN took a fraction of the time. The closed-form input
# stays at full resolution by default (CF_MAX_PIXELS None): at 1 MP it cost the DCNN 13 % SAD
# on the second synthetic generator's 1.9 MP images (BUILD_NOTES.md, issue 11).
KNN_MAX_PIXELS = 1_000_000
CF_MAX_PIXELS = None


def predict_image(params, cfg, image, trimap, keep_known=True, knn_max_pixels=KNN_MAX_PIXELS,
                  cf_max_pixels=CF_MAX_PIXELS, engine="numpy", symmetries=1):
  """Alpha (H, W) for one image: computes the classic mattes the model's inputs need, the KNN
  (HSV or RGB) and closed-form ones at working resolutions of at most `knn_max_pixels` /
  `cf_max_pixels` (None: full resolution), and runs the network with `engine` ('numpy': CPU,
  no JAX start-up; 'jax': any JAX backend), averaged over `symmetries` mirrored / transposed
  copies of its input (`inference.run_network`)."""
  from matting.models import inference
  combination = cfg.inputs.combination
  solver_params = {m: {"max_pixels": knn_max_pixels} for m in classic.KNN_METHODS}
  solver_params["cf"] = {"max_pixels": cf_max_pixels}
  mattes = classic.classic_alphas(stacks.classic_methods(combination), image, trimap,
                                  solver_params)
  stack = stacks.input_stack(image, trimap, mattes, combination)
  return inference.run_network(params, cfg.model, stack,
                               keep_known=trimap if keep_known else None, engine=engine,
                               symmetries=symmetries)


@functools.lru_cache(maxsize=4)
def _cached_model(path, which):
  return load_model(path, which)


def predict_alpha(image, trimap, weights=None, step=None, keep_known=True):
  """Alpha matte of `image` with the DCNN: the library's one-call prediction.

  Args:
    image: (H, W, 3) float RGB in [0, 1] (e.g. from `matting.read_image`).
    trimap: (H, W) float trimap: 0 background, 1 foreground, anything else unknown.
    weights: a weights file, a training work directory, or None for the shipped weights.
      Loaded once per process and kept (the model is small).
    step: checkpoint of a work directory ('best', 'latest' or a number); None for files.
    keep_known: keep the trimap's known pixels at 0/1 (False: the network's output there).
  Returns:
    (H, W) float32 alpha in [0, 1].

  Example:
    >>> import matting
    >>> image = matting.read_image("photo.png")
    >>> trimap = matting.read_trimap("trimap.png")
    >>> alpha = matting.predict_alpha(image, trimap)
  """
  params, cfg = _cached_model(None if weights is None else os.fspath(weights), step)
  return predict_image(params, cfg, image, trimap, keep_known=keep_known)


def cutout(image, trimap, weights=None, background=None):
  """The foreground cut out: (H, W, 4) RGBA float32, or RGB composited on `background`.

  Predicts alpha with `predict_alpha`, estimates the foreground colours (multilevel
  foreground estimation) and returns RGBA; `background` (a (3,) colour or an (H, W, 3)
  image in [0, 1]) gives RGB composited onto it instead.

  Example:
    >>> rgba = matting.cutout(image, trimap)
    >>> matting.write_rgb("cutout.png", rgba)
  """
  from matting.compose import cutout as compose_cutout
  from matting.compose.foreground import estimate_foreground
  alpha = predict_alpha(image, trimap, weights)
  foreground, _ = estimate_foreground(image, alpha)
  if background is None:
    return compose_cutout.cutout_rgba(foreground, alpha)
  return compose_cutout.composite_on(foreground, alpha, background)
