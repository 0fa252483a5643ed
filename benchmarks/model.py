"""DCNN speed on this machine: full-image forward and training throughput, in one run.

  python benchmarks/model.py [--impls auto,flax] [--repeats 5] [--tile_pixels 0] [--json]

For each conv impl (see matting/models/convolutions.py): the median time of `run_network` on an
800x640x5 input (the paper's §4.1 size; it reports 4-6 s on a GTX 760) and the training
throughput (patches/s) of `train_step` at batch 128, after a warm-up call. 'flax'
(flax.linen.Conv, one untiled pass) is the in-run anchor: the table gives each impl's
speed-up over it. Targets on a 2-core CPU: forward <= 0.5 s, training >= 500 patches/s.
Wall and process-CPU (all threads) medians are both shown: on a shared machine the CPU
figures are the steadier. Peak RSS is the whole run's. With --json the last line is one
JSON object (its figures are for the first impl listed).
"""

import argparse
import json
import os
import resource
import statistics
import time

import jax
import numpy as np

from matting.models import convolutions, dcnn, inference
from matting.training import optim, sharding, steps

ANCHOR = "flax"
HEIGHT, WIDTH, CHANNELS, BATCH = 800, 640, 5, 128


def cpu_seconds():
  times = os.times()
  return times.user + times.system


def median_seconds(fn, repeats):
  """Median (wall, process CPU) seconds of fn() over `repeats` calls, after a warm-up call.

  CPU time (all threads) is the steadier figure on a shared machine: wall time includes
  waiting for cores that other processes hold.
  """
  fn()
  walls, cpus = [], []
  for _ in range(repeats):
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    walls.append(time.perf_counter() - wall)
    cpus.append(cpu_seconds() - cpu)
  return statistics.median(walls), statistics.median(cpus)


def forward_seconds(params, impl, inputs, tile_pixels, repeats):
  cfg = dcnn.default_model_config()
  cfg.conv_impl = impl
  if impl == ANCHOR and tile_pixels is None:
    tile_pixels = inputs.shape[0] * inputs.shape[1]  # The anchor is plain, untiled flax.
  return median_seconds(lambda: inference.run_network(params, cfg, inputs,
                                                        tile_pixels=tile_pixels), repeats)


def train_patches_per_s(impl, batch, repeats):
  """Patches/s of train_step (SGD + momentum, l2) on one fixed, pre-sharded batch."""
  model = dcnn.DCNN(conv_impl=impl)
  mesh = sharding.make_mesh()
  state = steps.create_train_state(jax.random.key(0), model, CHANNELS,
                                optim.make_optimizer(optim.default_train_config()))
  state = sharding.replicate(state, mesh)
  batch = sharding.shard_batch(batch, mesh)

  def step():
    nonlocal state
    state, metrics = steps.train_step(state, batch)
    jax.block_until_ready(metrics)

  wall, cpu = median_seconds(step, repeats)
  return BATCH / wall, BATCH / cpu


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
    if impl not in convolutions.CONV_IMPLS:
      parser.error(f"--impls: unknown impl {impl!r}; choose from {convolutions.CONV_IMPLS}")
  if ANCHOR not in impls:
    impls.append(ANCHOR)

  rng = np.random.default_rng(0)
  inputs = rng.random((HEIGHT, WIDTH, CHANNELS), dtype=np.float32)
  batch = {"inputs": rng.random((BATCH, 27, 27, CHANNELS), dtype=np.float32),
           "target": rng.random((BATCH, 15, 15), dtype=np.float32)}
  params = dcnn.DCNN().init(jax.random.key(0), inputs[None, :27, :27])
  rows = {}
  for impl in impls:
    forward = forward_seconds(params, impl, inputs, args.tile_pixels or None, args.repeats)
    train = train_patches_per_s(impl, batch, args.repeats)
    rows[impl] = {"forward_s": forward[0], "forward_cpu_s": forward[1],
                  "train_patches_per_s": train[0], "train_patches_per_cpu_s": train[1]}
  anchor = rows[ANCHOR]
  print(f"backend {jax.default_backend()}, {jax.device_count()} device(s), {os.cpu_count()} "
        f"cores, forward {HEIGHT}x{WIDTH}x{CHANNELS}, train batch {BATCH}, "
        f"median of {args.repeats}; x flax = speed-up over the flax.linen.Conv anchor")
  header = ("impl", "forward_s", "x flax", "fwd cpu_s", "x flax", "train patch/s", "x flax",
            "patch/cpu_s", "x flax")
  print("".join(f"{h:>14}" for h in header))
  for impl, row in rows.items():
    cells = [impl]
    for key, faster_is_higher in (("forward_s", False), ("forward_cpu_s", False),
                                  ("train_patches_per_s", True),
                                  ("train_patches_per_cpu_s", True)):
      ratio = row[key] / anchor[key] if faster_is_higher else anchor[key] / row[key]
      cells += [f"{row[key]:.3f}" if key.startswith("forward") else f"{row[key]:.0f}",
                f"{ratio:.2f}"]
    print("".join(f"{c:>14}" for c in cells))
  peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f"peak RSS {peak_rss_mb:.0f} MB")
  if args.json:
    fast = rows[impls[0]]
    print(json.dumps({"impl": impls[0], "forward_800x640_s": fast["forward_s"],
                      "forward_flax_conv_s": anchor["forward_s"],
                      "train_patches_per_s": fast["train_patches_per_s"],
                      "train_flax_conv_patches_per_s": anchor["train_patches_per_s"],
                      "forward_800x640_cpu_s": fast["forward_cpu_s"],
                      "forward_flax_conv_cpu_s": anchor["forward_cpu_s"],
                      "peak_rss_mb": peak_rss_mb}))


if __name__ == "__main__":
  main()
