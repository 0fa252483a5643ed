"""DCNN speed on this machine: full-image forward and training throughput, in one run.

  python benchmarks/model.py [--impls auto,flax] [--repeats 5] [--tile_pixels 0] [--json]

For each conv impl (see matting/model.py): the median time of `predict_alpha` on an
800x640x5 input (the paper's §4.1 size; it reports 4-6 s on a GTX 760) and the training
throughput (patches/s) of `train_step` at batch 128, after a warm-up call. 'flax'
(flax.linen.Conv, one untiled pass) is the in-run anchor: the table gives each impl's
speed-up over it. Targets on a 2-core CPU: forward <= 0.5 s, training >= 500 patches/s.
Peak RSS is the whole run's. With --json the last line is one JSON object.
"""

import argparse
import json
import resource
import statistics
import time

import jax
import numpy as np

from matting import model as model_lib
from matting import train_step as ts

ANCHOR = "flax"
HEIGHT, WIDTH, CHANNELS, BATCH = 800, 640, 5, 128


def median_seconds(fn, repeats):
  """Median wall time of fn() over `repeats` calls, after one warm-up (compilation) call."""
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def forward_seconds(params, impl, inputs, tile_pixels, repeats):
  cfg = model_lib.default_model_config()
  cfg.conv_impl = impl
  if impl == ANCHOR and tile_pixels is None:
    tile_pixels = inputs.shape[0] * inputs.shape[1]  # The anchor is plain, untiled flax.
  return median_seconds(lambda: model_lib.predict_alpha(params, cfg, inputs,
                                                        tile_pixels=tile_pixels), repeats)


def train_patches_per_s(impl, batch, repeats):
  """Patches/s of train_step (SGD + momentum, l2) on one fixed, pre-sharded batch."""
  model = model_lib.DCNN(conv_impl=impl)
  mesh = ts.make_mesh()
  state = ts.create_train_state(jax.random.key(0), model, CHANNELS,
                                ts.make_optimizer(ts.default_train_config()))
  state = ts.replicate(state, mesh)
  batch = ts.shard_batch(batch, mesh)

  def step():
    nonlocal state
    state, metrics = ts.train_step(state, batch)
    jax.block_until_ready(metrics)

  return BATCH / median_seconds(step, repeats)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--impls", default=f"auto,{ANCHOR}",
                      help="comma-separated conv impls: auto,lax,im2col,shift_add,flax")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--tile_pixels", type=int, default=0,
                      help="output pixels per forward pass (0: the backend default)")
  parser.add_argument("--json", action="store_true", help="last line: one JSON summary")
  args = parser.parse_args()
  impls = args.impls.split(",")
  for impl in impls:
    if impl not in model_lib.CONV_IMPLS:
      parser.error(f"--impls: unknown impl {impl!r}; choose from {model_lib.CONV_IMPLS}")
  if ANCHOR not in impls:
    impls.append(ANCHOR)

  rng = np.random.default_rng(0)
  inputs = rng.random((HEIGHT, WIDTH, CHANNELS), dtype=np.float32)
  batch = {"inputs": rng.random((BATCH, 27, 27, CHANNELS), dtype=np.float32),
           "target": rng.random((BATCH, 15, 15), dtype=np.float32)}
  params = model_lib.DCNN().init(jax.random.key(0), inputs[None, :27, :27])
  rows = {}
  for impl in impls:
    rows[impl] = {"forward_s": forward_seconds(params, impl, inputs, args.tile_pixels or None,
                                               args.repeats),
                  "train_patches_per_s": train_patches_per_s(impl, batch, args.repeats)}
  anchor = rows[ANCHOR]
  print(f"backend {jax.default_backend()}, {jax.device_count()} device(s), "
        f"forward {HEIGHT}x{WIDTH}x{CHANNELS}, train batch {BATCH}, median of {args.repeats}")
  print(f"{'impl':<10} {'forward_s':>10} {'x flax':>8} {'train patch/s':>14} {'x flax':>8}")
  for impl, row in rows.items():
    print(f"{impl:<10} {row['forward_s']:>10.3f} {anchor['forward_s'] / row['forward_s']:>8.2f} "
          f"{row['train_patches_per_s']:>14.0f} "
          f"{row['train_patches_per_s'] / anchor['train_patches_per_s']:>8.2f}")
  peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f"peak RSS {peak_rss_mb:.0f} MB")
  if args.json:
    fast = rows[impls[0]]
    print(json.dumps({"impl": impls[0], "forward_800x640_s": fast["forward_s"],
                      "forward_flax_conv_s": anchor["forward_s"],
                      "train_patches_per_s": fast["train_patches_per_s"],
                      "train_flax_conv_patches_per_s": anchor["train_patches_per_s"],
                      "peak_rss_mb": peak_rss_mb}))


if __name__ == "__main__":
  main()
