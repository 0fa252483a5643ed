"""DCNN speed on this machine: full-image forward and training throughput, in one run.

  python benchmarks/model.py [--impls auto,flax] [--repeats 5] [--tile_pixels 0]
                             [--sizes 0.5,3,12] [--batches 128,1024] [--json]

For each conv impl (see matting/models/convolutions.py): the median time of `run_network` on an
800x640x5 input (the paper's §4.1 size; it reports 4-6 s on a GTX 760) and the training
throughput (patches/s) of `train_step` at batch 128, after a warm-up call. 'flax'
(flax.linen.Conv, one untiled pass) is the in-run anchor: the table gives each impl's
speed-up over it. Targets on a 2-core CPU: forward <= 0.5 s, training >= 500 patches/s.
Wall and process-CPU (all threads) medians are both shown: on a shared machine the CPU
figures are the steadier. Peak RSS is the whole run's. With --json the last line is one
JSON object (its figures are for the first impl listed).

--sizes (megapixels) adds a table of the default impl's full-image forward at those sizes
against the NumPy engine (models/numpy_forward.py, the CPU path of `matting predict`) in the
same run: first-call seconds (compilation included), median seconds, the backend's peak
device memory where it reports one, and max |alpha difference| from the NumPy engine, which
shows the backend's float32 precision (e.g. TF32 convolutions on a GPU). --batches adds
training throughput of the default impl per batch size (accelerators want larger batches).
"""

import argparse
import json
import os
import resource
import statistics
import time

import jax
import numpy as np

from matting.models import convolutions, dcnn, inference, weights
from matting.training import optim, sharding, steps

ANCHOR = "flax"
HEIGHT, WIDTH, CHANNELS, BATCH = 800, 640, 5, 128
CPU_TICK = 1 / os.sysconf("SC_CLK_TCK")  # The resolution of os.times.


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
  # os.times counts whole clock ticks: on an accelerator the host may spend less than one
  # per call, which is reported as one (an upper bound) rather than as zero.
  return statistics.median(walls), max(statistics.median(cpus), CPU_TICK)


def forward_seconds(params, impl, inputs, tile_pixels, repeats):
  cfg = dcnn.default_model_config()
  cfg.conv_impl = impl
  if impl == ANCHOR and tile_pixels is None:
    tile_pixels = inputs.shape[0] * inputs.shape[1]  # The anchor is plain, untiled flax.
  return median_seconds(lambda: inference.run_network(params, cfg, inputs,
                                                        tile_pixels=tile_pixels), repeats)


def device_peak_mb():
  """The first device's peak memory in use (MB), or None where the backend keeps no count."""
  stats = jax.devices()[0].memory_stats() or {}
  peak = stats.get("peak_bytes_in_use")
  return None if peak is None else peak / 2**20


def size_rows(sizes_mp, tile_pixels, repeats):
  """Per size: the shipped network's forward with the default impl (first call, median, device
  peak) against the NumPy engine on the same seeded input, and their largest alpha difference."""
  params, cfg = weights.load_params(weights.DEFAULT_WEIGHTS)
  cfg = cfg.model
  rows = []
  for mp in sizes_mp:
    height = max(27, round((mp * 1e6 * HEIGHT / WIDTH) ** 0.5))
    width = max(27, round(mp * 1e6 / height))
    inputs = np.random.default_rng(1).random((height, width, CHANNELS), dtype=np.float32)
    start = time.perf_counter()
    alpha = inference.run_network(params, cfg, inputs, tile_pixels=tile_pixels)
    first = time.perf_counter() - start
    wall, _ = median_seconds(
        lambda: inference.run_network(params, cfg, inputs, tile_pixels=tile_pixels), repeats)
    start = time.perf_counter()
    reference = inference.run_network(params, cfg, inputs, engine="numpy")
    numpy_s = time.perf_counter() - start
    rows.append({"mp": height * width / 1e6, "height": height, "width": width,
                 "first_s": first, "forward_s": wall, "numpy_engine_s": numpy_s,
                 "device_peak_mb": device_peak_mb(),
                 "max_abs_diff": float(np.abs(alpha - reference).max())})
  return rows


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
  size = len(batch["inputs"])
  return size / wall, size / cpu


