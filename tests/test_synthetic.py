"""Tests for matting.synthetic: determinism, Eq. (1), the derived trimap, thin structures."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from matting.data import synthetic
from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

FIELDS = ("image", "alpha", "trimap", "foreground", "background")


@pytest.fixture(scope="module")
def examples():
  """Four 160x200 examples, generated once for the module."""
  return [synthetic.make_example(seed, height=160, width=200, unknown_width=6)
          for seed in range(4)]


def test_same_seed_gives_identical_arrays():
  first = synthetic.make_example(7, height=64, width=96)
  second = synthetic.make_example(7, height=64, width=96)
  for field in FIELDS:
    np.testing.assert_array_equal(getattr(first, field), getattr(second, field))


def test_different_seeds_differ():
  first = synthetic.make_example(7, height=64, width=96)
  second = synthetic.make_example(8, height=64, width=96)
  for field in FIELDS:
    assert not np.array_equal(getattr(first, field), getattr(second, field)), field


def test_shapes_dtypes_and_ranges(examples):
  for ex in examples:
    for field in ("image", "foreground", "background"):
      array = getattr(ex, field)
      assert array.shape == (160, 200, 3) and array.dtype == np.float32, field
      assert array.min() >= 0.0 and array.max() <= 1.0, field
    for field in ("alpha", "trimap"):
      assert getattr(ex, field).shape == (160, 200) and getattr(ex, field).dtype == np.float32
    assert ex.alpha.min() >= 0.0 and ex.alpha.max() <= 1.0
    assert set(np.unique(ex.trimap)) <= {0.0, 0.5, 1.0}


def test_example_is_frozen(examples):
  with pytest.raises(dataclasses.FrozenInstanceError):
    examples[0].alpha = None


def test_composite_equation_holds(examples):
  """Eq. (1): I = αF + (1 - α)B."""
  for ex in examples:
    a = ex.alpha[..., None]
    np.testing.assert_allclose(ex.image, a * ex.foreground + (1 - a) * ex.background, atol=1e-6)


def test_trimap_regions_agree_with_alpha(examples):
  for ex in examples:
    fg, bg, unknown = trimap_masks(ex.trimap)
    assert fg.any() and bg.any() and unknown.any()
    fractional = (ex.alpha > 0) & (ex.alpha < 1)
    assert np.all(unknown[fractional])
    assert np.all(ex.alpha[fg] == 1.0) and np.all(ex.alpha[bg] == 0.0)


def test_unknown_band_reaches_unknown_width_around_fractional_alpha(examples):
  for ex in examples:
    fractional = (ex.alpha > 0) & (ex.alpha < 1)
    distance = ndimage.distance_transform_edt(~fractional)
    _, _, unknown = trimap_masks(ex.trimap)
    assert np.all(unknown[distance <= 6])


def test_mix_of_matting_structures(examples):
  """Each example has plenty of fractional α and hair-thin parts (< 3 px wide)."""
  for ex in examples:
    fractional = (ex.alpha > 0) & (ex.alpha < 1)
    assert fractional.mean() > 0.05
    support = ex.alpha > 0
    thin = support & ~ndimage.binary_opening(support, structure=np.ones((3, 3), bool))
    assert thin.mean() > 0.002
    # Partial opacity: a wide spread of fractional values, not just anti-aliased edges.
    histogram, _ = np.histogram(ex.alpha[fractional], bins=10, range=(0, 1))
    assert np.all(histogram > 0)


def _colour_line_residual(image):
  """Per-pixel variance of the 3x3 window's colours off their principal line (λ2 + λ3)."""
  mean = ndimage.uniform_filter(image, (3, 3, 1))
  cov = np.empty(image.shape[:2] + (3, 3))
  for i in range(3):
    for j in range(3):
      cov[..., i, j] = (ndimage.uniform_filter(image[..., i] * image[..., j], 3)
                        - mean[..., i] * mean[..., j])
  eigenvalues = np.linalg.eigvalsh(cov)
  return eigenvalues[..., 0] + eigenvalues[..., 1]


def test_background_is_colourful_textured_and_off_the_colour_line(examples):
  for ex in examples:
    background, foreground = ex.background, ex.foreground
    assert (np.median(_colour_line_residual(background))
            > 10 * np.median(_colour_line_residual(foreground)))
    assert (np.abs(np.diff(background, axis=1)).mean()
            > 3 * np.abs(np.diff(foreground, axis=1)).mean())
    hue_bins = np.floor(6 * _hue(background)).astype(int).ravel()
    assert np.sum(np.bincount(hue_bins, minlength=6) > 0.02 * hue_bins.size) >= 3


def _hue(rgb):
  """Hue in [0, 1) of an (..., 3) RGB array."""
  r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
  return (np.arctan2(np.sqrt(3.0) * (g - b), 2 * r - g - b) / (2 * np.pi)) % 1.0


def test_make_background_is_public_and_sized():
  rng = np.random.default_rng(0)
  background = synthetic.make_background(rng, 50, 70)
  assert background.shape == (50, 70, 3) and background.dtype == np.float32
  assert background.min() >= 0.0 and background.max() <= 1.0


def test_trimap_from_alpha_band():
  alpha = np.zeros((21, 21), np.float32)
  alpha[5:16, 5:16] = 0.5
  alpha[6:15, 6:15] = 1.0
  fractional = alpha == 0.5
  trimap = synthetic.trimap_from_alpha(alpha, 0)
  np.testing.assert_array_equal(trimap == 0.5, fractional)
  np.testing.assert_array_equal(trimap == 1.0, alpha == 1.0)
  trimap = synthetic.trimap_from_alpha(alpha, 2)
  distance = ndimage.distance_transform_edt(~fractional)
  np.testing.assert_array_equal(trimap == 0.5, distance <= 2)
  np.testing.assert_array_equal(trimap == 1.0, (alpha == 1.0) & (distance > 2))


def test_trimap_from_alpha_rejects_negative_width():
  with pytest.raises(MattingInputError, match="unknown_width"):
    synthetic.trimap_from_alpha(np.zeros((4, 4)), -1)


@pytest.mark.parametrize("width", [0.5, 1.0, 2.5])
def test_straight_strand_is_antialiased_with_exact_coverage(width):
  """A horizontal strand at a sub-pixel row covers each column by its width times opacity.

  The strand is long so that its taper (towards the tip) is negligible near the root.
  """
  length = 1000
  path = np.stack([np.full(length + 1, 20.3), 5.0 + np.arange(length + 1)], axis=1)[None]
  alpha = synthetic._rasterise_strands(path, [length], [width], [0.8], 40, length + 20)
  np.testing.assert_allclose(alpha[:, 8:12].sum(axis=0), 0.8 * width, rtol=0.01)
  assert alpha.max() <= 0.8 + 1e-6
  assert np.count_nonzero(alpha[:, 10]) >= 2  # Spread over neighbouring rows: anti-aliased.


def test_too_small_or_too_wide_band_raises():
  with pytest.raises(MattingInputError, match="at least"):
    synthetic.make_example(0, height=16, width=64)
  with pytest.raises(MattingInputError, match="unknown_width"):
    synthetic.make_example(0, height=64, width=64, unknown_width=40)
