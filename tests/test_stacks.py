"""Tests for matting.inputs: normalised RGB and the input combinations."""

import numpy as np
import pytest

from matting.errors import MattingInputError
from matting.inputs import stacks


def test_normalized_rgb_unit_norm_and_safe_at_black():
  image = np.random.default_rng(0).random((5, 6, 3)).astype(np.float32)
  image[0, 0] = 0.0
  out = stacks.normalized_rgb(image)
  assert np.all(np.isfinite(out))
  np.testing.assert_array_equal(out[0, 0], 0.0)
  norms = np.linalg.norm(out, axis=-1)
  np.testing.assert_allclose(norms.ravel()[1:], 1.0, atol=1e-6)
  # Scaling the brightness does not change the normalised colour (Eq. 2).
  np.testing.assert_allclose(stacks.normalized_rgb(0.5 * image), out, atol=1e-6)


@pytest.mark.parametrize("combination, channels", [
    ("rgb_trimap", 4), ("rgb_cf", 4), ("rgb_knn", 4), ("rgb_cf_knn", 5),
    ("rgb_cf_comp", 5), ("rgb_cf_knn_comp", 6), ("rgb_cf_knnrgb", 5),
    ("rgb_cf_knnrgb_comp", 6), ("rgb_cf_knn_comp_depth", 7), ("rgb_cf_knn_nearest", 6),
    ("rgb_cf_knn_comp_nearest", 7), ("rgb_cf_knn_compsampled", 6),
    ("rgb_cf_knn_compsampled_conf", 7)])
def test_stack_channel_order(combination, channels):
  rng = np.random.default_rng(1)
  image = rng.random((4, 5, 3)).astype(np.float32)
  trimap = np.full((4, 5), 0.5, np.float32)
  values = {"trimap": 0.5, "depth": 1.0, "cf": 0.1, "knn": 0.2, "comp": 0.3, "knn_rgb": 0.4,
            "nearest": 0.6, "comp_sampled": 0.7, "comp_confidence": 0.8}
  mattes = {m: np.full((4, 5), v, np.float32) for m, v in values.items()
            if m not in stacks.TRIMAP_CHANNELS}
  stack = stacks.input_stack(image, trimap, mattes, combination)
  assert stack.shape == (4, 5, channels) == (4, 5, stacks.num_channels(combination))
  expected = values
  for k, name in enumerate(stacks.extra_channels(combination)):
    np.testing.assert_allclose(stack[..., 3 + k], expected[name])


def test_missing_matte_and_unknown_combination_are_clear_errors():
  image = np.ones((2, 2, 3), np.float32)
  with pytest.raises(MattingInputError, match="needs the 'knn' matte"):
    stacks.input_stack(image, np.zeros((2, 2)), {"cf": np.zeros((2, 2))}, "rgb_cf_knn")
  with pytest.raises(MattingInputError, match="rgb_magic.*unknown"):
    stacks.num_channels("rgb_magic")
  assert stacks.classic_methods("rgb_trimap") == ()
  assert stacks.classic_methods("rgb_cf_knn_comp") == ("cf", "knn", "comp")
  assert stacks.classic_methods("rgb_cf_knnrgb_comp") == ("cf", "knn_rgb", "comp")
  assert stacks.classic_methods("rgb_cf_knn_comp_depth") == ("cf", "knn", "comp")


def test_unknown_depth_is_the_scaled_distance_to_the_nearest_known_pixel():
  """0 on known pixels; an unknown pixel d px (Euclidean) from the nearest known one gets
  d / scale, at most 1; a trimap without known pixels is all 1."""
  trimap = np.full((9, 12), 0.5, np.float32)
  trimap[:, 0] = 0.0
  trimap[:, -1] = 1.0
  trimap[0, 5] = 1.0
  depth = stacks.unknown_depth(trimap, scale=4.0)
  assert depth[3, 0] == 0 and depth[3, -1] == 0 and depth[0, 5] == 0
  assert depth[4, 1] == pytest.approx(1 / 4) and depth[4, 10] == pytest.approx(1 / 4)
  assert depth[2, 5] == pytest.approx(2 / 4)  # Nearer the lone FG pixel than the sides.
  assert depth[1, 4] == pytest.approx(np.hypot(1, 1) / 4)
  assert depth[8, 5] == 1.0  # 5 px from the left column, 6 from the right: clipped.
  assert depth.dtype == np.float32
  np.testing.assert_array_equal(stacks.unknown_depth(np.full((3, 4), 0.5)), 1.0)
