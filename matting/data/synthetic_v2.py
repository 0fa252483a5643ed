"""A second, harder synthetic matting generator: large (1.5-3 MP) photographic composites.

Foreground and background textures are random crops of caller-supplied photographs, so F and
B have realistic colour statistics. Ground-truth α mixes 1-3 structures whose fractional
values cover large areas, not just thin bands: transparent refractive objects, fur and long
hair, smoke and veils, and motion-blurred edges. Each structure is a layer (α_k, F_k); they
are stacked with the "over" operator and composited with Eq. (1), I = αF + (1 - α)B. Meant
for a far validation set and for more varied training foregrounds. Everything is vectorised
NumPy/SciPy and a pure function of (seed, photos, size).
"""

import numpy as np
from scipy import ndimage, sparse

from matting.data import datasets, synthetic
from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

KINDS = ("transparent", "fur", "smoke", "motion")
NAME_PREFIX = "syn2_"  # Example names: the prefix and the seed sequence child's index.
_MIN_SIZE = 64
# The trimap's default unknown growth, as a fraction of the image diagonal.
_UNKNOWN_FRACTION = 0.005
# Upper bound on strand segments (1 px each) per example: keeps fur rasterisation ~1 s.
_MAX_SEGMENTS = 120_000


def _linear_matrix(n_in, n_out):
  """Sparse (n_out, n_in) linear-interpolation weights, corners mapped to corners as in
  ndimage.zoom(order=1)."""
  position = np.linspace(0.0, n_in - 1, n_out, dtype=np.float32)
  low = np.minimum(position.astype(np.int64), max(n_in - 2, 0))
  high = np.minimum(low + 1, n_in - 1)
  frac = position - low
  return sparse.csr_array((np.stack([1 - frac, frac], 1).ravel(),
                           np.stack([low, high], 1).ravel(), np.arange(0, 2 * n_out + 1, 2)),
                          shape=(n_out, n_in))


def _resize_linear(image, height, width):
  """Bilinear resize of (h, w, 3) to (height, width, 3) float32: what ndimage.zoom(order=1)
  does, as two sparse products, several times faster at megapixel sizes."""
  h, w = image.shape[:2]
  rows = (_linear_matrix(h, height) @ np.ascontiguousarray(image).reshape(h, -1))
  rows = rows.reshape(height, w, 3)
  cols = _linear_matrix(w, width)
  return np.stack([(cols @ rows[..., c].T).T for c in range(3)], axis=-1).astype(np.float32)


def _photo_texture(rng, photos, height, width, avoid=None, scale=(0.35, 1.0), jitter=True):
  """A (height, width, 3) float32 texture: a random crop of a random photo (not index `avoid`
  when another exists), flipped, resized (bilinear) to cover the canvas, mildly colour-jittered.

  `scale` bounds the crop's short side as a fraction of the largest crop of the canvas's
  aspect that fits the photo; small crops give smooth, low-detail textures. Returns
  (texture, photo index).
  """
  choices = [i for i in range(len(photos)) if i != avoid] or [0]
  index = int(choices[rng.integers(len(choices))])
  photo = photos[index]
  ph, pw = photo.shape[:2]
  max_h = min(ph, pw * height / width)
  ch = int(np.clip(round(max_h * rng.uniform(*scale)), 4, ph))
  cw = int(np.clip(round(ch * width / height), 4, pw))
  y0, x0 = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
  crop = photo[y0:y0 + ch, x0:x0 + cw]
  if rng.random() < 0.5:
    crop = crop[:, ::-1]
  if rng.random() < 0.3:
    crop = crop[::-1]
  texture = _resize_linear(crop, height, width)
  if jitter:
    gain = rng.uniform(0.88, 1.12, 3).astype(np.float32)
    gamma = np.float32(rng.uniform(0.85, 1.15))
    texture = np.clip(texture, 0.0, 1.0)**gamma * gain
  return np.clip(texture, 0.0, 1.0).astype(np.float32), index


