"""Real-size photographs: time and peak memory per stage from 0.5 to 12 MP, in one run.

  python benchmarks/scale.py [--sizes 0.5,1,3] [--upscale 2,4] [--stages cf,knn,network,write,
                             predict] [--anchors on|off] [--anchor-cap-s 60]
                             [--anchor-cap-mb 8000] [--cap-mb 12000] [--untiled-cf-up-to 3]
                             [--max-memory 4G] [--cf-sweeps N] [--native-up-to 3] [--json]

Cases: the seeded synthetic generator at about --sizes megapixels (unknown band grown with
the side, 25-30 % of the pixels unknown; generated natively up to --native-up-to MP, 3 by
default, larger sizes are that example upscaled: image and GT bicubic, trimap nearest), and
alphamatting GT26 Trimap1 (800x604, 32 % unknown) at 1x and upscaled --upscale times. Every
stage runs in a fresh process, which reports its wall time and its own peak RSS (VmHWM of
/proc/self/status: getrusage's ru_maxrss would carry this parent's high-water mark into the
child across fork + exec, which clamped small stages to the parent's RSS in a first run): cf,
knn (our classic mattes), nearest (the nearest-sample matte), comp (comprehensive
sampling) and comp_sampled (its sampled alpha without the smoothing) -- these three opt-in:
not in the default --stages; their ratios are against pymatting's closed-form matte --,
network (model load, input stack and DCNN forward from the cf/knn mattes), write (the 8-bit
PNG), predict (the whole `matting predict` command), and the anchors pymatting
estimate_alpha_cf / estimate_alpha_knn in the same run. A child is killed
above its time or memory cap (anchors: --anchor-cap-s / --anchor-cap-mb; ours: --cap-s /
--cap-mb) and later, larger cases skip that stage; the table says so. `cf_untiled` (the
whole-image exact solve, no memory budget) runs up to --untiled-cf-up-to MP, to give the SAD
cost of tiling. cpu_s is the child's user + system CPU time of the stage, with that of the
closed-form tile worker processes (less sensitive than wall time to other work on the
machine); peak RSS is the larger of the child's own VmHWM and the RSS of its process tree
(child and tile workers) sampled every 50 ms. The network stage runs predict's NumPy engine.
Every child runs with NUMPY_MADVISE_HUGEPAGE=0, as the `matting` commands set it. Growth
exponents: least-squares slope of log(time) and log(peak RSS - the child's RSS before the
stage) against log(unknown pixels), per case family. The defaults (0.5, 1, 3 MP and GT26 1x,
2x; anchors capped at 60 s) are sized for about 10 minutes on an idle 2-core machine (an
estimate from the stage times, not timed as a whole); BUILD_NOTES.md (issue 11) used
--sizes 0.5,1,3,6,12 --upscale 2,4 --anchor-cap-s 120 --cap-s 600.
"""

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from matting.reports.tables import markdown_table

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting"
ANCHORS = ("pm_cf", "pm_knn")
STAGES = ("cf", "cf_untiled", "knn", "nearest", "comp", "comp_sampled", "network", "write",
          "predict")
SAMPLING_STAGES = ("nearest", "comp", "comp_sampled")  # Classic methods; anchor pm_cf.

