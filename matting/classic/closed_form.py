"""Closed-form matting (Levin, Lischinski, Weiss, PAMI 2008).

`closed_form_laplacian` builds the matting Laplacian (Eq. 12) exactly as Levin's
getLaplacian and pymatting's cf_laplacian do, vectorised: the windows holding an unknown
pixel are processed in batches (closed-form 3x3 Cholesky of each regularised colour
covariance, one batched matmul for all pixel pairs) and their |w| x |w| blocks are summed by
bincount into a banded layout, (4r+1)^2 entries per pixel, that becomes the CSR matrix
without a COO sort. `closed_form_alpha` solves the trimap-constrained system with
`sparse_solve` (by default CG preconditioned by an exact nested-dissection Cholesky); above
TILE_VARIABLES unknowns, or when one factorisation would not fit the memory budget, it
solves overlapping tiles instead (`_tiled_alpha`), so time and memory grow linearly.
"""

import contextlib
import os
from concurrent import futures

import numpy as np
import scipy.sparse as sp

from matting.classic import resolution, sparse_solve
from matting.data.trimap import check_image_and_trimap, trimap_masks
from matting.errors import MattingInputError, check_range


def _box_or(mask, size, valid):
  """OR of a bool mask over size x size boxes, separably: one value per box inside the
  image (valid=True, shape shrinks by size-1) or the dilation (valid=False, shape grows)."""
  for axis in (0, 1):
    mask = np.moveaxis(mask, axis, 0)
    if valid:
      n = mask.shape[0] - size + 1
      out = np.logical_or.reduce([mask[s:s + n] for s in range(size)])
    else:
      out = np.zeros((mask.shape[0] + size - 1,) + mask.shape[1:], dtype=bool)
      for s in range(size):
        out[s:s + mask.shape[0]] |= mask
    mask = np.moveaxis(out, 0, axis)
  return mask


def _window_affinities(channels, eps):
  """(K, |w|, |w|) symmetric per-window terms delta_ij - (1 + c_i^T S^-1 c_j) / |w|.

  Levin Eq. 12 with c_i = I_i - mu_w and S = Sigma_w + eps/|w| I. `channels` holds the R, G,
  B colours of the K windows' pixels, each (K, |w|). With S = R R^T (closed-form 3x3
  Cholesky), c_i^T S^-1 c_j = y_i . y_j for y = R^-1 c, one batched matmul.
  """
  area = channels[0].shape[1]
  c0, c1, c2 = [c - c.mean(axis=1, keepdims=True) for c in channels]

  def cov(a, b):
    return np.einsum("ki,ki->k", a, b)[:, None] / area

  reg = eps / area
  r00 = np.sqrt(cov(c0, c0) + reg)
  r10 = cov(c0, c1) / r00
  r20 = cov(c0, c2) / r00
  r11 = np.sqrt(cov(c1, c1) + reg - r10 * r10)
  r21 = (cov(c1, c2) - r20 * r10) / r11
  r22 = np.sqrt(cov(c2, c2) + reg - r20 * r20 - r21 * r21)
  y0 = c0 / r00
  y1 = (c1 - r10 * y0) / r11
  y2 = (c2 - r20 * y0 - r21 * y1) / r22
  y = np.stack([y0, y1, y2], axis=1)
  gram = y.transpose(0, 2, 1) @ y
  values = gram + gram.transpose(0, 2, 1)  # Exactly symmetric whatever the matmul kernel.
  values *= -0.5 / area
  values -= 1.0 / area
  values.reshape(len(values), -1)[:, ::area + 1] += 1.0
  return values


