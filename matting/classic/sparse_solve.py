"""Sparse linear solves shared by the affinity-based mattes (closed-form, KNN).

Both solve a Laplacian system with the trimap as constraint:
  soft: (L + lam*D) alpha = lam * D * alpha_known, D = diag(known)   (Levin Eq. 12, Chen Eq. 8)
  hard: L_UU alpha_U = -L_UK alpha_K                                   (unknown block only)
by preconditioned conjugate gradients. For a local Laplacian on the pixel grid the best
preconditioner is the exact sparse Cholesky factor (`NestedDissectionCholesky`): the matting
Laplacian with eps=1e-7 is so ill-conditioned that Jacobi, ILU and algebraic multigrid need
hundreds of iterations (benchmarks/solver_choice.py), while CG with the exact factor stops
after one.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg import blas, lapack
from threadpoolctl import threadpool_limits

from matting.classic import threads
from matting.errors import MattingInputError

MIN_SIDE = 0.3  # Nested dissection keeps at least this fraction of the pixels on each side.
EXTEND_ADD_BLOCKS_FROM = 96  # Schur complements this large are added block by block.
PRECONDITIONERS = ("none", "jacobi", "ilu", "amg_sa", "amg_rs", "cholesky")
PARALLEL_PRODUCT_FROM = 1_000_000  # Non-zeros from which CG's product runs in row blocks.


def _dissect(y, x, leaf_size):
  """Geometric nested dissection of pixels at (y, x) coupled up to 2 pixels apart (3x3 windows).

  Recursively cuts across the longer side of the bounding box where a two-pixel-wide
  separator is smallest (`_balanced_cut`), until parts have at most `leaf_size` pixels.
  Returns (node_pixels, parent): the separators and leaves in post-order (children first)
  and each one's parent (-1: root). Empty separators make no node, so their children become
  roots of independent subtrees.
  """
  node_pixels, parent_of = [], []

  def split(ids):
    yy, xx = y[ids], x[ids]
    coord = yy if np.ptp(yy) >= np.ptp(xx) else xx
    cut = _balanced_cut(coord, MIN_SIDE) if len(ids) > leaf_size else None
    if cut is None:
      node_pixels.append(ids)
      return [len(node_pixels) - 1]
    kids = split(ids[coord < cut]) + split(ids[coord >= cut + 2])
    separator = ids[(coord >= cut) & (coord < cut + 2)]
    if not len(separator):
      return kids
    node_pixels.append(separator)
    parent_of.extend((kid, len(node_pixels) - 1) for kid in kids)
    return [len(node_pixels) - 1]

  split(np.arange(len(y)))
  parent = np.full(len(node_pixels), -1)
  for kid, node in parent_of:
    parent[kid] = node
  return node_pixels, parent


def _balanced_cut(coord, min_side):
  """Cut c across one axis (the separator is the slices c and c+1), None if it is too short.

  Picks the smallest separator among cuts leaving at least `min_side` of the pixels on each
  side, or the most even cut if none does.
  """
  low = coord.min()
  counts = np.bincount(coord - low)
  if len(counts) < 4:
    return None
  total = len(coord)
  separator = counts[1:-2] + counts[2:-1]
  left = np.cumsum(counts)[:-3]
  right = total - left - separator
  ok = (left >= min_side * total) & (right >= min_side * total)
  best = np.argmin(np.where(ok, separator, total + 1)) if ok.any() else np.argmin(
      np.abs(left - right))
  return low + 1 + int(best)


class NestedDissectionCholesky:
  """Sparse Cholesky A = L L^T of an SPD matrix whose variables sit on a pixel grid.

  Multifrontal: variables are ordered by geometric nested dissection (`_dissect`); each tree
  node's dense frontal matrix holds its own variables and the ancestor variables they couple
  to, is assembled from A and its children's Schur complements, and is factorised with
  LAPACK potrf/trsm/syrk, so the arithmetic runs in dense BLAS kernels. A front that is not
  numerically positive definite gets a tiny diagonal shift; the factor is then inexact and
  CG (`solve_alpha`) corrects it.
  """

  def __init__(self, A, y, x, leaf_size=128):
    """A: (n, n) sparse SPD matrix; y, x: (n,) integer pixel coordinates of its variables."""
    assembly = self._analyse(A, y, x, leaf_size)  # Its temporaries are freed on return.
    with threadpool_limits(1, user_api="blas"):
      self.factors = self._factorise(*assembly)

  def _analyse(self, A, y, x, leaf_size):
    """Symbolic phase: ordering, fronts, and where A's entries and Schur complements go."""
    node_pixels, parent = _dissect(np.asarray(y), np.asarray(x), leaf_size)
    n = A.shape[0]
    self.perm = np.concatenate(node_pixels)
    own_sizes = np.array([len(p) for p in node_pixels])
    self.ends = np.cumsum(own_sizes)
    self.starts = self.ends - own_sizes
    rank = np.empty(n, dtype=np.int64)
    rank[self.perm] = np.arange(n)

    # Upper triangle of the permuted A, row by row (so grouped by the node owning the row).
    permuted = sp.csr_matrix(A)[self.perm]
    row = np.repeat(np.arange(n), np.diff(permuted.indptr))
    col = rank[permuted.indices]
    upper = col >= row
    row, col, data = row[upper], col[upper], permuted.data[upper]
    entry_ptr = np.searchsorted(row, np.append(self.starts, n))
    node_of = np.repeat(np.arange(len(own_sizes)), own_sizes)[row]
    outside = col >= self.ends[node_of]
    outside_ptr = np.searchsorted(row[outside], np.append(self.starts, n))
    outside_col = col[outside]

    # A node's boundary: the later (ancestor) variables its front couples to, i.e. its A
    # entries outside itself and its children's boundaries minus its own variables. Its front
    # lists its own variables then its boundary; `position` maps variables to front indices
    # for the node at hand, to place its A entries and its children's Schur complements.
    children = [[] for _ in own_sizes]
    for node in np.flatnonzero(parent >= 0):
      children[parent[node]].append(node)
    self.boundary = []
    ranks = np.arange(n)
    position = np.empty(n, dtype=np.int64)
    entry_position = np.empty(len(col), dtype=np.int64)
    kid_position = {}
    for node, (start, end) in enumerate(zip(self.starts, self.ends)):
      candidates = np.concatenate([outside_col[outside_ptr[node]:outside_ptr[node + 1]]]
                                  + [self.boundary[c] for c in children[node]])
      candidates.sort()
      keep = candidates >= end
      keep[1:] &= candidates[1:] != candidates[:-1]
      bnd = candidates[keep]
      self.boundary.append(bnd)
      position[start:end] = ranks[:end - start]
      position[bnd] = ranks[end - start:end - start + len(bnd)]
      entries = slice(entry_ptr[node], entry_ptr[node + 1])
      entry_position[entries] = position[col[entries]]
      for kid in children[node]:
        kid_position[kid] = position[self.boundary[kid]]
    # Only children whose front reaches an ancestor pass a Schur complement up.
    children = [[c for c in kids if len(self.boundary[c])] for kids in children]

    # A's entry (r, c), c >= r, goes to the lower triangle of its front (column-major flat).
    front_sizes = own_sizes + np.array([len(b) for b in self.boundary])
    entry_target = entry_position + (row - self.starts[node_of]) * front_sizes[node_of]
    # Where each child's Schur complement lands in its parent's front: (child index, front
    # index, length) of the runs of consecutive positions, few per child in practice.
    kids = np.array([c for kids in children for c in kids], dtype=np.int64)
    kid_sizes = np.array([len(self.boundary[k]) for k in kids], dtype=np.int64)
    kid_offsets = np.append(0, np.cumsum(kid_sizes))
    target = np.concatenate([kid_position[k] for k in kids] + [np.zeros(0, dtype=np.int64)])
    run_start = np.ones(len(target), dtype=bool)
    run_start[1:] = np.diff(target) != 1
    run_start[kid_offsets[:-1]] = True
    starts = np.flatnonzero(run_start)
    lengths = np.diff(np.append(starts, len(target)))
    kid_of_run = np.searchsorted(kid_offsets, starts, side="right") - 1
    runs = np.stack([starts - kid_offsets[kid_of_run], target[starts], lengths], axis=1)
    run_ptr = np.searchsorted(kid_of_run, np.arange(len(kids) + 1))
    relative = {kid: (target[kid_offsets[i]:kid_offsets[i + 1]],
                      runs[run_ptr[i]:run_ptr[i + 1]].tolist()) for i, kid in enumerate(kids)}
    return data, entry_ptr, entry_target, front_sizes, children, relative

  def _factorise(self, data, entry_ptr, entry_target, front_sizes, children, relative):
    factors, updates = [], {}
    # One buffer holds every front in turn: fresh large arrays would page-fault on first touch.
    workspace = np.empty(int(np.max(front_sizes)) ** 2)
    for node, size in enumerate(front_sizes):
      own = self.ends[node] - self.starts[node]
      flat = workspace[:size * size]  # The front, column-major; only its lower triangle is used.
      flat[:] = 0.0
      flat[entry_target[entry_ptr[node]:entry_ptr[node + 1]]] = (
          data[entry_ptr[node]:entry_ptr[node + 1]])
      front = flat.reshape(size, size, order="F")
      for kid in children[node]:
        _extend_add(front, flat, updates.pop(kid), *relative[kid])
      l11 = _positive_definite_cholesky(front[:own, :own])
      l21 = blas.dtrsm(1.0, l11, front[own:, :own], side=1, lower=1, trans_a=1)
      if size > own:
        updates[node] = blas.dsyrk(-1.0, l21, beta=1.0, c=front[own:, own:], lower=1)
      factors.append((l11, l21))
    return factors

  def solve(self, b):
    """Returns A^-1 b by forward and backward substitution through the tree."""
    z = np.asarray(b, dtype=np.float64)[self.perm]
    nodes = list(zip(self.starts, self.ends, self.boundary, self.factors))
    with threadpool_limits(1, user_api="blas"):
      for start, end, bnd, (l11, l21) in nodes:
        z[start:end] = blas.dtrsv(l11, z[start:end], lower=1)
        if len(bnd):
          z[bnd] -= l21 @ z[start:end]
      for start, end, bnd, (l11, l21) in reversed(nodes):
        rhs = z[start:end] - l21.T @ z[bnd] if len(bnd) else z[start:end]
        z[start:end] = blas.dtrsv(l11, rhs, lower=1, trans=1)
    x = np.empty_like(z)
    x[self.perm] = z
    return x


