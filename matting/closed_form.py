"""Closed-form matting (Levin, Lischinski, Weiss, PAMI 2008).

The matting Laplacian (Eq. 12) is built window by window as in Levin's getLaplacian and
pymatting's cf_laplacian, but vectorised: each of the (2r+1)^2 x (2r+1)^2 pixel pairs of a
window is one array operation over all window centres, accumulated into a banded
(4r+1)^2-diagonal layout that becomes a CSR matrix without a COO sort.
"""

import numpy as np
import scipy.sparse as sp

from matting import sparse_solve
from matting.errors import MattingInputError
from matting.trimap import check_trimap, trimap_masks


def _inverse_3x3_sym(a00, a01, a02, a11, a12, a22):
  """Batched inverse of symmetric 3x3 matrices; returns its six distinct entries."""
  m00 = a11 * a22 - a12 * a12
  m01 = a02 * a12 - a01 * a22
  m02 = a01 * a12 - a02 * a11
  m11 = a00 * a22 - a02 * a02
  m12 = a01 * a02 - a00 * a12
  m22 = a00 * a11 - a01 * a01
  inv_det = 1.0 / (a00 * m00 + a01 * m01 + a02 * m02)
  return [m * inv_det for m in (m00, m01, m02, m11, m12, m22)]


def _active_windows(known, shape, radius):
  """(H-2r, W-2r) bool: windows that hold at least one unknown pixel (Levin skips the rest)."""
  size = 2 * radius + 1
  if known is None:
    return np.ones((shape[0] - 2 * radius, shape[1] - 2 * radius), dtype=bool)
  unknown = np.lib.stride_tricks.sliding_window_view(~known, (size, size))
  return unknown.any(axis=(2, 3))


def _window_affinities(colours, eps):
  """(K, |w|, |w|) per-window terms delta_ij - (1 + c_i^T (Sigma + eps/|w| I)^-1 c_j) / |w|.

  Args:
    colours: (K, |w|, 3) colours of the pixels of K windows.
    eps: Levin's covariance regularisation.
  """
  area = colours.shape[1]
  centred = colours - colours.mean(axis=1, keepdims=True)
  cov = np.einsum("kac,kad->kcd", centred, centred) / area
  inverse = np.stack(_inverse_3x3_sym(
      cov[:, 0, 0] + eps / area, cov[:, 0, 1], cov[:, 0, 2], cov[:, 1, 1] + eps / area,
      cov[:, 1, 2], cov[:, 2, 2] + eps / area), axis=-1)
  inverse = inverse[:, [0, 1, 2, 1, 3, 4, 2, 4, 5]].reshape(-1, 3, 3)
  gram = np.matmul(centred @ inverse, centred.transpose(0, 2, 1))
  return np.eye(area) - (1.0 + gram) / area


def closed_form_laplacian(image, eps=1e-7, radius=1, known=None, chunk=1 << 15):
  """The matting Laplacian L of Levin et al. (Eq. 12) as an (N, N) CSR matrix, N = H*W.

  L_ij = sum over windows w holding i and j of
    delta_ij - (1 + (I_i - mu_w)^T (Sigma_w + eps/|w| I)^-1 (I_j - mu_w)) / |w|,
  with |w| = (2r+1)^2 and pixels indexed row-major. Windows whose pixels are all `known`
  are skipped (as in Levin's code and pymatting): the rows of pixels covered by no other
  window are then empty. L is exactly symmetric and positive semi-definite.

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
  win_y, win_x = np.nonzero(_active_windows(known, (height, width), radius))
  corner = win_y * width + win_x  # Flat index of each window's top-left pixel.

  # Pixel a of a window sits at corner + pixel_shift[a]; the pair (a, b) lands in band
  # entry band_index[a, b] of pixel a, where band[o, p] = L[p, p + flat_shift[o]].
  dy, dx = np.divmod(np.arange(size * size), size)
  pixel_shift = dy * width + dx
  band_size = 4 * radius + 1
  band_index = ((dy[None, :] - dy[:, None] + 2 * radius) * band_size
                + (dx[None, :] - dx[:, None] + 2 * radius))
  pairs_a, pairs_b = np.triu_indices(size * size)
  band = np.zeros((band_size * band_size, height * width))
  pixels = image.reshape(-1, 3)
  for start in range(0, len(corner), chunk):
    first = corner[start:start + chunk, None] + pixel_shift  # (K, |w|) flat pixel indices.
    values = _window_affinities(pixels[first], eps)
    for a, b in zip(pairs_a, pairs_b):
      band[band_index[a, b], first[:, a]] += values[:, a, b]
      if a != b:
        band[band_index[b, a], first[:, b]] += values[:, a, b]
  return _band_to_csr(band, width, radius)


def _band_to_csr(band, width, radius):
  """CSR matrix from band[o, p] = L[p, p + flat_shift[o]], dropping entries that are 0."""
  num_pixels = band.shape[1]
  reach = np.arange(-2 * radius, 2 * radius + 1)
  flat_shift = (reach[:, None] * width + reach[None, :]).ravel()
  row_major = band.T
  pixel, offset = np.nonzero(row_major)
  indptr = np.zeros(num_pixels + 1, dtype=np.int64)
  np.cumsum(np.bincount(pixel, minlength=num_pixels), out=indptr[1:])
  return sp.csr_matrix((row_major[pixel, offset], pixel + flat_shift[offset], indptr),
                       shape=(num_pixels, num_pixels))