def closed_form_laplacian(image, eps=1e-7, radius=1, known=None, chunk=8192):
  """The matting Laplacian L of Levin et al. (Eq. 12) as an (N, N) CSR matrix, N = H*W.

  L_ij = sum over windows w holding i and j of
    delta_ij - (1 + (I_i - mu_w)^T (Sigma_w + eps/|w| I)^-1 (I_j - mu_w)) / |w|,
  with |w| = (2r+1)^2 and pixels indexed row-major. Windows whose pixels are all `known`
  are skipped (as in Levin's code and pymatting): rows of pixels that no remaining window
  covers are empty. L is exactly symmetric and positive semi-definite.

  Args:
    image: (H, W, 3) float image in [0, 1].
    eps: regularisation of the window colour covariance (Levin's epsilon).
    radius: window radius r.
    known: optional (H, W) bool mask of pixels the trimap fixes.
    chunk: windows processed per batch (bounds the (chunk, |w|, |w|) temporaries).
  """
  image = np.asarray(image, dtype=np.float64)
  if image.ndim != 3 or image.shape[2] != 3:
    raise MattingInputError(f"image: expected (H, W, 3), got shape {image.shape}")
  height, width = image.shape[:2]
  size = 2 * radius + 1
  if height < size or width < size:
    raise MattingInputError(f"image: {height}x{width} is smaller than the {size}x{size} window")
  if known is not None:
    known = np.asarray(known, dtype=bool).reshape(height, width)
  # Levin skips windows whose pixels are all known; active[y, x]: window with corner (y, x).
  if known is None:
    active = np.ones((height - size + 1, width - size + 1), dtype=bool)
  else:
    active = _box_or(~known, size, valid=True)
  win_y, win_x = np.nonzero(active)
  corner = win_y * width + win_x  # Flat index of each window's top-left pixel.

  # Pixels covered by some window get a compact row id t, and band[t, o] = L[p_t, p_t + shift_o]
  # over the (4r+1)^2 shifts: the window pixel pair (a, b) adds to band[t(a), band_index[a, b]].
  covered = _box_or(active, size, valid=False).ravel()
  rows = np.flatnonzero(covered)
  compact = np.cumsum(covered) - 1
  dy, dx = np.divmod(np.arange(size * size), size)
  band_size = 4 * radius + 1
  num_bands = band_size * band_size
  band_index = ((dy[None, :] - dy[:, None] + 2 * radius) * band_size
                + (dx[None, :] - dx[:, None] + 2 * radius))
  band = np.zeros(len(rows) * num_bands)
  planes = image.reshape(-1, 3).T
  for start in range(0, len(corner), chunk):
    members = corner[start:start + chunk, None] + (dy * width + dx)  # (K, |w|) pixel ids.
    target = (compact[members][:, :, None] * num_bands + band_index).ravel()
    low = target.min()
    values = _window_affinities([plane[members] for plane in planes], eps)
    contribution = np.bincount(target - low, values.ravel())
    band[low:low + len(contribution)] += contribution
  band = band.reshape(len(rows), num_bands)
  reach = np.arange(-2 * radius, 2 * radius + 1)
  flat_shift = (reach[:, None] * width + reach[None, :]).ravel()
  nonzero = band != 0.0
  indptr = np.zeros(height * width + 1, dtype=np.int64)
  indptr[rows + 1] = nonzero.sum(axis=1)
  n = height * width
  return sp.csr_matrix((band[nonzero], (rows[:, None] + flat_shift)[nonzero], np.cumsum(indptr)),
                       shape=(n, n))


def coarse_to_fine_guess(image, trimap, **params):
  """Alpha solved on the 2x-downsampled image and trimap, upsampled: an initial guess for CG.

  `params` are closed_form_alpha's solver arguments. None when the downsampled trimap loses
  all its FG or BG pixels or the image gets smaller than a window.
  """
  height, width = trimap.shape
  h2, w2 = height // 2, width // 2
  small_image = image[:2 * h2, :2 * w2].reshape(h2, 2, w2, 2, 3).mean(axis=(1, 3))
  small_trimap = trimap[:2 * h2:2, :2 * w2:2]
  fg, bg, _ = trimap_masks(small_trimap)
  if not (fg.any() and bg.any()) or min(h2, w2) < 2 * params["radius"] + 1:
    return None
  small = closed_form_alpha(small_image, small_trimap, coarse_to_fine=False, **params)
  guess = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
  return np.pad(guess, ((0, height - 2 * h2), (0, width - 2 * w2)), mode="edge")


