"""What solving the network's classic inputs at a working resolution costs the DCNN, on the
far sets and the held-out alphamatting images.

  python benchmarks/input_resolution.py [--methods knn,cf] [--sets upscaled_2x,upscaled_3x,
      synthetic_v2] [--max-pixels 1000000,500000] [--cache-dir runs/cache] [--weights WEIGHTS]

For every image of the far validation sets (experiments/evaluate_far.py; needs
../shared/data and scikit-image) or of the held-out alphamatting sets (alphamatting_Trimap1,
alphamatting_Trimap2) above a cap, one classic input at a time (--methods) is solved with
`max_pixels=N` (block-averaged image, bilinear readback: what `matting predict` does above
its caps) while the other stays at full resolution (cached, as `--experiment=evaluate_far`
computes them); the rest of the pipeline is unchanged. Rows: mean SAD (/1000) and MSE of the
DCNN and of that matte itself on the unknown pixels, the DCNN's SAD relative to the
full-resolution row, and the matte's seconds.
"""

import argparse
import os
import pathlib
import sys
import time

import numpy as np

from matting import classic
from matting.classic import cache
from matting.evaluators import metrics
from matting.inputs import stacks
from matting.models import inference, weights
from matting.reports.tables import markdown_table

REPO = pathlib.Path(__file__).resolve().parents[1]  # For experiments/ (run from the repo root).
COLUMNS = ["set", "input", "resolution", "images", "DCNN SAD", "DCNN MSE", "vs full",
           "input SAD", "input s"]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--methods", default="knn,cf", help="the inputs to solve at --max-pixels")
  parser.add_argument("--sets", default="upscaled_2x,upscaled_3x,synthetic_v2")
  parser.add_argument("--max-pixels", default="1000000,500000")
  parser.add_argument("--cache-dir", default="runs/cache")
  parser.add_argument("--weights", default=None, help="default: the shipped weights")
  args = parser.parse_args(argv)
  sys.path.insert(0, str(REPO))
  from experiments import evaluate_far
  from matting.data import splits
  from matting.inputs.far_sets import far_validation_sets
  cfg = evaluate_far.get_config("cpu")
  val_sets = splits.validation_sets(cfg.data)
  names = args.sets.split(",")
  cfg.far.sets = tuple(n for n in names if n not in val_sets)
  far = {**{n: val_sets[n] for n in names if n in val_sets},
         **far_validation_sets(cfg.far, val_sets)}
  params, model_cfg = weights.load_params(args.weights or weights.default_weights())
  methods = args.methods.split(",")
  caps = [None] + [int(v) for v in args.max_pixels.split(",") if v]
  mattes_dir = os.path.join(args.cache_dir, "mattes")  # The experiments' matte cache.
  rows = []
  for name, examples in far.items():
    runs = {(method, cap): [] for method in methods for cap in caps}
    for example in examples:
      full = {m: cache.cached_matte(mattes_dir, m, example.image, example.trimap)
              for m in ("cf", "knn")}

      def dcnn(mattes):
        stack = stacks.input_stack(example.image, example.trimap, mattes,
                                   model_cfg.inputs.combination)
        alpha = inference.run_network(params, model_cfg.model, stack, keep_known=example.trimap)
        return metrics.compute_metrics(alpha, example.alpha, example.trimap)

      def sad(matte):
        return metrics.compute_metrics(matte, example.alpha, example.trimap)["sad"]

      baseline = dcnn(full)
      for method, cap in runs:
        seconds, mattes = 0.0, full  # Images at most `cap` pixels are solved in full.
        if cap is not None and example.trimap.size > cap:
          tic = time.perf_counter()
          low = classic.classic_alpha(method, example.image, example.trimap, max_pixels=cap)
          seconds, mattes = time.perf_counter() - tic, {**full, method: low}
        scores = baseline if mattes is full else dcnn(mattes)
        runs[method, cap].append((scores["sad"], scores["mse"], sad(mattes[method]), seconds))
      print(f"{name}: {len(runs[methods[0], None])}/{len(examples)}", file=sys.stderr,
            flush=True)
    for (method, cap), values in runs.items():
      r = np.array(values)
      full_sad = np.mean([v[0] for v in runs[method, None]])
      rows.append({"set": name, "input": method,
                   "resolution": "full" if cap is None else f"<= {cap:,} px",
                   "images": len(r), "DCNN SAD": f"{r[:, 0].mean():.4g}",
                   "DCNN MSE": f"{r[:, 1].mean():.4g}",
                   "vs full": f"{100 * (r[:, 0].mean() / full_sad - 1):+.2f} %",
                   "input SAD": f"{r[:, 2].mean():.4g}",
                   "input s": "cached" if cap is None else f"{r[:, 3].mean():.2f}"})
  print(markdown_table(rows, COLUMNS))

if __name__ == "__main__":
  main()
