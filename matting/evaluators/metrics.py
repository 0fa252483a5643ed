"""Matting errors on the trimap's unknown pixels: SAD, MSE, gradient and connectivity.

A port of the Deep Image Matting evaluation code (Ning Xu, 2018: compute_sad_loss.m,
compute_mse_loss.m, compute_gradient_loss.m with Guanglei Xiong's gaussgradient.m,
compute_connectivity_error.m), which implements the alphamatting.com measures of Rhemann et
al. 2009 and is what matting papers report. Mattes are float in [0,1] (the MATLAB code divides
its 8-bit files by 255 first); unknown pixels are `trimap_masks(trimap)[2]`.

Scaling follows the papers' tables: SAD, gradient and connectivity are divided by 1000 (the
MATLAB SAD file does this itself; its gradient and connectivity files return the raw sums,
which papers then report /1000). MSE is the plain mean over unknown pixels.

Checked against those MATLAB files run in GNU Octave 7.3 (image package) on the 22
alphamatting.com training images x 2 trimaps with noisy 8-bit predictions: all four agree
within 3e-6 relative, the rounding of MATLAB's single-precision sums.
"""

import math

import numpy as np
import scipy.ndimage

from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

SCALE = 1000.0
METRIC_KEYS = ("sad", "mse", "grad", "conn")
_FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def _check_inputs(pred, gt, trimap):
  """Returns (pred, gt) as float64 and the unknown mask; raises MattingInputError if unusable."""
  pred = np.asarray(pred, dtype=np.float64)
  gt = np.asarray(gt, dtype=np.float64)
  trimap = np.asarray(trimap)
  if pred.ndim != 2 or gt.ndim != 2 or trimap.ndim != 2:
    raise MattingInputError(f"metrics: pred, gt and trimap must be 2-D, got shapes "
                            f"{pred.shape}, {gt.shape}, {trimap.shape}")
  if not pred.shape == gt.shape == trimap.shape:
    raise MattingInputError(f"metrics: shape mismatch: pred {pred.shape}, gt {gt.shape}, "
                            f"trimap {trimap.shape}")
  for name, array in (("pred", pred), ("gt", gt), ("trimap", trimap)):
    if not np.all(np.isfinite(array)):
      raise MattingInputError(f"metrics: {name} contains NaN or Inf")
  return pred, gt, trimap_masks(trimap)[2]


def sad(pred, gt, trimap):
  """Sum of absolute differences over unknown pixels, /1000 (compute_sad_loss.m)."""
  pred, gt, unknown = _check_inputs(pred, gt, trimap)
  return float(np.abs(pred - gt)[unknown].sum() / SCALE)


def mse(pred, gt, trimap):
  """Mean squared difference over unknown pixels (compute_mse_loss.m).

  A trimap with no unknown pixel scores 0 (MATLAB would return 0/0 = NaN).
  """
  pred, gt, unknown = _check_inputs(pred, gt, trimap)
  count = np.count_nonzero(unknown)
  return float(np.square(pred - gt)[unknown].sum() / count) if count else 0.0


