"""Tests for matting.cache: keys, reuse, resume after a partial run, parallel == serial."""

import dataclasses
import os

import numpy as np

from matting import classic
from matting.classic import cache
from tests.conftest import two_colour_example


@dataclasses.dataclass(frozen=True)
class Ex:
  name: str
  image: np.ndarray
  trimap: np.ndarray


def examples(n=3):
  return [Ex(f"ex{i}", *two_colour_example(24, 30, seed=i)[:2]) for i in range(n)]


def test_key_depends_on_inputs_method_and_params():
  image, trimap, _ = two_colour_example(10, 12)
  base = cache.cache_key(image, trimap, "cf")
  assert base == cache.cache_key(image.copy(), trimap.copy(), "cf")
  assert base != cache.cache_key(image, trimap, "knn")
  assert base != cache.cache_key(image, trimap, "cf", {"constraint": "hard"})
  image2 = image.copy()
  image2[0, 0, 0] += 0.01
  assert base != cache.cache_key(image2, trimap, "cf")
  assert base != cache.cache_key(image, np.where(trimap == 0.5, 0.0, trimap), "cf")


def test_a_solver_version_changes_only_that_methods_keys(monkeypatch):
  """Bumping one solver's version retires its cached mattes and keeps the others'."""
  image, trimap, _ = two_colour_example(10, 12)
  before = {m: cache.cache_key(image, trimap, m) for m in ("cf", "knn")}
  monkeypatch.setitem(cache.SOLVER_VERSIONS, "knn", cache.SOLVER_VERSIONS["knn"] + 1)
  assert cache.cache_key(image, trimap, "knn") != before["knn"]
  assert cache.cache_key(image, trimap, "cf") == before["cf"]


def test_cached_matte_computes_once(tmp_path):
  image, trimap, _ = two_colour_example(16, 20)
  first = cache.cached_matte(tmp_path, "cf", image, trimap)
  files = list((tmp_path / "cf").iterdir())
  assert len(files) == 1
  stamp = files[0].stat().st_mtime_ns
  second = cache.cached_matte(tmp_path, "cf", image, trimap)
  np.testing.assert_array_equal(first, second)
  assert files[0].stat().st_mtime_ns == stamp
  np.testing.assert_allclose(first, classic.classic_alpha("cf", image, trimap), atol=1e-6)


def test_parallel_equals_serial_and_resumes(tmp_path):
  exs = examples()
  serial = cache.cached_mattes(tmp_path / "a", exs, ["cf", "knn"], processes=1, progress=False)
  # A "killed" run: only the first example's cf matte was stored.
  partial = cache.cached_mattes(tmp_path / "b", exs[:1], ["cf"], processes=1, progress=False)
  done = next((tmp_path / "b" / "cf").iterdir())
  stamp = done.stat().st_mtime_ns
  resumed = cache.cached_mattes(tmp_path / "b", exs, ["cf", "knn"], processes=2, progress=False)
  assert done.stat().st_mtime_ns == stamp
  np.testing.assert_array_equal(partial[0]["cf"], resumed[0]["cf"])
  for s, r in zip(serial, resumed):
    for method in ("cf", "knn"):
      np.testing.assert_allclose(s[method], r[method], atol=1e-6)
  names = [f for d in ("cf", "knn") for f in os.listdir(tmp_path / "b" / d)]
  assert len(names) == 6 and all(n.endswith(".npz") and ".tmp" not in n for n in names)