def _strand_paths(rng, roots, angles, lengths, curl):
  """Hair-like polylines of 1 px steps from each root (row, column) in direction `angles`:
  the turning rate is a strongly correlated AR(1) process (std `curl` rad/px per strand),
  so strands bend in long smooth arcs. (num, ceil(max(lengths)) + 1, 2) points."""
  from scipy import signal  # Here: its import takes ~1.3 s (see synthetic.py).
  num, steps = len(roots), int(np.ceil(max(lengths)))
  turning = signal.lfilter([0.05], [1.0, -0.95], rng.normal(0.0, 1.0, (num, steps)), axis=1)
  turning = turning * (np.asarray(curl)[:, None] / 0.16)  # AR(1) stationary std is 0.16
  angle = np.asarray(angles)[:, None] + np.cumsum(turning, axis=1)
  steps_yx = np.stack([np.sin(angle), np.cos(angle)], axis=-1)
  return np.concatenate([roots[:, None, :], roots[:, None, :] + np.cumsum(steps_yx, axis=1)],
                        axis=1)


def _rasterise_group(paths, lengths, widths, opacities, height, width, reach):
  """log(1 - α) (H*W,) float64 of strands drawn as in synthetic._rasterise_strands (band
  coverage of each 1 px segment, width tapering to 0.5 px and opacity fading at the tip,
  per-strand max over segments), testing a (2 reach + 1)^2 window per segment, float32."""
  num, steps = paths.shape[0], paths.shape[1] - 1
  t = np.arange(steps, dtype=np.float32) / np.asarray(lengths, np.float32)[:, None]
  keep = t < 1.0
  strand = np.broadcast_to(np.arange(num)[:, None], (num, steps))[keep]
  start = paths[:, :-1][keep].astype(np.float32)
  end = paths[:, 1:][keep].astype(np.float32)
  seg_width = (0.5 + (np.asarray(widths, np.float32)[:, None] - 0.5) * (1 - t))[keep]
  seg_opacity = (np.asarray(opacities, np.float32)[:, None] * (1 - 0.6 * t**2))[keep]
  offsets = np.stack(np.mgrid[-reach:reach + 1, -reach:reach + 1], axis=-1).reshape(-1, 2)
  pixels = np.round((start + end) / 2)[:, None, :] + offsets[None].astype(np.float32)
  direction = (end - start)[:, None, :]
  relative = pixels - start[:, None]
  along = np.clip(np.sum(relative * direction, axis=-1)
                  / np.maximum(np.sum(direction**2, axis=-1), 1e-12), 0.0, 1.0)
  perpendicular = relative - along[..., None] * direction
  distance = np.sqrt(np.sum(perpendicular**2, axis=-1))
  value = np.minimum(synthetic._band_coverage(distance, seg_width[:, None])
                     * seg_opacity[:, None], 1 - 1e-6)
  inside = ((pixels[..., 0] >= 0) & (pixels[..., 0] < height) & (pixels[..., 1] >= 0)
            & (pixels[..., 1] < width) & (value > 0))
  flat = pixels[..., 0].astype(np.int64) * width + pixels[..., 1].astype(np.int64)
  key = (np.broadcast_to(strand[:, None], flat.shape) * (height * width) + flat)[inside]
  value = value[inside]
  order = np.argsort(key)
  key, value = key[order], value[order]
  firsts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
  value = np.maximum.reduceat(value, firsts) if len(firsts) else value
  return np.bincount(key[firsts] % (height * width), weights=np.log1p(-value.astype(np.float64)),
                     minlength=height * width)


def _rasterise(paths, lengths, widths, opacities, height, width):
  """α (H, W) float32 of anti-aliased strands, independent layers α = 1 - prod(1 - α_i); thin
  strands (<= 2 px) get a 5x5 window per segment, thicker ones (<= 4 px) 7x7."""
  log_clear = np.zeros(height * width)
  thin = np.asarray(widths) <= 2.0
  for group, reach in ((thin, 2), (~thin, 3)):
    if group.any():
      log_clear += _rasterise_group(paths[group], lengths[group], widths[group],
                                    opacities[group], height, width, reach)
  return (1.0 - np.exp(log_clear)).reshape(height, width).astype(np.float32)


def _blob_field(rng, height, width, centre, axes, wobble):
  """Implicit closed shape, positive inside: a random superellipse perturbed by smooth noise
  (amplitude `wobble`); about 1 at the centre, 0 on the boundary."""
  field = synthetic._superellipse(height, width, centre, axes, rng.uniform(1.6, 4.0),
                                  rng.uniform(0.0, np.pi))
  noise = synthetic.smooth_noise(rng, height, width, min(axes) * rng.uniform(0.5, 1.2))[..., 0]
  return field + wobble * (noise - 0.5)


def _bbox(mask, pad, height, width):
  """(slice rows, slice cols) of the mask's bounding box grown by pad px, or None if empty."""
  rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
  if not len(rows):
    return None
  return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, height)),
          slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, width)))


