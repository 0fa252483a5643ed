"""Tests for matting.closed_form: the matting Laplacian and the closed-form matte."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from matting.classic.closed_form import closed_form_alpha, closed_form_laplacian
from matting.errors import MattingInputError
from tests.conftest import two_colour_example


def reference_laplacian(image, eps, radius, known):
  """Levin's getLaplacian, one window at a time (dense; tiny images only)."""
  height, width, _ = image.shape
  size = 2 * radius + 1
  area = size * size
  L = np.zeros((height * width, height * width))
  for y in range(radius, height - radius):
    for x in range(radius, width - radius):
      window = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
      if known[window].all():
        continue
      ids = np.arange(height * width).reshape(height, width)[window].ravel()
      colours = image[window].reshape(-1, 3)
      centred = colours - colours.mean(axis=0)
      inverse = np.linalg.inv(centred.T @ centred / area + eps / area * np.eye(3))
      L[np.ix_(ids, ids)] += np.eye(area) - (1.0 + centred @ inverse @ centred.T) / area
  return L


def random_example(seed, height=36, width=44, noise=0.03):
  """Random FG/BG colours blended by a random smooth matte; trimap from the matte's shape."""
  rng = np.random.default_rng(seed)
  field = gaussian_filter(rng.standard_normal((height, width)), 4.0)
  field = (field - field.mean()) / field.std()
  alpha = np.clip((field + 0.4) / 0.8, 0.0, 1.0)
  fg, bg = rng.random(3), rng.random(3)
  image = alpha[..., None] * fg + (1.0 - alpha[..., None]) * bg
  image = np.clip(image + noise * rng.standard_normal(image.shape), 0.0, 1.0)
  trimap = np.full((height, width), 0.5)
  trimap[field <= -0.4] = 0.0
  trimap[field >= 0.4] = 1.0
  return image.astype(np.float32), trimap.astype(np.float32)


def test_laplacian_is_symmetric_with_zero_row_sums():
  image = np.random.default_rng(0).random((40, 50, 3))
  L = closed_form_laplacian(image)
  assert L.shape == (2000, 2000)
  assert abs(L - L.T).max() == 0.0
  row_sums = np.asarray(L.sum(axis=1)).ravel()
  assert np.abs(row_sums).max() < 1e-9 * abs(L).max()


def test_laplacian_is_positive_semidefinite():
  L = closed_form_laplacian(np.random.default_rng(1).random((8, 9, 3))).toarray()
  assert np.linalg.eigvalsh(L).min() >= -1e-8


@pytest.mark.parametrize("radius", [1, 2])
def test_laplacian_matches_window_loop_and_skips_known_windows(radius):
  rng = np.random.default_rng(2)
  image = rng.random((12, 12, 3))
  known = np.ones((12, 12), dtype=bool)
  known[3:7, 5:8] = False
  L = closed_form_laplacian(image, eps=1e-5, radius=radius, known=known).toarray()
  reference = reference_laplacian(image, 1e-5, radius, known)
  np.testing.assert_allclose(L, reference, rtol=1e-9, atol=1e-9 * np.abs(reference).max())
  assert not L[0].any()  # The corner pixel lies in all-known windows only.


def test_laplacian_without_mask_matches_all_unknown():
  image = np.random.default_rng(3).random((10, 11, 3))
  unmasked = closed_form_laplacian(image, eps=1e-4)
  masked = closed_form_laplacian(image, eps=1e-4, known=np.zeros((10, 11), dtype=bool))
  assert abs(unmasked - masked).max() == 0.0


def test_hard_variant_agrees_with_pymatting():
  pymatting = pytest.importorskip("pymatting")
  image, trimap, _ = two_colour_example()
  ours = closed_form_alpha(image, trimap, constraint="hard")
  theirs = pymatting.estimate_alpha_cf(image.astype(np.float64), trimap.astype(np.float64),
                                       laplacian_kwargs={"epsilon": 1e-7, "radius": 1})
  unknown = trimap == 0.5
  assert np.abs(ours - theirs)[unknown].mean() < 1e-3


@pytest.mark.parametrize("constraint", ["soft", "hard"])
@pytest.mark.parametrize("seed", range(4))
def test_alpha_in_range_and_keeps_known_pixels(seed, constraint):
  image, trimap = random_example(seed)
  alpha = closed_form_alpha(image, trimap, constraint=constraint)
  assert alpha.dtype == np.float32 and alpha.shape == trimap.shape
  assert alpha.min() >= 0.0 and alpha.max() <= 1.0
  known = trimap != 0.5
  assert np.abs(alpha - trimap)[known].max() < 1e-2


def test_soft_and_hard_agree_on_easy_image():
  image, trimap, true_alpha = two_colour_example()
  soft = closed_form_alpha(image, trimap, constraint="soft")
  hard = closed_form_alpha(image, trimap, constraint="hard")
  assert np.abs(soft - hard).max() < 1e-2
  assert np.abs(hard - true_alpha).mean() < 0.05


@pytest.mark.parametrize("preconditioner", ["jacobi", "cholesky"])
def test_coarse_to_fine_reaches_same_matte(preconditioner):
  image, trimap, _ = two_colour_example()
  direct = closed_form_alpha(image, trimap)
  staged = closed_form_alpha(image, trimap, preconditioner=preconditioner, rtol=1e-9,
                             coarse_to_fine=True)
  assert np.abs(staged - direct).max() < 1e-3


def test_bad_inputs_raise():
  image, trimap, _ = two_colour_example()
  with pytest.raises(MattingInputError, match="foreground"):
    closed_form_alpha(image, np.minimum(trimap, 0.5))
  with pytest.raises(MattingInputError, match="background"):
    closed_form_alpha(image, np.maximum(trimap, 0.5))
  with pytest.raises(MattingInputError, match="does not match"):
    closed_form_alpha(image, trimap[:-1])
  with pytest.raises(MattingInputError, match=r"\(H, W, 3\)"):
    closed_form_alpha(image[..., 0], trimap)


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-1e-7), "eps: must be a finite number > 0"),
    (dict(eps=float("nan")), "eps"),
    (dict(radius=0), "radius: must be an integer >= 1"),
    (dict(radius=1.5), "radius"),
    (dict(lam=0.0), "lam"),
    (dict(lam=float("inf")), "lam"),
    (dict(rtol=1.0), "rtol"),
    (dict(maxiter=0), "maxiter"),
    (dict(constraint="firm"), "constraint"),
    (dict(preconditioner="lu"), "preconditioner"),
    (dict(tiled=True, tile_variables=0), "tile_variables"),
    (dict(tiled=True, overlap=1), "overlap: must be an integer >= 2"),
    (dict(tiled=True, radius=2, overlap=3), "overlap: must be an integer >= 4"),
    (dict(tiled=True, sweeps=-1), "sweeps"),
    (dict(tiled=True, sweeps=0.5), "sweeps"),
])
def test_bad_parameters_raise_naming_them(kwargs, match):
  """Values that gave a silent wrong matte (eps < 0: all 0.5; lam = 0; overlap < 0) or a
  NumPy error (radius 1.5) are refused before any work."""
  image, trimap, _ = two_colour_example()
  with pytest.raises(MattingInputError, match=match):
    closed_form_alpha(image, trimap, **kwargs)


@pytest.mark.parametrize("constraint", ["soft", "hard"])
def test_trimap_without_unknown_pixels_is_returned(constraint):
  image, trimap, _ = two_colour_example()
  trimap = np.where(trimap == 0.5, 1.0, trimap).astype(np.float32)
  np.testing.assert_array_equal(closed_form_alpha(image, trimap, constraint=constraint), trimap)
