"""Trimap conventions: values in {0, 0.5, 1}; FG >= 0.9, BG <= 0.1, anything else unknown."""

import numpy as np

from matting.errors import MattingInputError

FG_THRESHOLD = 0.9
BG_THRESHOLD = 0.1


def quantize_trimap(grey):
  """Maps a [0,1] grey trimap to {0, 0.5, 1} (float32) with the package thresholds."""
  grey = np.asarray(grey, dtype=np.float32)
  trimap = np.full(grey.shape, 0.5, dtype=np.float32)
  trimap[grey >= FG_THRESHOLD] = 1.0
  trimap[grey <= BG_THRESHOLD] = 0.0
  return trimap


def trimap_masks(trimap):
  """Returns boolean (fg, bg, unknown) masks of a trimap."""
  trimap = np.asarray(trimap)
  fg = trimap >= FG_THRESHOLD
  bg = trimap <= BG_THRESHOLD
  return fg, bg, ~(fg | bg)


def check_trimap(trimap, name="trimap"):
  """Raises MattingInputError unless the trimap has at least one FG and one BG pixel."""
  trimap = np.asarray(trimap)
  if trimap.ndim != 2:
    raise MattingInputError(f"{name}: trimap must be 2-D, got shape {trimap.shape}")
  if not np.all(np.isfinite(trimap)):
    raise MattingInputError(f"{name}: trimap contains NaN or Inf")
  fg, bg, _ = trimap_masks(trimap)
  if not fg.any():
    raise MattingInputError(f"{name}: trimap has no foreground pixel (value >= {FG_THRESHOLD})")
  if not bg.any():
    raise MattingInputError(f"{name}: trimap has no background pixel (value <= {BG_THRESHOLD})")


def check_image(image, name="image"):
  """Returns an (H, W, 3) finite image as float64; raises MattingInputError otherwise."""
  image = np.asarray(image, dtype=np.float64)
  if image.ndim != 3 or image.shape[2] != 3:
    raise MattingInputError(f"{name}: expected an (H, W, 3) array, got shape {image.shape}")
  if not np.all(np.isfinite(image)):
    raise MattingInputError(f"{name}: contains NaN or Inf")
  return image


def check_image_and_trimap(image, trimap):
  """The solvers' input check: a finite (H, W, 3) image and a usable trimap of its size.

  Returns both as float64 arrays.
  """
  image = check_image(image)
  trimap = np.asarray(trimap, dtype=np.float64)
  check_trimap(trimap)
  if trimap.shape != image.shape[:2]:
    raise MattingInputError(f"trimap: shape {trimap.shape} does not match the image's "
                            f"{image.shape[:2]}")
  return image, trimap