def _transparent(rng, photos, fg_index, height, width):
  """A glass-like object: smooth closed shape, interior α 0.15-0.45 rising to 0.6-0.9 at a
  fresnel-like rim, a specular highlight, and the texture inside warped by a lens-like plus
  smooth random displacement so it looks refractive."""
  size = min(height, width)
  centre = (height * rng.uniform(0.3, 0.7), width * rng.uniform(0.3, 0.7))
  axes = (size * rng.uniform(0.16, 0.3), size * rng.uniform(0.16, 0.3))
  field = _blob_field(rng, height, width, centre, axes, rng.uniform(0.05, 0.25))
  coverage = synthetic._edge_coverage(field * min(axes))
  base, peak = rng.uniform(0.15, 0.45), rng.uniform(0.6, 0.9)
  rim = np.exp(-np.maximum(field, 0.0) / rng.uniform(0.05, 0.15))
  variation = synthetic.smooth_noise(rng, height, width, size * 0.2)[..., 0] - 0.5
  opacity = base + (peak - base) * rim + rng.uniform(0.0, 0.2) * variation
  hy, hx = (centre[0] - 0.4 * axes[0] * rng.uniform(0.3, 1.0),
            centre[1] + axes[1] * rng.uniform(-0.5, 0.5))
  y, x = np.ogrid[0:height, 0:width]
  highlight = np.exp(-((y - hy)**2 / (0.08 * axes[0])**2 + (x - hx)**2 / (0.25 * axes[1])**2))
  highlight = (highlight * rng.uniform(0.0, 0.9)).astype(np.float32)
  opacity = np.clip(np.maximum(opacity, highlight), 0.03, 0.97)
  alpha = (coverage * opacity).astype(np.float32)

  texture, _ = _photo_texture(rng, photos, height, width, avoid=fg_index)
  box = _bbox(coverage > 0, 2, height, width)
  if box is not None:
    gy, gx = np.gradient(field[box])
    strength = rng.uniform(-1.0, 1.0) * size * 0.3
    h, w = gy.shape
    noise = synthetic.smooth_noise(rng, h, w, size * 0.1, channels=2) - 0.5
    amplitude = size * rng.uniform(0.01, 0.04)
    yy, xx = np.mgrid[box[0], box[1]].astype(np.float32)
    coords = [yy + strength * gy + amplitude * noise[..., 0],
              xx + strength * gx + amplitude * noise[..., 1]]
    warped = np.stack([ndimage.map_coordinates(texture[..., c], coords, order=1, mode="mirror")
                       for c in range(3)], axis=-1)
    texture[box] = warped
  tint = synthetic._random_palette(rng, 1)[0]
  foreground = (texture * (0.75 + 0.25 * tint) * (0.9 + 0.3 * rim[..., None])
                + highlight[..., None])
  return alpha, np.clip(foreground, 0.0, 1.0).astype(np.float32), centre


def _fur(rng, photos, fg_index, height, width):
  """An opaque furry body with many strands (smooth random-walk polylines, 0.5-4 px wide,
  partly opaque) growing outwards from its boundary: short dense fur and/or long hair, so
  coverage is dense near the body and sparse at the tips."""
  size = min(height, width)
  centre = (height * rng.uniform(0.35, 0.65), width * rng.uniform(0.35, 0.65))
  axes = (size * rng.uniform(0.13, 0.25), size * rng.uniform(0.13, 0.25))
  field = _blob_field(rng, height, width, centre, axes, rng.uniform(0.1, 0.4))
  body = synthetic._edge_coverage(field * min(axes)).astype(np.float32)
  edge = np.flatnonzero((body > 0.02) & (body < 0.98))
  alpha = body
  if len(edge):
    long_hair = rng.uniform(0.0, 0.6)
    num = int(len(edge) * rng.uniform(0.3, 0.8))
    is_long = rng.random(num) < long_hair
    lengths = np.where(is_long, size * rng.uniform(0.1, 0.3, num),
                       size * rng.uniform(0.02, 0.09, num))
    lengths = np.maximum(lengths, 4.0)
    keep = max(8, min(num, int(num * _MAX_SEGMENTS / max(lengths.sum(), 1.0))))
    lengths, is_long = lengths[:keep], is_long[:keep]
    density = synthetic.smooth_noise(rng, height, width, size / 5)[..., 0].ravel()[edge]**2
    density = density + 0.05
    roots_index = edge[rng.choice(len(edge), keep, p=density / density.sum())]
    gy, gx = np.gradient(field)
    outward = np.arctan2(-gy.ravel()[roots_index], -gx.ravel()[roots_index])
    angles = outward + rng.normal(0.0, 0.5, keep)
    roots = np.stack(np.unravel_index(roots_index, (height, width)), axis=1).astype(float)
    roots -= rng.uniform(0.0, 4.0, (keep, 1)) * np.stack([np.sin(outward), np.cos(outward)], 1)
    curl = np.where(is_long, rng.uniform(0.001, 0.006, keep), rng.uniform(0.003, 0.02, keep))
    paths = _strand_paths(rng, roots, angles, lengths, curl)
    widths = np.where(is_long, 0.5 + 2.0 * rng.random(keep)**2, 0.5 + 3.5 * rng.random(keep)**2)
    opacities = rng.uniform(0.3, 1.0, keep)
    strands = _rasterise(paths, lengths, widths, opacities, height, width)
    alpha = 1.0 - (1.0 - body) * (1.0 - strands)
  texture, _ = _photo_texture(rng, photos, height, width, avoid=fg_index)
  shade = synthetic.smooth_noise(rng, height, width, size * 0.15)
  foreground = texture * (0.8 + 0.4 * shade)
  return alpha.astype(np.float32), np.clip(foreground, 0.0, 1.0).astype(np.float32), centre


