"""`matting predict` end to end on an 800x600-class image: time and peak memory, in one run.

  python benchmarks/predict.py [--image IMG --trimap TRIMAP] [--checkpoint WEIGHTS|RUN_DIR]
                               [--repeats 3] [--symmetries 1,2,8] [--json]

Rows: the whole command in a fresh process (read, closed-form + KNN mattes, network, write;
imports included, as a user pays them), and, in this process after a warm-up, each stage's
median: closed-form, KNN, the network with predict's NumPy engine and with the JAX engine
(compiled; with --symmetries, the NumPy engine averaged over that many symmetries of the
input, `matting predict --symmetries`), and `predict_image` as a whole. The anchor is
pymatting's `estimate_alpha_cf` on the same image in the same run (one classic matte alone). This process runs as the command
does, without NumPy's huge-page requests (matting.memory.avoid_huge_page_stalls). Targets on
the 2-core CPU: the fresh-process command <= 4 s, peak RSS <= 2 GB.
Defaults: GT26 Trimap1 (800x604) of ../shared/data/alphamatting when present, else a
seeded 800x600 synthetic example; the shipped weights.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from matting import classic
from matting.data import datasets, io
from matting.memory import avoid_huge_page_stalls
from matting.inputs import stacks
from matting.models import weights
from matting.models.inference import run_network, symmetries_problem
from matting.reports.tables import markdown_table

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting"
TARGET_S, TARGET_MB = 4.0, 2048

_CHILD = ("import sys, time\n"
          "start = time.perf_counter()\n"
          "from matting.cli import main\n"
          "rc = main(sys.argv[1:])\n"
          "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
          "print(time.perf_counter() - start, int(hwm) / 1024, rc)\n")


def example_files(args, tmp):
  """(image path, trimap path, description): the arguments, GT26, or a synthetic example."""
  if args.image:
    return args.image, args.trimap, args.image
  if (DATA / "input_training_lowres" / "GT26.png").exists():
    return (str(DATA / "input_training_lowres" / "GT26.png"),
            str(DATA / "trimap_training_lowres" / "Trimap1" / "GT26.png"), "GT26 Trimap1")
  example = datasets.synthetic_set(seed=0, num=1, height=600, width=800)[0]
  image, trimap = str(pathlib.Path(tmp) / "image.png"), str(pathlib.Path(tmp) / "trimap.png")
  io.write_rgb(image, example.image)
  io.write_alpha(trimap, example.trimap)
  return image, trimap, "synthetic 800x600 (seed 0)"


def fresh_process(cli_args):
  """(wall seconds inside the child, peak RSS MB) of one `matting ...` run in a new process."""
  out = subprocess.run([sys.executable, "-c", _CHILD, *cli_args], check=True,
                       capture_output=True, text=True)
  seconds, mb, rc = out.stdout.split()[-3:]
  if rc != "0":
    raise SystemExit(f"matting {' '.join(cli_args)} exited {rc}: {out.stderr}")
  return float(seconds), float(mb)


def median_s(fn, repeats):
  """(median seconds of `repeats` calls after a warm-up call, the last call's result)."""
  out = fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    out = fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times), out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--image", default="")
  parser.add_argument("--trimap", default="")
  parser.add_argument("--checkpoint", default=None, help="default: the shipped weights")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--symmetries", default="1",
                      help="comma-separated counts for the NumPy engine's network rows")
  parser.add_argument("--json", action="store_true", help="last line: one JSON object")
  args = parser.parse_args()
  counts = [int(c) if c.strip().isdigit() else c for c in args.symmetries.split(",")]
  for problem in map(symmetries_problem, counts):  # Before the fresh-process runs.
    if problem:
      parser.error(f"--symmetries: {problem}")
  avoid_huge_page_stalls()
  weights_path = args.checkpoint or weights.default_weights()
  if weights_path is None:
    raise SystemExit("no shipped weights in this install: pass --checkpoint")

  with tempfile.TemporaryDirectory() as tmp:
    image_path, trimap_path, what = example_files(args, tmp)
    cli_args = ["predict", image_path, trimap_path, "--checkpoint", weights_path,
                "-o", str(pathlib.Path(tmp) / "alpha.png")]
    runs = [fresh_process(cli_args) for _ in range(args.repeats)]
  command_s = statistics.median(s for s, _ in runs)
  peak_mb = max(mb for _, mb in runs)

  import pymatting

  from matting import predict  # JAX; the fresh-process runs above import their own.
  params, cfg = predict.load_model(weights_path)
  image, trimap = io.read_image_and_trimap(image_path, trimap_path)
  methods = stacks.classic_methods(cfg.inputs.combination)
  stage_s, mattes = {}, {}
  for m in methods:
    stage_s[m], mattes[m] = median_s(lambda m=m: classic.classic_alpha(m, image, trimap),
                                     args.repeats)
  stack = stacks.input_stack(image, trimap, mattes, cfg.inputs.combination)
  runs = [("numpy", n) for n in counts] + [("jax", 1)]  # predict's engine, then JAX (warm).
  for engine, n in runs:
    name = f"network ({engine} engine{'' if n == 1 else f', {n} symmetries'})"
    stage_s[name], _ = median_s(
        lambda engine=engine, n=n: run_network(params, cfg.model, stack, keep_known=trimap,
                                               engine=engine, symmetries=n), args.repeats)
  stage_s["predict_image"], _ = median_s(
      lambda: predict.predict_image(params, cfg, image, trimap), args.repeats)
  image64, trimap64 = image.astype(np.float64), trimap.astype(np.float64)
  anchor_s, _ = median_s(lambda: pymatting.estimate_alpha_cf(image64, trimap64), args.repeats)

  rows = [{"stage": "matting predict (fresh process)", "seconds": command_s,
           "ratio_to_anchor": command_s / anchor_s}]
  rows += [{"stage": f"in-process {name}", "seconds": s, "ratio_to_anchor": s / anchor_s}
           for name, s in stage_s.items()]
  rows.append({"stage": "anchor: pymatting estimate_alpha_cf", "seconds": anchor_s,
               "ratio_to_anchor": 1.0})
  print(f"image: {what} ({image.shape[1]}x{image.shape[0]}), weights: {weights_path}, "
        f"median of {args.repeats}")
  print(markdown_table(rows, ["stage", "seconds", "ratio_to_anchor"]))
  print(f"peak RSS of the fresh process: {peak_mb:.0f} MB; targets: <= {TARGET_S:g} s, "
        f"<= {TARGET_MB} MB")
  if args.json:
    print(json.dumps({"predict_s": command_s, "peak_rss_mb": peak_mb, "anchor_cf_s": anchor_s,
                      **{f"{k}_s": v for k, v in stage_s.items()}}))


if __name__ == "__main__":
  main()
