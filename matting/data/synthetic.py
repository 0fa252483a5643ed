"""Embedded synthetic matting data, generated deterministically from a seed.

The paper's Fig. 8 shows where the colour-line model of closed-form matting fails: a
foreground over a very colourful, highly textured background. Each example here composites a
smooth, lightly textured foreground F onto such a background B with Eq. (1),
I = αF + (1 - α)B, through a ground-truth α that mixes the structures matting is judged on:
hair-like thin strands (0.5-3 px wide, partly opaque), a semi-transparent veil or net, fuzzy
(blurred) boundaries and sharp anti-aliased boundaries with holes. The trimap is derived from
α by `trimap_from_alpha`. Everything is vectorised NumPy/SciPy.
"""

import dataclasses

import numpy as np
from scipy import ndimage, sparse

from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

# α below half an 8-bit step is set to 0, and above 1 minus it to 1, so that invisible
# Gaussian tails do not widen the unknown band and an 8-bit copy of α keeps the same trimap.
_ALPHA_SNAP = 0.5 / 255
# Half-size (px) of the window each strand segment is drawn into: enough for 3 px widths.
_STRAND_REACH = 3
_MIN_SIZE = 32
# Radius of the body's always-opaque core disc, as a fraction of the short image side.
_CORE_FRACTION = 0.15


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticExample:
  """One composite, all float32: image, foreground, background (H, W, 3) in [0, 1]; alpha
  (H, W) in [0, 1]; trimap (H, W) in {0, 0.5, 1}. eq=False: arrays have no truth value.
  """
  image: np.ndarray
  alpha: np.ndarray
  trimap: np.ndarray
  foreground: np.ndarray
  background: np.ndarray


def _bspline_matrix(n_out, n_in):
  """Sparse (n_out, n_in) cubic B-spline weights spreading n_in knots over n_out pixels.

  Each row is a convex combination of 4 knots, so the result is smooth (C2) and never leaves
  the knots' range.
  """
  u = 1.0 + (np.arange(n_out) + 0.5) * (n_in - 3) / n_out
  i = np.floor(u).astype(int)
  f = u - i
  weights = np.stack([(1 - f)**3, 3 * f**3 - 6 * f**2 + 4, -3 * f**3 + 3 * f**2 + 3 * f + 1,
                      f**3], axis=1) / 6.0
  columns = i[:, None] + np.arange(-1, 3)
  return sparse.csr_array((weights.astype(np.float32).ravel(), columns.ravel(),
                           np.arange(0, 4 * n_out + 1, 4)), shape=(n_out, n_in))


def smooth_noise(rng, height, width, cell, channels=1):
  """Value noise: uniform random knots every `cell` px, B-spline interpolated.

  Returns float32 (height, width, channels), each channel rescaled to span [0, 1].
  """
  cell = max(float(cell), 1.0)
  knots = rng.random((channels, int(np.ceil(height / cell)) + 3,
                      int(np.ceil(width / cell)) + 3), dtype=np.float32)
  rows = _bspline_matrix(height, knots.shape[1])
  cols = _bspline_matrix(width, knots.shape[2])
  noise = np.empty((height, width, channels), np.float32)
  for c in range(channels):
    layer = (cols @ (rows @ knots[c]).T).T
    low, high = layer.min(), layer.max()
    noise[..., c] = (layer - low) / max(high - low, 1e-6)
  return noise


def fractal_noise(rng, height, width, cell, octaves, channels=1, persistence=0.5):
  """Sum of `octaves` value-noise layers, each half the cell size and `persistence` times the
  amplitude of the previous one; rescaled to span [0, 1] per channel."""
  total = sum(persistence**k * smooth_noise(rng, height, width, cell / 2**k, channels)
              for k in range(octaves))
  low, high = total.min(axis=(0, 1)), total.max(axis=(0, 1))
  return ((total - low) / np.maximum(high - low, 1e-6)).astype(np.float32)


def _hsv_to_rgb(hsv):
  """Vectorised HSV -> RGB for (..., 3) arrays in [0, 1]."""
  h, s, v = hsv[..., 0:1], hsv[..., 1:2], hsv[..., 2:3]
  k = (np.array([5.0, 3.0, 1.0]) + 6.0 * h) % 6.0
  return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _random_palette(rng, size):
  """`size` saturated colours with hues spread around the wheel from a random start."""
  hues = (rng.random() + np.arange(size) / size + rng.uniform(-0.3, 0.3, size) / size) % 1.0
  hsv = np.stack([hues, rng.uniform(0.55, 1.0, size), rng.uniform(0.35, 1.0, size)], axis=1)
  return _hsv_to_rgb(rng.permutation(hsv)).astype(np.float32)


