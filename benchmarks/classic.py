"""Classic mattes against pymatting: time, ratio and accuracy per image, in one run.

  python benchmarks/classic.py [--data_dir ../shared/data/alphamatting] [--trimap Trimap1]
                               [--methods cf,knn] [--names GT01,GT02] [--json]

For every image: our time, pymatting's time for the same method (after a numba warm-up),
their ratio (ours / pymatting; targets: cf <= 0.5, knn <= 0.3), and SAD/MSE/Grad/Conn of
both against GT. Our peak memory is measured in a child process on the largest image.
Defaults to ../shared/data/alphamatting when present, else the embedded synthetic set.
"""

import argparse
import functools
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

import numpy as np

from matting import classic
from matting.data import datasets
from matting.evaluators.metrics import compute_metrics
from matting.reports.tables import markdown_table, mean_rows

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting"


def pymatting_solvers():
  """Our method name -> pymatting's counterpart (None where pymatting has none)."""
  import pymatting
  return {"cf": pymatting.estimate_alpha_cf, "knn": pymatting.estimate_alpha_knn,
          "comp": pymatting.estimate_alpha_sm}


def timed(fn, *args):
  """Runs fn with one BLAS thread (as our solvers do internally), so both sides match."""
  from threadpoolctl import threadpool_limits
  start = time.perf_counter()
  with threadpool_limits(1, "blas"):
    out = fn(*args)
  return np.asarray(out, dtype=np.float32), time.perf_counter() - start


def warm_up(methods, references):
  """Runs every solver once on a small image so numba JIT and imports are not timed."""
  example = datasets.synthetic_set(seed=99, num=1, height=64, width=80)[0]
  for method in methods:
    classic.classic_alpha(method, example.image, example.trimap)
    references[method](example.image.astype(np.float64), example.trimap.astype(np.float64))


def peak_memory_mb(method, image_path, trimap_path):
  """Peak RSS (MB) of a fresh process that reads the files and runs one of our methods."""
  # VmHWM, not ru_maxrss: the latter can carry the parent's high-water mark across exec.
  code = ("import sys\n"
          "from matting import classic, io\n"
          "image, trimap = io.read_image_and_trimap(sys.argv[1], sys.argv[2])\n"
          f"classic.classic_alpha({method!r}, image, trimap)\n"
          "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
          "print(int(status.split()[0]) / 1024)\n")
  out = subprocess.run([sys.executable, "-c", code, str(image_path), str(trimap_path)],
                       check=True, capture_output=True, text=True)
  return float(out.stdout.strip().splitlines()[-1])


def load_examples(args):
  if args.data_dir and os.path.isdir(args.data_dir):
    names = args.names.split(",") if args.names else None
    return datasets.load_alphamatting(args.data_dir, trimap=args.trimap, names=names), True
  return datasets.synthetic_set(seed=0, num=4, height=600, width=800), False


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=str(DEFAULT_DATA))
  parser.add_argument("--trimap", default="Trimap1")
  parser.add_argument("--names", default="", help="comma-separated subset, e.g. GT01,GT02")
  parser.add_argument("--methods", default="cf,knn", help="comma-separated: cf,knn,comp")
  parser.add_argument("--cf_constraint", default="soft", choices=("soft", "hard"),
                      help="our closed-form variant (pymatting's is the hard one)")
  parser.add_argument("--json", action="store_true", help="last line: one JSON summary")
  args = parser.parse_args()

  methods = args.methods.split(",")
  references = pymatting_solvers()
  examples, real = load_examples(args)
  print(f"data: {args.data_dir if real else 'synthetic (seed 0, 4 x 800x600)'}, "
        f"cf constraint {args.cf_constraint}, "
        f"trimap {args.trimap if real else '-'}, {len(examples)} images, "
        f"{os.cpu_count()} CPUs", flush=True)
  warm_up(methods, references)

  rows = []
  for example in examples:
    image64, trimap64 = example.image.astype(np.float64), example.trimap.astype(np.float64)
    for method in methods:
      solver = classic.classic_solver(method)
      if method == "cf":
        solver = functools.partial(solver, constraint=args.cf_constraint)
      ours, t_ours = timed(solver, example.image, example.trimap)
      ref, t_ref = timed(references[method], image64, trimap64)
      m_ours = compute_metrics(ours, example.alpha, example.trimap)
      m_ref = compute_metrics(np.clip(ref, 0, 1), example.alpha, example.trimap)
      rows.append({"image": example.name, "method": method, "ours_s": t_ours,
                   "pymatting_s": t_ref, "ratio": t_ours / t_ref,
                   **{f"{k}": v for k, v in m_ours.items()},
                   **{f"pm_{k}": v for k, v in m_ref.items()},
                   "sad_rel": m_ours["sad"] / m_ref["sad"] - 1.0})
      print(markdown_table(rows[-1:], list(rows[-1])).splitlines()[-1], flush=True)

  columns = ["image", "method", "ours_s", "pymatting_s", "ratio", "sad", "pm_sad", "sad_rel",
             "mse", "pm_mse", "grad", "pm_grad", "conn", "pm_conn"]
  print("\n## Per image\n\n" + markdown_table(rows, columns))
  summary = mean_rows(rows, "method", [c for c in columns[2:]])
  for row in summary:
    row["ratio_of_totals"] = (sum(r["ours_s"] for r in rows if r["method"] == row["method"])
                              / sum(r["pymatting_s"] for r in rows if r["method"] == row["method"]))
  print("\n## Mean over images\n\n"
        + markdown_table(summary, ["method", "images", "ours_s", "pymatting_s", "ratio",
                                   "ratio_of_totals", "sad", "pm_sad", "sad_rel", "mse",
                                   "pm_mse", "grad", "pm_grad", "conn", "pm_conn"]))

  memory = {}
  if real:
    largest = max(examples, key=lambda e: e.image.shape[0] * e.image.shape[1])
    root = pathlib.Path(args.data_dir)
    for method in methods:
      memory[method] = peak_memory_mb(
          method, root / "input_training_lowres" / f"{largest.name}.png",
          root / "trimap_training_lowres" / args.trimap / f"{largest.name}.png")
    print(f"\npeak RSS of one process running ours on {largest.name} "
          f"{largest.image.shape[1]}x{largest.image.shape[0]}: "
          + ", ".join(f"{m} {mb:.0f} MB" for m, mb in memory.items()))
  print(f"this process peak RSS (ours + pymatting): "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
  if args.json:
    print(json.dumps({"summary": summary, "peak_rss_mb": memory}))


if __name__ == "__main__":
  main()
