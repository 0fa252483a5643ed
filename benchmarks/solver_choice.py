"""Which sparse solver for closed-form matting: build/solve time, iterations, SAD per variant.

  python benchmarks/solver_choice.py [--data_dir ../shared/data/alphamatting]
                                     [--names GT01,GT16,GT26] [--variants cholesky,jacobi-5]

For each image, pymatting's estimate_alpha_cf is timed first (after a numba warm-up); then
every variant builds the matting Laplacian (eps=1e-7, r=1; 'build s') and solves the trimap
system ('solve s': constrained system, preconditioner set-up, optional coarse-to-fine guess
and CG). 'ratio' is (build + solve) / pymatting's time in the same run; SAD (/1000, unknown
pixels) is against the ground truth, with pymatting's for comparison. Uses three
alphamatting.com images (Trimap1) when present, else a synthetic random-texture image.
Times are the best of --repeat runs, pymatting's included, all with one BLAS thread (which
is also pymatting's faster setting on a busy machine: its CG's vector ops stall otherwise).
"""

import argparse
import os
import pathlib
import time

import numpy as np
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from matting.classic import closed_form, sparse_solve
from matting.data import datasets
from matting.data.trimap import trimap_masks
from matting.evaluators.metrics import sad
from matting.reports.tables import markdown_table

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting"


def variant(preconditioner, constraint="hard", rtol=1e-5, coarse_to_fine=False):
  return dict(preconditioner=preconditioner, constraint=constraint, rtol=rtol,
              coarse_to_fine=coarse_to_fine)


VARIANTS = {
    "cholesky-soft": variant("cholesky", "soft", 1e-7),  # closed_form_alpha's default.
    "cholesky-hard": variant("cholesky", "hard", 1e-7),
    "superlu-hard": variant("superlu", "hard", 1e-7),
    "ilu-4": variant("ilu", rtol=1e-4),
    "ilu-5": variant("ilu"),
    "ilu-6": variant("ilu", rtol=1e-6),
    "amg_sa-4": variant("amg_sa", rtol=1e-4),
    "amg_sa-5": variant("amg_sa"),
    "amg_sa-5-c2f": variant("amg_sa", coarse_to_fine=True),
    "amg_rs-5": variant("amg_rs"),
    "jacobi-4": variant("jacobi", rtol=1e-4),
    "jacobi-5": variant("jacobi"),
    "jacobi-5-c2f": variant("jacobi", coarse_to_fine=True),
}


def superlu(A):
  """SciPy's sparse LU (minimum-degree ordering, symmetric mode): the exact-solve baseline."""
  factor = spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                     options={"SymmetricMode": True})
  return spla.LinearOperator(A.shape, matvec=factor.solve, dtype=np.float64)


def run_variant(example, eps, radius, lam, options, maxiter):
  """Returns (alpha, build seconds, solve seconds, CG iterations) for one variant."""
  image, trimap = example.image, example.trimap
  fg, _, unknown = trimap_masks(trimap)
  start = time.perf_counter()
  laplacian = closed_form.closed_form_laplacian(image, eps, radius, known=~unknown)
  built = time.perf_counter()
  with threadpool_limits(1, user_api="blas"):
    x0 = None
    if options["coarse_to_fine"]:
      x0 = closed_form.coarse_to_fine_guess(
          image, trimap, eps=eps, radius=radius, lam=lam, constraint=options["constraint"],
          preconditioner=options["preconditioner"], rtol=options["rtol"], maxiter=maxiter)
    A, b, free, alpha = sparse_solve.constrained_system(laplacian, ~unknown.ravel(),
                                                        fg.ravel(), lam, options["constraint"])
    if options["preconditioner"] == "superlu":
      M = superlu(A)
    else:
      M = sparse_solve.make_preconditioner(A, options["preconditioner"],
                                           np.divmod(free, trimap.shape[1]))
    guess = None if x0 is None else x0.ravel()[free]
    alpha[free], iterations = sparse_solve.conjugate_gradient(A, b, M, guess, options["rtol"],
                                                              maxiter)
  solved = time.perf_counter()
  alpha = np.clip(alpha, 0.0, 1.0).reshape(trimap.shape)
  return alpha, built - start, solved - built, iterations


def random_texture_example(seed=0, height=600, width=800):
  """A smooth random matte blending two random-texture layers; trimap from the matte."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[:height, :width]
  radius = np.hypot(yy - height / 2, xx - width / 2) / min(height, width)
  alpha = np.clip(0.5 - 12.0 * (radius - 0.3 + 0.03 * np.sin(12 * np.arctan2(yy, xx))), 0, 1)
  layers = [np.clip(base + 0.15 * rng.standard_normal((height, width, 3)), 0, 1)
            for base in (rng.random(3), rng.random(3))]
  image = alpha[..., None] * layers[0] + (1 - alpha[..., None]) * layers[1]
  trimap = np.where(alpha >= 1.0, 1.0, np.where(alpha <= 0.0, 0.0, 0.5))
  return datasets.Example("texture", image.astype(np.float32), trimap.astype(np.float32),
                          alpha.astype(np.float32))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=str(DEFAULT_DATA))
  parser.add_argument("--names", default="GT01,GT16,GT26")
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--maxiter", type=int, default=3000)
  parser.add_argument("--repeat", type=int, default=2)
  args = parser.parse_args()

  import pymatting  # Benchmark-only reference.
  if os.path.isdir(args.data_dir):
    examples = datasets.load_alphamatting(args.data_dir, "Trimap1", args.names.split(","))
  else:
    examples = [random_texture_example()]
  warm = examples[0]
  pymatting.estimate_alpha_cf(warm.image[::8, ::8].astype(np.float64),
                              warm.trimap[::8, ::8].astype(np.float64))
  eps, radius, lam = 1e-7, 1, 100.0
  print(f"{len(examples)} images, eps={eps}, radius={radius}, lam={lam}, {os.cpu_count()} CPUs",
        flush=True)

  rows = []
  for example in examples:
    image64, trimap64 = example.image.astype(np.float64), example.trimap.astype(np.float64)
    pymatting_s = np.inf
    for _ in range(args.repeat):
      with threadpool_limits(1, user_api="blas"):
        start = time.perf_counter()
        reference = pymatting.estimate_alpha_cf(image64, trimap64)
        pymatting_s = min(pymatting_s, time.perf_counter() - start)
    pymatting_sad = sad(np.clip(reference, 0, 1), example.alpha, example.trimap)
    rows.append({"image": example.name, "variant": "pymatting", "solve_s": pymatting_s,
                 "ratio": 1.0, "sad": pymatting_sad, "sad_rel": 0.0})
    print(markdown_table(rows[-1:], list(rows[-1])).splitlines()[-1], flush=True)
    for name in args.variants.split(","):
      runs = [run_variant(example, eps, radius, lam, VARIANTS[name], args.maxiter)
              for _ in range(args.repeat)]
      alpha, build_s, solve_s, iterations = min(runs, key=lambda run: run[1] + run[2])
      score = sad(alpha, example.alpha, example.trimap)
      rows.append({"image": example.name, "variant": name, "build_s": build_s,
                   "solve_s": solve_s, "iterations": iterations,
                   "ratio": (build_s + solve_s) / pymatting_s, "sad": score,
                   "sad_rel": score / pymatting_sad - 1.0})
      print(markdown_table(rows[-1:], list(rows[-1])).splitlines()[-1], flush=True)

  columns = ["image", "variant", "build_s", "solve_s", "iterations", "ratio", "sad", "sad_rel"]
  print("\n" + markdown_table(rows, columns))


if __name__ == "__main__":
  main()
