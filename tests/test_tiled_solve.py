"""The tiled closed-form solve, the memory budget and its errors (issue 11)."""

import os

import imageio.v3 as iio
import numpy as np
import pytest

from matting import memory
from matting.classic import closed_form
from matting.classic.closed_form import closed_form_alpha
from matting.data import io, synthetic
from matting.errors import MattingInputError
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def example():
  return synthetic.make_example(3, 150, 200, unknown_width=6)


def sad(alpha, gt, trimap):
  return np.abs(alpha - gt)[trimap == 0.5].sum() / 1000


def test_tile_cores_cover_every_variable_once_within_the_cap():
  rng = np.random.default_rng(0)
  mask = rng.random((90, 70)) < 0.3
  cores = closed_form._tile_cores(mask, 200)
  covered = np.zeros(mask.shape, int)
  for y0, y1, x0, x1 in cores:
    assert mask[y0:y1, x0:x1].sum() <= 200
    covered[y0:y1, x0:x1] += 1
  assert covered.max() == 1 and covered[mask].min() == 1
  assert len(cores) >= mask.sum() // 200


@pytest.mark.parametrize("constraint", ["soft", "hard"])
def test_tiled_solve_agrees_with_the_untiled_one(example, constraint):
  image, trimap, gt = example.image, example.trimap, example.alpha
  untiled = closed_form_alpha(image, trimap, constraint=constraint, tiled=False)
  tiled = closed_form_alpha(image, trimap, constraint=constraint, tiled=True,
                            tile_variables=1500, overlap=24, sweeps=2)
  assert len(closed_form._tile_cores(closed_form._variables(trimap, 1, constraint), 1500)) >= 4
  assert sad(tiled, gt, trimap) == pytest.approx(sad(untiled, gt, trimap), rel=0.01)
  assert np.abs(tiled - untiled).mean() < 2e-3
  np.testing.assert_array_equal(tiled[trimap != 0.5] if constraint == "hard" else 0,
                                untiled[trimap != 0.5] if constraint == "hard" else 0)


def _prior(example, strength=0.5):
  """A data term pulling the unknown pixels towards a noisy GT, varying in weight."""
  rng = np.random.default_rng(2)
  unknown = example.trimap == 0.5
  weight = strength * np.where(unknown, rng.random(unknown.shape), 0.0)
  return weight, np.clip(example.alpha + 0.2 * rng.standard_normal(unknown.shape), 0, 1)


def test_tiled_solve_with_a_prior_agrees_with_the_untiled_one(example):
  """The data term (comprehensive sampling's smoothing) is cropped for every tile and block-
  averaged for the coarse ring values: tiled and untiled agree as without it, and both
  differ from the solve without the prior."""
  image, trimap, gt = example.image, example.trimap, example.alpha
  prior = _prior(example)
  kwargs = dict(constraint="hard", prior=prior)
  untiled = closed_form_alpha(image, trimap, tiled=False, **kwargs)
  tiled = closed_form_alpha(image, trimap, tiled=True, tile_variables=1500, overlap=24,
                            **kwargs)
  without = closed_form_alpha(image, trimap, constraint="hard", tiled=False)
  assert np.abs(untiled - without).mean() > 10 * np.abs(tiled - untiled).mean()
  assert sad(tiled, gt, trimap) == pytest.approx(sad(untiled, gt, trimap), rel=0.01)
  assert np.abs(tiled - untiled).mean() < 2e-3


def test_comprehensive_sampling_follows_the_memory_budget(example, monkeypatch):
  from matting.classic import comprehensive
  image, trimap = example.image, example.trimap
  def no_sampling(*args, **kwargs):
    raise AssertionError("sampled before the budget check")

  monkeypatch.setattr(comprehensive, "sampled_alpha", no_sampling)
  with pytest.raises(MattingInputError,
                     match=r"^comprehensive sampling's smoothing: .*200x150 image .* memory budget"
                     ) as error:
    comprehensive.comprehensive_alpha(image, trimap, max_memory="1M")
  assert error.value.field == "max_memory"


