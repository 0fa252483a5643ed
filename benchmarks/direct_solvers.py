"""Exact sparse solvers on the closed-form system: ours vs CHOLMOD, PARDISO, SuperLU, in one run.

  python benchmarks/direct_solvers.py [--unknowns 100000,1200000] [--solvers ours,cholmod,
                                      pardiso,superlu] [--superlu-up-to 300000] [--cap-s 300]

The system is the hard-constraint closed-form system L_UU x = -L_UK a_K (eps = 1e-7, 3x3
windows) of alphamatting GT26 Trimap1 resized (bicubic; trimap nearest) so that it has about
--unknowns unknown pixels. Each solver runs in a fresh process that builds the system, then
factorises and solves it; the table gives that factor + solve time, the process's peak RSS
(ru_maxrss, the system's build included) and the relative residual. CHOLMOD is cholespy's
(`CholeskySolverD`, CPU), PARDISO is pypardiso's (MKL); both are benchmark tools only, not
dependencies (`pip install cholespy pypardiso`). A child is killed above --cap-s.
"""

import argparse
import json
import pathlib
import subprocess
import sys

from matting.reports.tables import markdown_table

_CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
import scale
from matting.classic import closed_form, sparse_solve
from matting.data.trimap import trimap_masks
solver, factor = sys.argv[1], float(sys.argv[2])
image, trimap, _ = scale.alphamatting_case(factor) if factor != 1 else scale.alphamatting_case(1)
fg, _, unknown = trimap_masks(trimap)
L = closed_form.closed_form_laplacian(image, 1e-7, 1, known=~unknown)
A, b, free, _ = sparse_solve.constrained_system(L, ~unknown.ravel(), fg.ravel(), 100.0, 'hard')
del L
A = A.tocsr()
start = time.perf_counter()
if solver == 'ours':
  from threadpoolctl import threadpool_limits
  chol = sparse_solve.NestedDissectionCholesky(A, *np.divmod(free, trimap.shape[1]))
  x = chol.solve(b)
elif solver == 'cholmod':
  from cholespy import CholeskySolverD, MatrixType
  coo = A.tocoo()
  chol = CholeskySolverD(A.shape[0], coo.row.astype(np.int32), coo.col.astype(np.int32),
                         coo.data, MatrixType.COO)
  x = np.zeros_like(b)
  chol.solve(b, x)
elif solver == 'pardiso':
  import pypardiso
  x = pypardiso.spsolve(A, b)
elif solver == 'superlu':
  import scipy.sparse.linalg as spla
  lu = spla.splu(A.tocsc(), permc_spec='MMD_AT_PLUS_A', diag_pivot_thresh=0.0,
                 options={'SymmetricMode': True})
  x = lu.solve(b)
seconds = time.perf_counter() - start
residual = float(np.linalg.norm(A @ x - b) / np.linalg.norm(b))
print(json.dumps({'seconds': seconds, 'residual': residual, 'unknowns': int(A.shape[0]),
                  'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

GT26_UNKNOWNS = 153224  # Trimap1 at 800x604.


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--unknowns", default="100000,1200000")
  parser.add_argument("--solvers", default="ours,cholmod,pardiso,superlu")
  parser.add_argument("--superlu-up-to", type=int, default=300000)
  parser.add_argument("--cap-s", type=float, default=300.0)
  args = parser.parse_args()
  here = str(pathlib.Path(__file__).resolve().parent)
  rows = []
  for target in (int(u) for u in args.unknowns.split(",")):
    factor = round((target / GT26_UNKNOWNS) ** 0.5, 3)
    for solver in args.solvers.split(","):
      row = {"target unknowns": target, "solver": solver}
      if solver == "superlu" and target > args.superlu_up_to:
        rows.append({**row, "note": f"skipped above {args.superlu_up_to} unknowns"})
        continue
      try:
        out = subprocess.run([sys.executable, "-c", _CHILD, solver, str(factor), here],
                             capture_output=True, text=True, timeout=args.cap_s, check=False)
      except subprocess.TimeoutExpired:
        rows.append({**row, "note": f"> {args.cap_s:g} s cap"})
        continue
      if out.returncode:
        rows.append({**row, "note": out.stderr.strip().splitlines()[-1][:80]})
        continue
      result = json.loads(out.stdout.strip().splitlines()[-1])
      rows.append({**row, **result})
      print(row, result, file=sys.stderr)
  print(markdown_table(rows, ["target unknowns", "unknowns", "solver", "seconds", "peak_mb",
                              "residual", "note"]))


if __name__ == "__main__":
  main()
