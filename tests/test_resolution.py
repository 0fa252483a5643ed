"""Working-resolution helpers (classic/resolution.py) and KNN's max_pixels option."""

import numpy as np
import pytest

from matting.classic import closed_form, knn, resolution
from matting.errors import MattingInputError
from tests.test_knn import hard_segmentation_example


def test_factor_for_brings_pixels_under_the_cap():
  assert resolution.factor_for(1000, 1000) == 1
  for pixels, cap in [(12_000_000, 1_000_000), (1_900_000, 1_000_000), (4_300_000, 500_000)]:
    factor = resolution.factor_for(pixels, cap)
    assert pixels / factor ** 2 <= cap < pixels / (factor - 1) ** 2


def test_downsample_averages_blocks_and_grows_the_unknown_band():
  image = np.arange(6 * 8 * 3, dtype=np.float64).reshape(6, 8, 3)
  trimap = np.zeros((6, 8))
  trimap[:, 4:] = 1.0
  trimap[0, 4] = 0.5
  small_image, small_trimap = resolution.downsample(image, trimap, 2)
  assert small_image.shape == (3, 4, 3)
  np.testing.assert_allclose(small_image[1, 2], image[2:4, 4:6].mean(axis=(0, 1)))
  np.testing.assert_array_equal(small_trimap, [[0, 0, 0.5, 1], [0, 0, 1, 1], [0, 0, 1, 1]])


def test_upsampled_at_reads_a_linear_ramp_back():
  factor = 3
  ys, xs = np.mgrid[:30, :30]
  ramp = 0.01 * ys + 0.02 * xs
  small = ramp.reshape(10, 3, 10, 3).mean(axis=(1, 3))
  inner = (ys >= 1) & (ys < 28) & (xs >= 1) & (xs < 28)  # Away from the clamped edge.
  values = resolution.upsampled_at(small, ys[inner], xs[inner], factor)
  np.testing.assert_allclose(values, ramp[inner], atol=1e-12)


def test_knn_max_pixels_solves_a_smaller_problem_close_to_the_full_one(monkeypatch):
  image, trimap, gt = hard_segmentation_example(height=120, width=150, band=8, seed=4)
  full = knn.knn_alpha(image, trimap)
  assert np.array_equal(knn.knn_alpha(image, trimap, max_pixels=trimap.size), full)
  sizes = []
  solve = knn._laplacian
  monkeypatch.setattr(knn, "_laplacian", lambda features, *a, **k: sizes.append(
      len(features)) or solve(features, *a, **k))
  low = knn.knn_alpha(image, trimap, max_pixels=trimap.size // 4)
  assert sizes == [60 * 75]  # One solve, at half the side.
  known = trimap != 0.5
  np.testing.assert_array_equal(low[known], trimap[known])
  # The full solve finds the disc's hard edge; read back bilinearly from half resolution it
  # is smeared over ~2 px of the 16-px band (a block's misalignment would double that).
  unknown = ~known
  assert np.abs(full - gt)[unknown].mean() < 1e-3
  assert np.abs(low - full)[unknown].mean() < 0.07
  with pytest.raises(MattingInputError, match="max_pixels"):
    knn.knn_alpha(image, trimap, max_pixels=0)


def test_knn_bytes_at_working_resolution():
  trimap = np.zeros((400, 500), np.float32)
  trimap[100:300, 100:400] = 0.5
  assert knn.knn_bytes(trimap, max_pixels=50_000) < knn.knn_bytes(trimap) / 3


def test_cf_max_pixels_solves_a_smaller_problem_close_to_the_full_one(monkeypatch):
  image, trimap, gt = hard_segmentation_example(height=120, width=150, band=8, seed=4)
  full = closed_form.closed_form_alpha(image, trimap)
  assert np.array_equal(closed_form.closed_form_alpha(image, trimap, max_pixels=trimap.size),
                        full)
  shapes = []
  laplacian = closed_form.closed_form_laplacian
  monkeypatch.setattr(closed_form, "closed_form_laplacian", lambda image, *a, **k: shapes.append(
      image.shape[:2]) or laplacian(image, *a, **k))
  low = closed_form.closed_form_alpha(image, trimap, max_pixels=trimap.size // 4)
  assert shapes == [(60, 75)]  # One solve, at half the side.
  known = trimap != 0.5
  np.testing.assert_array_equal(low[known], trimap[known])
  unknown = ~known
  assert np.abs(full - gt)[unknown].mean() < 0.01
  assert np.abs(low - full)[unknown].mean() < 0.07
  with pytest.raises(MattingInputError, match="max_pixels"):
    closed_form.closed_form_alpha(image, trimap, max_pixels=0)


def test_working_resolution_falls_back_when_the_blocks_lose_fg_or_bg():
  trimap = np.zeros((40, 40))
  trimap[10:30, 10:30] = 0.5
  trimap[20, 20] = 1.0  # One FG pixel: no 2x2 block is all FG.
  image = np.random.default_rng(0).random((40, 40, 3))
  assert resolution.at_working_resolution(lambda *a: 1 / 0, image, trimap, 400) is None
  assert resolution.at_working_resolution(lambda *a: 1 / 0, image, trimap, 1600) is None