@pytest.mark.parametrize("change, match", [
    (lambda w, t: (w[:-1], t[:-1]), "prior: weight .* must match the trimap"),
    (lambda w, t: (-w, t), "prior: weights must be finite and >= 0"),
    (lambda w, t: (w, np.where(w > 0, np.nan, t)), "prior: weights must be finite"),
])
def test_bad_priors_raise(example, change, match):
  with pytest.raises(MattingInputError, match=match):
    closed_form_alpha(example.image, example.trimap, prior=change(*_prior(example)))
  with pytest.raises(MattingInputError, match="prior: not supported with max_pixels"):
    closed_form_alpha(example.image, example.trimap, prior=_prior(example), max_pixels=100)


def test_schwarz_sweeps_shrink_the_coarse_ring_error(example):
  image, trimap = example.image, example.trimap
  untiled = closed_form_alpha(image, trimap, tiled=False)
  errors = [np.abs(closed_form_alpha(image, trimap, tiled=True, tile_variables=1500,
                                     overlap=24, sweeps=sweeps) - untiled).sum()
            for sweeps in (0, 2)]
  assert errors[1] < 0.5 * errors[0]


def test_a_small_budget_tiles_and_a_tiny_one_is_a_clear_error(example, monkeypatch):
  image, trimap = example.image, example.trimap
  monkeypatch.setattr(closed_form, "MIN_TILE_VARIABLES", 1000)  # Real floors suit real sizes.
  count = int(closed_form._variables(trimap, 1, "soft").sum())
  budget = closed_form.PIXEL_BYTES * trimap.size + closed_form.solve_bytes(count) // 2
  untiled = closed_form_alpha(image, trimap, tiled=False)
  budgeted = closed_form_alpha(image, trimap, max_memory=budget, overlap=24)
  assert 0 < np.abs(budgeted - untiled).max() < 0.1  # Tiled (not bit-identical), still close.
  with pytest.raises(MattingInputError, match=r"200x150 image .* memory budget") as error:
    closed_form_alpha(image, trimap, max_memory="1M")
  assert error.value.field == "max_memory"


def test_parse_size():
  assert memory.parse_size("4G") == 4 * 2 ** 30
  assert memory.parse_size("800M") == 800 * 2 ** 20
  assert memory.parse_size("1.5g") == int(1.5 * 2 ** 30)
  assert memory.parse_size("512MiB") == 512 * 2 ** 20
  assert memory.parse_size(12345) == 12345
  for bad in ("lots", "-1G", "0"):
    with pytest.raises(MattingInputError):
      memory.parse_size(bad)
  with memory.max_memory_scope("2G"):
    assert memory.resolve_max_memory(None) == 2 * 2 ** 30
  assert memory.resolve_max_memory(None) == memory.default_max_memory()


def test_the_default_budget_is_half_the_ram_whatever_is_free_now(monkeypatch):
  monkeypatch.setattr(memory, "_meminfo", {"MemTotal": 16 * 2 ** 30, "MemAvailable": 2 ** 30}.get)
  assert memory.default_max_memory() == 8 * 2 ** 30
  monkeypatch.setattr(memory, "_meminfo", lambda field: None)  # No /proc/meminfo.
  assert memory.default_max_memory() == memory.FALLBACK_BYTES


def test_peak_bytes_bounds_the_planned_solve_from_the_size_alone(example):
  trimap = example.trimap
  for kwargs in ({}, dict(tile_variables=1500, overlap=24), dict(tiled=True)):
    need = closed_form.solve_plan(trimap, **kwargs)[1]
    assert need <= closed_form.peak_bytes(trimap.shape, **kwargs) < 4 * need + 2 ** 24
  assert closed_form.peak_bytes((4000, 3000), max_pixels=10 ** 6) < closed_form.peak_bytes(
      (4000, 3000))