def _smoke(rng, photos, fg_index, height, width):
  """Smoke or a veil: multi-octave fractal noise through a random contrast curve, shaped by
  a soft blob mask, so α takes values over the whole 0-1 range; a light, smooth colour."""
  size = min(height, width)
  centre = (height * rng.uniform(0.3, 0.7), width * rng.uniform(0.3, 0.7))
  axes = (size * rng.uniform(0.2, 0.4), size * rng.uniform(0.2, 0.45))
  field = _blob_field(rng, height, width, centre, axes, rng.uniform(0.2, 0.6))
  mask = np.clip(field / rng.uniform(0.3, 0.8), 0.0, 1.0)
  mask = mask * mask * (3 - 2 * mask)
  noise = synthetic.fractal_noise(rng, height, width, size * rng.uniform(0.1, 0.35),
                                  octaves=5, persistence=rng.uniform(0.45, 0.65))[..., 0]
  low = rng.uniform(0.2, 0.45)
  density = np.clip((noise - low) / rng.uniform(0.2, 0.45), 0.0, 1.0)**rng.uniform(0.7, 1.6)
  alpha = np.clip(mask * density * rng.uniform(0.8, 1.2), 0.0, 1.0).astype(np.float32)
  texture, _ = _photo_texture(rng, photos, height, width, avoid=fg_index, scale=(0.02, 0.06))
  colour = np.float32(rng.uniform(0.6, 1.0)) * (0.8 + 0.2 * synthetic._random_palette(rng, 1)[0])
  mix = np.float32(rng.uniform(0.2, 0.5))
  foreground = (1 - mix) * colour + mix * texture
  return alpha, np.clip(foreground, 0.0, 1.0).astype(np.float32), centre


def _motion(rng, photos, fg_index, height, width):
  """An opaque textured shape blurred along a random direction by a 10-60 px line kernel.

  Built in a frame rotated to the motion direction, where the blur is a 1-D box filter of
  premultiplied colour and α; mapped back with linear interpolation; F = blur(Fα) / blur(α).
  """
  size = min(height, width)
  centre = (height * rng.uniform(0.3, 0.7), width * rng.uniform(0.3, 0.7))
  length = int(rng.integers(10, 61))
  theta = rng.uniform(0.0, np.pi)
  axes = (size * rng.uniform(0.1, 0.22), size * rng.uniform(0.1, 0.22))
  half = int(np.ceil(1.5 * max(axes) + length))
  n = 2 * half + 1
  field = _blob_field(rng, n, n, (half, half), axes, rng.uniform(0.05, 0.3))
  shape = synthetic._edge_coverage(field * min(axes)).astype(np.float32)
  texture, _ = _photo_texture(rng, photos, n, n, avoid=fg_index)
  layers = np.concatenate([texture * shape[..., None], shape[..., None]], axis=-1)
  layers = ndimage.uniform_filter1d(layers, length, axis=1, mode="constant")

  cos, sin = np.cos(theta), np.sin(theta)
  reach = half * (abs(cos) + abs(sin))
  rows = slice(max(int(centre[0] - reach), 0), min(int(centre[0] + reach) + 2, height))
  cols = slice(max(int(centre[1] - reach), 0), min(int(centre[1] + reach) + 2, width))
  yy, xx = np.mgrid[rows, cols].astype(np.float32)
  dy, dx = yy - centre[0], xx - centre[1]
  coords = [dy * cos - dx * sin + half, dx * cos + dy * sin + half]
  mapped = np.stack([ndimage.map_coordinates(layers[..., c], coords, order=1, cval=0.0)
                     for c in range(4)], axis=-1)
  alpha = np.zeros((height, width), np.float32)
  premultiplied = np.zeros((height, width, 3), np.float32)
  alpha[rows, cols] = np.clip(mapped[..., 3], 0.0, 1.0)
  premultiplied[rows, cols] = mapped[..., :3]
  fill = texture.reshape(-1, 3).mean(axis=0)
  foreground = np.where(alpha[..., None] > 1e-6,
                        premultiplied / np.maximum(alpha[..., None], 1e-6), fill)
  return alpha, np.clip(foreground, 0.0, 1.0).astype(np.float32), centre


