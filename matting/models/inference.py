"""Full-image DCNN inference (§4.1): zero padding, haloed tiles, known pixels kept.

The input is zero-padded by the network's margin (6 px for the paper's net) so the VALID
convolutions give a full-size matte; large images run as square haloed tiles so memory is
bounded and one compiled function serves every image size.
"""

import functools
import math

import jax
import numpy as np

from matting.data.trimap import trimap_masks
from matting.models.dcnn import make_model


def default_tile_pixels(backend=None):
  """Output pixels per forward pass: small tiles keep CPU activations in cache (2x faster)."""
  return 128 * 128 if (backend or jax.default_backend()) == "cpu" else 4096 * 4096


TILES_PER_CALL = 8


def _tiling(height, width, tile_pixels):
  """(tile_h, tile_w, rows, cols) covering (height, width) with square tiles of <= tile_pixels.

  The tile side depends on the budget only, not on the image, so every image size reuses
  one compiled tile function.
  """
  if height * width <= tile_pixels:
    return height, width, 1, 1
  side = max(1, math.isqrt(tile_pixels))
  return side, side, -(-height // side), -(-width // side)


@functools.partial(jax.jit, static_argnames=("model",))
def _forward_whole(params, padded, model):
  """Alpha (H, W) of an input stack already zero-padded by `model.margin` on each side."""
  return model.apply(params, padded[None])[0, :, :, 0]


@functools.partial(jax.jit, static_argnames=("model",))
def _forward_tiles(params, windows, model):
  """Alphas (T, h, w) of T haloed windows, one at a time so activations stay in cache."""
  return jax.lax.map(lambda window: model.apply(params, window[None])[0, :, :, 0], windows)


def _forward_tiled(params, padded, model, tiling, wanted=None):
  """Cuts haloed tiles on the host TILES_PER_CALL at a time, runs them, writes the alpha.

  Windows are cut group by group, so the host holds one group of windows (not a haloed copy
  of the whole input: 290 MB at 12 MP) besides the input and the output. With `wanted`
  ((H, W) bool), tiles holding no wanted pixel are skipped and stay 0.
  """
  margin = model.margin
  tile_h, tile_w, rows, cols = tiling
  height, width = padded.shape[0] - 2 * margin, padded.shape[1] - 2 * margin
  padded = np.pad(padded, ((0, rows * tile_h - height), (0, cols * tile_w - width), (0, 0)))
  alpha = np.zeros((rows * tile_h, cols * tile_w), np.float32)
  origins = [(r * tile_h, c * tile_w) for r in range(rows) for c in range(cols)]
  if wanted is not None:
    wanted = np.pad(wanted, ((0, rows * tile_h - height), (0, cols * tile_w - width)))
    per_tile = wanted.reshape(rows, tile_h, cols, tile_w).any(axis=(1, 3)).ravel()
    origins = [origin for origin, keep in zip(origins, per_tile) if keep]
  group = np.zeros((TILES_PER_CALL, tile_h + 2 * margin, tile_w + 2 * margin, padded.shape[2]),
                   padded.dtype)
  for first in range(0, len(origins), TILES_PER_CALL):
    batch = origins[first:first + TILES_PER_CALL]
    for i, (y, x) in enumerate(batch):
      group[i] = padded[y:y + tile_h + 2 * margin, x:x + tile_w + 2 * margin]
    tiles = np.asarray(_forward_tiles(params, group, model))
    for i, (y, x) in enumerate(batch):
      alpha[y:y + tile_h, x:x + tile_w] = tiles[i]
  return alpha[:height, :width]


def run_network(params, model_config, inputs, keep_known=None, tile_pixels=None):
  """Full-resolution alpha (H, W) float32 in [0, 1] from an (H, W, C) input stack (§4.1).

  The input is zero-padded by `margin` pixels (6 = (27 - 15) / 2 for the paper's net) and
  run through the network in one pass, or in tiles of at most `tile_pixels` output pixels
  (each with its halo, so tiling does not change the result) to bound memory; None uses
  `default_tile_pixels()`. One compilation per (input shape, model config, tiling). With
  `keep_known`, tiles whose pixels are all known are not run.

  Args:
    params: the model variables, {'params': ...}, as from `DCNN.init` or `TrainState.params`.
    model_config: DCNN fields, e.g. `default_model_config()`.
    inputs: (H, W, C) input stack.
    keep_known: None, or an (H, W) trimap whose known pixels keep their trimap value.
    tile_pixels: output pixels per forward pass.
  """
  model = make_model(model_config)
  inputs = np.asarray(inputs, dtype=np.float32)
  if inputs.ndim != 3:
    raise ValueError(f"inputs must be (H, W, C), got shape {inputs.shape}")
  height, width = inputs.shape[:2]
  margin = model.margin
  padded = np.pad(inputs, ((margin, margin), (margin, margin), (0, 0)))
  if keep_known is not None and np.shape(keep_known) != (height, width):
    raise ValueError(f"keep_known trimap shape {np.shape(keep_known)} != inputs' "
                     f"{(height, width)}")
  fg, bg, unknown = trimap_masks(keep_known) if keep_known is not None else (None,) * 3
  tiling = _tiling(height, width, tile_pixels or default_tile_pixels())
  if tiling[2] * tiling[3] == 1:
    alpha = np.asarray(_forward_whole(params, padded, model))
  else:  # Tiles without unknown pixels would be overwritten below: they are not run.
    alpha = _forward_tiled(params, padded, model, tiling, unknown)
  alpha = np.clip(alpha, 0.0, 1.0)
  if keep_known is not None:
    alpha = np.where(fg, 1.0, np.where(bg, 0.0, alpha)).astype(np.float32)
  return alpha
