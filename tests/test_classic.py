"""The classic-matte entry point: method lookup, what every method shares, and concurrent
solves equal serial ones."""

import numpy as np
import pytest

from matting import classic
from matting.errors import MattingInputError
from tests.conftest import BAD_SOLVER_INPUTS, bad_solver_input, two_colour_example


@pytest.mark.parametrize("method", sorted(classic.METHODS))
def test_every_method_keeps_the_trimap_and_refuses_bad_input(method):
  """A trimap without unknown pixels comes back as it is (a map that is not a matte is 1 on
  known pixels: certain); damaged inputs are clear errors."""
  image, trimap, _ = two_colour_example(20, 24)
  binary = (trimap > 0.5).astype(np.float32)
  kept = np.ones_like(binary) if method in classic.NOT_MATTES else binary
  np.testing.assert_array_equal(classic.classic_alpha(method, image, binary), kept)
  for case in BAD_SOLVER_INPUTS:
    with pytest.raises(MattingInputError):
      classic.classic_alpha(method, *bad_solver_input(case))


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


def test_with_little_memory_free_the_solves_run_one_by_one_with_the_same_mattes(monkeypatch):
  """Only the order of the solves follows the memory free now, never a matte."""
  from concurrent import futures
  from matting import memory
  from matting.classic import closed_form, knn
  image, trimap, _ = two_colour_example(48, 60)
  side_by_side = classic.classic_alphas(("cf", "knn"), image, trimap)
  one = max(closed_form.peak_bytes(trimap.shape), knn.knn_bytes(trimap))
  monkeypatch.setattr(memory, "available_bytes", lambda: one)  # Room for one solve at a time.
  monkeypatch.setattr(futures, "ThreadPoolExecutor", None)  # Threads would fail here.
  for method, alpha in classic.classic_alphas(("cf", "knn"), image, trimap).items():
    np.testing.assert_array_equal(alpha, side_by_side[method])


def test_side_by_side_the_knn_bytes_are_reserved_for_the_cf_solve(monkeypatch):
  """The closed-form tile workers are sized within what the KNN solve beside them leaves."""
  from matting import memory
  from matting.classic import knn
  image, trimap, _ = two_colour_example(48, 60)
  seen, real = [], classic.classic_alpha
  monkeypatch.setattr(classic, "classic_alpha", lambda method, *args, **kwargs: (
      seen.append((method, list(memory._reserved))), real(method, *args, **kwargs))[1])
  classic.classic_alphas(("cf", "knn"), image, trimap)
  assert sorted(seen) == [("cf", [knn.knn_bytes(trimap)]), ("knn", [knn.knn_bytes(trimap)])]
  assert memory._reserved == []