def _extend_add(front, flat, update, positions, runs):
  """Adds a child's Schur complement (lower triangle valid) into its parent's front.

  Small updates go through one fancy-indexed add; large ones block by block over the runs of
  consecutive positions (`runs`: child index, front index, length), at memory speed.
  """
  if len(update) < EXTEND_ADD_BLOCKS_FROM:
    flat[(positions[:, None] * len(front) + positions).ravel()] += update.ravel(order="F")
    return
  for a, (child_a, front_a, length_a) in enumerate(runs):
    for child_b, front_b, length_b in runs[:a + 1]:
      front[front_a:front_a + length_a, front_b:front_b + length_b] += (
          update[child_a:child_a + length_a, child_b:child_b + length_b])


def _positive_definite_cholesky(block):
  """Lower Cholesky factor of a dense SPD block, shifting its diagonal if rounding broke PD."""
  factor, info = lapack.dpotrf(block, lower=1, clean=1)
  shift = 1e-12 * np.abs(np.diag(block)).max() if info else 0.0
  while info:
    factor, info = lapack.dpotrf(block + shift * np.eye(len(block)), lower=1, clean=1)
    shift *= 100.0
  return factor


def _operator(solve, n):
  return spla.LinearOperator((n, n), matvec=solve, dtype=np.float64)


