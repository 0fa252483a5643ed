"""Sparse linear solves shared by the affinity-based mattes (closed-form, KNN).

Both solve a Laplacian system with the trimap as constraint:
  soft: (L + lam*D) alpha = lam * D * alpha_known, D = diag(known)   (Levin Eq. 12, Chen Eq. 8)
  hard: L_UU alpha_U = -L_UK alpha_K                                   (unknown block only)
"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def _jacobi(A):
  inv_diag = 1.0 / np.maximum(A.diagonal(), 1e-12)
  return spla.LinearOperator(A.shape, matvec=lambda x: inv_diag * x, dtype=A.dtype)


def make_preconditioner(A, kind):
  """Returns a LinearOperator approximating A^-1 ('jacobi' or 'none')."""
  if kind == "none":
    return None
  if kind == "jacobi":
    return _jacobi(A)
  raise ValueError(f"unknown preconditioner {kind!r}")


def solve_alpha(L, known, known_values, lam=100.0, constraint="soft", preconditioner="jacobi",
                x0=None, rtol=1e-7, maxiter=10000):
  """Solves for alpha (flat float64, unclipped) given a Laplacian and trimap constraints.

  Args:
    L: (N, N) sparse symmetric positive semi-definite Laplacian.
    known: (N,) bool, pixels whose alpha the trimap fixes.
    known_values: (N,) float, the trimap alpha (used where `known`).
    lam: constraint weight of the soft variant.
    constraint: 'soft' (penalty on known pixels) or 'hard' (solve the unknown block only).
    preconditioner: see `make_preconditioner`.
    x0: optional (N,) initial guess.
  """
  L = sp.csr_matrix(L, dtype=np.float64)
  known = np.asarray(known, dtype=bool).ravel()
  values = np.where(known, np.asarray(known_values, dtype=np.float64).ravel(), 0.0)
  if constraint == "soft":
    A = (L + sp.diags(lam * known.astype(np.float64))).tocsr()
    b = lam * values
    guess = values if x0 is None else np.asarray(x0, dtype=np.float64).ravel()
    x, _ = spla.cg(A, b, x0=guess, rtol=rtol, atol=0.0, maxiter=maxiter,
                   M=make_preconditioner(A, preconditioner))
    return x
  if constraint == "hard":
    unknown = ~known
    alpha = values.copy()
    if not unknown.any():
      return alpha
    A = L[unknown][:, unknown].tocsr()
    b = -(L[unknown][:, known] @ values[known])
    guess = None if x0 is None else np.asarray(x0, dtype=np.float64).ravel()[unknown]
    alpha[unknown], _ = spla.cg(A, b, x0=guess, rtol=rtol, atol=0.0, maxiter=maxiter,
                                M=make_preconditioner(A, preconditioner))
    return alpha
  raise ValueError(f"unknown constraint {constraint!r}, expected 'soft' or 'hard'")