def _palette_lookup(palette, t):
  """Maps t (H, W) to colours by cycling linearly through the palette as t grows."""
  position = (t * len(palette)) % len(palette)
  knots = np.arange(len(palette) + 1)
  cyclic = np.concatenate([palette, palette[:1]])
  return np.stack([np.interp(position, knots, cyclic[:, c]) for c in range(3)], axis=-1)


def _rotated_coordinates(rng, height, width):
  """Pixel coordinates (u, v) (H, W) along and across a random direction, in px."""
  theta = rng.uniform(0.0, np.pi)
  cos, sin = np.float32(np.cos(theta)), np.float32(np.sin(theta))
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  return x * cos + y * sin, y * cos - x * sin


def _soft_step(t, sharpness):
  """Smooth 0 -> 1 transition at t = 0.5 (sigmoid of the given sharpness)."""
  return 1.0 / (1.0 + np.exp(-sharpness * (t - 0.5)))


def make_background(rng, height, width):
  """A colourful, highly textured background (H, W, 3) float32 in [0, 1].

  Multi-colour fractal noise mapped through a random hue palette, overlaid in random regions
  by wavy stripes and rotated checkers of random frequencies, plus fine coloured grain: many
  colours inside every small window, which breaks the colour-line model (paper Fig. 8).
  """
  size = min(height, width)
  palette = _random_palette(rng, int(rng.integers(4, 8)))
  bands = fractal_noise(rng, height, width, size * rng.uniform(0.3, 0.8), octaves=5)[..., 0]
  background = _palette_lookup(palette, bands * rng.uniform(1.5, 4.0))

  u, _ = _rotated_coordinates(rng, height, width)
  warp = smooth_noise(rng, height, width, size / 4)[..., 0]
  stripes = 0.5 + 0.5 * np.sin(2 * np.pi * u / rng.uniform(4.0, 24.0) + 6.0 * warp)
  stripes = _soft_step(stripes, rng.uniform(4.0, 30.0))[..., None]
  picks = rng.choice(len(palette), 4, replace=False)
  striped = stripes * palette[picks[0]] + (1 - stripes) * palette[picks[1]]

  u, v = _rotated_coordinates(rng, height, width)
  cell = rng.uniform(5.0, 30.0)
  checks = np.sin(np.pi * u / cell) * np.sin(np.pi * v / (cell * rng.uniform(0.6, 1.6)))
  checks = (0.5 + 0.5 * np.tanh(rng.uniform(3.0, 20.0) * checks))[..., None]
  checkered = checks * palette[picks[2]] + (1 - checks) * palette[picks[3]]

  regions = smooth_noise(rng, height, width, size / 3, channels=2)
  stripe_mask = _soft_step(regions[..., 0:1], 12.0) * rng.uniform(0.6, 1.0)
  check_mask = _soft_step(regions[..., 1:2], 12.0) * rng.uniform(0.6, 1.0)
  background = (1 - stripe_mask) * background + stripe_mask * striped
  background = (1 - check_mask) * background + check_mask * checkered

  shade = smooth_noise(rng, height, width, size / 6)
  grain = smooth_noise(rng, height, width, rng.uniform(1.5, 4.0), channels=3) - 0.5
  background = background * (0.75 + 0.5 * shade) + rng.uniform(0.08, 0.2) * grain
  return np.clip(background, 0.0, 1.0).astype(np.float32)


def make_foreground(rng, height, width, background):
  """A smoothly varying, lightly textured foreground (H, W, 3) float32 in [0, 1].

  Two colours blended by low-frequency noise, with soft shading and faint grain. Half the time
  one colour is taken from a background pixel, so the colour distributions of F and B
  overlap somewhat, as they do in real photographs.
  """
  size = min(height, width)
  colours = _random_palette(rng, 2)
  if rng.random() < 0.5:
    pixel = background[rng.integers(height), rng.integers(width)]
    colours[0] = np.clip(pixel + rng.normal(0.0, 0.05, 3), 0.0, 1.0)
  mix = smooth_noise(rng, height, width, size * rng.uniform(0.2, 0.6))
  foreground = (1 - mix) * colours[0] + mix * colours[1]
  shade = smooth_noise(rng, height, width, size / 8)
  grain = smooth_noise(rng, height, width, rng.uniform(2.0, 6.0), channels=3) - 0.5
  foreground = foreground * (0.8 + 0.3 * shade) + rng.uniform(0.02, 0.06) * grain
  return np.clip(foreground, 0.0, 1.0).astype(np.float32)


