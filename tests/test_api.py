"""The public API in matting/__init__.py: lazy, complete, and the same results as the modules."""

import subprocess
import sys

import numpy as np
import pytest

import matting
from matting import classic, predict
from tests.conftest import two_colour_example


def test_import_matting_loads_neither_jax_nor_scipy():
  code = ("import sys, matting; bad = {'jax', 'scipy', 'flax'} & set(sys.modules); "
          "assert not bad, bad")
  subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves_and_has_a_docstring():
  for name in matting.__all__:
    value = getattr(matting, name)
    assert callable(value), name
    assert value.__doc__, name
  with pytest.raises(AttributeError, match="no_such_name"):
    matting.no_such_name  # noqa: B018


@pytest.mark.parametrize("name, method", [("closed_form_alpha", "cf"), ("knn_alpha", "knn")])
def test_classic_functions_are_the_solvers(name, method):
  image, trimap, _ = two_colour_example()
  np.testing.assert_array_equal(getattr(matting, name)(image, trimap),
                                classic.classic_alpha(method, image, trimap))


def test_predict_alpha_and_cutout_use_the_shipped_weights():
  image, trimap, gt = two_colour_example()
  alpha = matting.predict_alpha(image, trimap)
  params, cfg = predict.load_model()
  np.testing.assert_array_equal(alpha, predict.predict_image(params, cfg, image, trimap))
  assert matting.compute_metrics(alpha, gt, trimap)["sad"] < 1.0
  rgba = matting.cutout(image, trimap)
  assert rgba.shape == image.shape[:2] + (4,)
  np.testing.assert_array_equal(rgba[..., 3], alpha)
  on_white = matting.cutout(image, trimap, background=np.ones(3, np.float32))
  assert on_white.shape == image.shape
