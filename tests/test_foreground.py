"""Tests for matting.foreground: reconstruction, recovery of known F/B, agreement with pymatting."""

import numpy as np
import pytest

from matting.compose.foreground import estimate_foreground
from matting.errors import MattingInputError


def _composite(height=48, width=64):
  """I = a F + (1 - a) B with smooth (bilinear) F and B and a soft disc alpha.

  alpha is 1 for r < 0.15, 0 for r > 0.4 and linear between, so a wide band is mixed.
  """
  y, x = np.mgrid[0:height, 0:width] / np.array([height - 1, width - 1])[:, None, None]
  alpha = np.clip((0.4 - np.hypot(x - 0.5, y - 0.5)) / 0.25, 0.0, 1.0)
  fg = np.stack([0.8 - 0.3 * x, 0.2 + 0.5 * y, 0.5 + 0.2 * x * y], axis=-1)
  bg = np.stack([0.1 + 0.2 * y, 0.7 - 0.4 * x, 0.3 + 0.3 * x], axis=-1)
  image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
  return image.astype(np.float32), alpha.astype(np.float32), fg, bg


def test_output_types_and_range():
  image, alpha, _, _ = _composite()
  fg, bg = estimate_foreground(image, alpha)
  for out in (fg, bg):
    assert out.dtype == np.float32 and out.shape == image.shape
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0


def test_reconstructs_the_composite_and_recovers_fg_and_bg():
  image, alpha, fg_true, bg_true = _composite()
  fg, bg = estimate_foreground(image, alpha)
  a = alpha[..., None]
  mixed = (alpha > 0.1) & (alpha < 0.9)
  # The data term dominates the eps = 1e-5 smoothness: measured mean 7e-5, max 4e-4.
  residual = np.abs(a * fg + (1 - a) * bg - image)[mixed]
  assert residual.mean() < 1e-3 and residual.max() < 5e-3
  # F and B are not identifiable from I alone (3 equations, 6 unknowns per pixel); the prior
  # favours colours that are constant across alpha edges, while the true ones are ramps. Measured
  # mean |F - F_true| = 0.020 (pymatting: 0.020), |B - B_true| = 0.015, against 0.125 for the
  # naive F = I: bound at 0.03, well under a quarter of the naive error.
  naive = np.abs(image - fg_true)[mixed].mean()
  assert np.abs(fg - fg_true)[mixed].mean() < min(0.03, naive / 4)
  assert np.abs(bg - bg_true)[mixed].mean() < min(0.03, np.abs(image - bg_true)[mixed].mean() / 4)
  # Where alpha is 1 (0) the image is the foreground (background) colour: measured max 7e-4.
  np.testing.assert_allclose(fg[alpha == 1], image[alpha == 1], atol=2e-3)
  np.testing.assert_allclose(bg[alpha == 0], image[alpha == 0], atol=2e-3)


def test_agrees_with_pymatting():
  pymatting = pytest.importorskip("pymatting")
  image, alpha, _, _ = _composite()

  def mean_diff(num_big_iterations):
    fg, bg = estimate_foreground(image, alpha, num_big_iterations=num_big_iterations)
    fg_ref, bg_ref = pymatting.estimate_foreground_ml(
        image, alpha, n_big_iterations=num_big_iterations, return_background=True)
    return np.abs(fg - fg_ref)[alpha > 0.1].mean(), np.abs(bg - bg_ref)[alpha < 0.9].mean()

  # Same energy, same pyramid and initialisation; only the sweep order differs (red-black here,
  # raster Gauss-Seidel there), so the two differ by how unconverged the few sweeps leave them.
  # Measured at the defaults: 3.6e-4 (F), 1.5e-4 (B); with 200 sweeps: 5e-5, 2e-5.
  few = mean_diff(2)
  assert few[0] < 2e-3 and few[1] < 2e-3
  many = mean_diff(200)
  assert many[0] < few[0] / 2 and many[1] < few[1] / 2


@pytest.mark.parametrize("bad", ["grey image", "alpha shape", "nan"])
def test_bad_inputs_raise(bad):
  image, alpha, _, _ = _composite(8, 10)
  if bad == "grey image":
    image = image[..., 0]
  elif bad == "alpha shape":
    alpha = alpha[:-1]
  else:
    alpha[2, 2] = np.nan
  with pytest.raises(MattingInputError):
    estimate_foreground(image, alpha)
