"""The classic-matte entry point: method lookup, and concurrent solves equal serial ones."""

import numpy as np
import pytest

from matting import classic
from tests.conftest import two_colour_example


@pytest.mark.parametrize("knn", ["knn", "knn_rgb"])
def test_concurrent_mattes_equal_serial_ones(knn):
  image, trimap, _ = two_colour_example(48, 60)
  together = classic.classic_alphas(("cf", knn), image, trimap)
  assert list(together) == ["cf", knn]
  for method, alpha in together.items():
    np.testing.assert_array_equal(alpha, classic.classic_alpha(method, image, trimap))
  assert classic.classic_alphas([], image, trimap) == {}
  np.testing.assert_array_equal(classic.classic_alphas(["cf"], image, trimap)["cf"],
                                together["cf"])


def test_unknown_method_raises_before_solving():
  image, trimap, _ = two_colour_example(20, 24)
  with pytest.raises(ValueError, match="bayesian"):
    classic.classic_alphas(("cf", "bayesian"), image, trimap)