def _edge_coverage(field):
  """Anti-aliased indicator of {field > 0}: the signed distance field / |grad field| (px),
  shifted by half a pixel and clipped to [0, 1], approximates each pixel's area coverage."""
  gy, gx = np.gradient(field)
  return np.clip(0.5 + field / np.maximum(np.hypot(gy, gx), 1e-6), 0.0, 1.0)


def _band_coverage(distance, width):
  """Coverage of a unit pixel by a band of the given width whose centre line lies `distance`
  px from the pixel centre: the overlap of [d - 1/2, d + 1/2] with [-w/2, w/2]. A band
  thinner than a pixel therefore peaks at its width, i.e. it is partly transparent."""
  return np.clip(np.minimum(distance + 0.5, width / 2) - np.maximum(distance - 0.5, -width / 2),
                 0.0, 1.0)


def _superellipse(height, width, centre, axes, exponent, angle):
  """Implicit superellipse 1 - (|x'/a|^p + |y'/b|^p)^(1/p), positive inside; (H, W) float32."""
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  y, x = y - centre[0], x - centre[1]
  cos, sin = np.cos(angle), np.sin(angle)
  along = np.abs(x * cos + y * sin) / axes[1]
  across = np.abs(y * cos - x * sin) / axes[0]
  return (1.0 - (along**exponent + across**exponent)**(1.0 / exponent)).astype(np.float32)


def _body_alpha(rng, height, width):
  """The opaque object: a noise-perturbed superellipse with sharp anti-aliased edges, a few
  holes, and a random stretch of its boundary blurred into a fuzzy edge.

  A disc at the centre (radius _CORE_FRACTION of the short side) is kept opaque, so the
  trimap keeps foreground pixels whatever the holes and blur do.
  """
  size = min(height, width)
  centre = (height * rng.uniform(0.45, 0.7), width * rng.uniform(0.35, 0.65))
  axes = (height * rng.uniform(0.22, 0.34), width * rng.uniform(0.18, 0.3))
  field = _superellipse(height, width, centre, axes, rng.uniform(1.5, 4.0),
                        rng.uniform(-0.5, 0.5))
  field += rng.uniform(0.2, 0.5) * (smooth_noise(rng, height, width, size / 5)[..., 0] - 0.5)
  body = _edge_coverage(field)

  core_radius = _CORE_FRACTION * size
  y, x = np.ogrid[0:height, 0:width]
  core = _edge_coverage(core_radius - np.hypot(y - centre[0], x - centre[1]))
  holes = fractal_noise(rng, height, width, size / 8, octaves=2)[..., 0]
  holes = _edge_coverage(holes - np.quantile(holes, rng.uniform(0.95, 0.985)))
  body = body * (1 - holes)

  fuzzy = ndimage.gaussian_filter(body, rng.uniform(2.0, 6.0))
  fuzzy_region = _soft_step(smooth_noise(rng, height, width, size / 3)[..., 0], 15.0)
  body = (1 - fuzzy_region) * body + fuzzy_region * fuzzy
  return np.maximum(body, core)


def _veil_alpha(rng, height, width):
  """A semi-transparent region: a soft-edged shape whose opacity varies smoothly in
  (0.1, 0.8); half the time a net of thin, more opaque threads runs through it."""
  size = min(height, width)
  centre = (height * rng.uniform(0.15, 0.85), width * rng.uniform(0.15, 0.85))
  axes = (size * rng.uniform(0.12, 0.25), size * rng.uniform(0.12, 0.25))
  field = _superellipse(height, width, centre, axes, rng.uniform(1.2, 3.0),
                        rng.uniform(0.0, np.pi))
  shape = _edge_coverage(field + 0.3 * (smooth_noise(rng, height, width, size / 6)[..., 0] - 0.5))
  shape = ndimage.gaussian_filter(shape, rng.uniform(0.0, 3.0))
  opacity = 0.1 + 0.7 * smooth_noise(rng, height, width, size / 5)[..., 0]
  if rng.random() < 0.5:
    u, v = _rotated_coordinates(rng, height, width)
    period, thread = rng.uniform(5.0, 12.0), rng.uniform(0.6, 1.5)
    distance = np.minimum(np.abs((u + period / 2) % period - period / 2),
                          np.abs((v + period / 2) % period - period / 2))
    net = _band_coverage(distance, thread) * rng.uniform(0.6, 1.0)
    opacity = opacity + (1 - opacity) * net
  return shape * opacity