# The tiled solve (`_tiled_alpha`). Tiles hold at most TILE_VARIABLES unknowns: the exact
# factor's cost grows like n^1.5 in one solve, so bounded tiles make the whole solve grow
# linearly (benchmarks/scale.py); each tile's core is solved with OVERLAP extra pixels on
# every side whose outer ring takes its values from a half-resolution solve. On GT26
# Trimap1 upscaled 2x (613k unknowns) that moved SAD by -0.06 % (overlap 32; 48: -0.02 %)
# against the untiled solve. Schwarz sweeps (SWEEPS) shrink the difference further but keep
# every tile's factor (~1.6 KB per unknown), so they are off by default.
TILE_VARIABLES = 200_000
MIN_TILE_VARIABLES = 20_000
OVERLAP = 32
SWEEPS = 0
RING_FACTOR = 2  # The coarse matte that gives the rings' values: 1 / RING_FACTOR resolution.
PIXEL_BYTES = 80  # Whole-image arrays of the tiled path (float64 image, masks, output).
WORKER_BYTES = 150 * 2 ** 20  # A tile worker process's own interpreter and libraries.


def solve_bytes(num_variables):
  """Estimated peak memory of one exact solve of `num_variables`: Laplacian, reduced system,
  symbolic analysis and the nested-dissection factor (~n log n). Matches the peak RSS of
  untiled solves in benchmarks/scale.py (832 MB at 295k variables: 830 MB predicted; 2.3 GB
  at 816k: 2.3 GB) and benchmarks/direct_solvers.py (3.1 GB at 1.2M: 3.5 GB)."""
  n = max(int(num_variables), 2)
  return int(n * (1500 + 80 * np.log2(n)))


def _variables(trimap, radius, constraint):
  """(H, W) bool: the pixels the system solves for (soft: covered by an active window)."""
  _, _, unknown = trimap_masks(trimap)
  if constraint == "hard":
    return unknown
  size = 2 * radius + 1
  if min(trimap.shape) < size:
    return np.zeros(trimap.shape, bool)
  return _box_or(_box_or(unknown, size, valid=True), size, valid=False)


def _tile_cores(mask, max_count):
  """Rectangles (y0, y1, x0, x1) covering every True pixel of `mask`, each holding at most
  `max_count` of them: recursive halving by count across the longer side, each part shrunk
  to the bounding box of its pixels. Counts come from one integral image."""
  integral = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
  np.cumsum(np.cumsum(mask, axis=0), axis=1, out=integral[1:, 1:])

  def profile(y0, y1, x0, x1, axis):  # Counts per row (axis 0) or column (axis 1).
    if axis == 0:
      column = integral[y0:y1 + 1, x1] - integral[y0:y1 + 1, x0]
    else:
      column = integral[y1, x0:x1 + 1] - integral[y0, x0:x1 + 1]
    return np.diff(column)

  cores, todo = [], [(0, mask.shape[0], 0, mask.shape[1])]
  while todo:
    y0, y1, x0, x1 = todo.pop()
    rows, cols = profile(y0, y1, x0, x1, 0), profile(y0, y1, x0, x1, 1)
    if not rows.sum():
      continue
    nz_r, nz_c = np.flatnonzero(rows), np.flatnonzero(cols)
    y0, y1, x0, x1 = y0 + nz_r[0], y0 + nz_r[-1] + 1, x0 + nz_c[0], x0 + nz_c[-1] + 1
    rows, cols = rows[nz_r[0]:nz_r[-1] + 1], cols[nz_c[0]:nz_c[-1] + 1]
    if rows.sum() <= max_count or max(y1 - y0, x1 - x0) < 2:
      cores.append((y0, y1, x0, x1))
      continue
    along = rows if y1 - y0 >= x1 - x0 else cols
    cut = int(np.searchsorted(np.cumsum(along), along.sum() / 2)) + 1
    cut = min(max(cut, 1), len(along) - 1)
    if along is rows:
      todo += [(y0, y0 + cut, x0, x1), (y0 + cut, y1, x0, x1)]
    else:
      todo += [(y0, y1, x0, x0 + cut), (y0, y1, x0 + cut, x1)]
  return sorted(cores)


