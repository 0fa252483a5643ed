"""Scribbles to alpha: closed-form matting propagates a few FG/BG strokes (Levin et al. 2008,
designed for exactly this input); its confident pixels become a trimap the DCNN can refine.

Scribbles are a sparse trimap: a few FG and BG strokes, everything else unknown. The
propagated matte's confident pixels (alpha near 0 or 1, away from its soft edges) become the
trimap's BG and FG and the rest unknown; a second pass reads a trimap the same way from the
network's matte and predicts again (`matte`).
"""

import math

import numpy as np
from scipy import ndimage

from matting import classic
from matting.data.trimap import check_trimap, trimap_masks
from matting.data.trimap_tools import looks_like_scribbles, trimap_from_alpha

# Scribbles are propagated at a resolution of at most this many pixels: the full-image
# closed-form solve costs ~11 s on 0.4 MP (2 cores), and only confident regions are kept.
SOLVE_PIXELS = 120_000
# Network passes on scribbles; the 2nd, on a trimap re-derived from the 1st pass's alpha,
# lowered the whole-image SAD on alphamatting (benchmarks/scribbles.py, BUILD_NOTES.md, issue 14).
SCRIBBLE_PASSES = 2


def _downsample(image, scribbles, factor):
  """Box-averaged image and block-wise strokes (a block with only FG or only BG stroke
  pixels keeps it; thin strokes survive) at 1/factor of the size, cropped to whole blocks."""
  h, w = (scribbles.shape[0] // factor) * factor, (scribbles.shape[1] // factor) * factor
  blocks = (h // factor, factor, w // factor, factor)
  small_image = image[:h, :w].reshape(blocks + (3,)).mean(axis=(1, 3))
  fg, bg, _ = trimap_masks(scribbles[:h, :w])
  any_fg, any_bg = fg.reshape(blocks).any(axis=(1, 3)), bg.reshape(blocks).any(axis=(1, 3))
  small = np.full(any_fg.shape, 0.5, dtype=np.float32)
  small[any_fg & ~any_bg] = 1.0
  small[any_bg & ~any_fg] = 0.0
  return small_image, small


def propagate_scribbles(image, scribbles, solve_pixels=SOLVE_PIXELS):
  """Closed-form matte (H, W) of the strokes, solved at <= solve_pixels and resized back."""
  height, width = scribbles.shape
  factor = max(1, math.ceil(math.sqrt(height * width / solve_pixels)))
  if factor == 1:
    return classic.classic_alpha("cf", image, scribbles)
  small_image, small = _downsample(np.asarray(image, np.float32), scribbles, factor)
  fg, bg, _ = trimap_masks(small)
  if not (fg.any() and bg.any()):  # Strokes too thin to survive; solve at full size.
    return classic.classic_alpha("cf", image, scribbles)
  alpha = classic.classic_alpha("cf", small_image, small)
  # Block centres map to pixel centres; edges beyond the last whole block repeat it.
  y = (np.arange(height) + 0.5) / factor - 0.5
  x = (np.arange(width) + 0.5) / factor - 0.5
  grid = np.meshgrid(y, x, indexing="ij")
  return np.clip(ndimage.map_coordinates(alpha, grid, order=1, mode="nearest"),
                 0, 1).astype(np.float32)


def trimap_from_scribbles(image, scribbles, name="scribbles", **params):
  """(trimap, alpha): closed-form matting propagates the strokes (`propagate_scribbles`),
  `trimap_from_alpha` reads its confident pixels. `params` go to trimap_from_alpha."""
  check_trimap(scribbles, name=name)
  alpha = propagate_scribbles(image, scribbles)
  return trimap_from_alpha(alpha, scribbles, **params), alpha


def prepare_trimap(image, trimap, scribbles=None, name="trimap"):
  """(trimap for the network, whether it was read as scribbles).

  scribbles: True or False forces the reading; None detects it (`looks_like_scribbles`).
  """
  if scribbles is None:
    scribbles = looks_like_scribbles(trimap)
  if not scribbles:
    return trimap, False
  return trimap_from_scribbles(image, trimap, name=name)[0], True


def matte(image, trimap, predict_fn, scribbles=None, name="trimap", passes=SCRIBBLE_PASSES):
  """(alpha, whether the trimap was read as scribbles): predict_fn(image, trimap) -> alpha.

  A trimap is predicted once. Scribbles first become a trimap (`prepare_trimap`); each further
  pass re-derives the trimap from the last alpha (`trimap_from_alpha`, strokes kept), since
  the network's matte is more often confidently right than the closed-form propagation is.
  """
  derived, used = prepare_trimap(image, trimap, scribbles, name)
  alpha = predict_fn(image, derived)
  if used:
    for _ in range(passes - 1):
      alpha = predict_fn(image, trimap_from_alpha(alpha, trimap))
  return alpha, used
