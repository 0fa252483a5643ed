"""Training-set augmentation by re-compositing (paper §4.1).

"Using their ground truth alpha mattes, we composite the foreground onto different background
[...] We have also exploited different rotation, reflection and resizing." Each composite is a
new (image, trimap, alpha) triple: the foreground F and GT alpha are warped by one random
geometric transform and blended onto a new background with Eq. (1), I = αF + (1 - α)B.

The classic mattes (closed-form, KNN) of a composite must be recomputed from the composite
image and its trimap by the caller (matting.cache); copying the original image's mattes would
leak the original background into the inputs. Randomness comes only from the np.random.Generator
or seed arguments, so a seed reproduces the same composites (and hits the same cache entries).
"""

import dataclasses

import numpy as np
from absl import logging
from scipy import ndimage

from matting.compose.cutout import composite
from matting.data.datasets import Example
from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

# A warped known-region indicator must stay this close to 1 for the pixel to stay known.
_KNOWN_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Geometry:
  """A similarity transform about the image centre: reflect, then rotate, then resize.

  angle_deg: counter-clockwise rotation as displayed (90 equals np.rot90).
  scale: output size / input size (1.0 keeps the size).
  flip: horizontal reflection (left-right).
  """
  angle_deg: float = 0.0
  scale: float = 1.0
  flip: bool = False


def random_geometry(rng, max_angle_deg=30.0, scale_range=(0.75, 1.25), flip_prob=0.5):
  """Draws a Geometry: angle uniform in ±max_angle_deg, scale log-uniform, flip ~ Bernoulli.

  The paper names rotation, reflection and resizing but no ranges; these defaults are ours:
  moderate angles keep hair falling roughly downwards, as in the test images.
  """
  low, high = scale_range
  if not 0 < low <= high:
    raise MattingInputError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
  return Geometry(
      angle_deg=float(rng.uniform(-max_angle_deg, max_angle_deg)),
      scale=float(np.exp(rng.uniform(np.log(low), np.log(high)))),
      flip=bool(rng.random() < flip_prob))


def output_shape(transform, height, width):
  """(height, width) of the warped array: the bounding box, so nothing is cut off."""
  theta = np.deg2rad(transform.angle_deg)
  cos, sin = abs(np.cos(theta)), abs(np.sin(theta))
  out_h = int(round(transform.scale * (height * cos + width * sin)))
  out_w = int(round(transform.scale * (height * sin + width * cos)))
  return max(out_h, 1), max(out_w, 1)


def _inverse_map(transform, height, width):
  """(matrix, offset, out_shape) mapping output (row, col) to input (row, col)."""
  out_shape = output_shape(transform, height, width)
  theta = np.deg2rad(transform.angle_deg)
  cos, sin = np.cos(theta), np.sin(theta)
  # Forward map on centred (row, col): p_out = scale * R * F * p_in; this is its inverse.
  rotate_back = np.array([[cos, sin], [-sin, cos]])
  reflect = np.diag([1.0, -1.0 if transform.flip else 1.0])
  matrix = reflect @ rotate_back / transform.scale
  in_centre = (np.array([height, width]) - 1) / 2
  out_centre = (np.array(out_shape) - 1) / 2
  return matrix, in_centre - matrix @ out_centre, out_shape


def apply_geometry(transform, array, order=1, fill=0.0):
  """Warps an (H, W) or (H, W, C) array with one resampling (scipy.ndimage.affine_transform).

  Args:
    transform: a Geometry.
    array: image-aligned array; every array of one example warped with the same transform
      stays pixel-aligned with the others.
    order: spline order; 1 (bilinear) for colours and alpha, 0 (nearest) for labels.
    fill: value of the regions rotated in from outside the input, blended with the edge
      pixels over one pixel; None replicates the nearest edge pixel instead (for colours,
      so that a blended edge keeps its colour rather than darkening).

  Returns:
    float32 array of shape output_shape(...) (+ the channel axis).
  """
  array = np.asarray(array, dtype=np.float32)
  matrix, offset, out_shape = _inverse_map(transform, *array.shape[:2])
  mode, cval = ("nearest", 0.0) if fill is None else ("grid-constant", float(fill))

  def warp(plane):
    return ndimage.affine_transform(plane, matrix, offset, output_shape=out_shape, order=order,
                                    mode=mode, cval=cval, prefilter=False)

  if array.ndim == 2:
    return warp(array)
  return np.stack([warp(array[..., c]) for c in range(array.shape[-1])], axis=-1)


def transform_trimap(transform, trimap):
  """Warps a trimap, keeping values in {0, 0.5, 1} and the known regions conservative.

  The FG and BG indicators are warped bilinearly; a pixel stays FG (BG) only where all the
  input pixels it interpolates are FG (BG), so the known pixels of the warped trimap keep
  GT alpha exactly 1 (0) under the same bilinear warp of alpha. Regions rotated in from
  outside the image are background (trimap 0, alpha 0). The unknown band may widen by a pixel.
  """
  fg, bg, _ = trimap_masks(trimap)
  fg_warped = apply_geometry(transform, fg, order=1, fill=0.0)
  bg_warped = apply_geometry(transform, bg, order=1, fill=1.0)
  out = np.full(fg_warped.shape, 0.5, dtype=np.float32)
  out[bg_warped >= 1 - _KNOWN_TOLERANCE] = 0.0
  out[fg_warped >= 1 - _KNOWN_TOLERANCE] = 1.0
  return out