# One stage in a fresh process: load the case's arrays, run, save the result, report
# {"seconds", "peak_mb", "base_mb"} on the last stdout line.
_CHILD = r"""
import json, os, resource, sys, time
import numpy as np
stage, case, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def rss_mb():
  return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) / 1024
def hwm_mb():
  return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024
load = lambda name: np.load(os.path.join(case, name + '.npy'))
if stage in ('cf', 'cf_untiled', 'knn', 'nearest', 'comp', 'comp_sampled'):
  from matting import classic
  from matting.classic import closed_form, knn
  image, trimap = load('image'), load('trimap')
  if stage == 'knn':
    fn, params = knn.knn_alpha, {}
  elif stage not in ('cf', 'cf_untiled'):  # The sampling mattes (SAMPLING_STAGES).
    fn, params = classic.classic_solver(stage), {}
  else:
    fn = closed_form.closed_form_alpha
    params = ({'max_memory': options.get('max_memory'), 'sweeps': options.get('cf_sweeps')}
              if stage == 'cf' else {'tiled': False})
    import inspect
    params = {k: v for k, v in params.items()
              if k in inspect.signature(fn).parameters and v is not None}
elif stage in ('pm_cf', 'pm_knn'):
  import pymatting
  from threadpoolctl import threadpool_limits
  small = np.random.default_rng(0).random((40, 48, 3))
  tri = np.full((40, 48), 0.5); tri[:, :8] = 0; tri[:, -8:] = 1
  fn = pymatting.estimate_alpha_cf if stage == 'pm_cf' else pymatting.estimate_alpha_knn
  fn(small, tri)  # numba compilation is not timed
  image, trimap = load('image').astype(np.float64), load('trimap').astype(np.float64)
  params = {}
elif stage == 'network':
  from matting import predict
  from matting.inputs import stacks
  from matting.models.inference import run_network
  image, trimap = load('image'), load('trimap')
  # The weights' classic inputs, from this run's stages of those names (cf, knn, comp, ...);
  # the weights are read again in the timed part, as `matting predict` reads them.
  combination = predict.load_model(options.get('weights'))[1].inputs.combination
  mattes = {m: load('alpha_' + m) for m in stacks.classic_methods(combination)}
elif stage == 'write':
  from matting.data import io
  alpha = load('alpha_network')
base = rss_mb()
usage0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage0.ru_utime + usage0.ru_stime
start = time.perf_counter()
if stage == 'network':
  params, cfg = predict.load_model(options.get('weights'))
  stack = stacks.input_stack(image, trimap, mattes, cfg.inputs.combination)
  del image, mattes
  out = run_network(params, cfg.model, stack, keep_known=trimap, engine='numpy')
elif stage == 'write':
  io.write_alpha(os.path.join(case, 'alpha.png'), alpha)
  out = None
elif stage.startswith('pm_'):
  with threadpool_limits(1, 'blas'):
    out = fn(image, trimap, **params)
else:
  out = fn(image, trimap, **params)
seconds = time.perf_counter() - start
if out is not None:
  np.save(os.path.join(case, 'alpha_' + stage + '.npy'), np.asarray(out, np.float32))
usage = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)  # The closed-form tile workers.
print(json.dumps({'seconds': seconds, 'peak_mb': hwm_mb(), 'base_mb': base,
                  'cpu_s': usage.ru_utime + usage.ru_stime - cpu0 + children.ru_utime
                  + children.ru_stime}))
"""

_PREDICT = r"""
import json, resource, sys, time
start = time.perf_counter()
from matting.cli import main
rc = main(sys.argv[1:])
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)  # The closed-form tile workers.
hwm = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024
print(json.dumps({'seconds': seconds, 'peak_mb': hwm, 'base_mb': 0.0,
                  'cpu_s': usage.ru_utime + usage.ru_stime + children.ru_utime
                  + children.ru_stime, 'rc': rc}))
"""


def run_child(argv, cap_s, cap_mb):
  """Runs a child, polling its RSS; (result dict, None) or (None, why it was stopped)."""
  # Every child, anchors included, runs as the `matting` commands do: without NumPy's
  # huge-page requests (matting.memory.avoid_huge_page_stalls).
  env = dict(os.environ, PYTHONWARNINGS="ignore", NUMPY_MADVISE_HUGEPAGE="0")
  proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env)
  start, peak = time.monotonic(), 0.0
  while proc.poll() is None:
    peak = max(peak, tree_rss_mb(proc.pid))
    why = (f"> {cap_s:g} s cap" if time.monotonic() - start > cap_s else
           f"> {cap_mb:g} MB cap" if peak > cap_mb else None)
    if why:
      proc.kill()
      proc.communicate()
      return None, why
    time.sleep(0.05)
  out, err = proc.communicate()
  if proc.returncode:
    return None, f"failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}"
  result = json.loads(out.strip().splitlines()[-1])
  result["peak_mb"] = max(result["peak_mb"], peak)  # With the closed-form tile workers.
  return result, None


def tree_rss_mb(pid):
  """RSS of a process and its descendants (the closed-form tile workers), 0 once gone."""
  try:
    with open(f"/proc/{pid}/status") as f:
      rss = int(f.read().split("VmRSS:")[1].split()[0]) / 1024
    with open(f"/proc/{pid}/task/{pid}/children") as f:
      children = [int(c) for c in f.read().split()]
  except (OSError, IndexError, ValueError):
    return 0.0
  return rss + sum(tree_rss_mb(child) for child in children)


def upscale(image, trimap, alpha, factor):
  """Bicubic image and GT alpha, nearest-neighbour trimap, all `factor` times larger."""
  from PIL import Image
  height, width = trimap.shape
  size = (round(width * factor), round(height * factor))

  def resize(plane, method):
    return np.asarray(Image.fromarray(plane.astype(np.float32), mode="F").resize(size, method))

  image = np.stack([resize(image[..., c], Image.BICUBIC) for c in range(3)], axis=-1)
  return (np.clip(image, 0, 1), resize(trimap, Image.NEAREST),
          np.clip(resize(alpha, Image.BICUBIC), 0, 1))


