"""What solving the KNN input at a working resolution costs the DCNN, on the far sets.

  python benchmarks/knn_resolution.py [--sets upscaled_2x,upscaled_3x,synthetic_v2]
      [--max-pixels 1000000,500000] [--cache-dir runs/cache] [--weights WEIGHTS]

For every image of the far validation sets above 1 MP (experiments/evaluate_far.py; needs
../shared/data and scikit-image), the network's KNN input is solved at full resolution
(cached, as `--experiment=evaluate_far` does) and with `knn_alpha(max_pixels=N)` (block-
averaged image, bilinear readback: what `matting predict` does above 1 MP), the rest of the
pipeline unchanged. Rows: mean SAD (/1000) and MSE of the DCNN and of the KNN matte itself
on the unknown pixels, the DCNN's SAD relative to the full-resolution row, and KNN's seconds.
"""

import argparse
import os
import pathlib
import sys
import time

import numpy as np

from matting.classic import cache, knn
from matting.evaluators import metrics
from matting.inputs import stacks
from matting.models import inference, weights
from matting.reports.tables import markdown_table

REPO = pathlib.Path(__file__).resolve().parents[1]  # For experiments/ (run from the repo root).
COLUMNS = ["set", "KNN resolution", "images", "DCNN SAD", "DCNN MSE", "vs full",
           "KNN SAD", "KNN s"]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
  cfg.far.sets = tuple(args.sets.split(","))
  _, val_sets = splits.split_examples(cfg.data)
  far = far_validation_sets(cfg.far, val_sets)
  params, model_cfg = weights.load_params(args.weights or weights.default_weights())
  caps = [None] + [int(v) for v in args.max_pixels.split(",") if v]
  mattes_dir = os.path.join(args.cache_dir, "mattes")  # The experiments' matte cache.
  rows = []
  for name, examples in far.items():
    per_cap = {cap: [] for cap in caps}
    for example in examples:
      cf = cache.cached_matte(mattes_dir, "cf", example.image, example.trimap)
      for cap in caps:
        tic = time.perf_counter()
        if cap is None:
          knn_matte = cache.cached_matte(mattes_dir, "knn", example.image, example.trimap)
        else:
          knn_matte = knn.knn_alpha(example.image, example.trimap, max_pixels=cap)
        seconds = time.perf_counter() - tic
        stack = stacks.input_stack(example.image, example.trimap, {"cf": cf, "knn": knn_matte},
                                   model_cfg.inputs.combination)
        alpha = inference.run_network(params, model_cfg.model, stack, keep_known=example.trimap)
        dcnn = metrics.compute_metrics(alpha, example.alpha, example.trimap)
        alone = metrics.compute_metrics(knn_matte, example.alpha, example.trimap)
        per_cap[cap].append((dcnn["sad"], dcnn["mse"], alone["sad"], seconds))
      print(f"{name}: {len(per_cap[None])}/{len(examples)}", file=sys.stderr, flush=True)
    full_sad = np.mean([r[0] for r in per_cap[None]])
    for cap in caps:
      r = np.array(per_cap[cap])
      rows.append({"set": name, "KNN resolution": "full" if cap is None else f"<= {cap:,} px",
                   "images": len(r), "DCNN SAD": f"{r[:, 0].mean():.4g}",
                   "DCNN MSE": f"{r[:, 1].mean():.4g}",
                   "vs full": f"{100 * (r[:, 0].mean() / full_sad - 1):+.2f} %",
                   "KNN SAD": f"{r[:, 2].mean():.4g}",
                   "KNN s": "cached" if cap is None else f"{r[:, 3].mean():.2f}"})
  print(markdown_table(rows, COLUMNS))


if __name__ == "__main__":
  main()