def make_preconditioner(A, kind, coords=None):
  """Returns a LinearOperator approximating A^-1, or None for kind 'none'.

  'jacobi': inverse diagonal; 'ilu': SuperLU incomplete LU (drop_tol 1e-4); 'amg_sa' /
  'amg_rs': one pyamg smoothed-aggregation / Ruge-Stuben V-cycle; 'cholesky': the exact
  `NestedDissectionCholesky` factor, which needs `coords` = (y, x) of the variables.
  """
  if kind == "none":
    return None
  if kind == "jacobi":
    inv_diag = 1.0 / np.maximum(A.diagonal(), 1e-12)
    return _operator(lambda v: inv_diag * v, A.shape[0])
  if kind == "ilu":
    return _operator(spla.spilu(A.tocsc(), drop_tol=1e-4, fill_factor=10).solve, A.shape[0])
  if kind in ("amg_sa", "amg_rs"):
    import pyamg  # Deferred: pyamg's import takes a second and only these variants need it.
    build = (pyamg.smoothed_aggregation_solver if kind == "amg_sa" else pyamg.ruge_stuben_solver)
    return build(A).aspreconditioner(cycle="V")
  if kind == "cholesky":
    if coords is None:
      raise ValueError("the 'cholesky' preconditioner needs the variables' pixel coordinates")
    return _operator(NestedDissectionCholesky(A, *coords).solve, A.shape[0])
  raise MattingInputError(f"preconditioner: unknown {kind!r}, expected one of {PRECONDITIONERS}")