def synthetic_case(mp, seed=0, native_up_to=3.0):
  """(image, trimap, alpha) of about `mp` megapixels at 4:3, 25-30 % unknown: generated at
  min(mp, native_up_to) megapixels and upscaled to mp."""
  from matting.data import synthetic
  native = min(mp, native_up_to)
  width = round(math.sqrt(native * 1e6 * 4 / 3))
  height = round(width * 3 / 4)
  example = synthetic.make_example(seed, height, width, unknown_width=round(width / 80))
  data = example.image, example.trimap, example.alpha
  if mp > native:
    data = upscale(*data, math.sqrt(mp / native))
  return data


def alphamatting_case(factor, name="GT26", trimap="Trimap1"):
  from matting.data import io
  image = io.read_image(DATA / "input_training_lowres" / f"{name}.png")
  tri = io.read_trimap(DATA / "trimap_training_lowres" / trimap / f"{name}.png")
  alpha = io.read_alpha(DATA / "gt_training_lowres" / f"{name}.png")
  if factor == 1:
    return image, tri, alpha
  image, tri, alpha = upscale(image, tri, alpha, factor)
  return image, np.round(tri * 2) / 2, alpha


def save_case(directory, image, trimap, alpha):
  from matting.data import io
  directory.mkdir(parents=True, exist_ok=True)
  np.save(directory / "image.npy", image.astype(np.float32))
  np.save(directory / "trimap.npy", trimap.astype(np.float32))
  np.save(directory / "gt.npy", alpha.astype(np.float32))
  io.write_rgb(directory / "image.png", image)
  io.write_alpha(directory / "trimap.png", trimap)


def sad(pred, gt, trimap):
  unknown = (trimap > 0.25) & (trimap < 0.75)
  return float(np.abs(pred - gt)[unknown].sum() / 1000)


def slope(xs, ys):
  """Least-squares slope of log y on log x (nan with fewer than 2 distinct points)."""
  xs, ys = np.log(np.asarray(xs, float)), np.log(np.maximum(np.asarray(ys, float), 1e-3))
  if len(xs) < 2 or np.ptp(xs) == 0:
    return float("nan")
  return float(np.polyfit(xs, ys, 1)[0])


