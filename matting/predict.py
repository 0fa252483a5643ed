"""Alpha from an image and a trimap with a trained DCNN: load a model, then predict.

A model is a weights file (`matting export`, or the one shipped in matting/weights/) or a
checkpoint of a training work directory; either gives (params, config). `predict_image`
computes the classic mattes the model's input combination needs, stacks the inputs and runs
the network on the whole image.
"""

import os

from matting import classic
from matting.errors import MattingInputError
from matting.inputs import stacks
from matting.models import weights
from matting.models.inference import predict_alpha
from matting.training import checkpoints


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
    params, cfg, _ = checkpoints.restore_params(path, "best" if which is None else which)
    return params, cfg
  if which is not None:
    raise MattingInputError(f"applies to a training work directory, not to {path}",
                            field="step")
  if not os.path.exists(path):
    raise MattingInputError(f"{path}: no such file or directory", field="checkpoint")
  return weights.load_params(path)


def predict_image(params, cfg, image, trimap, keep_known=True):
  """Alpha (H, W) for one image: computes the classic mattes the model's inputs need."""
  combination = cfg.inputs.combination
  mattes = classic.classic_alphas(stacks.classic_methods(combination), image, trimap)
  stack = stacks.input_stack(image, trimap, mattes, combination)
  return predict_alpha(params, cfg.model, stack, keep_known=trimap if keep_known else None)
