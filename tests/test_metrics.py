"""Tests for matting.metrics on hand-computed cases (DIM / alphamatting.com MATLAB semantics)."""

import math

import numpy as np
import pytest
import scipy.ndimage

from matting.errors import MattingInputError
from matting.evaluators import metrics

SIGMA = 1.4


def _ramp(height, width, axis):
  """A 0..1 linear ramp along axis (1 = x, 0 = y)."""
  y, x = np.mgrid[0:height, 0:width].astype(np.float64)
  return x / (width - 1) if axis == 1 else y / (height - 1)


def _interior_trimap(height, width, margin):
  """Unknown (0.5) at least margin pixels from every border, BG (0) elsewhere."""
  trimap = np.zeros((height, width), np.float32)
  trimap[margin:-margin, margin:-margin] = 0.5
  return trimap


def test_sad_and_mse_by_hand():
  # Only the middle row is unknown; the known rows are wildly wrong and must not count.
  trimap = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [1, 1, 1]], np.float32)
  pred = np.array([[0.5, 0.5, 0.5], [0.2, 0.4, 0.9], [0.0, 0.0, 0.0]])
  gt = np.array([[0.0, 0.0, 0.0], [0.1, 0.6, 0.9], [1.0, 1.0, 1.0]])
  # |diff| on the unknown row: 0.1, 0.2, 0.0.
  assert metrics.sad(pred, gt, trimap) == pytest.approx(0.3 / 1000, rel=1e-12)
  assert metrics.mse(pred, gt, trimap) == pytest.approx((0.01 + 0.04 + 0.0) / 3, rel=1e-12)


def test_mse_without_unknown_pixels_is_zero():
  trimap = np.array([[0, 1]], np.float32)
  assert metrics.mse(np.array([[0.3, 0.2]]), np.zeros((1, 2)), trimap) == 0.0


def test_kernel_size_and_normalisation():
  hx = metrics.gaussian_gradient_kernel(SIGMA)
  # halfsize = ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) * 1.4 * 0.01))) = ceil(3.62) = 4.
  assert hx.shape == (9, 9)
  # sigma = 0.5: ceil(0.5 * sqrt(-2 ln(sqrt(2 pi) * 0.005))) = ceil(1.48) = 2.
  assert metrics.gaussian_gradient_kernel(0.5).shape == (5, 5)
  assert np.sum(hx**2) == pytest.approx(1.0, rel=1e-12)
  # hx[4 + i, 4 + j] is proportional to -j exp(-(i^2 + j^2) / (2 sigma^2)).
  assert hx[4, 5] < 0 < hx[4, 3]
  np.testing.assert_allclose(hx, -hx[:, ::-1], atol=1e-15)
  np.testing.assert_allclose(hx, hx[::-1, :], atol=1e-15)
  assert hx[4, 5] / hx[4, 6] == pytest.approx(math.exp(3 / (2 * SIGMA**2)) / 2, rel=1e-12)
  assert hx[5, 5] / hx[4, 5] == pytest.approx(math.exp(-1 / (2 * SIGMA**2)), rel=1e-12)


def test_separable_gradient_equals_2d_replicate_convolution():
  image = np.random.default_rng(0).random((23, 31))
  hx = metrics.gaussian_gradient_kernel(SIGMA)
  gx, gy = metrics.gaussian_gradient(image, SIGMA)
  np.testing.assert_allclose(gx, scipy.ndimage.convolve(image, hx, mode="nearest"), atol=1e-13)
  np.testing.assert_allclose(gy, scipy.ndimage.convolve(image, hx.T, mode="nearest"), atol=1e-13)


def _ramp_amplitude(length):
  """Interior |gradient| of a 0..1 ramp over `length` pixels, derived from gaussgradient.m.

  gx = sum_ij hx(i,j) I(x - j) with I(x) = x / (length - 1) and hx = g(i) dg(j) / (|g| |dg|):
  the sum over i gives sum(g) / |g|, the sum over j gives -sum_j j dg(j) / |dg| / (length - 1),
  and dg(j) = -j g(j) / sigma^2 (unnormalised 1-D Gaussian g on -4..4).
  """
  u = np.arange(-4, 5, dtype=np.float64)
  g = np.exp(-u**2 / (2 * SIGMA**2))
  dg = -u * g / SIGMA**2
  return (g.sum() / np.linalg.norm(g)) * (-(u * dg).sum() / np.linalg.norm(dg)) / (length - 1)


@pytest.mark.parametrize("axis", [0, 1])
def test_gradient_of_a_ramp_by_hand(axis):
  height, width = 30, 40
  ramp = _ramp(height, width, axis)
  gx, gy = metrics.gaussian_gradient(ramp, SIGMA)
  along, across = (gx, gy) if axis == 1 else (gy, gx)
  inner = (slice(4, -4), slice(4, -4))
  expected = _ramp_amplitude(ramp.shape[axis])
  # imfilter 'conv' gives a positive derivative along an increasing ramp, none across it.
  np.testing.assert_allclose(along[inner], expected, rtol=1e-12)
  np.testing.assert_allclose(across, 0.0, atol=1e-14)

  trimap = _interior_trimap(height, width, margin=4)
  count = np.count_nonzero(trimap == 0.5)
  # A constant prediction has zero gradient (mat2gray of a constant image is flat).
  assert metrics.gradient_error(np.full_like(ramp, 0.3), ramp, trimap) == pytest.approx(
      count * expected**2 / 1000, rel=1e-10)
  # mat2gray removes offset and slope: any increasing ramp scores zero against this one.
  assert metrics.gradient_error(0.2 + 0.5 * ramp, ramp, trimap) == pytest.approx(0.0, abs=1e-15)


