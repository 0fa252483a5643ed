"""Foreground and background colours from an image and its alpha matte.

Needed to re-composite training images onto new backgrounds (paper §4.1) and to write RGBA
cut-outs. Method: multi-level foreground estimation (Germer et al. 2020, "Fast multi-level
foreground estimation"), the algorithm of pymatting's `estimate_foreground_ml`. It minimises

  sum_i (a_i F_i + (1 - a_i) B_i - I_i)^2
    + sum_{i~j} (eps + w |a_i - a_j|) (|F_i - F_j|^2 + |B_i - B_j|^2)

over 4-neighbours, coarse to fine: on each level of a geometric pyramid (1x1 up to full size,
nearest-neighbour resizing) every pixel's (F, B) is set to the exact minimiser given its
neighbours, a 2x2 solve shared by the colour channels, then clipped to [0,1]. Coarse levels
spread colours from the known regions into wide unknown bands cheaply, so a couple of sweeps
per full-size level suffice.

Where pymatting sweeps pixels one by one (Gauss-Seidel in raster order, compiled with numba),
each sweep here is red-black Gauss-Seidel: the pixels of one checkerboard colour depend only on
the other colour's pixels, so each half-sweep is a whole-array NumPy update with the same
convergence behaviour (agreement with pymatting: tests/test_foreground.py). Chosen over the
closed-form sparse F/B solve (one CG system, 6 unknowns per pixel): in flat-alpha regions only
eps = 1e-5 ties neighbouring colours together, which makes that system badly conditioned, while
the pyramid carries colours across wide unknown bands in a few sweeps.
"""

import math

import numpy as np

from matting.errors import MattingInputError


def _resize_nearest(array, height, width):
  """Nearest-neighbour resize with pymatting's index rule: src = dst * size_src // size_dst."""
  rows = np.arange(height) * array.shape[0] // height
  cols = np.arange(width) * array.shape[1] // width
  return array[rows[:, None], cols[None, :]]


def _shifted(array):
  """The four edge-replicated 4-neighbour views (up, down, left, right) of an (H, W, ...) array."""
  pad = [(1, 1), (1, 1)] + [(0, 0)] * (array.ndim - 2)
  p = np.pad(array, pad, mode="edge")
  return p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]


def _relax(image, alpha, fb, num_iterations, regularization, gradient_weight):
  """Red-black Gauss-Seidel sweeps on one level; fb is (H, W, 6) = [F, B], updated in place.

  Per pixel the 2x2 normal equations are
    [a^2 + s, a(1-a); a(1-a), (1-a)^2 + s] [F; B] = [a I + sum_j w_j F_j; (1-a) I + sum_j w_j B_j]
  with w_j = eps + gradient_weight |a - a_j| and s = sum_j w_j. The determinant is written as
  s (a^2 + (1-a)^2) + s^2, which is exact algebra and avoids float32 cancellation.
  """
  a0 = alpha[..., None]
  a1 = 1.0 - a0
  weights = [regularization + gradient_weight * np.abs(alpha - n)[..., None]
             for n in _shifted(alpha)]
  s = sum(weights)
  # Inverse of the 2x2 matrix, premultiplied into three coefficient maps.
  inv_det = 1.0 / (s * (a0 * a0 + a1 * a1) + s * s)
  c_ff = (a1 * a1 + s) * inv_det
  c_fb = a0 * a1 * inv_det
  c_bb = (a0 * a0 + s) * inv_det
  image_f = a0 * image
  image_b = a1 * image
  parity = np.add.outer(np.arange(alpha.shape[0]), np.arange(alpha.shape[1])) % 2
  masks = [(parity == colour)[..., None] for colour in (0, 1)]
  for _ in range(num_iterations):
    for mask in masks:
      neighbours = sum(w * n for w, n in zip(weights, _shifted(fb)))
      b0 = neighbours[..., :3] + image_f
      b1 = neighbours[..., 3:] + image_b
      np.copyto(fb[..., :3], np.clip(c_ff * b0 - c_fb * b1, 0.0, 1.0), where=mask)
      np.copyto(fb[..., 3:], np.clip(c_bb * b1 - c_fb * b0, 0.0, 1.0), where=mask)
  return fb


def estimate_foreground(image, alpha, regularization=1e-5, gradient_weight=1.0,
                        num_small_iterations=10, num_big_iterations=2, small_size=32):
  """Estimates foreground F and background B with I ~ alpha F + (1 - alpha) B.

  Args:
    image: (H, W, 3) float in [0,1].
    alpha: (H, W) float in [0,1].
    regularization: eps, the smoothness weight where alpha is flat.
    gradient_weight: extra smoothness weight per unit of alpha change between neighbours.
    num_small_iterations: sweeps on levels no larger than small_size in both dimensions.
    num_big_iterations: sweeps on the larger levels.
    small_size: the size below which a level counts as small.
  Returns:
    (F, B), float32 (H, W, 3) in [0,1].
  """
  image = np.asarray(image, dtype=np.float32)
  alpha = np.asarray(alpha, dtype=np.float32)
  if image.ndim != 3 or image.shape[2] != 3:
    raise MattingInputError(f"estimate_foreground: image must be (H, W, 3), got {image.shape}")
  if alpha.shape != image.shape[:2]:
    raise MattingInputError(f"estimate_foreground: alpha shape {alpha.shape} does not match "
                            f"image shape {image.shape[:2]}")
  if not (np.all(np.isfinite(image)) and np.all(np.isfinite(alpha))):
    raise MattingInputError("estimate_foreground: image or alpha contains NaN or Inf")
  height, width = alpha.shape
  # Initial 1x1 level: mean colours of the confidently opaque and transparent pixels.
  fg_mean = image[alpha > 0.9].sum(axis=0) / (np.count_nonzero(alpha > 0.9) + 1e-5)
  bg_mean = image[alpha < 0.1].sum(axis=0) / (np.count_nonzero(alpha < 0.1) + 1e-5)
  fb = np.concatenate([fg_mean, bg_mean]).astype(np.float32)[None, None, :]
  num_levels = max(1, math.ceil(math.log2(max(height, width))))
  for level in range(num_levels + 1):
    h = round(height ** (level / num_levels))
    w = round(width ** (level / num_levels))
    small = h <= small_size and w <= small_size
    fb = _relax(_resize_nearest(image, h, w), _resize_nearest(alpha, h, w),
                _resize_nearest(fb, h, w),
                num_small_iterations if small else num_big_iterations,
                np.float32(regularization), np.float32(gradient_weight))
  return fb[..., :3].copy(), fb[..., 3:].copy()