def test_room_is_the_budget_within_what_is_free_less_the_reservations(monkeypatch):
  monkeypatch.setattr(memory, "available_bytes", lambda: 10 * 2 ** 30)
  assert memory.room("20G") == 10 * 2 ** 30 and memory.room("4G") == 4 * 2 ** 30
  with memory.reserve(3 * 2 ** 30):
    assert memory.room("20G") == 7 * 2 ** 30
  assert memory.room("20G") == 10 * 2 ** 30
  monkeypatch.setattr(memory, "available_bytes", lambda: None)
  assert memory.room("20G") == 20 * 2 ** 30


def test_the_matte_does_not_depend_on_the_memory_free_now(example, monkeypatch):
  """The tiles follow the budget only: with little memory free the same matte comes back (or
  a clear refusal), never other tiles (issue 11: GT26 3x gave another matte under load)."""
  image, trimap = example.image, example.trimap
  monkeypatch.setattr(closed_form, "MIN_TILE_VARIABLES", 100)  # Tiles may shrink to 100.
  kwargs = dict(tile_variables=1500, overlap=24)
  size, need, _ = closed_form.solve_plan(trimap, 1, "soft", None, None, 1500, 24)
  assert size == 1500
  free = closed_form_alpha(image, trimap, **kwargs)
  # Room for one tile's solve only: a budget of half of that would have shrunk the tiles.
  monkeypatch.setattr(memory, "available_bytes", lambda: need + 1)
  assert closed_form.solve_plan(trimap, 1, "soft", need // 2, None, 1500, 24)[0] < 1500
  np.testing.assert_array_equal(closed_form_alpha(image, trimap, **kwargs), free)
  monkeypatch.setattr(memory, "available_bytes", lambda: need - 1)
  with pytest.raises(MattingInputError, match=r"200x150 image .* of memory available") as error:
    closed_form_alpha(image, trimap, **kwargs)
  assert error.value.field == "max_memory"


def test_cli_budget_too_small_exits_2_with_one_line(tmp_path, example):
  image, trimap = tmp_path / "image.png", tmp_path / "trimap.png"
  io.write_rgb(image, example.image)
  io.write_alpha(trimap, example.trimap)
  out = tmp_path / "alpha.png"
  result = run_cli("classic", image, trimap, "--method", "cf", "--max-memory", "1M", "-o", out,
                   timeout=120)
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("matting: error: --max-memory ")
  assert "200x150" in lines[0] and not out.exists()
  result = run_cli("classic", image, trimap, "--max-memory", "lots", "-o", out, timeout=120)
  assert result.returncode == 2 and "--max-memory" in result.stderr and not out.exists()


def test_image_too_large_to_decode_is_refused_before_decoding(tmp_path, monkeypatch):
  path = tmp_path / "big.png"
  iio.imwrite(path, np.zeros((300, 400, 3), np.uint8))
  monkeypatch.setattr(memory, "available_bytes", lambda: 1_000_000)
  with pytest.raises(MattingInputError, match=r"decoding a 400x300 image .* memory available"):
    io.read_image(path)


def _recorded_pools(monkeypatch, beside):
  """Makes closed_form use two tile workers, factorising beside the coarse solve or not;
  returns the list of (pool, beside) pairs `_tile_pool` gives."""
  monkeypatch.setattr(os, "cpu_count", lambda: 2)
  pools = []
  real = closed_form._tile_pool

  def tile_pool(num_tiles, tile_bytes, spare_bytes, coarse_bytes):
    pools.append(real(num_tiles, tile_bytes, spare_bytes, 0 if beside else None))
    return pools[-1]

  monkeypatch.setattr(closed_form, "_tile_pool", tile_pool)
  return pools


@pytest.mark.parametrize("beside", [True, False])
def test_tiles_solved_in_worker_processes_equal_those_solved_here(example, monkeypatch, beside):
  """Two worker processes (`tile_workers`) solve the tiles, factorising them during the
  coarse solve (beside) or after it; the matte is bit-identical to solving them here."""
  pools = _recorded_pools(monkeypatch, beside)
  kwargs = dict(tiled=True, tile_variables=1500, overlap=24)
  pooled = closed_form_alpha(example.image, example.trimap, **kwargs)
  assert pools and pools[0][0] is not None and pools[0][0].count == 2
  assert pools[0][1] == beside
  assert all(worker.poll() is not None for worker in pools[0][0]._workers)  # All exited.
  monkeypatch.setattr(closed_form, "_tile_pool", lambda *a: (None, False))
  np.testing.assert_array_equal(pooled, closed_form_alpha(example.image, example.trimap,
                                                          **kwargs))


def test_coarse_solve_error_ends_the_workers_factorising_beside_it(example, monkeypatch):
  pools = _recorded_pools(monkeypatch, beside=True)

  def fail(*_):
    raise RuntimeError("coarse matte failed")

  monkeypatch.setattr(closed_form.resolution, "upsampled_at", fail)
  with pytest.raises(RuntimeError, match="coarse matte failed"):
    closed_form_alpha(example.image, example.trimap, tiled=True, tile_variables=1500,
                      overlap=24)
  assert pools[0][1] and all(worker.poll() is not None for worker in pools[0][0]._workers)


def test_tile_workers_go_beside_an_untiled_coarse_solve_when_the_memory_holds_both(
    monkeypatch):
  from matting.classic import tile_workers
  monkeypatch.setattr(os, "cpu_count", lambda: 4)
  monkeypatch.setattr(tile_workers, "WorkerPool", lambda count, preload: count)
  tile = 100 * 2**20
  per_worker = tile + closed_form.WORKER_BYTES
  assert closed_form._tile_pool(3, tile, 10 * per_worker, per_worker) == (3, True)
  assert closed_form._tile_pool(8, tile, 10 * per_worker, per_worker) == (4, True)
  assert closed_form._tile_pool(3, tile, 10 * per_worker, None) == (3, False)  # Tiled coarse.
  assert closed_form._tile_pool(3, tile, 3 * per_worker, 2 * per_worker) == (3, False)
  assert closed_form._tile_pool(3, tile, 2.5 * per_worker, 0) == (2, True)
  assert closed_form._tile_pool(3, tile, 1.5 * per_worker, 0) == (None, False)


def test_worker_pool_two_stages_and_environment(monkeypatch):
  """`later` gives a task's second stage its arguments; its error reaches the caller;
  workers keep freed memory (glibc) unless the caller's environment says otherwise."""
  import functools
  import math
  from matting.classic.tile_workers import KEEP_FREED_MEMORY, WorkerPool
  monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
  with WorkerPool(2, "math") as pool:
    assert pool.map(functools.partial, [(math.pow, 2.0), (math.pow, 3.0), (math.pow, 4.0)],
                    later=lambda index: (index,)) == [1.0, 3.0, 16.0]

    def refuse(index):
      raise KeyError(f"no ring values for tile {index}")

    with pytest.raises(KeyError, match="no ring values"):
      pool.map(functools.partial, [(math.pow, 2.0)], later=refuse)
    with pytest.raises(TypeError, match="callable"):  # The first stage fails in the worker.
      pool.map(functools.partial, [(math.pow, 2.0), (1.0,)], later=lambda index: (2.0,))
    assert pool.map(functools.partial, [(math.pow, 5.0)], later=lambda index: (2.0,)) == [25.0]
    assert pool.map(os.getenv, [(name,) for name in sorted(KEEP_FREED_MEMORY)]) == [
        KEEP_FREED_MEMORY["MALLOC_MMAP_THRESHOLD_"], "0",
        KEEP_FREED_MEMORY["MALLOC_TRIM_THRESHOLD_"]]


def test_worker_errors_reach_the_caller():
  import math
  from matting.classic.tile_workers import WorkerPool
  with WorkerPool(2, "math") as pool:
    assert pool.map(math.sqrt, [(4.0,), (9.0,), (16.0,)]) == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="math domain error"):
      pool.map(math.sqrt, [(1.0,), (-1.0,)])
  with WorkerPool(1, "os") as pool, pytest.raises(RuntimeError, match="status 3"):
    pool.map(os._exit, [(3,)])