def _gaussian_factors(sigma, epsilon):
  """Unit-norm 1-D Gaussian and its derivative, on gaussgradient.m's support."""
  half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))
  u = np.arange(-half, half + 1, dtype=np.float64)
  gauss = np.exp(-u**2 / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
  dgauss = -u * gauss / sigma**2
  return gauss / np.linalg.norm(gauss), dgauss / np.linalg.norm(dgauss)


def gaussian_gradient_kernel(sigma, epsilon=1e-2):
  """The x-derivative-of-Gaussian kernel hx of gaussgradient.m (9x9 for sigma=1.4).

  hx[i, j] = gauss(i - h) * dgauss(j - h), scaled to unit L2 norm, where
  h = ceil(sigma * sqrt(-2 log(sqrt(2 pi) sigma epsilon))) is the half size. The y kernel
  is its transpose.
  """
  return np.outer(*_gaussian_factors(sigma, epsilon))


def gaussian_gradient(image, sigma=1.4, epsilon=1e-2):
  """Returns (gx, gy) like gaussgradient.m: imfilter(image, hx or hx', 'replicate', 'conv').

  hx is separable (and 'replicate' padding is per axis), so two 1-D convolutions give the
  same result as the 2-D one, about four times faster.
  """
  gauss, dgauss = _gaussian_factors(sigma, epsilon)
  image = np.asarray(image, dtype=np.float64)

  def filter2(row_weights, col_weights):
    rows = scipy.ndimage.convolve1d(image, row_weights, axis=0, mode="nearest")
    return scipy.ndimage.convolve1d(rows, col_weights, axis=1, mode="nearest")

  return filter2(gauss, dgauss), filter2(dgauss, gauss)


def _mat2gray(image):
  """Min-max scales to [0,1] like MATLAB's mat2gray; a constant image becomes zeros.

  (MATLAB returns a constant image unchanged; its gradient is zero either way.)
  """
  low, high = image.min(), image.max()
  if high == low:
    return np.zeros_like(image)
  return (image - low) / (high - low)


def gradient_error(pred, gt, trimap, sigma=1.4):
  """Sum over unknown pixels of the squared difference of gradient magnitudes, /1000.

  compute_gradient_loss.m: both mattes are min-max normalised over the whole image, then
  differentiated with derivative-of-Gaussian filters (sigma 1.4).
  """
  pred, gt, unknown = _check_inputs(pred, gt, trimap)
  amp_pred, amp_gt = (np.hypot(*gaussian_gradient(_mat2gray(a), sigma)) for a in (pred, gt))
  return float(np.square(amp_pred - amp_gt)[unknown].sum() / SCALE)


def _largest_component(mask):
  """The largest 4-connected component of mask (all False if mask is empty).

  Labels the transpose so that labels follow MATLAB's column-major scan order and ties
  between equal sizes go, as in bwconncomp + max, to the first component in that order.
  """
  labels, count = scipy.ndimage.label(mask.T, structure=_FOUR_CONNECTED)
  if count == 0:
    return np.zeros_like(mask)
  largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
  return (labels == largest).T


def connectivity_error(pred, gt, trimap, step=0.1, theta=0.15):
  """Connectivity error (compute_connectivity_error.m), /1000.

  For thresholds t_i = 0, step, ..., 1, omega_i is the largest 4-connected component where
  both mattes are >= t_i; each pixel's level l is the last threshold t_{i-1} before it leaves
  omega (1 if it never does). With d = alpha - l, phi = 1 - d * (d >= theta), and the error is
  sum |phi_pred - phi_gt| over unknown pixels. When no pixel passes a threshold omega is empty
  (the MATLAB code fails there, indexing an empty cell list). In practice that happens at t = 1
  only, where it cannot change the result: those pixels get l = 0.9 and alpha - 0.9 < theta.

  Comparisons run in float32 with float32 thresholds, as MATLAB compares its single mattes with
  double thresholds in single precision: 8-bit values k/255 that equal a threshold exactly
  (51/255 = 0.2, ...) then count as passing it, whatever dtype the caller passes. Thresholds
  are k * step for k = 0..floor(1/step) (MATLAB's 0:step:1 differs only in the last bits of
  a double, below float32 resolution).
  """
  pred, gt, unknown = _check_inputs(pred, gt, trimap)
  pred = pred.astype(np.float32)
  gt = gt.astype(np.float32)
  thresholds = np.arange(math.floor(1.0 / step + 1e-9) + 1) * step
  level = np.full(pred.shape, -1.0, dtype=np.float32)
  for previous, threshold in zip(thresholds[:-1], thresholds[1:]):
    t = np.float32(threshold)
    omega = _largest_component((pred >= t) & (gt >= t))
    level[(level == -1.0) & ~omega] = previous
  level[level == -1.0] = 1.0

  def phi(alpha):
    d = alpha - level
    return 1.0 - d * (d >= np.float32(theta))

  return float(np.abs(phi(pred) - phi(gt)).astype(np.float64)[unknown].sum() / SCALE)


def compute_metrics(pred, gt, trimap):
  """All four errors as a dict of floats: sad, mse, grad, conn."""
  return dict(sad=sad(pred, gt, trimap), mse=mse(pred, gt, trimap),
              grad=gradient_error(pred, gt, trimap), conn=connectivity_error(pred, gt, trimap))