def _disc_example(size=40):
  """A GT with a soft disc spanning exactly [0,1] and a trimap whose unknown band is central."""
  y, x = np.mgrid[0:size, 0:size]
  r = np.hypot(y - size / 2, x - size / 2)
  gt = np.clip((8.0 - r) / 4.0, 0.0, 1.0)
  trimap = np.where(gt >= 1.0, 1.0, 0.0).astype(np.float32)
  trimap[(r > 3) & (r < 9)] = 0.5
  return gt, trimap


def test_all_metrics_zero_for_identical_mattes():
  gt, trimap = _disc_example()
  assert metrics.compute_metrics(gt, gt, trimap) == dict(sad=0.0, mse=0.0, grad=0.0, conn=0.0)


def test_metrics_ignore_known_pixels_far_from_the_unknown_region():
  gt, trimap = _disc_example()
  pred = gt.copy()
  # A grey patch in the BG corner, more than the kernel radius (4) from any unknown pixel; it
  # keeps pred's min and max, so mat2gray is unchanged too.
  pred[:6, :6] = 0.5
  assert trimap[:6, :6].max() == 0.0
  scores = metrics.compute_metrics(pred, gt, trimap)
  assert scores == dict(sad=0.0, mse=0.0, grad=0.0, conn=0.0)
  # The same patch inside the unknown band is seen by every metric.
  pred = gt.copy()
  pred[20, 25:28] = 0.1
  assert trimap[20, 25:28].min() == 0.5
  assert all(v > 0 for v in metrics.compute_metrics(pred, gt, trimap).values())


def test_connectivity_by_hand_1x4():
  trimap = np.full((1, 4), 0.5, np.float32)
  pred = np.array([[1.0, 0.3, 0.9, 0.0]])
  gt = np.array([[1.0, 0.8, 0.9, 0.0]])
  # Both >= t: min(pred, gt) = [1, .3, .9, 0].
  #   t = .1 .. .3: component {0,1,2}; pixel 3 leaves at t = .1 -> l3 = 0.
  #   t = .4 .. .9: components {0} and {2}, equal size: the first in scan order, {0}, wins;
  #                 pixels 1 and 2 leave at t = .4 -> l1 = l2 = .3.
  #   t = 1: {0}; pixel 0 never leaves -> l0 = 1.
  # l = [1, .3, .3, 0]; d_pred = [0, 0, .6, 0], d_gt = [0, .5, .6, 0];
  # phi = 1 - d (d >= .15): phi_pred = [1, 1, .4, 1], phi_gt = [1, .5, .4, 1]; sum |diff| = .5.
  assert metrics.connectivity_error(pred, gt, trimap) == pytest.approx(0.5 / 1000, rel=1e-6)


def test_connectivity_exact_threshold_counts_as_passing():
  # 153/255 = 0.6 exactly; in float64 it sits just below 6 * 0.1 = 0.6000000000000001, but
  # MATLAB compares in single precision, where it passes. So l = [1, .6, .6]; d_gt[1] = .4,
  # everything else has d < .15: conn = .4 / 1000 (a float64 comparison would give .5 / 1000).
  trimap = np.full((1, 3), 0.5, np.float32)
  pred = np.array([[255, 153, 153]]) / 255.0
  gt = np.array([[255, 255, 153]]) / 255.0
  assert metrics.connectivity_error(pred, gt, trimap) == pytest.approx(0.4 / 1000, rel=1e-6)


def test_largest_component_uses_4_connectivity_and_matlab_tie_break():
  mask = np.array([[0, 0, 1],
                   [1, 0, 1],
                   [1, 1, 0]], bool)
  # 4-connected: {(1,0),(2,0),(2,1)} (size 3) and {(0,2),(1,2)} (size 2); 8-connectivity would
  # join them through (2,1)-(1,2).
  np.testing.assert_array_equal(metrics._largest_component(mask),
                                [[0, 0, 0], [1, 0, 0], [1, 1, 0]])
  # Two components of size 2: MATLAB's bwconncomp numbers them in column-major order and max
  # keeps the first, so the one in column 0 wins although the other comes first row-wise.
  mask[2, 1] = False
  np.testing.assert_array_equal(metrics._largest_component(mask),
                                [[0, 0, 0], [1, 0, 0], [1, 0, 0]])
  assert not metrics._largest_component(np.zeros((2, 2), bool)).any()


@pytest.mark.parametrize("bad", ["shape", "ndim", "nan"])
def test_bad_inputs_raise(bad):
  gt, trimap = _disc_example(12)
  pred = gt.copy()
  if bad == "shape":
    pred = pred[:, :-1]
  elif bad == "ndim":
    pred = np.stack([pred] * 3, axis=-1)
  else:
    pred[3, 3] = np.nan
  with pytest.raises(MattingInputError):
    metrics.compute_metrics(pred, gt, trimap)