_BUILDERS = {"transparent": _transparent, "fur": _fur, "smoke": _smoke, "motion": _motion}


def _draw_kinds(rng):
  """The structures of one example: 1-3 distinct kinds in drawing (back-to-front) order."""
  count = int(rng.integers(1, 4))
  return tuple(KINDS[i] for i in rng.choice(len(KINDS), count, replace=False))


def structure_kinds(seed):
  """The structure kinds make_example_v2(seed, ...) draws, back to front (photos and size do
  not affect them)."""
  return _draw_kinds(np.random.default_rng(seed))


def example_kinds(seed, name):
  """structure_kinds of the example that synthetic_v2_set(seed, ...) names `name` (syn2_NNNNN:
  the NNNNN-th child of the seed sequence, whatever `kinds` filter drew the set)."""
  if not (name.startswith(NAME_PREFIX) and name[len(NAME_PREFIX):].isdigit()):
    raise ValueError(f"{name!r} is not a synthetic_v2 example name ({NAME_PREFIX}NNNNN)")
  child = np.random.SeedSequence(seed, spawn_key=(int(name[len(NAME_PREFIX):]),))
  return structure_kinds(child)


def _snap(alpha):
  """α within half an 8-bit step of 0 or 1 set to it, so the trimap ignores invisible tails."""
  alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
  alpha[alpha < synthetic._ALPHA_SNAP] = 0.0
  alpha[alpha > 1.0 - synthetic._ALPHA_SNAP] = 1.0
  return alpha


def _check_photos(photos):
  photos = [np.asarray(p, np.float32) for p in photos]
  if not photos:
    raise MattingInputError("synthetic_v2: need at least one photo")
  for i, photo in enumerate(photos):
    if photo.ndim != 3 or photo.shape[2] != 3 or min(photo.shape[:2]) < 8:
      raise MattingInputError(f"synthetic_v2: photo {i} must be (h, w, 3) with h, w >= 8, "
                              f"got shape {photo.shape}")
  return photos