def product_threads(A):
  """Threads for CG's products with CSR `A`: one per usable core from PARALLEL_PRODUCT_FROM
  non-zeros on, else 1 (below that a product takes under ~2 ms and the hand-off would eat the
  gain)."""
  return threads.usable_cores() if A.nnz >= PARALLEL_PRODUCT_FROM else 1


def row_blocks(A, count):
  """`count` + 1 row boundaries of CSR `A` that split its non-zeros into nearly equal runs."""
  bounds = np.searchsorted(A.indptr, np.linspace(0, A.nnz, count + 1), side="left")
  bounds[0], bounds[-1] = 0, A.shape[0]
  return np.maximum.accumulate(bounds)


def parallel_product(A, pool, count):
  """LinearOperator x -> A @ x for CSR `A` in `count` row blocks on the thread pool `pool`.

  SciPy's CSR kernel releases the GIL, so the blocks run on separate cores; each row is
  summed exactly as in `A @ x` (bit-identical). The product is memory-bound: on the KNN
  system of GT26 (300k rows, 3.8M non-zeros) 2 threads took ~0.57x the time of one.
  """
  A = sp.csr_matrix(A)
  bounds = row_blocks(A, count)
  # Views of A's rows (no copies), entries in A's order: unsorted indices and duplicates are
  # summed as `A @ x` sums them.
  blocks = [(start, end, sp.csr_matrix((A.data[A.indptr[start]:A.indptr[end]],
                                        A.indices[A.indptr[start]:A.indptr[end]],
                                        A.indptr[start:end + 1] - A.indptr[start]),
                                       shape=(end - start, A.shape[1])))
            for start, end in zip(bounds[:-1], bounds[1:])]
  dtype = np.result_type(A.dtype, np.float64)

  def block_product(x, out, start, end, block):
    out[start:end] = block @ x

  def matvec(x):
    x = np.ascontiguousarray(x, dtype=dtype).ravel()
    out = np.empty(A.shape[0], dtype=dtype)
    for future in [pool.submit(block_product, x, out, *block) for block in blocks]:
      future.result()
    return out

  return spla.LinearOperator(A.shape, matvec=matvec, dtype=dtype)


def conjugate_gradient(A, b, M=None, x0=None, rtol=1e-7, maxiter=10000, workers=1):
  """Preconditioned CG until ||b - A x|| <= rtol ||b||; returns (x, iterations). workers > 1
  computes the products with A in that many row blocks on threads (`parallel_product`)."""
  iterations = [0]

  def count(_):
    iterations[0] += 1

  if workers > 1 and sp.issparse(A):
    with ThreadPoolExecutor(workers) as pool:
      return conjugate_gradient(parallel_product(A, pool, workers), b, M, x0, rtol, maxiter)
  x, _ = spla.cg(A, b, x0=x0, rtol=rtol, atol=0.0, maxiter=maxiter, M=M, callback=count)
  return x, iterations[0]