def parse_bytes(text):
  from matting.memory import parse_size
  return parse_size(text) if text else None


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", default="0.5,1,3", help="synthetic sizes in megapixels")
  parser.add_argument("--upscale", default="2", help="alphamatting GT26 factors (1x always)")
  parser.add_argument("--stages", default="cf,cf_untiled,knn,network,write,predict")
  parser.add_argument("--anchors", choices=("on", "off"), default="on")
  parser.add_argument("--anchor-cap-s", type=float, default=60.0)
  parser.add_argument("--anchor-cap-mb", type=float, default=8000.0)
  parser.add_argument("--cap-s", type=float, default=300.0)
  parser.add_argument("--cap-mb", type=float, default=12000.0)
  parser.add_argument("--untiled-cf-up-to", type=float, default=3.0,
                      help="run cf_untiled on cases up to this many megapixels")
  parser.add_argument("--max-memory", default="", help="our cf budget, e.g. 4G (default: auto)")
  parser.add_argument("--cf-sweeps", type=int, default=None,
                      help="Schwarz sweeps of the tiled cf stage (default: closed_form's)")
  parser.add_argument("--native-up-to", type=float, default=3.0,
                      help="generate synthetic cases natively up to this many megapixels "
                           "(larger ones: that size upscaled)")
  parser.add_argument("--weights", default=None)
  parser.add_argument("--json", action="store_true", help="last line: one JSON object")
  args = parser.parse_args()
  stages = [s for s in args.stages.split(",") if s]
  if args.anchors == "on":
    stages += list(ANCHORS)
  options = {"max_memory": parse_bytes(args.max_memory), "weights": args.weights,
             "cf_sweeps": args.cf_sweeps}

  cases = [(f"synthetic {float(mp):g} MP", "synthetic",
            lambda mp=float(mp): synthetic_case(mp, native_up_to=args.native_up_to))
           for mp in args.sizes.split(",") if mp]
  if (DATA / "input_training_lowres" / "GT26.png").exists():
    factors = [1.0] + [float(f) for f in args.upscale.split(",") if f]
    cases += [(f"GT26 T1 {f:g}x", "alphamatting", lambda f=f: alphamatting_case(f))
              for f in factors]
  rows, skipped = [], {}
  with tempfile.TemporaryDirectory() as tmp:
    for index, (name, family, make) in enumerate(cases):
      start = time.perf_counter()
      image, trimap, gt = make()
      case = pathlib.Path(tmp) / f"case{index}"
      save_case(case, image, trimap, gt)
      unknown = int(((trimap > 0.25) & (trimap < 0.75)).sum())
      mp = trimap.size / 1e6
      print(f"{name}: {trimap.shape[1]}x{trimap.shape[0]} ({mp:.2f} MP), {unknown} unknown "
            f"({unknown / trimap.size:.0%}), made in {time.perf_counter() - start:.1f} s",
            file=sys.stderr)
      del image
      for stage in stages:
        row = {"case": name, "family": family, "mp": mp, "unknown": unknown, "stage": stage}
        if stage == "cf_untiled" and mp > args.untiled_cf_up_to * 1.05:
          continue
        if stage in ("network", "write") and "cf" not in stages:
          continue
        if (family, stage) in skipped:
          rows.append({**row, "note": f"skipped ({skipped[family, stage]} at a smaller size)"})
          continue
        cap_s, cap_mb = ((args.anchor_cap_s, args.anchor_cap_mb) if stage in ANCHORS else
                         (args.cap_s, args.cap_mb))
        if stage == "predict":
          argv = [sys.executable, "-c", _PREDICT, "predict", str(case / "image.png"),
                  str(case / "trimap.png"), "-o", str(case / "predict.png")]
          if args.weights:
            argv += ["--checkpoint", args.weights]
          if args.max_memory:
            argv += ["--max-memory", args.max_memory]
        else:
          argv = [sys.executable, "-c", _CHILD, stage, str(case), json.dumps(options)]
        result, why = run_child(argv, cap_s, cap_mb)
        if result is None:
          skipped[family, stage] = why
          rows.append({**row, "note": why})
          print(f"  {stage}: {why}", file=sys.stderr)
          continue
        row.update(seconds=result["seconds"], cpu_s=result["cpu_s"], peak_mb=result["peak_mb"],
                   delta_mb=result["peak_mb"] - result["base_mb"])
        out = case / f"alpha_{stage}.npy"
        if out.exists():
          row["sad"] = sad(np.load(out), gt, trimap)
        if stage == "network":
          np.save(case / "alpha_network.npy", np.load(out))
        rows.append(row)
        print(f"  {stage}: {row['seconds']:.2f} s, {row['peak_mb']:.0f} MB"
              + (f", SAD {row['sad']:.2f}" if "sad" in row else ""), file=sys.stderr)
      if (case / "alpha_cf.npy").exists() and (case / "alpha_cf_untiled.npy").exists():
        tiled, untiled = np.load(case / "alpha_cf.npy"), np.load(case / "alpha_cf_untiled.npy")
        for row in rows:
          if row["case"] == name and row["stage"] == "cf":
            base = sad(untiled, gt, trimap)
            row["sad_vs_untiled_%"] = 100 * (row["sad"] - base) / base
            row["sad_to_untiled"] = float(np.abs(tiled - untiled).sum() / 1000)
      for f in case.iterdir():
        f.unlink()

  anchor_of = {"cf": "pm_cf", "cf_untiled": "pm_cf", "knn": "pm_knn",
               **{stage: "pm_cf" for stage in SAMPLING_STAGES}}
  by_key = {(r["case"], r["stage"]): r for r in rows}
  for row in rows:
    anchor = by_key.get((row["case"], anchor_of.get(row["stage"], "")))
    if anchor and "seconds" in row and "seconds" in anchor:
      row["time_ratio"] = row["seconds"] / anchor["seconds"]
      row["mem_ratio"] = row["peak_mb"] / anchor["peak_mb"]
  columns = ["case", "mp", "unknown", "stage", "seconds", "cpu_s", "peak_mb", "delta_mb",
             "time_ratio", "mem_ratio", "sad", "sad_vs_untiled_%", "sad_to_untiled", "note"]
  print(markdown_table(rows, columns))
  growth = []
  for family in dict.fromkeys(r["family"] for r in rows):
    for stage in dict.fromkeys(r["stage"] for r in rows):
      done = [r for r in rows if r["family"] == family and r["stage"] == stage and "seconds" in r]
      if len(done) >= 2:
        growth.append({"family": family, "stage": stage, "points": len(done),
                       "time_exponent": slope([r["unknown"] for r in done],
                                              [r["seconds"] for r in done]),
                       "memory_exponent": slope([r["unknown"] for r in done],
                                                [r["delta_mb"] for r in done])})
  print("\nGrowth against unknown pixels (log-log least-squares slope; memory: peak RSS minus "
        "the child's RSS before the stage):")
  print(markdown_table(growth, ["family", "stage", "points", "time_exponent",
                                "memory_exponent"]))
  if args.json:
    print(json.dumps({"rows": rows, "growth": growth}))


if __name__ == "__main__":
  main()