def make_example_v2(seed, photos, height=1200, width=1600, unknown_width=None):
  """One photographic synthetic example, a pure function of its arguments.

  Args:
    seed: anything np.random.default_rng accepts (an int, a SeedSequence).
    photos: list of float32 (h, w, 3) photographs in [0, 1]; F and B textures are crops.
    height, width: image size in px (at least 64).
    unknown_width: px the trimap's unknown band grows beyond fractional α
      (synthetic.trimap_from_alpha); default 0.5 % of the image diagonal.

  Returns:
    datasets.Example named f"syn2_{seed:05d}" (a SeedSequence's last spawn index, or its
    entropy; last 5 digits). The trimap always has FG and BG pixels: an opaque core is
    added where no structure is opaque, and α fades to 0 near the border where nothing is
    pure background.

  Raises:
    MattingInputError: bad photos, a size below 64 px, or an unknown_width too wide to leave
      FG and BG in the trimap.
  """
  if height < _MIN_SIZE or width < _MIN_SIZE:
    raise MattingInputError(f"synthetic_v2 image size must be at least {_MIN_SIZE}x{_MIN_SIZE},"
                            f" got {height}x{width}")
  photos = _check_photos(photos)
  if unknown_width is None:
    unknown_width = max(1, int(round(_UNKNOWN_FRACTION * np.hypot(height, width))))
  rng = np.random.default_rng(seed)
  kinds = _draw_kinds(rng)
  background, bg_index = _photo_texture(rng, photos, height, width)
  premultiplied = np.zeros((height, width, 3), np.float32)
  coverage = np.zeros((height, width), np.float32)
  centres = []
  for kind in kinds:
    alpha_k, fg_k, centre = _BUILDERS[kind](rng, photos, bg_index, height, width)
    a = alpha_k[..., None]
    premultiplied = a * fg_k + (1 - a) * premultiplied
    coverage = alpha_k + (1 - alpha_k) * coverage
    centres.append(centre)
  # F where nothing covers the pixel is unseen (α = 0) unless an opaque core lands there;
  # the structures' mean colour keeps that core plausible.
  covered = coverage > 1e-6
  foreground = premultiplied / np.maximum(coverage[..., None], 1e-6)
  foreground[~covered] = foreground[covered].mean(axis=0) if covered.any() else 0.5
  foreground = np.clip(foreground, 0.0, 1.0).astype(np.float32)
  alpha = _snap(coverage)

  size = min(height, width)
  trimap = synthetic.trimap_from_alpha(alpha, unknown_width)
  fg, bg, _ = trimap_masks(trimap)
  margin = unknown_width + max(2.0, 0.03 * size)
  if not fg.any():
    radius = unknown_width + max(3.0, 0.04 * size)
    cy = np.clip(centres[0][0], margin + radius, height - margin - radius)
    cx = np.clip(centres[0][1], margin + radius, width - margin - radius)
    y, x = np.ogrid[0:height, 0:width]
    core = synthetic._edge_coverage(radius - np.hypot(y - cy, x - cx))
    alpha = _snap(1 - (1 - alpha) * (1 - core))
  if not bg.any():
    y, x = np.ogrid[0:height, 0:width]
    border = np.minimum(np.minimum(y, height - 1 - y), np.minimum(x, width - 1 - x))
    alpha = _snap(alpha * np.clip((border - margin) / margin, 0.0, 1.0))
  if not (fg.any() and bg.any()):
    trimap = synthetic.trimap_from_alpha(alpha, unknown_width)
    fg, bg, _ = trimap_masks(trimap)
    if not (fg.any() and bg.any()):
      raise MattingInputError(f"synthetic_v2 {height}x{width}: unknown_width={unknown_width} "
                              f"leaves no {'foreground' if not fg.any() else 'background'}; "
                              f"use a narrower band or a larger image")
  a = alpha[..., None]
  image = np.clip(a * foreground + (1 - a) * background, 0.0, 1.0).astype(np.float32)
  if isinstance(seed, np.random.SeedSequence):
    number = seed.spawn_key[-1] if seed.spawn_key else seed.entropy
  else:
    number = int(seed) if np.ndim(seed) == 0 else 0
  return datasets.Example(name=f"syn2_{int(number) % 100000:05d}", image=image, trimap=trimap,
                          alpha=alpha)


def check_kinds(kinds, field=None):
  """MattingInputError (naming `field`, or 'kinds') unless every one of `kinds` is in KINDS."""
  unknown = sorted(set(kinds) - set(KINDS))
  if unknown:
    raise MattingInputError(f"{'' if field else 'kinds: '}expected some of {KINDS}, got "
                            f"{unknown}", field=field)


def synthetic_v2_set(seed, num, photos, height=1200, width=1600, kinds=()):
  """`num` examples; example i comes from the i-th child of np.random.SeedSequence(seed), so
  a larger `num` appends examples and leaves the earlier ones unchanged. Named syn2_00000,
  syn2_00001, ... by the child's index.

  `kinds`: keep only the children whose structures include one of these (`structure_kinds`,
  checked before drawing the images), e.g. more fur than the generator's even mix, in which
  each kind is in half of the examples; () keeps every child.
  """
  if num < 1:
    raise MattingInputError(f"synthetic_v2 set size must be >= 1, got {num}")
  check_kinds(kinds)
  photos = _check_photos(photos)
  sequence, examples = np.random.SeedSequence(seed), []
  while len(examples) < num:
    (child,) = sequence.spawn(1)  # The same children, in order, as spawn(num).
    if kinds and not set(structure_kinds(child)) & set(kinds):
      continue
    ex = make_example_v2(child, photos, height=height, width=width)
    examples.append(datasets.Example(name=f"{NAME_PREFIX}{child.spawn_key[-1]:05d}", image=ex.image,
                                     trimap=ex.trimap, alpha=ex.alpha))
  return examples