def constrained_system(L, known, known_values, lam=100.0, constraint="soft", fixed=None,
                       fixed_values=None, prior=None):
  """Reduces the matting problem to an SPD system A x = b on the variables that need solving.

  Returns (A, b, free, alpha): alpha is the full solution with every variable outside
  `free` already set, and A, b act on alpha[free]. Soft: pixels with an empty Laplacian row
  (no active window) just take their trimap value; hard: the known pixels are fixed.
  `fixed` (bool, optional) pins further pixels to `fixed_values` (Dirichlet values, e.g. a
  tile's ring taken from a coarser solve): they leave the system and move to b. `prior`
  (optional (weight, weight * target), each (N,)) adds the data term
  sum_i weight_i (alpha_i - target_i)^2: weight on A's diagonal, weight * target to b.
  """
  A, b, free, alpha = _constrained_system(L, known, known_values, lam, constraint, fixed,
                                          fixed_values)
  if prior is not None:
    weight, pull = (np.asarray(p, dtype=np.float64).ravel()[free] for p in prior)
    A = (A + sp.diags(weight)).tocsr()
    b = b + pull
  return A, b, free, alpha


def _constrained_system(L, known, known_values, lam, constraint, fixed, fixed_values):
  """`constrained_system` without the prior."""
  L = sp.csr_matrix(L, dtype=np.float64)
  known = np.asarray(known, dtype=bool).ravel()
  values = np.where(known, np.asarray(known_values, dtype=np.float64).ravel(), 0.0)
  if fixed is not None:
    fixed = np.asarray(fixed, dtype=bool).ravel()
  alpha = values.copy() if fixed is None else np.where(
      fixed, np.asarray(fixed_values, dtype=np.float64).ravel(), values)
  if constraint == "soft":
    free_mask = np.diff(L.indptr) > 0
    if fixed is not None:
      free_mask &= ~fixed
    free = np.flatnonzero(free_mask)
    if len(free) == L.shape[0]:  # Every row takes part: no copies.
      rows = block = L
    else:
      rows = L[free]
      block = rows[:, free]
    A = (block + sp.diags(lam * known[free].astype(np.float64))).tocsr()
    b = lam * values[free]
    if fixed is not None and fixed.any():
      b -= rows[:, fixed] @ alpha[fixed]
    return A, b, free, alpha
  if constraint == "hard":
    pinned = known if fixed is None else known | fixed
    free = np.flatnonzero(~pinned)
    rows = L[free]
    return rows[:, free].tocsr(), -(rows[:, pinned] @ alpha[pinned]), free, alpha
  raise MattingInputError(f"constraint: unknown {constraint!r}, expected 'soft' or 'hard'")


def solve_alpha(L, known, known_values, lam=100.0, constraint="soft", preconditioner="jacobi",
                x0=None, rtol=1e-7, maxiter=10000, grid_shape=None, fixed=None,
                fixed_values=None, prior=None):
  """Solves for alpha (flat float64, unclipped) given a Laplacian and trimap constraints.

  Args:
    L: (N, N) sparse symmetric positive semi-definite Laplacian.
    known: (N,) bool, pixels whose alpha the trimap fixes.
    known_values: (N,) float, the trimap alpha (used where `known`).
    lam: constraint weight of the soft variant.
    constraint: 'soft' (penalty on known pixels) or 'hard' (solve the unknown block only).
    preconditioner: one of PRECONDITIONERS (see `make_preconditioner`).
    x0: optional (N,) initial guess.
    rtol: CG stops when the residual norm is below rtol times the right-hand side's.
    maxiter: CG iteration cap.
    grid_shape: (H, W) of the pixel grid, N = H*W; needed by 'cholesky'.
    fixed, fixed_values: optional (N,) bool and values of further pinned pixels
      (`constrained_system`).
    prior: optional (weight, weight * target) data term (`constrained_system`).
  """
  A, b, free, alpha = constrained_system(L, known, known_values, lam, constraint, fixed,
                                         fixed_values, prior)
  del L  # Frees the Laplacian during the solve if the caller kept no reference to it.
  if not len(free):
    return alpha
  coords = None if grid_shape is None else np.divmod(free, grid_shape[1])
  guess = None if x0 is None else np.asarray(x0, dtype=np.float64).ravel()[free]
  # One BLAS thread: thousands of small dense calls and vector ops, for which OpenBLAS's
  # thread hand-offs cost more than they save (and stall badly on a busy machine).
  with threadpool_limits(1, user_api="blas"):
    M = make_preconditioner(A, preconditioner, coords)
    alpha[free], _ = conjugate_gradient(A, b, M, guess, rtol, maxiter, product_threads(A))
  return alpha