def _strand_paths(rng, roots, angles, lengths):
  """Hair-like curves: random walks with momentum from each root (initial direction `angles`,
  radians, atan2(row, column) convention), 1 px steps.

  The turning rate is an AR(1) process (correlation 0.95), so curvature changes smoothly and
  the strand bends in long arcs rather than jittering. Returns (num, ceil(max(lengths)) + 1, 2)
  points (row, column); steps past a strand's own length are not used.
  """
  from scipy import signal  # Here: its import takes ~1.3 s, which every CLI command paid.
  num, steps = len(roots), int(np.ceil(max(lengths)))
  turning = signal.lfilter([1.0], [1.0, -0.95],
                           rng.normal(0.0, rng.uniform(0.004, 0.015), (num, steps)), axis=1)
  angle = np.asarray(angles)[:, None] + np.cumsum(turning, axis=1)
  steps_yx = np.stack([np.sin(angle), np.cos(angle)], axis=-1)
  return np.concatenate([roots[:, None, :], roots[:, None, :] + np.cumsum(steps_yx, axis=1)],
                        axis=1)


def _rasterise_strands(paths, lengths, widths, opacities, height, width):
  """α of anti-aliased strands: each 1 px segment covers the pixels near it by the band
  coverage of its distance (exact distance to the segment), the strand's width tapering to
  0.5 px and its opacity fading towards the tip; overlapping strands combine as independent
  layers, α = 1 - prod(1 - α_i).

  Vectorised over all segments at once: every segment is tested against the
  (2 * _STRAND_REACH + 1)^2 pixels around its midpoint.
  """
  num, steps = paths.shape[0], paths.shape[1] - 1
  t = np.arange(steps) / np.asarray(lengths, float)[:, None]  # 0 at the root, 1 at the tip
  keep = t < 1.0
  strand = np.broadcast_to(np.arange(num)[:, None], (num, steps))[keep]
  start, end = paths[:, :-1][keep], paths[:, 1:][keep]
  seg_width = (0.5 + (np.asarray(widths)[:, None] - 0.5) * (1 - t))[keep]
  seg_opacity = (np.asarray(opacities)[:, None] * (1 - 0.6 * t**2))[keep]

  offsets = np.stack(np.mgrid[-_STRAND_REACH:_STRAND_REACH + 1,
                              -_STRAND_REACH:_STRAND_REACH + 1], axis=-1).reshape(-1, 2)
  pixels = np.round((start + end) / 2)[:, None, :] + offsets[None]  # (segments, window, 2)
  direction = (end - start)[:, None, :]
  along = np.clip(np.sum((pixels - start[:, None]) * direction, axis=-1)
                  / np.maximum(np.sum(direction**2, axis=-1), 1e-12), 0.0, 1.0)
  distance = np.linalg.norm(pixels - start[:, None] - along[..., None] * direction, axis=-1)
  value = np.minimum(_band_coverage(distance, seg_width[:, None]) * seg_opacity[:, None],
                     1 - 1e-6)

  inside = ((pixels[..., 0] >= 0) & (pixels[..., 0] < height) & (pixels[..., 1] >= 0)
            & (pixels[..., 1] < width) & (value > 0))
  flat = pixels[..., 0].astype(np.int64) * width + pixels[..., 1].astype(np.int64)
  key = (np.broadcast_to(strand[:, None], flat.shape) * (height * width) + flat)[inside]
  value = value[inside]
  # A pixel near several segments of one strand takes the largest coverage, not the sum.
  order = np.argsort(key, kind="stable")
  key, value = key[order], value[order]
  firsts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
  value = np.maximum.reduceat(value, firsts) if len(firsts) else value
  log_clear = np.bincount(key[firsts] % (height * width), weights=np.log1p(-value),
                          minlength=height * width)
  return (1.0 - np.exp(log_clear)).reshape(height, width).astype(np.float32)


