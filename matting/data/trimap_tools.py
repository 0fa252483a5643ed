"""Trimaps for photographs: from a segmentation mask, and from a few FG/BG scribbles.

A mask (binary, or soft and thresholded at 0.5) becomes a trimap with an unknown band of
`unknown_width` pixels centred on its edge: FG is the mask eroded by half the width, BG lies
outside the mask dilated by half the width (Euclidean distance transforms, so the band has
the same width in every direction).

Scribbles are a sparse trimap: a few FG and BG strokes, everything else unknown. Closed-form
matting (Levin et al. 2008, designed for exactly this input) propagates the strokes over the
image; its confident pixels (alpha near 0 or 1, away from its soft edges) become the trimap's
BG and FG and the rest unknown, so the DCNN can refine a trimap it was trained on; a second
pass reads a trimap the same way from the network's matte and predicts again (`matte`).
"""

import math

import numpy as np
from scipy import ndimage

from matting.data.trimap import check_trimap, trimap_masks
from matting.errors import MattingInputError

DEFAULT_BAND_FRACTION = 0.01  # Default unknown band: 1 % of the image diagonal.
# A trimap whose known (FG or BG) pixels cover less than this fraction of the image is read as
# scribbles. Trimaps drawn around an object know most pixels (the alphamatting Trimap1/2 know
# 56-95 %, a loose hand-drawn one may know far less); a few strokes cover a few per cent.
SCRIBBLE_MAX_KNOWN = 0.10
CONFIDENT = 0.02  # Propagated alpha within this of 0 or 1 counts as known.
SAFETY_PX = 3  # Confident regions are eroded by this many pixels, away from soft edges.
# Scribbles are propagated at a resolution of at most this many pixels: the full-image
# closed-form solve costs ~11 s on 0.4 MP (2 cores), and only confident regions are kept.
SOLVE_PIXELS = 120_000
# Network passes on scribbles; the 2nd, on a trimap re-derived from the 1st pass's alpha,
# lowered the whole-image SAD on alphamatting (benchmarks/scribbles.py, notes_issue14.md).
SCRIBBLE_PASSES = 2


def default_unknown_width(height, width):
  """The default band width in pixels: 1 % of the image diagonal, at least 3 pixels."""
  return max(3.0, DEFAULT_BAND_FRACTION * math.hypot(height, width))


def trimap_from_mask(mask, unknown_width=None, name="mask"):
  """float32 (H, W) trimap in {0, 0.5, 1} from a binary or soft [0,1] mask.

  unknown_width: band width in pixels (default `default_unknown_width`). Pixels nearer than
  half of it to the mask's edge are unknown. Raises MattingInputError when the mask is empty
  or full, or when the band swallows all of its FG or BG.
  """
  mask = np.asarray(mask, dtype=np.float32)
  if mask.ndim != 2:
    raise MattingInputError(f"{name}: mask must be 2-D, got shape {mask.shape}")
  height, width = mask.shape
  if unknown_width is None:
    unknown_width = default_unknown_width(height, width)
  if not (np.isfinite(unknown_width) and unknown_width > 0):
    raise MattingInputError(f"must be a positive number of pixels, got {unknown_width}",
                            field="unknown_width")
  inside = mask >= 0.5
  if not inside.any():
    raise MattingInputError(f"{name}: mask has no foreground pixel (value >= 0.5)")
  if inside.all():
    raise MattingInputError(f"{name}: mask has no background pixel (value < 0.5)")
  # Distance of each pixel to the nearest pixel across the edge; edge pixels are 1 away.
  half = unknown_width / 2
  fg = ndimage.distance_transform_edt(inside) > half
  bg = ndimage.distance_transform_edt(~inside) > half
  if not fg.any() or not bg.any():
    side = "foreground" if not fg.any() else "background"
    raise MattingInputError(f"{name}: an unknown band of {unknown_width:g} px leaves no "
                            f"{side}; use a narrower band", field="unknown_width")
  trimap = np.full(mask.shape, 0.5, dtype=np.float32)
  trimap[fg] = 1.0
  trimap[bg] = 0.0
  return trimap


def known_fraction(trimap):
  """Fraction of the trimap's pixels that are FG or BG."""
  _, _, unknown = trimap_masks(trimap)
  return 1.0 - float(unknown.mean())


def looks_like_scribbles(trimap):
  """Whether a trimap is sparse scribbles (known pixels < SCRIBBLE_MAX_KNOWN of the image)."""
  return known_fraction(trimap) < SCRIBBLE_MAX_KNOWN


def trimap_from_alpha(alpha, strokes=None, confident=CONFIDENT, safety=SAFETY_PX):
  """Trimap from a propagated matte: alpha <= confident is BG, >= 1 - confident is FG, each
  eroded by `safety` pixels; the strokes of `strokes` (a trimap) stay known as drawn."""
  alpha = np.asarray(alpha, dtype=np.float32)
  fg, bg = alpha >= 1.0 - confident, alpha <= confident
  if safety > 0:
    fg = ndimage.distance_transform_edt(fg) > safety
    bg = ndimage.distance_transform_edt(bg) > safety
  trimap = np.full(alpha.shape, 0.5, dtype=np.float32)
  trimap[fg] = 1.0
  trimap[bg] = 0.0
  if strokes is not None:
    stroke_fg, stroke_bg, _ = trimap_masks(strokes)
    trimap[stroke_fg] = 1.0
    trimap[stroke_bg] = 0.0
  return trimap


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
  from matting import classic
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
