"""Tests for matting.sparse_solve: the nested-dissection Cholesky and the constrained solves."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from matting.classic import sparse_solve


def grid_laplacian(mask, seed=0):
  """Graph Laplacian with random weights between pixels of `mask` up to 2 apart (the
  matting Laplacian's stencil); PSD with rows summing to 0."""
  rng = np.random.default_rng(seed)
  height, width = mask.shape
  ids = np.full(mask.shape, -1)
  ids[mask] = np.arange(mask.sum())
  rows, cols = [], []
  for dy in range(-2, 3):
    for dx in range(-2, 3):
      if (dy, dx) <= (0, 0):
        continue
      y, x = np.nonzero(mask)
      ty, tx = y + dy, x + dx
      inside = (ty >= 0) & (ty < height) & (tx >= 0) & (tx < width)
      target = np.full(len(y), -1)
      target[inside] = ids[ty[inside], tx[inside]]
      keep = target >= 0
      rows.append(ids[y[keep], x[keep]])
      cols.append(target[keep])
  rows, cols = np.concatenate(rows), np.concatenate(cols)
  weights = rng.uniform(0.1, 1.0, len(rows))
  n = int(mask.sum())
  W = sp.coo_matrix((weights, (rows, cols)), shape=(n, n))
  W = W + W.T
  return (sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W).tocsr()


@pytest.mark.parametrize("leaf_size", [4, 16, 64])
def test_nested_dissection_cholesky_solves_exactly(leaf_size):
  rng = np.random.default_rng(1)
  mask = rng.random((23, 31)) < 0.8  # Irregular, possibly disconnected variable set.
  L = grid_laplacian(mask)
  A = (L + sp.diags(rng.uniform(1e-3, 1e-2, L.shape[0]))).tocsr()
  y, x = np.nonzero(mask)
  b = rng.standard_normal(A.shape[0])
  factor = sparse_solve.NestedDissectionCholesky(A, y, x, leaf_size=leaf_size)
  np.testing.assert_allclose(factor.solve(b), spla.spsolve(A.tocsc(), b), rtol=1e-9, atol=1e-9)


def test_dissection_separators_separate():
  y, x = np.nonzero(np.ones((20, 26), dtype=bool))
  node_pixels, parent = sparse_solve._dissect(y, x, leaf_size=8)
  assert np.array_equal(np.sort(np.concatenate(node_pixels)), np.arange(len(y)))
  has_parent = parent >= 0
  assert np.all(parent[has_parent] > np.flatnonzero(has_parent))  # Post-order.

  def subtree(node):
    return np.concatenate([node_pixels[node]]
                          + [subtree(kid) for kid in np.flatnonzero(parent == node)])

  # Pixels of sibling subtrees are never within 2 of each other (share no 3x3 window).
  for node in range(len(node_pixels)):
    kids = np.flatnonzero(parent == node)
    assert len(kids) in (0, 2)
    if len(kids) == 2:
      first, second = subtree(kids[0]), subtree(kids[1])
      gap = np.maximum(np.abs(y[first][:, None] - y[second][None]),
                       np.abs(x[first][:, None] - x[second][None]))
      assert gap.min() >= 3


def test_positive_definite_cholesky_shifts_singular_block():
  block = np.array([[1.0, 1.0], [1.0, 1.0]])
  factor = sparse_solve._positive_definite_cholesky(block)
  assert np.all(np.isfinite(factor))
  np.testing.assert_allclose(factor @ factor.T, block, atol=1e-6)


def small_problem(seed=0, shape=(14, 17)):
  """A grid Laplacian with a random trimap-like constraint pattern."""
  rng = np.random.default_rng(seed)
  L = grid_laplacian(np.ones(shape, dtype=bool), seed)
  known = rng.random(L.shape[0]) < 0.4
  values = (rng.random(L.shape[0]) < 0.5).astype(np.float64)
  return L, known, values


def direct_solution(L, known, values, lam, constraint):
  A, b, free, alpha = sparse_solve.constrained_system(L, known, values, lam, constraint)
  alpha[free] = spla.spsolve(A.tocsc(), b)
  return alpha


@pytest.mark.parametrize("constraint", ["soft", "hard"])
@pytest.mark.parametrize("preconditioner", sparse_solve.PRECONDITIONERS)
def test_solve_alpha_matches_direct_solve(constraint, preconditioner):
  L, known, values = small_problem()
  alpha = sparse_solve.solve_alpha(L, known, values, lam=100.0, constraint=constraint,
                                   preconditioner=preconditioner, rtol=1e-10,
                                   grid_shape=(14, 17))
  np.testing.assert_allclose(alpha, direct_solution(L, known, values, 100.0, constraint),
                             atol=1e-6)


def test_hard_constraint_keeps_known_values_and_x0_is_used():
  L, known, values = small_problem(seed=3)
  exact = direct_solution(L, known, values, 100.0, "hard")
  alpha = sparse_solve.solve_alpha(L, known, values, constraint="hard", x0=exact, maxiter=1,
                                   preconditioner="none")
  np.testing.assert_array_equal(alpha[known], values[known])
  np.testing.assert_allclose(alpha, exact, atol=1e-8)


def test_all_known_returns_values():
  L, _, values = small_problem()
  known = np.ones(len(values), dtype=bool)
  alpha = sparse_solve.solve_alpha(L, known, values, constraint="hard")
  np.testing.assert_array_equal(alpha, values)


def test_bad_arguments_raise():
  L, known, values = small_problem()
  with pytest.raises(ValueError, match="constraint"):
    sparse_solve.solve_alpha(L, known, values, constraint="medium")
  with pytest.raises(ValueError, match="preconditioner"):
    sparse_solve.solve_alpha(L, known, values, preconditioner="magic")
  with pytest.raises(ValueError, match="coordinates"):
    sparse_solve.solve_alpha(L, known, values, preconditioner="cholesky")


def test_parallel_product_is_the_product_bit_for_bit():
  """Row blocks on threads give A @ x exactly, also for a CSR matrix with unsorted indices
  and duplicate entries (as sums of sparse matrices leave them)."""
  from concurrent.futures import ThreadPoolExecutor
  rng = np.random.default_rng(2)
  L = grid_laplacian(rng.random((30, 40)) < 0.8, seed=2)
  shuffled = L.copy()
  for i in range(shuffled.shape[0]):  # Unsorted columns within each row, plus a duplicate.
    start, end = shuffled.indptr[i], shuffled.indptr[i + 1]
    order = rng.permutation(end - start) + start
    shuffled.indices[start:end] = shuffled.indices[order]
    shuffled.data[start:end] = shuffled.data[order]
  shuffled = sp.csr_matrix(shuffled + sp.csr_matrix(L))  # Sums keep their own entry order.
  x = rng.standard_normal(L.shape[0])
  for A in (L, shuffled):
    for count in (1, 2, 5):
      with ThreadPoolExecutor(count) as pool:
        np.testing.assert_array_equal(sparse_solve.parallel_product(A, pool, count).matvec(x),
                                      A @ x)


def test_row_blocks_split_the_non_zeros_evenly():
  A = sp.random(1000, 1000, density=0.01, format="csr", random_state=3)
  bounds = sparse_solve.row_blocks(A, 4)
  assert bounds[0] == 0 and bounds[-1] == 1000 and np.all(np.diff(bounds) >= 0)
  counts = np.diff(A.indptr[bounds])
  assert counts.max() - counts.min() <= 2 * np.diff(A.indptr).max()


def test_cg_on_threads_gives_the_same_matte(monkeypatch):
  """solve_alpha with CG's products in row blocks on threads equals the one-thread solve."""
  rng = np.random.default_rng(4)
  L = grid_laplacian(np.ones((40, 50), bool), seed=4)
  known = rng.random(L.shape[0]) < 0.3
  values = (rng.random(L.shape[0]) < 0.5).astype(float)
  solved = {}
  for threshold in (10**12, 0):
    monkeypatch.setattr(sparse_solve, "PARALLEL_PRODUCT_FROM", threshold)
    monkeypatch.setattr(sparse_solve.threads, "usable_cores", lambda: 2)
    solved[threshold] = sparse_solve.solve_alpha(L, known, values, preconditioner="jacobi",
                                                 rtol=1e-8)
  np.testing.assert_array_equal(solved[0], solved[10**12])


def test_map_on_cores_keeps_the_order_on_any_number_of_cores(monkeypatch):
  from matting.classic import threads
  for cores in (1, 2, 5):
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    assert threads.map_on_cores(lambda v: v * v, range(7)) == [v * v for v in range(7)]
    assert threads.map_on_cores(abs, []) == []