def seeded_batch(size, seed=0):
  rng = np.random.default_rng(seed)
  return {"inputs": rng.random((size, 27, 27, CHANNELS), dtype=np.float32),
          "target": rng.random((size, 15, 15), dtype=np.float32)}


def print_size_table(rows):
  print("default impl forward by size (x numpy = speed-up over the NumPy engine, this run; "
        "max |diff| = largest alpha difference from it)")
  header = ("MP", "HxW", "first_s", "median_s", "numpy_s", "x numpy", "dev peak MB", "max |diff|")
  print("".join(f"{h:>13}" for h in header))
  for r in rows:
    peak = "-" if r["device_peak_mb"] is None else f"{r['device_peak_mb']:.0f}"
    cells = (f"{r['mp']:.2f}", f"{r['height']}x{r['width']}", f"{r['first_s']:.3f}",
             f"{r['forward_s']:.3f}", f"{r['numpy_engine_s']:.3f}",
             f"{r['numpy_engine_s'] / r['forward_s']:.1f}", peak, f"{r['max_abs_diff']:.1e}")
    print("".join(f"{c:>13}" for c in cells))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--impls", default=f"auto,{ANCHOR}",
                      help="comma-separated conv impls: auto,lax,im2col,shift_add,flax")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--tile_pixels", type=int, default=0,
                      help="output pixels per forward pass (0: the backend default)")
  parser.add_argument("--sizes", default="",
                      help="comma-separated megapixels: forward by size against the NumPy engine")
  parser.add_argument("--batches", default="",
                      help="comma-separated batch sizes: training throughput of the default impl")
  parser.add_argument("--json", action="store_true", help="last line: one JSON summary")
  args = parser.parse_args()
  try:
    sizes = [float(v) for v in args.sizes.split(",") if v]
    batches = [int(v) for v in args.batches.split(",") if v]
  except ValueError as error:
    parser.error(f"--sizes/--batches: {error}")
  if any(v <= 0 for v in sizes + batches):
    parser.error("--sizes/--batches: values must be positive")
  impls = args.impls.split(",")
  for impl in impls:
    if impl not in convolutions.CONV_IMPLS:
      parser.error(f"--impls: unknown impl {impl!r}; choose from {convolutions.CONV_IMPLS}")
  if ANCHOR not in impls:
    impls.append(ANCHOR)

  rng = np.random.default_rng(0)
  inputs = rng.random((HEIGHT, WIDTH, CHANNELS), dtype=np.float32)
  batch = seeded_batch(BATCH)
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
  by_size = size_rows(sizes, args.tile_pixels or None, args.repeats) if sizes else []
  if by_size:
    print_size_table(by_size)
  by_batch = {b: train_patches_per_s("auto", seeded_batch(b), args.repeats)[0] for b in batches}
  if by_batch:
    print("default impl training throughput by batch size: "
          + ", ".join(f"{b}: {v:.0f} patch/s" for b, v in by_batch.items()))
  peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f"peak RSS {peak_rss_mb:.0f} MB, device peak "
        f"{'-' if device_peak_mb() is None else f'{device_peak_mb():.0f}'} MB")
  if args.json:
    fast = rows[impls[0]]
    print(json.dumps({"impl": impls[0], "forward_800x640_s": fast["forward_s"],
                      "forward_flax_conv_s": anchor["forward_s"],
                      "train_patches_per_s": fast["train_patches_per_s"],
                      "train_flax_conv_patches_per_s": anchor["train_patches_per_s"],
                      "forward_800x640_cpu_s": fast["forward_cpu_s"],
                      "forward_flax_conv_cpu_s": anchor["forward_cpu_s"],
                      "peak_rss_mb": peak_rss_mb, "backend": jax.default_backend(),
                      "by_size": by_size,
                      "train_patches_per_s_by_batch": {str(b): v for b, v in by_batch.items()}}))


if __name__ == "__main__":
  main()
