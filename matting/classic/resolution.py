"""A matte solved at a lower working resolution: block-averaged inputs, bilinear readback.

The tiled closed-form solve takes its tiles' ring values from a half-resolution matte
(factor 2); closed-form and KNN matting can solve a large image at a working resolution
(their max_pixels, `at_working_resolution`, which also refuses max_pixels < 1). Pixel
centres are aligned: small pixel (i, j) covers full pixels [f*i, f*i + f) x [f*j, f*j + f);
the last rows and columns that do not fill a block are dropped from the small problem and
read back from its edge.
"""

import math

import numpy as np
from scipy.ndimage import map_coordinates

from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError


def factor_for(num_pixels, max_pixels):
  """The smallest integer factor that brings `num_pixels` to at most `max_pixels`."""
  if max_pixels < 1:
    raise MattingInputError(f"max_pixels: must be >= 1 or None, got {max_pixels}")
  return max(1, math.ceil(math.sqrt(num_pixels / max_pixels)))


def downsample(image, trimap, factor):
  """(image, trimap) averaged over factor x factor blocks (the image may have any number of
  channels); the small trimap is FG (BG) only where the whole block is, unknown elsewhere
  (so the unknown region only grows)."""
  h, w = trimap.shape[0] // factor, trimap.shape[1] // factor
  small_image = image[:h * factor, :w * factor].reshape(h, factor, w, factor, -1).mean(
      axis=(1, 3))
  blocks = trimap[:h * factor, :w * factor].reshape(h, factor, w, factor)
  small_trimap = np.full((h, w), 0.5)
  small_trimap[(blocks == 1.0).all(axis=(1, 3))] = 1.0
  small_trimap[(blocks == 0.0).all(axis=(1, 3))] = 0.0
  return small_image, small_trimap


def upsampled_at(small, ys, xs, factor):
  """Bilinear values of a map downsampled by `factor` at full-resolution pixels (ys, xs)."""
  coords = np.stack([(ys + 0.5) / factor - 0.5, (xs + 0.5) / factor - 0.5])
  return map_coordinates(small, coords, order=1, mode="nearest")


def at_working_resolution(solve, image, trimap, max_pixels, min_side=3):
  """Alpha (H, W) float32 from `solve(small_image, small_trimap)` on the image downsampled to
  at most `max_pixels`, read back bilinearly into the unknown region (known pixels keep the
  trimap). None when the image is not larger than max_pixels, or when the blocks leave no FG
  or BG pixel or a side shorter than `min_side`: the caller then solves at full resolution."""
  if max_pixels is None or trimap.size <= max_pixels:
    return None
  factor = factor_for(trimap.size, max_pixels)
  small_image, small_trimap = downsample(image, trimap, factor)
  small_fg, small_bg, _ = trimap_masks(small_trimap)
  if not (small_fg.any() and small_bg.any()) or min(small_trimap.shape) < min_side:
    return None
  small = solve(small_image, small_trimap)
  fg, _, unknown = trimap_masks(trimap)
  alpha = fg.astype(np.float32)
  ys, xs = np.nonzero(unknown)
  alpha[ys, xs] = np.clip(upsampled_at(small, ys, xs, factor), 0.0, 1.0)
  return alpha