class _Tile:
  """One tile's system with its ring pinned: A x = b0 - C g for ring values g, A factorised.

  The core (y0, y1, x0, x1) is what the tile writes; its crop is the core grown by `overlap`
  px, and the ring is the crop's outer 2 * radius px (except along the image border): with
  the ring pinned, the crop holds every window that touches its inner pixels, so the tile's
  solution is exact given its ring values. The geometry is set up here; `build` makes the
  system from the crop's pixels (in this process or a worker's).
  """

  def __init__(self, trimap, core, overlap, params):
    height, width = trimap.shape
    radius = params["radius"]
    y0, y1, x0, x1 = self.core = core
    cy0, cy1 = max(0, y0 - overlap), min(height, y1 + overlap)
    cx0, cx1 = max(0, x0 - overlap), min(width, x1 + overlap)
    self.crop = (cy0, cy1, cx0, cx1)
    self.shape = (cy1 - cy0, cx1 - cx0)
    ring = np.ones(self.shape, bool)
    band = 2 * radius
    ring[band if cy0 else 0:(cy1 - cy0) - (band if cy1 < height else 0),
         band if cx0 else 0:(cx1 - cx0) - (band if cx1 < width else 0)] = False
    if params["constraint"] == "hard":
      ring &= trimap_masks(trimap[cy0:cy1, cx0:cx1])[2]  # Known pixels are pinned already.
    self.ring = np.flatnonzero(ring)
    self.factor = None

  def crop_of(self, array):
    cy0, cy1, cx0, cx1 = self.crop
    return array[cy0:cy1, cx0:cx1]

  def build(self, image_crop, trimap_crop, params, prior_crop=None):
    """The crop's system and its exact factor (~1.6 KB per unknown); `prior_crop`: the
    crop of closed_form_alpha's data term as (H, W, 2) weight and weight * target."""
    fg, _, unknown = trimap_masks(trimap_crop)
    ring = np.zeros(unknown.size, bool)
    ring[self.ring] = True
    L = closed_form_laplacian(image_crop, params["eps"], params["radius"], known=~unknown)
    self.A, self.b0, self.free, self.alpha = sparse_solve.constrained_system(
        L, ~unknown.ravel(), fg.ravel(), params["lam"], params["constraint"], fixed=ring,
        fixed_values=np.zeros(ring.size),
        prior=None if prior_crop is None else (prior_crop[..., 0], prior_crop[..., 1]))
    self.coupling = L[self.free][:, self.ring].tocsr()
    del L
    self.factor = (sparse_solve.NestedDissectionCholesky(
        self.A, *np.divmod(self.free, self.shape[1])) if len(self.free) else None)
    return self

  def solve(self, ring_values, params):
    """The core's alpha (y1 - y0, x1 - x0) for the given ring values (after `build`)."""
    alpha = self.alpha.copy()
    alpha[self.ring] = ring_values
    if self.factor is not None:
      b = self.b0 - self.coupling @ ring_values
      M = sparse_solve._operator(self.factor.solve, self.A.shape[0])
      with sparse_solve.threadpool_limits(1, user_api="blas"):
        alpha[self.free], _ = sparse_solve.conjugate_gradient(
            self.A, b, M, self.factor.solve(b), params["rtol"], params["maxiter"])
    y0, y1, x0, x1 = self.core
    cy0, _, cx0, _ = self.crop
    return alpha.reshape(self.shape)[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]

  def ring_pixels(self):
    cy0, _, cx0, _ = self.crop
    ys, xs = np.divmod(self.ring, self.shape[1])
    return ys + cy0, xs + cx0

  def write_core(self, out, core_alpha):
    y0, y1, x0, x1 = self.core
    out[y0:y1, x0:x1] = core_alpha


def _factorised_tile(tile, image_crop, trimap_crop, params, prior_crop=None):
  """A tile's first stage in a worker (`WorkerPool.map`'s `later`): its system and factor,
  which do not depend on the ring values; returns its `solve`, called once they exist."""
  return tile.build(image_crop, trimap_crop, params, prior_crop).solve


