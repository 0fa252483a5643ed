"""Tests for matting.augment: Eq. (1), geometry, alignment, determinism of augmented sets."""

import numpy as np
import pytest

from matting.data.datasets import Example
from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError
from matting.inputs import augment
from tests.conftest import two_colour_example


def _rng(seed=0):
  return np.random.default_rng(seed)


def _consistent_example(height=40, width=50):
  """Image, trimap and alpha whose trimap FG (BG) pixels have alpha exactly 1 (0)."""
  image, trimap, alpha = two_colour_example(height, width)
  alpha = alpha.copy()
  alpha[trimap == 1.0] = 1.0
  alpha[trimap == 0.0] = 0.0
  return image, trimap, alpha


def test_fit_background_crops_and_upscales():
  rng = _rng()
  big = rng.random((50, 60, 3)).astype(np.float32)
  crop = augment.fit_background(big, 20, 30, _rng(1))
  assert crop.shape == (20, 30, 3)
  # A crop is a contiguous window of the original.
  hits = [(r, c) for r in range(31) for c in range(31)
          if np.array_equal(big[r:r + 20, c:c + 30], crop)]
  assert len(hits) == 1
  small = rng.random((5, 8, 3)).astype(np.float32)
  grown = augment.fit_background(small, 23, 17, _rng(2))
  assert grown.shape == (23, 17, 3)
  assert grown.min() >= small.min() - 1e-6 and grown.max() <= small.max() + 1e-6


def test_random_geometry_ranges_and_determinism():
  draws = [augment.random_geometry(_rng(s), 20.0, (0.5, 2.0), 0.5) for s in range(200)]
  assert all(abs(g.angle_deg) <= 20 and 0.5 <= g.scale <= 2.0 for g in draws)
  assert 40 < sum(g.flip for g in draws) < 160
  assert augment.random_geometry(_rng(9)) == augment.random_geometry(_rng(9))
  with pytest.raises(MattingInputError, match="scale_range"):
    augment.random_geometry(_rng(), scale_range=(2.0, 1.0))


def test_flip_twice_is_identity_and_flip_mirrors():
  array = _rng().random((9, 12, 3)).astype(np.float32)
  flip = augment.Geometry(flip=True)
  once = augment.apply_geometry(flip, array)
  np.testing.assert_allclose(once, array[:, ::-1], atol=1e-6)
  np.testing.assert_allclose(augment.apply_geometry(flip, once), array, atol=1e-6)


def test_rotation_by_90_is_rot90_and_scale_sets_the_size():
  array = _rng().random((9, 12)).astype(np.float32)
  turned = augment.apply_geometry(augment.Geometry(angle_deg=90.0), array)
  np.testing.assert_allclose(turned, np.rot90(array), atol=1e-5)
  double = augment.apply_geometry(augment.Geometry(scale=2.0), array)
  assert double.shape == (18, 24)
  half = augment.apply_geometry(augment.Geometry(scale=0.5), np.ones((10, 12, 3)))
  assert half.shape == (5, 6, 3)
  # Rotation grows the canvas so nothing is cut off.
  rotated = augment.apply_geometry(augment.Geometry(angle_deg=30.0), np.ones((9, 12)))
  assert rotated.shape == augment.output_shape(augment.Geometry(angle_deg=30.0), 9, 12)
  assert rotated.shape[0] > 9 and rotated.shape[1] > 12
  assert rotated.sum() == pytest.approx(9 * 12, rel=0.05)  # area is preserved


def test_trimap_stays_in_three_values_and_agrees_with_alpha():
  image, trimap, alpha = _consistent_example()
  for seed in range(5):
    transform = augment.random_geometry(_rng(seed), 45.0, (0.6, 1.6))
    new_trimap = augment.transform_trimap(transform, trimap)
    new_alpha = augment.apply_geometry(transform, alpha)
    assert set(np.unique(new_trimap).tolist()) <= {0.0, 0.5, 1.0}
    assert new_trimap.shape == new_alpha.shape
    fg, bg, _ = trimap_masks(new_trimap)
    assert fg.any() and bg.any()
    np.testing.assert_allclose(new_alpha[fg], 1.0, atol=1e-3)
    np.testing.assert_allclose(new_alpha[bg], 0.0, atol=1e-3)
  # Corners rotated in from outside are background.
  rotated = augment.transform_trimap(augment.Geometry(angle_deg=30.0), np.ones((20, 20)))
  assert rotated[0, 0] == 0.0 and rotated[-1, -1] == 0.0 and rotated[10, 10] == 1.0


