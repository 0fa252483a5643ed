"""Trimaps for photographs: from a segmentation mask, and read from a matte.

A mask (binary, or soft and thresholded at 0.5) becomes a trimap with an unknown band of
`unknown_width` pixels centred on its edge: FG is the mask eroded by half the width, BG lies
outside the mask dilated by half the width (Euclidean distance transforms, so the band has
the same width in every direction).

Scribbles are a sparse trimap: a few FG and BG strokes, everything else unknown
(`looks_like_scribbles`); classic/scribbles.py propagates them, and `trimap_from_alpha` reads a
trimap from the propagated matte's confident pixels.
"""

import math

import numpy as np
from scipy import ndimage

from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

DEFAULT_BAND_FRACTION = 0.01  # Default unknown band: 1 % of the image diagonal.
# A trimap whose known (FG or BG) pixels cover less than this fraction of the image is read as
# scribbles. Trimaps drawn around an object know most pixels (the alphamatting Trimap1/2 know
# 56-95 %, a loose hand-drawn one may know far less); a few strokes cover a few per cent.
SCRIBBLE_MAX_KNOWN = 0.10
CONFIDENT = 0.02  # Propagated alpha within this of 0 or 1 counts as known.
SAFETY_PX = 3  # Confident regions are eroded by this many pixels, away from soft edges.


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
