"""Closed-form matting (Levin, Lischinski, Weiss, PAMI 2008).

`closed_form_laplacian` builds the matting Laplacian (Eq. 12) exactly as Levin's
getLaplacian and pymatting's cf_laplacian do, vectorised: the windows holding an unknown
pixel are processed in batches (closed-form 3x3 Cholesky of each regularised colour
covariance, one batched matmul for all pixel pairs) and their |w| x |w| blocks are summed by
bincount into a banded layout, (4r+1)^2 entries per pixel, that becomes the CSR matrix
without a COO sort. `closed_form_alpha` solves the trimap-constrained system with
`sparse_solve` (by default CG preconditioned by an exact nested-dissection Cholesky).
"""

import numpy as np
import scipy.sparse as sp

from matting.classic import sparse_solve
from matting.data.trimap import check_image_and_trimap, trimap_masks
from matting.errors import MattingInputError


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


def closed_form_alpha(image, trimap, eps=1e-7, radius=1, lam=100.0, constraint="soft",
                      preconditioner="cholesky", rtol=1e-7, coarse_to_fine=False,
                      maxiter=10000):
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
  """
  image, trimap = check_image_and_trimap(image, trimap)
  height, width = trimap.shape
  fg, _, unknown = trimap_masks(trimap)
  params = dict(eps=eps, radius=radius, lam=lam, constraint=constraint,
                preconditioner=preconditioner, rtol=rtol, maxiter=maxiter)
  x0 = coarse_to_fine_guess(image, trimap, **params) if coarse_to_fine else None
  alpha = sparse_solve.solve_alpha(closed_form_laplacian(image, eps, radius, known=~unknown),
                                   ~unknown.ravel(), fg.ravel(), lam=lam, constraint=constraint,
                                   preconditioner=preconditioner, x0=x0, rtol=rtol,
                                   maxiter=maxiter, grid_shape=(height, width))
  return np.clip(alpha, 0.0, 1.0).reshape(height, width).astype(np.float32)