def test_geometry_keeps_arrays_aligned():
  height, width = 30, 40
  fg = np.zeros((height, width, 3), np.float32)
  alpha = np.zeros((height, width), np.float32)
  trimap = np.zeros((height, width), np.float32)
  fg[6:11, 25:30] = 1.0
  alpha[6:11, 25:30] = 1.0
  trimap[6:11, 25:30] = 1.0
  transform = augment.Geometry(angle_deg=37.0, scale=1.3, flip=True)
  fg_t = augment.apply_geometry(transform, fg, fill=None)
  alpha_t = augment.apply_geometry(transform, alpha)
  trimap_t = augment.transform_trimap(transform, trimap)

  def centroid(weights):
    rows, cols = np.mgrid[:weights.shape[0], :weights.shape[1]]
    return np.array([(rows * weights).sum(), (cols * weights).sum()]) / weights.sum()

  np.testing.assert_allclose(centroid(fg_t[..., 1]), centroid(alpha_t), atol=1e-4)
  np.testing.assert_allclose(centroid(trimap_t == 1.0), centroid(alpha_t), atol=0.5)
  # The block moved: flipped from the right half to the left, per the forward map.
  assert centroid(alpha_t)[1] < alpha_t.shape[1] / 2


def test_augment_example_outputs():
  image, trimap, alpha = _consistent_example()
  fg = np.broadcast_to(np.array([0.9, 0.2, 0.1], np.float32), image.shape)
  background = np.broadcast_to(np.array([0.0, 0.5, 1.0], np.float32), (70, 80, 3))
  new_image, new_alpha, new_trimap = augment.augment_example(_rng(3), fg, alpha, trimap,
                                                             background)
  assert new_image.shape == new_alpha.shape + (3,) == new_trimap.shape + (3,)
  assert new_image.dtype == new_alpha.dtype == new_trimap.dtype == np.float32
  assert 0 <= new_alpha.min() and new_alpha.max() <= 1
  # The composite obeys Eq. (1) with the constant colours.
  expected = (new_alpha[..., None] * np.array([0.9, 0.2, 0.1])
              + (1 - new_alpha[..., None]) * np.array([0.0, 0.5, 1.0]))
  np.testing.assert_allclose(new_image, expected, atol=1e-5)
  again = augment.augment_example(_rng(3), fg, alpha, trimap, background)
  for a, b in zip(again, (new_image, new_alpha, new_trimap)):
    np.testing.assert_array_equal(a, b)


def test_augmented_set_names_and_determinism():
  image, trimap, alpha = _consistent_example()
  examples = [(Example(name=f"ex{i}", image=image, trimap=trimap, alpha=alpha), image)
              for i in range(2)]
  backgrounds = [_rng(s).random((30, 30, 3)).astype(np.float32) for s in range(3)]
  first = augment.augmented_set(examples, backgrounds, num_per_example=3, seed=4)
  second = augment.augmented_set(examples, backgrounds, num_per_example=3, seed=4)
  other = augment.augmented_set(examples, backgrounds, num_per_example=3, seed=5)
  assert [e.name for e in first] == ["ex0_aug000", "ex0_aug001", "ex0_aug002",
                                     "ex1_aug000", "ex1_aug001", "ex1_aug002"]
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.trimap, b.trimap)
  assert any(a.image.shape != b.image.shape or not np.array_equal(a.image, b.image)
             for a, b in zip(first, other))
  # Adding an example leaves the composites of earlier ones unchanged.
  fewer = augment.augmented_set(examples[:1], backgrounds, num_per_example=3, seed=4)
  for a, b in zip(fewer, first):
    np.testing.assert_array_equal(a.alpha, b.alpha)
  for example in first:
    fg, bg, _ = trimap_masks(example.trimap)
    assert fg.any() and bg.any()


def test_augmented_set_skips_composites_that_lose_the_foreground():
  # A one-pixel FG is eroded away by any non-trivial warp: every draw fails and is skipped.
  trimap = np.zeros((20, 20), np.float32)
  trimap[8:12, 8:12] = 0.5
  trimap[10, 10] = 1.0
  alpha = (trimap > 0).astype(np.float32)
  image = np.full((20, 20, 3), 0.5, np.float32)
  example = Example(name="tiny", image=image, trimap=trimap, alpha=alpha)
  out = augment.augmented_set([(example, image)], [image], num_per_example=2, seed=0,
                              max_tries=3, max_angle_deg=30.0, scale_range=(0.9, 1.1))
  assert out == []


def test_augmented_set_needs_ground_truth_and_backgrounds():
  image, trimap, _ = _consistent_example()
  example = Example(name="nogt", image=image, trimap=trimap, alpha=None)
  with pytest.raises(MattingInputError, match="nogt"):
    augment.augmented_set([(example, image)], [image], 1, seed=0)
  with pytest.raises(MattingInputError, match="background"):
    augment.augmented_set([(example, image)], [], 1, seed=0)
