"""Nearest-sample matting: one (F, B) sample pair per pixel, from the nearest known pixels.

Every sampling method (Bayesian, robust, shared, comprehensive sampling) ends by projecting
the pixel's colour I onto the line between its chosen foreground and background colours,
alpha = (I - B).(F - B) / ||F - B||^2 clipped to [0, 1] (`pair_alpha`); they differ in how
they choose the pair. Here the choice is the cheapest one: F is the mean colour of the known
FG pixels in a small window around the unknown pixel's nearest known FG pixel (Euclidean
distance transform), B likewise on the BG side. No clustering, pair search or smoothing: two
distance transforms and a few filters, O(N), so it can be a network input at any image size.

Not from the paper: a cheap, noisy stand-in for the per-pixel colour evidence that
comprehensive sampling (the best third input of the input-combination study, but seconds
per image) adds to the closed-form and KNN mattes. On the second synthetic generator's smoke
and veil images it is nearer the ground truth than either of them, on fur and transparent
edges far worse; as a network input it moved the far validation sets by less than the seed
spread and did not do comprehensive sampling's job (BUILD_NOTES.md, issue 13, twelfth pass).
"""

import numpy as np
from scipy import ndimage

from matting.data.trimap import check_image_and_trimap, trimap_masks
from matting.errors import MattingInputError, check_range

WINDOW = 5  # Side of the window whose known pixels' mean colour is a sample.


def pair_alpha(colours, fg, bg):
  """(alpha, distortion) of colours (..., 3) blended from fg and bg (..., 3): the projection
  of I - B onto F - B clipped to [0, 1], and ||I - (alpha F + (1 - alpha) B)||."""
  gap = fg - bg
  alpha = np.clip(((colours - bg) * gap).sum(-1) / ((gap**2).sum(-1) + 1e-12), 0.0, 1.0)
  residual = colours - bg - alpha[..., None] * gap
  return alpha, np.sqrt((residual**2).sum(-1))


def _nearest_means(image, known, unknown, window):
  """(U, 3): for each unknown pixel, the mean colour of the `known` pixels in the window
  around its nearest known pixel."""
  weight = ndimage.uniform_filter(known.astype(np.float32), window)
  rows, cols = ndimage.distance_transform_edt(~known, return_distances=False,
                                              return_indices=True)
  rows, cols = rows[unknown], cols[unknown]
  means = np.empty((len(rows), 3), np.float32)
  for c in range(3):
    total = ndimage.uniform_filter(image[..., c] * known, window)
    means[:, c] = total[rows, cols] / np.maximum(weight[rows, cols], 1e-12)
  return means


def nearest_sample_alpha(image, trimap, window=WINDOW):
  """Nearest-sample matte: float32 (H, W) in [0, 1]; known pixels hold the trimap value.

  Args:
    image: (H, W, 3) RGB in [0, 1].
    trimap: (H, W) in {0, 0.5, 1}, with at least one FG and one BG pixel.
    window: odd side of the window averaged around the nearest known pixel (1: that pixel's
      own colour); larger windows give steadier samples on textured regions.
  """
  image, trimap = check_image_and_trimap(image, trimap)
  check_range("window", window, low=1, integer=True)
  if window % 2 == 0:
    raise MattingInputError(f"window: must be odd, got {window}")
  fg, bg, unknown = trimap_masks(trimap)
  alpha = fg.astype(np.float32)
  if not unknown.any():
    return alpha
  image = np.asarray(image, dtype=np.float32)
  sides = [_nearest_means(image, known, unknown, int(window)) for known in (fg, bg)]
  alpha[unknown], _ = pair_alpha(image[unknown], *sides)
  return alpha