def _tile_pool(num_tiles, tile_bytes, spare_bytes, coarse_bytes):
  """(worker processes to solve tiles concurrently (`tile_workers`), or None to solve them
  here one by one; whether they may factorise their tiles during the coarse solve).

  One worker per core, as many as `spare_bytes` holds with one tile's solve and
  WORKER_BYTES each, none for a single tile. Beside a coarse solve that runs untiled in this
  process (`coarse_bytes`; None: none such) when the memory holds both, so that the cores it
  leaves idle factorise tiles; a tiled coarse solve has workers of its own (at 12 MP, beside
  it: the same time, 0.7 GB more).
  """
  from matting.classic.tile_workers import WorkerPool
  per_worker = tile_bytes + WORKER_BYTES
  most = min(os.cpu_count() or 1, num_tiles)
  beside = (0 if coarse_bytes is None else
            min(most, int((spare_bytes - coarse_bytes) // per_worker)))
  workers = beside if beside >= 2 else min(most, int(spare_bytes // per_worker))
  return (WorkerPool(workers, __name__) if workers >= 2 else None), beside >= 2


def _tiled_alpha(image, trimap, variables, tile_variables, overlap, sweeps, params,
                 max_memory, prior=None):
  """Alpha (H, W) float64 (unclipped) by overlapping domain decomposition (TILE_VARIABLES).

  The rings of the tiles (`_Tile`) first take their values from the half-resolution matte
  (itself tiled when large); the tiles are then solved, in worker processes when there are
  several and the budget holds them (`_tile_pool`; the result is the same), which factorise
  their tiles during an untiled coarse solve when the budget holds that too (a tile's factor
  does not depend on its ring values; GT26 upscaled 2x: 4.8-5.2 s instead of 5.1-5.9 s);
  then `sweeps` multiplicative Schwarz sweeps re-solve every tile in turn, with its ring read
  from the current matte (its neighbours' fresh cores), reusing each tile's factor (all
  tiles' factors are then kept: memory grows with the image): every sweep shrinks the error
  that the coarse ring values left. Known pixels away from every tile keep their trimap value.
  `prior`: None, or the data term as (H, W, 2) weight and weight * target (block-averaged for
  the coarse matte, cropped for the tiles).
  """
  radius = params["radius"]
  tiles = [_Tile(trimap, core, overlap, params) for core in _tile_cores(variables, tile_variables)]
  tile_bytes = solve_bytes(max(np.prod(tile.shape) for tile in tiles))
  small_image, small_trimap = resolution.downsample(image, trimap, RING_FACTOR)
  small_prior = (None if prior is None else
                 resolution.downsample(prior, trimap, RING_FACTOR)[0])
  fg_s, bg_s, _ = trimap_masks(small_trimap)
  coarse = fg_s.any() and bg_s.any() and min(small_trimap.shape) >= 2 * radius + 1
  # The pool starts first, so that the workers' start-up overlaps the coarse solve, and
  # when the memory holds both they factorise tiles during it. How many workers run, and
  # when, may depend on the memory free now: the matte does not.
  from matting import memory
  pool, beside = None, False
  if not sweeps:  # Sweeps keep every tile's factor here.
    coarse_tiles, coarse_bytes, _ = (solve_plan(small_trimap, radius, params["constraint"],
                                                max_memory, None, tile_variables, overlap)
                                     if coarse else (None, 0, None))
    pool, beside = _tile_pool(len(tiles), tile_bytes,
                              memory.room(max_memory) - PIXEL_BYTES * trimap.size,
                              None if coarse_tiles else coarse_bytes)
  rings_ready = futures.Future()
  tasks = [(tile, tile.crop_of(image), tile.crop_of(trimap), params, _crop(tile, prior))
           for tile in tiles]

  def later(index):  # A tile's ring values, once the coarse solve has given them.
    return rings_ready.result()[index], params
  # On an error or Ctrl-C the pool's exit kills its workers (else lets them finish), which
  # ends the runner's map.
  with futures.ThreadPoolExecutor(1) as runner, pool or contextlib.nullcontext():
    cores = runner.submit(pool.map, _factorised_tile, tasks, later) if beside else None
    try:
      with memory.reserve(pool.count * (tile_bytes + WORKER_BYTES) if beside else 0):
        small = (closed_form_alpha(small_image, small_trimap, max_memory=max_memory,
                                   tile_variables=tile_variables, overlap=overlap,
                                   sweeps=sweeps, prior=_unpacked(small_prior),
                                   **params).astype(np.float64) if coarse else
                 # No coarse problem left.
                 np.where(trimap_masks(trimap)[0], 1.0, 0.0)[::RING_FACTOR, ::RING_FACTOR])
      del small_image, small_trimap, small_prior
      rings = [resolution.upsampled_at(small, *tile.ring_pixels(), RING_FACTOR)
               for tile in tiles]
    except BaseException as error:
      rings_ready.set_exception(error)
      raise
    rings_ready.set_result(rings)
    alpha = trimap_masks(trimap)[0].astype(np.float64)
    if pool is not None:
      cores = cores.result() if beside else pool.map(_factorised_tile, tasks, later)
      for tile, core_alpha in zip(tiles, cores):
        tile.write_core(alpha, core_alpha)
      return alpha
  for tile, ring in zip(tiles, rings):
    tile.build(tile.crop_of(image), tile.crop_of(trimap), params, _crop(tile, prior))
    tile.write_core(alpha, tile.solve(ring, params))
    if not sweeps:
      tile.factor = tile.A = tile.coupling = None  # One tile's factor alive at a time.
  for _ in range(sweeps if len(tiles) > 1 else 0):
    for tile in tiles:
      tile.write_core(alpha, tile.solve(alpha[tile.ring_pixels()], params))
  return alpha


def _crop(tile, prior):
  return None if prior is None else tile.crop_of(prior)


def _packed(prior, shape):
  """closed_form_alpha's prior (weight, target) as one (H, W, 2) array of weight and
  weight * target (the form the solves add, which block averages keep consistent)."""
  if prior is None:
    return None
  weight, target = (np.asarray(p, dtype=np.float64) for p in prior)
  if weight.shape != shape or target.shape != shape:
    raise MattingInputError(f"prior: weight {weight.shape} and target {target.shape} must "
                            f"match the trimap {shape}")
  if not (np.isfinite(weight).all() and np.isfinite(target).all()) or (weight < 0).any():
    raise MattingInputError("prior: weights must be finite and >= 0, targets finite")
  return np.stack([weight, weight * target], axis=-1)


def _unpacked(packed):
  """(weight, target) back from `_packed` (target 0 where the weight is 0)."""
  if packed is None:
    return None
  weight, pull = packed[..., 0], packed[..., 1]
  return weight, np.divide(pull, weight, out=np.zeros_like(pull), where=weight > 0)


def _grown(n, overlap):
  """Unknowns in the crop of a tile of n: its core and the overlap, ~(1 + 4 overlap / side)."""
  return n * (1 + 4 * overlap / max(np.sqrt(n), 1))


def _tile_size(num_pixels, num_variables, tile_variables, overlap, budget, describe):
  """(unknowns per tile that fit `budget` with the whole-image arrays, the peak bytes of
  solving them one by one); raises if no tile size fits."""
  from matting.memory import format_size
  overhead = PIXEL_BYTES * num_pixels
  size = int(tile_variables)
  floor = min(MIN_TILE_VARIABLES, size)
  while size > floor and overhead + solve_bytes(_grown(size, overlap)) > budget:
    size = max(floor, int(size * 0.8))
  needed = overhead + solve_bytes(_grown(min(size, num_variables), overlap))
  if needed > budget:
    raise MattingInputError(
        f"{describe} needs at least {format_size(needed)} even in tiles, more than the memory "
        f"budget of {format_size(budget)}; raise the budget or downscale the image",
        field="max_memory")
  return size, needed


def solve_plan(trimap, radius=1, constraint="soft", max_memory=None, tiled=None,
               tile_variables=TILE_VARIABLES, overlap=OVERLAP, variables=None):
  """How `closed_form_alpha` (preconditioner 'cholesky') solves this trimap:
  (unknowns per tile, or None for one untiled solve; its estimated peak bytes with the tiles
  solved one by one; a description of the problem for messages). `variables`: the trimap's
  `_variables` mask when the caller has it.

  Depends on the budget (`memory.resolve_max_memory`: fixed per machine unless given), never
  on the memory free at the moment, so the matte does not depend on the machine's load.
  """
  from matting.memory import resolve_max_memory
  budget = resolve_max_memory(max_memory)
  if variables is None:
    variables = _variables(trimap, radius, constraint)
  count = int(variables.sum())
  height, width = trimap.shape
  describe = (f"closed-form matting of a {width}x{height} image ({trimap.size / 1e6:.1f} MP, "
              f"{count} pixels to solve)")
  untiled_bytes = 40 * trimap.size + solve_bytes(count)
  if tiled or count > 1.25 * tile_variables or untiled_bytes > budget:
    return (*_tile_size(trimap.size, count, tile_variables, overlap, budget, describe), describe)
  return None, untiled_bytes, describe


def peak_bytes(shape, preconditioner="cholesky", tiled=None, tile_variables=TILE_VARIABLES,
               overlap=OVERLAP, max_pixels=None, **_):
  """An upper bound of `closed_form_alpha`'s peak memory on an image of `shape` with these
  keyword arguments (others are ignored), from the size alone (no pass over the trimap: at
  12 MP one takes ~0.5 s), e.g. to decide whether it may run beside another solve."""
  height, width = shape[:2]
  num_pixels = height * width
  if max_pixels is not None and num_pixels > max_pixels:
    factor = resolution.factor_for(num_pixels, max_pixels)
    num_pixels = -(-height // factor) * -(-width // factor)
  if preconditioner == "cholesky" and tiled is not False:  # Untiled up to 1.25 tiles.
    largest = max(1.25 * tile_variables, _grown(tile_variables, overlap))
    return int(PIXEL_BYTES * num_pixels + solve_bytes(min(num_pixels, largest)))
  return 40 * num_pixels + solve_bytes(num_pixels)


def _check_params(eps, radius, lam, rtol, maxiter, tile_variables, overlap, sweeps):
  """One-line MattingInputErrors for values that would otherwise give a silent wrong matte
  (a negative eps or lam, rtol >= 1) or a cryptic NumPy error (a fractional radius)."""
  check_range("radius", radius, low=1, integer=True)
  check_range("eps", eps, low=0, low_open=True)
  check_range("lam", lam, low=0, low_open=True)
  check_range("rtol", rtol, low=0, high=1, low_open=True, high_open=True)
  check_range("maxiter", maxiter, low=1, integer=True)
  check_range("tile_variables", tile_variables, low=1, integer=True)
  # The pinned ring is the crop's outer 2 * radius px: a smaller overlap would pin the core.
  check_range("overlap", overlap, low=2 * radius, integer=True)
  check_range("sweeps", sweeps, low=0, integer=True)


def closed_form_alpha(image, trimap, eps=1e-7, radius=1, lam=100.0, constraint="soft",
                      preconditioner="cholesky", rtol=1e-7, coarse_to_fine=False,
                      maxiter=10000, max_memory=None, tiled=None,
                      tile_variables=TILE_VARIABLES, overlap=OVERLAP, sweeps=SWEEPS,
                      max_pixels=None, prior=None):
  """Closed-form matte (Levin et al. 2008) as float32 (H, W) in [0, 1].

  Solves Eq. 12 with the trimap as constraint: 'soft' minimises
  alpha^T L alpha + lam (alpha - alpha_K)^T D (alpha - alpha_K) over all pixels, as Levin's
  code does (lambda = 100); 'hard' fixes the known pixels and solves the unknown block, as
  pymatting's estimate_alpha_cf does. See `sparse_solve.solve_alpha` for preconditioner and
  rtol; coarse_to_fine starts CG from the solution at half resolution (helps the iterative
  preconditioners, not the exact 'cholesky' one). The defaults were the fastest in
  benchmarks/solver_choice.py; iterative preconditioners need rtol <= 1e-5 to keep SAD within
  2% of the converged matte's (1e-4 moved it by up to 11% with Jacobi).

  Args:
    image: (H, W, 3) float image in [0, 1].
    trimap: (H, W) trimap in {0, 0.5, 1}.
    eps: colour covariance regularisation (Levin's epsilon).
    radius: window radius; windows are (2 radius + 1)^2 pixels.
    lam: weight of the soft constraint.
    constraint: 'soft' or 'hard'.
    preconditioner: one of `sparse_solve.PRECONDITIONERS`.
    rtol: relative residual at which CG stops.
    coarse_to_fine: whether to start from the half-resolution solution.
    maxiter: CG iteration cap.
    max_memory: memory budget in bytes (or '4G'); None: the enclosing
      `memory.max_memory_scope` (the CLI's --max-memory), else half of the machine's RAM. The
      exact solve tiles when one factorisation would not fit it (`solve_bytes`); raises
      MattingInputError when even the smallest tiles would not, or when the planned solve
      would not fit in the memory available now (`solve_plan`).
    tiled: True / False forces / forbids the tiled solve ('cholesky' only); None tiles
      above tile_variables unknowns or when the budget asks for it.
    tile_variables: unknowns per tile at most.
    overlap: pixels each tile's crop extends beyond its core.
    sweeps: Schwarz sweeps after the coarse-ring pass (`_tiled_alpha`; they keep every
      tile's factor in memory).
    max_pixels: None (the paper), or solve images larger than this at a working resolution
      of at most max_pixels and read alpha back bilinearly into the unknown region
      (`resolution.at_working_resolution`); full resolution when the blocks leave no FG or BG.
    prior: None, or (weight, target), two (H, W) arrays: adds the data term
      sum_i weight_i (alpha_i - target_i)^2 to the energy (comprehensive sampling's
      smoothing); tiles and the memory budget apply as without it. Not with max_pixels.
  """
  image, trimap = check_image_and_trimap(image, trimap)
  _check_params(eps, radius, lam, rtol, maxiter, tile_variables, overlap, sweeps)
  prior = _packed(prior, trimap.shape)
  if prior is not None and max_pixels is not None:
    raise MattingInputError("prior: not supported with max_pixels")
  low = resolution.at_working_resolution(
      lambda small_image, small_trimap: closed_form_alpha(
          small_image, small_trimap, eps, radius, lam, constraint, preconditioner, rtol,
          coarse_to_fine, maxiter, max_memory, tiled, tile_variables, overlap, sweeps),
      image, trimap, max_pixels, min_side=2 * radius + 1)
  if low is not None:
    return low
  height, width = trimap.shape
  fg, _, unknown = trimap_masks(trimap)
  params = dict(eps=eps, radius=radius, lam=lam, constraint=constraint,
                preconditioner=preconditioner, rtol=rtol, maxiter=maxiter)
  if preconditioner == "cholesky" and tiled is not False:
    from matting.memory import require
    variables = _variables(trimap, radius, constraint)
    size, need, describe = solve_plan(trimap, radius, constraint, max_memory, tiled,
                                      tile_variables, overlap, variables)
    require(need, describe, "free memory, or lower the memory budget to solve it in smaller "
            "tiles", field="max_memory")
    if size is not None:
      params.pop("preconditioner")
      alpha = _tiled_alpha(image, trimap, variables, size, overlap, sweeps, params, max_memory,
                           prior)
      return np.clip(alpha, 0.0, 1.0).astype(np.float32)
  x0 = coarse_to_fine_guess(image, trimap, **params) if coarse_to_fine else None
  alpha = sparse_solve.solve_alpha(closed_form_laplacian(image, eps, radius, known=~unknown),
                                   ~unknown.ravel(), fg.ravel(), lam=lam, constraint=constraint,
                                   preconditioner=preconditioner, x0=x0, rtol=rtol,
                                   maxiter=maxiter, grid_shape=(height, width),
                                   prior=None if prior is None else
                                   (prior[..., 0].ravel(), prior[..., 1].ravel()))
  return np.clip(alpha, 0.0, 1.0).reshape(height, width).astype(np.float32)