def fit_background(background, height, width, rng):
  """A random (height, width) crop of a background, upscaled first if it is smaller."""
  background = np.asarray(background, dtype=np.float32)
  bg_h, bg_w = background.shape[:2]
  factor = max(height / bg_h, width / bg_w)
  if factor > 1:
    background = ndimage.zoom(background, (factor, factor, 1), order=1, mode="nearest",
                              grid_mode=True)
    bg_h, bg_w = background.shape[:2]
  top = int(rng.integers(0, bg_h - height + 1))
  left = int(rng.integers(0, bg_w - width + 1))
  return background[top:top + height, left:left + width]


def crop_around_unknown(rng, image, alpha, trimap, max_pixels):
  """A window of at most `max_pixels` (the image's aspect) centred near a random unknown
  pixel, so that strong upscaling does not make the classic mattes of a composite costly."""
  height, width = alpha.shape
  if height * width <= max_pixels:
    return image, alpha, trimap
  factor = np.sqrt(max_pixels / (height * width))
  crop_h, crop_w = max(1, int(height * factor)), max(1, int(width * factor))
  unknown = np.argwhere(trimap_masks(trimap)[2])
  if len(unknown):
    row, col = unknown[int(rng.integers(len(unknown)))]
  else:
    row, col = height // 2, width // 2
  top = int(np.clip(row - crop_h // 2, 0, height - crop_h))
  left = int(np.clip(col - crop_w // 2, 0, width - crop_w))
  window = (slice(top, top + crop_h), slice(left, left + crop_w))
  # Copies: a view would keep the whole (up to 3x upscaled) composite alive.
  return image[window].copy(), alpha[window].copy(), trimap[window].copy()


def augment_example(rng, foreground, alpha, trimap, background, max_angle_deg=30.0,
                    scale_range=(0.75, 1.25), flip_prob=0.5, max_pixels=None):
  """One composite: a random geometry on (F, α, trimap), then Eq. (1) on a new background.

  The caller must recompute the classic mattes on the returned image (module docstring).
  max_pixels: crop larger composites to a window around an unknown pixel (None: never).

  Returns:
    (image (H', W', 3), alpha (H', W'), trimap (H', W')) float32; (H', W') is the warped size.
  """
  transform = random_geometry(rng, max_angle_deg, scale_range, flip_prob)
  fg = apply_geometry(transform, foreground, order=1, fill=None)
  new_alpha = np.clip(apply_geometry(transform, alpha, order=1, fill=0.0), 0.0, 1.0)
  new_trimap = transform_trimap(transform, trimap)
  bg = fit_background(background, *new_alpha.shape, rng)
  image = composite(fg, new_alpha, bg)
  if max_pixels:
    return crop_around_unknown(rng, image, new_alpha, new_trimap, max_pixels)
  return image, new_alpha, new_trimap


def iter_augmented(examples_with_fg, backgrounds, num_per_example, seed, max_tries=10,
                   **augment_kwargs):
  """Yields augmented Examples one at a time (see augmented_set); keeps memory flat."""
  if not backgrounds:
    raise MattingInputError("augmentation needs at least one background")
  skipped = 0
  for index, (example, foreground) in enumerate(examples_with_fg):
    if example.alpha is None:
      raise MattingInputError(f"{example.name}: augmentation needs a ground-truth alpha")
    rng = np.random.default_rng([seed, index])
    for k in range(num_per_example):
      for _ in range(max_tries):
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        image, alpha, trimap = augment_example(rng, foreground, example.alpha, example.trimap,
                                               background, **augment_kwargs)
        fg_mask, bg_mask, _ = trimap_masks(trimap)
        if fg_mask.any() and bg_mask.any():
          yield Example(name=f"{example.name}_aug{k:03d}", image=image, trimap=trimap,
                        alpha=alpha)
          break
      else:
        skipped += 1
  if skipped:
    logging.warning("augmentation skipped %d composites whose trimap lost FG or BG in %d tries",
                    skipped, max_tries)


def augmented_set(examples_with_fg, backgrounds, num_per_example, seed, max_tries=10,
                  **augment_kwargs):
  """num_per_example composites of each (Example, foreground) pair, deterministic from seed.

  Composite k of example `src` is named f"{src}_aug{k:03d}". Each example draws from its own
  generator seeded by (seed, example index), so adding examples leaves earlier ones unchanged.
  A composite whose warped trimap has no FG or no BG pixel left (a thin foreground shrunk
  away) is redrawn with a new geometry and background, up to max_tries times; after that it
  is skipped, its name left out, and the skips are counted in one logged warning.

  Args:
    examples_with_fg: iterable of (Example with GT alpha, foreground F (H, W, 3)) pairs, F
      from matting.foreground.estimate_foreground.
    backgrounds: sequence of (h, w, 3) backgrounds in [0, 1], any size (fit_background).
    num_per_example: composites per example.
    seed: integer seed.
    max_tries: draws per composite before it is skipped.
    **augment_kwargs: max_angle_deg, scale_range, flip_prob, max_pixels of augment_example.

  Returns:
    list of Examples; their classic mattes must be recomputed (module docstring).
  """
  return list(iter_augmented(examples_with_fg, backgrounds, num_per_example, seed, max_tries,
                             **augment_kwargs))
