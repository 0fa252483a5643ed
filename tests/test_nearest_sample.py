"""Tests for matting.classic.nearest_sample: the projection and the nearest-sample matte."""

import numpy as np
import pytest

from matting import classic, cli
from matting.classic import nearest_sample
from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError
from tests.conftest import two_colour_example


def test_pair_alpha_projects_onto_the_line_and_clips():
  fg = np.array([[1.0, 0.0, 0.0]] * 4)
  bg = np.array([[0.0, 0.0, 1.0]] * 4)
  colours = np.array([[0.25, 0.0, 0.75],   # On the line: alpha 0.25, no distortion.
                      [2.0, 0.0, -1.0],    # Beyond F: clipped to 1.
                      [-1.0, 0.0, 2.0],    # Beyond B: clipped to 0.
                      [0.5, 0.3, 0.5]])    # Off the line by 0.3.
  alpha, distortion = nearest_sample.pair_alpha(colours, fg, bg)
  np.testing.assert_allclose(alpha, [0.25, 1.0, 0.0, 0.5])
  np.testing.assert_allclose(distortion, [0.0, np.sqrt(2.0), np.sqrt(2.0), 0.3], atol=1e-12)


def test_recovers_a_blend_of_two_flat_colours_exactly():
  image, trimap, gt = two_colour_example(40, 50)
  flat = (gt[..., None] * np.array([0.9, 0.3, 0.1])
          + (1 - gt[..., None]) * np.array([0.1, 0.4, 0.9])).astype(np.float32)
  alpha = nearest_sample.nearest_sample_alpha(flat, trimap)
  assert alpha.dtype == np.float32 and alpha.shape == trimap.shape
  np.testing.assert_allclose(alpha, gt, atol=1e-5)


def test_noisy_blend_is_close_and_known_pixels_are_kept():
  image, trimap, gt = two_colour_example(48, 64)
  alpha = nearest_sample.nearest_sample_alpha(image, trimap)
  fg, bg, unknown = trimap_masks(trimap)
  assert np.abs(alpha - gt)[unknown].mean() < 0.05
  np.testing.assert_array_equal(alpha[fg], 1.0)
  np.testing.assert_array_equal(alpha[bg], 0.0)
  assert alpha.min() >= 0.0 and alpha.max() <= 1.0


def test_samples_come_from_the_nearest_known_pixels():
  """Two foreground colours: each unknown pixel blends with the one beside it, and window=1
  takes that pixel's own colour."""
  red, green, bg = np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0])
  image = np.zeros((20, 30, 3))
  image[:, :10] = bg
  image[:10, 20:] = red
  image[10:, 20:] = green
  image[:10, 10:20] = 0.4 * red + 0.6 * bg  # Unknown, next to red.
  image[10:, 10:20] = 0.7 * green + 0.3 * bg  # Unknown, next to green.
  trimap = np.full((20, 30), 0.5)
  trimap[:, :10], trimap[:, 20:] = 0.0, 1.0
  for window in (1, 3):
    alpha = nearest_sample.nearest_sample_alpha(image, trimap, window=window)
    np.testing.assert_allclose(alpha[:8, 10:20], 0.4, atol=1e-6)  # Away from the boundary
    np.testing.assert_allclose(alpha[12:, 10:20], 0.7, atol=1e-6)  # between red and green.


@pytest.mark.parametrize("window", [4, 0, 2.5])
def test_bad_window_raises(window):
  image, trimap, _ = two_colour_example(20, 24)
  with pytest.raises(MattingInputError, match="window"):
    nearest_sample.nearest_sample_alpha(image, trimap, window=window)


def test_is_a_classic_method_of_the_cli(example_files, tmp_path):
  image, trimap, _ = two_colour_example()
  expected = classic.classic_alpha("nearest", image, trimap)
  out = tmp_path / "nearest.png"
  assert cli.main(["classic", str(example_files["image"]), str(example_files["trimap"]),
                   "--method", "nearest", "-o", str(out)]) == 0
  from matting.data import io
  assert np.abs(io.read_alpha(out) - expected).mean() < 0.02  # 8-bit files both ways.
  assert cli.main(["classic", str(example_files["image"]), str(example_files["trimap"]),
                   "--method", "nearest", "--constraint", "hard", "-o", str(out)]) == 2
