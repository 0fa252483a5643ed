"""The DCNN's full-image forward pass with JAX: jitted, in haloed tiles on CPU.

Large images run as square haloed tiles so memory is bounded and one compiled function
serves every image size (the alphamatting images all differ in size; per-shape recompiles
cost more than the forward pass itself). Used by training's validation, the experiments and
`matting predict --engine jax`; models/inference.py chooses.
"""

import functools
import math

import jax
import numpy as np

from matting.models.dcnn import make_model


TILES_PER_CALL = 8
# Off CPU one pass covers as much as the device's memory allows. The measured device peak of
# one untiled forward of the shipped network (64-wide layers) on an H200 was 0.98 / 5.2 /
# 14.8 GB at 0.5 / 3 / 12 MP (BUILD_NOTES.md, "The GPU path"): at most 2.0 KB per output
# pixel. A tile, with its group of TILES_PER_CALL input windows, gets DEVICE_FRACTION of the
# device's memory; MAX_TILE_PIXELS bounds the compile time of one pass.
DEVICE_BYTES_PER_PIXEL = 2048
DEVICE_FRACTION = 0.5
MAX_TILE_PIXELS = 4096 * 4096
MIN_TILE_PIXELS = 256 * 256


def device_memory_bytes(device=None):
  """The device's memory for JAX's buffers (memory_stats' bytes_limit), or None where the
  backend keeps no count (the CPU)."""
  stats = (device or jax.devices()[0]).memory_stats() or {}
  return stats.get("bytes_limit")


def default_tile_pixels(backend=None, model=None, channels=5):
  """Output pixels per forward pass. CPU: 128 x 128 (small tiles keep activations in cache,
  2x faster). Accelerators: as many as DEVICE_FRACTION of the device's memory holds for
  `model` (its widest layer scales the activations) and `channels` inputs, at most
  MAX_TILE_PIXELS (one pass up to 4096 x 4096 on large cards)."""
  if (backend or jax.default_backend()) == "cpu":
    return 128 * 128
  limit = device_memory_bytes()
  if limit is None:
    return MAX_TILE_PIXELS
  width = max((model.first_width,) + tuple(model.remap_widths)) if model is not None else 64
  per_pixel = DEVICE_BYTES_PER_PIXEL * width / 64 + TILES_PER_CALL * 4 * (channels + 1)
  return int(min(MAX_TILE_PIXELS, max(MIN_TILE_PIXELS, DEVICE_FRACTION * limit // per_pixel)))


def tiling(height, width, tile_pixels):
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


def forward_tiled(params, padded, model, layout, wanted=None):
  """Cuts haloed tiles on the host TILES_PER_CALL at a time, runs them, writes the alpha.

  Windows are cut group by group, so the host holds one group of windows (not a haloed copy
  of the whole input: 290 MB at 12 MP) besides the input and the output. With `wanted`
  ((H, W) bool), tiles holding no wanted pixel are skipped and stay 0.
  """
  margin = model.margin
  tile_h, tile_w, rows, cols = layout
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


def forward(params, padded, model_config, wanted=None, tile_pixels=None):
  """Raw alpha (H, W) of an input stack zero-padded by the margin: one pass, or haloed tiles
  of at most `tile_pixels` output pixels (None: `default_tile_pixels`, bounded by the device's
  memory), skipping tiles without `wanted` pixels. One compilation per (input shape, model
  config, tiling)."""
  model = make_model(model_config)
  height, width = padded.shape[0] - 2 * model.margin, padded.shape[1] - 2 * model.margin
  layout = tiling(height, width,
                  tile_pixels or default_tile_pixels(model=model, channels=padded.shape[2]))
  if layout[2] * layout[3] == 1:
    return np.asarray(_forward_whole(params, padded, model))
  return forward_tiled(params, padded, model, layout, wanted)