def _strands_alpha(rng, body, height, width):
  """Hair growing outwards from the body's boundary, denser on a few random stretches of it.

  Widths are 0.5-3 px (mostly thin), opacities 0.35-1, lengths 8-35% of the short side;
  their number grows with the image size.
  """
  size = min(height, width)
  edge = np.flatnonzero((body > 0.05) & (body < 0.95))
  if not len(edge):
    return np.zeros((height, width), np.float32)
  density = smooth_noise(rng, height, width, size / 4)[..., 0].ravel()[edge]**4 + 1e-3
  num = max(8, int(round((height + width) / 1120 * rng.uniform(60, 160))))
  root_index = edge[rng.choice(len(edge), num, p=density / density.sum())]
  roots = np.stack(np.unravel_index(root_index, (height, width)), axis=1).astype(float)
  gy, gx = np.gradient(ndimage.gaussian_filter(body, 3.0))
  angle = (np.arctan2(-gy.ravel()[root_index], -gx.ravel()[root_index])
           + rng.normal(0.0, 0.4, num))
  lengths = np.maximum(size * rng.uniform(0.08, 0.35, num), 4.0)
  paths = _strand_paths(rng, roots, angle, lengths)
  widths = 0.5 + 2.5 * rng.random(num)**2
  return _rasterise_strands(paths, lengths, widths, rng.uniform(0.35, 1.0, num), height, width)


def make_alpha(rng, height, width):
  """Ground-truth α (H, W) float32: body, veil and strands combined as independent layers.

  Values within half an 8-bit step of 0 or 1 are snapped to it (see _ALPHA_SNAP).
  """
  body = _body_alpha(rng, height, width)
  veil = _veil_alpha(rng, height, width)
  strands = _strands_alpha(rng, body, height, width)
  alpha = 1.0 - (1.0 - body) * (1.0 - veil) * (1.0 - strands)
  alpha[alpha < _ALPHA_SNAP] = 0.0
  alpha[alpha > 1.0 - _ALPHA_SNAP] = 1.0
  return alpha.astype(np.float32)


def trimap_from_alpha(alpha, unknown_width):
  """Trimap (H, W) float32 in {0, 0.5, 1} from a GT α.

  Unknown = dilate(α > 0) & ~erode(α >= 1), both by `unknown_width` px (Euclidean distance),
  so every fractional pixel is unknown and the band reaches unknown_width px beyond the
  structure on both sides; the rest is FG (α = 1) or BG (α = 0). The image border does not
  erode the foreground.
  """
  if unknown_width < 0:
    raise MattingInputError(f"unknown_width must be >= 0, got {unknown_width}")
  alpha = np.asarray(alpha)
  near_positive = ndimage.distance_transform_edt(alpha <= 0) <= unknown_width
  deep_opaque = ndimage.distance_transform_edt(alpha >= 1) > unknown_width
  trimap = np.full(alpha.shape, 0.5, np.float32)
  trimap[~near_positive] = 0.0
  trimap[deep_opaque] = 1.0
  return trimap


def make_example(seed, height=480, width=640, unknown_width=8):
  """One synthetic matting example, a pure function of its arguments.

  Args:
    seed: anything np.random.default_rng accepts (an int, a SeedSequence).
    height, width: image size in px (at least 32).
    unknown_width: px the trimap's unknown band extends beyond fractional α (trimap_from_alpha).

  Returns:
    SyntheticExample with image = αF + (1 - α)B (Eq. (1)).

  Raises:
    MattingInputError: the size is below 32 px, or unknown_width so wide that the trimap has
      no foreground or no background pixel left. The opaque core keeps foreground while
      unknown_width + 1 <= 0.15 x the short side (e.g. 8 px from 64x64 up).
  """
  if height < _MIN_SIZE or width < _MIN_SIZE:
    raise MattingInputError(f"synthetic image size must be at least {_MIN_SIZE}x{_MIN_SIZE}, "
                            f"got {height}x{width}")
  rng = np.random.default_rng(seed)
  background = make_background(rng, height, width)
  foreground = make_foreground(rng, height, width, background)
  alpha = make_alpha(rng, height, width)
  trimap = trimap_from_alpha(alpha, unknown_width)
  fg, bg, _ = trimap_masks(trimap)
  if not (fg.any() and bg.any()):
    missing = "foreground" if not fg.any() else "background"
    raise MattingInputError(
        f"synthetic {height}x{width} example: unknown_width={unknown_width} "
        f"leaves no {missing} in the trimap; the opaque core has a radius of "
        f"{_CORE_FRACTION:g} x the short side, so keep unknown_width below "
        f"{_CORE_FRACTION * min(height, width) - 1:.1f} px or enlarge the image")
  a = alpha[..., None]
  image = (a * foreground + (1 - a) * background).astype(np.float32)
  return SyntheticExample(image=image, alpha=alpha, trimap=trimap, foreground=foreground,
                          background=background)
